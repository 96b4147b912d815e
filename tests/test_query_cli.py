"""`kgpub query`: the endpoint's engine over the local project, offline."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import rdflib

REPO = Path(__file__).resolve().parents[1]


def kgpub(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "kgpub.cli", *args, "--project", str(REPO)],
                          capture_output=True, text=True, timeout=120)


def test_table_json_and_turtle():
    q = ("PREFIX sphr: <https://w3id.org/sphr/ontology#> "
         "SELECT (COUNT(?e) AS ?n) WHERE { ?e a sphr:ExpertCommentary }")
    r = kgpub("query", q)
    assert r.returncode == 0 and r.stdout.splitlines()[2].strip() == "3"
    r = kgpub("query", q, "--format", "json")
    assert json.loads(r.stdout)["results"]["bindings"][0]["n"]["value"] == "3"
    r = kgpub("query", "CONSTRUCT WHERE { ?s a <http://xmlns.com/foaf/0.1/Organization> }",
              "--format", "ttl")
    assert len(rdflib.Graph().parse(data=r.stdout, format="turtle")) == 4


def test_refused_and_malformed_queries_exit_2():
    for q in ("SELECT * WHERE { SERVICE <http://127.0.0.1:9/> { ?s ?p ?o } }",
              "CLEAR ALL", "SELECT * WHERE {"):
        r = kgpub("query", q)
        assert r.returncode == 2 and r.stderr.startswith("error:") and "Traceback" not in r.stderr
