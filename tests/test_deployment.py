"""The bundled site deployed on its parts, all for real on 127.0.0.1: Debian's nginx serving
the build with `kgpub deploy nginx`'s configuration, `/sparql` and `/oai` proxied to `kgpub serve
--app-only --store`, which answers queries from an Oxigraph server the build was published into
(`kgpub publish`). It passes the protocol tests `kgpub serve` alone passes (the negotiation and
header table of tests/httpcases.py, the SPARQL protocol with SPARQLWrapper, an OAI-PMH harvest
with Sickle), with the same answers as `kgpub serve` alone on the same build, and a new build
reaches every part."""

from __future__ import annotations

import contextlib
import json
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from sickle import Sickle

from deployutil import NGINX, free_port, need, nginx_config, public_dir, running_nginx
from httpcases import (
    TOPIC,
    NginxTable,
)
from kgpub.config import load_project
from kgpub.site import build
from kgpub.sparql.examples import example_queries
from serverutil import copy_project, fetch, harvest, running_server
from storeutil import answer, oxigraph_server, publish_cli

pytestmark = pytest.mark.timeout(300)

BASE = "https://w3id.org/sphr/"
ENTRY = "resource/good-governance-guidelines-for-social-security-institutions"
OLD = "Good Governance Guidelines for Social Security Institutions"
NEW = "Good Governance Guidelines, deployed again"
OAI_ID = "oai:socialprotection-humanrights.org:" + ENTRY
TITLE = f"SELECT ?t WHERE {{ <{BASE}{ENTRY}> <http://purl.org/dc/terms/title> ?t }}"


@dataclass(frozen=True)
class Deployment:
    url: str  # nginx: what clients see
    app: str  # the --app-only replica behind it
    store: str  # the Oxigraph server
    alone: str  # `kgpub serve` alone on the same build: the reference
    root: Path  # the project
    site: Path  # the site link all parts read


@pytest.fixture(scope="module")
def deployment():
    need(NGINX, "nginx")
    with public_dir("kgpub-deployment-") as tmp, contextlib.ExitStack() as stack:
        root = copy_project(tmp / "project")
        config = root / "kgpub.toml"  # pages of 4 records: a harvest goes through tokens
        config.write_text(config.read_text(encoding="utf-8").replace(
            "[repository]\n", "[repository]\noai_page_size = 4\n", 1), encoding="utf-8")
        site = build(load_project(root), root / "site").out
        store = stack.enter_context(oxigraph_server())
        publish_cli(site, store)
        app = stack.enter_context(running_server(root, site, "--app-only", "--store",
                                                 f"{store}/query"))
        alone = stack.enter_context(running_server(root, site))
        port = free_port()
        conf = nginx_config(root, site, port, app, tmp / "kgpub.conf")
        url = stack.enter_context(running_nginx(tmp / "nginx", conf, port))
        yield Deployment(url, app, store, alone, root, site)


@pytest.fixture(scope="module")
def client(deployment):
    with httpx.Client(base_url=deployment.url, timeout=30) as c:
        yield c


# ---- negotiation and headers: the table kgpub serve is tested with ------------------------------


class TestTable(NginxTable):
    """The request table `kgpub serve` is tested with, through nginx (httpcases.NginxTable)."""


def test_the_replica_serves_no_files(deployment):
    """What nginx answers from the site comes from the site: the replica has none of it."""
    status, _, body = fetch(f"{deployment.app}{TOPIC}.ttl")
    assert status == 404 and b"answers /sparql and /oai only" in body
    assert fetch(f"{deployment.url}{TOPIC}.ttl")[0] == 200


# ---- SPARQL: the protocol with SPARQLWrapper, the answers of the embedded engine -----------------


@pytest.mark.parametrize("example", example_queries(BASE), ids=lambda e: e.slug)
def test_examples_answer_as_kgpub_serve_alone(deployment, example):
    through = answer(f"{deployment.url}/sparql", example.query)
    assert through, "an example with no answer proves nothing"
    assert through == answer(f"{deployment.alone}/sparql", example.query)
    assert answer(f"{deployment.url}/sparql", example.query, "POST") == through


@pytest.mark.parametrize("query", [
    "ASK { ?s a <http://www.w3.org/2004/02/skos/core#Concept> }",
    f"DESCRIBE <{BASE}{ENTRY}>",
    "SELECT ?g WHERE { GRAPH ?g { } }",  # no graph of the store is visible
])
def test_other_forms_answer_as_kgpub_serve_alone(deployment, query):
    assert answer(f"{deployment.url}/sparql", query) == answer(f"{deployment.alone}/sparql", query)


@pytest.mark.parametrize("query", [
    "DELETE WHERE { ?s ?p ?o }",
    "SELECT * WHERE { SERVICE <http://127.0.0.1:9/sparql> { ?s ?p ?o } }",
    "SELECT * WHERE { ?s ?p }",
])
def test_refusals_as_kgpub_serve_alone(deployment, query):
    qs = urllib.parse.urlencode({"query": query})
    (s1, _, b1), (s2, _, b2) = (fetch(f"{u}/sparql?{qs}", {"Accept": "text/plain"})
                                for u in (deployment.url, deployment.alone))
    assert s1 == s2 == 400 and b1 == b2


def test_relative_iris_resolve_against_the_public_endpoint(deployment):
    """The replica sees nginx's Host: a relative IRI resolves against what the client asked."""
    qs = urllib.parse.urlencode({"query": "SELECT ?x WHERE { BIND(<relative> AS ?x) }"})
    status, _, body = fetch(f"{deployment.url}/sparql?{qs}", {"Accept": "text/csv"})
    assert status == 200 and f"{deployment.url}/relative".encode() in body


# ---- OAI-PMH: a Sickle harvest, the records of kgpub serve alone -----------------------------


@pytest.mark.parametrize("prefix", ["oai_dc", "rdf"])
def test_harvest_has_the_records_of_kgpub_serve_alone(deployment, prefix):
    through = harvest(Sickle(f"{deployment.url}/oai"), prefix)
    assert len(through) > 2 * 4  # three pages or more: resumption tokens through nginx
    assert through == harvest(Sickle(f"{deployment.alone}/oai"), prefix)


def test_sets_formats_and_identify_as_kgpub_serve_alone(deployment):
    sickles = [Sickle(f"{u}/oai") for u in (deployment.url, deployment.alone)]
    sets = [sorted((s.setSpec, s.setName) for s in x.ListSets()) for x in sickles]
    assert sets[0] and sets[0] == sets[1]
    formats = [sorted(f.metadataPrefix for f in x.ListMetadataFormats()) for x in sickles]
    assert formats[0] == formats[1] == ["oai_dc", "rdf"]
    identify = [x.Identify() for x in sickles]
    assert identify[0].baseURL == f"{deployment.url}/oai"  # the address the harvester used
    for field in ("repositoryName", "earliestDatestamp", "deletedRecord", "granularity"):
        assert getattr(identify[0], field) == getattr(identify[1], field), field


# ---- a new build reaches every part (last: it changes the module's site and store) -----------


def _until(what: str, done: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        assert time.monotonic() < deadline, f"{what}: not reached within {timeout:.0f} s"
        time.sleep(0.2)


def _titles(deployment: Deployment) -> set[str]:
    """The entry's titles from the deployment's SPARQL endpoint."""
    qs = urllib.parse.urlencode({"query": TITLE})
    status, _, body = fetch(f"{deployment.url}/sparql?{qs}",
                            {"Accept": "application/sparql-results+json"})
    assert status == 200, body
    return {b["t"]["value"] for b in json.loads(body)["results"]["bindings"]}


def _oai_title(deployment: Deployment) -> bool:
    record = Sickle(f"{deployment.url}/oai").GetRecord(metadataPrefix="oai_dc",
                                                      identifier=OAI_ID)
    return NEW in record.metadata["title"]


def test_a_new_build_reaches_every_part(deployment, client):
    """Rebuild: nginx serves the new page (through the site link, no reload) and the replica's
    OAI-PMH lists the new title (it follows the link too), while SPARQL answers from the store's
    build until `kgpub publish`; then it answers from the new one."""
    assert _titles(deployment) == {OLD}
    data = deployment.root / "data/entries/publications.ttl"
    text = data.read_text(encoding="utf-8")
    assert text.count(f'"{OLD}"@en') == 1
    data.write_text(text.replace(f'"{OLD}"@en', f'"{NEW}"@en'), encoding="utf-8")
    build(load_project(deployment.root), deployment.site)
    _until("nginx serving the new page",
           lambda: NEW in client.get(f"/{ENTRY}.html").text
           and NEW in client.get(f"/{ENTRY}", headers={"Accept": "text/turtle"},
                                 follow_redirects=True).text)
    _until("the replica's OAI-PMH on the new build", lambda: _oai_title(deployment))
    assert any(NEW in str(record) for record in harvest(Sickle(f"{deployment.url}/oai")))
    assert _titles(deployment) == {OLD}  # the store still holds the build published last
    publish_cli(deployment.site, deployment.store)
    _until("SPARQL on the new build", lambda: _titles(deployment) == {NEW})
