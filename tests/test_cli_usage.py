"""The command line as a new user types it: --project before or after the command, a query
from standard input, every --format the help and the errors name, output that ends with a
newline."""

from __future__ import annotations

import subprocess
import sys

import pytest
import rdflib
from lxml import etree

from kgtest import REPO

KGPUB = [sys.executable, "-m", "kgpub.cli"]
ASK = "ASK { ?s ?p ?o }"
SELECT = "SELECT ?s WHERE { ?s a ?c } ORDER BY ?s LIMIT 3"
CONSTRUCT = "CONSTRUCT { ?s ?p ?o } WHERE { ?s ?p ?o } ORDER BY ?s ?p ?o LIMIT 5"


def kgpub(*args: str, stdin: str | None = None, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run(KGPUB + list(args), input=stdin, capture_output=True, timeout=120,
                          cwd=cwd, text=False)


@pytest.mark.parametrize("where", ["before", "after"])
def test_project_before_or_after_the_command(tmp_path, where):
    args = (["--project", str(REPO), "validate"] if where == "before"
            else ["validate", "--project", str(REPO)])
    done = kgpub(*args, cwd=tmp_path)  # no kgpub.toml here
    assert done.returncode == 0, done.stderr
    assert b"The data conforms" in done.stdout


def test_after_the_command_wins(tmp_path):
    done = kgpub("--project", str(tmp_path), "validate", "--project", str(REPO), cwd=tmp_path)
    assert done.returncode == 0, done.stderr


def test_query_from_standard_input(tmp_path):
    done = kgpub("--project", str(REPO), "query", "-", "--format", "json", stdin=ASK.encode(),
                 cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout == b'{"head":{},"boolean":true}\n'


@pytest.mark.parametrize("query,fmt,check", [
    (SELECT, "json", lambda b: b.startswith(b'{"head"')),
    (SELECT, "xml", lambda b: etree.fromstring(b).tag.endswith("sparql")),
    (SELECT, "csv", lambda b: b.startswith(b"s\r\n")),
    (SELECT, "tsv", lambda b: b.startswith(b"?s\n")),
    (CONSTRUCT, "ttl", lambda b: len(rdflib.Graph().parse(data=b, format="turtle")) == 5),
    (CONSTRUCT, "nt", lambda b: len(rdflib.Graph().parse(data=b, format="nt")) == 5),
    (CONSTRUCT, "jsonld", lambda b: len(rdflib.Graph().parse(data=b, format="json-ld")) == 5),
    (CONSTRUCT, "rdf", lambda b: len(rdflib.Graph().parse(data=b, format="xml")) == 5),
    (CONSTRUCT, "xml", lambda b: len(rdflib.Graph().parse(data=b, format="xml")) == 5),
])
def test_every_format_is_accepted_and_ends_with_a_newline(query, fmt, check):
    done = kgpub("--project", str(REPO), "query", query, "--format", fmt)
    assert done.returncode == 0, done.stderr
    assert done.stdout.endswith(b"\n") and check(done.stdout)


def test_a_format_that_cannot_carry_the_result_names_those_that_can():
    done = kgpub("--project", str(REPO), "query", CONSTRUCT, "--format", "csv")
    assert done.returncode == 2
    assert b"rdf" in done.stderr and b"ttl" in done.stderr
