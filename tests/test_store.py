"""/sparql on a SPARQL 1.1 store: `kgpub publish` into a real Oxigraph server (started here on
127.0.0.1), `kgpub serve --store` forwarding to it after the same checks, with the same answers
as the embedded engine, the result caps applied to what comes back, the time limit enforced by
aborting the upstream request, and an atomic switch from one build to the next."""

from __future__ import annotations

import contextlib
import json
import threading
import time
import urllib.parse
from pathlib import Path

import httpx
import pytest
import rdflib
from rdflib.compare import isomorphic
from SPARQLWrapper import JSON, TURTLE, SPARQLWrapper

from kgpub.config import load_project
from kgpub.errors import ConfigError
from kgpub.publish import BUILD_PREFIX, POINTER, PublishError, publish
from kgpub.server.store import _names_dataset
from kgpub.site import build
from kgpub.sparql.examples import example_queries
from serverutil import CARTESIAN, copy_project, fetch, free_port, running_server
from storeutil import oxigraph_server, unordered

pytestmark = pytest.mark.timeout(240)

BASE = "https://w3id.org/sphr/"
ENTRY = "resource/good-governance-guidelines-for-social-security-institutions"
OLD = "Good Governance Guidelines for Social Security Institutions"
TITLE_AND_SIZE = (f"SELECT ?t ?n WHERE {{ <{BASE}{ENTRY}> <http://purl.org/dc/terms/title> ?t "
                  "{ SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o } } }")


def configured(root: Path, sparql: str) -> Path:
    with open(root / "kgpub.toml", "a", encoding="utf-8") as f:
        f.write(f"\n[sparql]\n{sparql}\n")
    return root


def retitled(tmp: Path, title: str) -> Path:
    """A build of the bundled project with one entry's title changed."""
    root = copy_project(tmp / "project")
    path = root / "data/entries/publications.ttl"
    text = path.read_text(encoding="utf-8")
    assert text.count(f'"{OLD}"@en') == 1
    path.write_text(text.replace(f'"{OLD}"@en', f'"{title}"@en'), encoding="utf-8")
    return build(load_project(root), tmp / "site").out


def get(url: str, query: str, accept: str, **params: str):
    qs = urllib.parse.urlencode({"query": query, **params})
    return fetch(f"{url}/sparql?{qs}", {"Accept": accept})


def select(url: str, query: str) -> list[dict]:
    status, _, body = get(url, query, "application/sparql-results+json")
    assert status == 200, body
    return json.loads(body)["results"]["bindings"]


@pytest.fixture(scope="module")
def store(built_site):
    with oxigraph_server() as url:
        publish(built_site, f"{url}/query", f"{url}/store")
        yield url


@pytest.fixture(scope="module")
def forwarding(store, built_site, tmp_path_factory):
    """`kgpub serve` with [sparql] store, a 2 s limit and a 50-row cap."""
    root = configured(copy_project(tmp_path_factory.mktemp("fwd")),
                      f'store = "{store}/query"\ntimeout = 2.0\nmax_rows = 50\nworkers = 2')
    with running_server(root, built_site) as url:
        yield url


@pytest.fixture(scope="module")
def embedded(built_site, tmp_path_factory):
    root = configured(copy_project(tmp_path_factory.mktemp("emb")), "max_rows = 50")
    with running_server(root, built_site) as url:
        yield url


# ---- configuration -------------------------------------------------------------------------


def test_store_setting_is_checked_and_kept_apart_from_the_limits(tmp_path):
    root = configured(copy_project(tmp_path / "a"), 'store = "http://127.0.0.1:7878/query"\n'
                      "max_rows = 7")
    project = load_project(root)
    assert project.store == "http://127.0.0.1:7878/query"
    assert project.sparql == {"max_rows": 7}
    assert load_project(copy_project(tmp_path / "b")).store is None
    bad = configured(copy_project(tmp_path / "c"), 'store = "ftp://x/query"')
    with pytest.raises(ConfigError, match=r"\[sparql\] store = 'ftp://x/query': expected an "
                       r"http\(s\) URL"):
        load_project(bad)
    typo = configured(copy_project(tmp_path / "d"), "max_row = 7")
    with pytest.raises(ConfigError, match="max_row"):
        load_project(typo)


@pytest.mark.parametrize("query,names", [
    ("SELECT * FROM <http://x> WHERE { ?s ?p ?o }", True),
    ("select * from named <http://x> where { graph ?g { ?s ?p ?o } }", True),
    ("SELECT ?from WHERE { ?from <http://x/FROM> 'FROM' } # FROM <x>", False),
    ("PREFIX from: <http://x/> SELECT * WHERE { ?s from:FROM ?o }", False),
    ("SELECT * WHERE { ?s ?p ?o }", False),
])
def test_a_dataset_clause_is_found_as_a_token(query, names):
    assert _names_dataset(query) is names


# ---- publishing ------------------------------------------------------------------------------


def test_publish_names_the_build_and_is_idempotent(store, built_site, kgpub_bin):
    import subprocess

    run = subprocess.run([str(kgpub_bin), "publish", "--site", str(built_site), "--store",
                          f"{store}/query", "--graph-store", f"{store}/store"],
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert "is already the current build; nothing sent" in run.stdout
    with httpx.Client() as client:
        found = client.post(f"{store}/query", data={
            "query": "SELECT DISTINCT ?g WHERE { GRAPH ?g { ?s ?p ?o } }"},
            headers={"Accept": "application/sparql-results+json"}).json()
    names = {b["g"]["value"] for b in found["results"]["bindings"]}
    assert names == {POINTER, run.stdout.split()[0]}
    assert run.stdout.startswith(BUILD_PREFIX)


def test_publish_to_nothing_fails_in_one_line(built_site, kgpub_bin, tmp_path):
    import subprocess

    port = free_port()
    run = subprocess.run([str(kgpub_bin), "publish", "--site", str(built_site), "--store",
                          f"http://127.0.0.1:{port}/query", "--graph-store",
                          f"http://127.0.0.1:{port}/store"], capture_output=True, text=True)
    assert run.returncode == 2
    assert run.stderr.count("\n") == 1 and run.stderr.startswith("error: http://127.0.0.1:")
    with pytest.raises(PublishError, match="has no dumps/dataset.nt.gz; run kgpub build"):
        publish(tmp_path, f"http://127.0.0.1:{port}/query", f"http://127.0.0.1:{port}/store")


# ---- the same answers as the embedded engine --------------------------------------------------


@pytest.mark.parametrize("example", example_queries(BASE), ids=lambda e: e.slug)
def test_examples_answer_as_the_embedded_engine(forwarding, embedded, example):
    answers = []
    for url in (forwarding, embedded):
        client = SPARQLWrapper(url + "/sparql")
        client.setQuery(example.query)
        graph = "CONSTRUCT" in example.query
        client.setReturnFormat(TURTLE if graph else JSON)
        answers.append(client.query().convert())
    if "CONSTRUCT" in example.query:
        through, own = (rdflib.Graph().parse(data=a, format="turtle") for a in answers)
        assert len(own) > 0 and isomorphic(through, own)
    else:
        through, own = (unordered(a["results"]["bindings"]) for a in answers)
        assert own and through == own


def test_ask_describe_formats_and_base_as_embedded(forwarding, embedded):
    for query, accept in [
        ("ASK { ?s a <http://www.w3.org/2004/02/skos/core#Concept> }",
         "application/sparql-results+xml"),
        (f"DESCRIBE <{BASE}{ENTRY}>", "application/n-triples"),
        ("SELECT ?x WHERE { BIND(<relative> AS ?x) }", "text/csv"),
        ("SELECT * WHERE { ?s ?p ?o } ORDER BY ?s ?p ?o LIMIT 20", "text/tab-separated-values"),
    ]:
        (s1, h1, b1), (s2, h2, b2) = (get(u, query, accept) for u in (forwarding, embedded))
        assert (s1, h1["Content-Type"]) == (s2, h2["Content-Type"]) == (200, h2["Content-Type"])
        if accept == "application/n-triples":
            assert sorted(b1.splitlines()) == sorted(b2.splitlines()) and b1
        else:
            b2 = b2.replace(embedded.encode(), forwarding.encode())  # the endpoint's own URL
            assert b1 == b2, query


# ---- the same checks, nothing of the store leaks -----------------------------------------------


@pytest.mark.parametrize("query,status", [
    ("DELETE WHERE { ?s ?p ?o }", 400),
    ("SELECT * WHERE { SERVICE <http://127.0.0.1:9/sparql> { ?s ?p ?o } }", 400),
    ("SELECT * WHERE { ?s ?p }", 400),
    ("PREFIX x: <http://x/>", 400),
])
def test_refusals_are_the_engines(forwarding, embedded, query, status):
    (s1, _, b1), (s2, _, b2) = (get(u, query, "text/plain") for u in (forwarding, embedded))
    assert s1 == s2 == status and b1 == b2


def test_no_graph_of_the_store_but_the_build_is_visible(forwarding):
    assert select(forwarding, "SELECT ?g WHERE { GRAPH ?g { } }") == []
    assert select(forwarding, f"SELECT * WHERE {{ GRAPH <{POINTER}> {{ ?s ?p ?o }} }}") == []
    # A dataset of the query's own is empty, as from the embedded engine: nothing is fetched.
    for query in (f"SELECT * FROM <{POINTER}> WHERE {{ ?s ?p ?o }}",
                  f"SELECT * FROM NAMED <{POINTER}> WHERE {{ GRAPH ?g {{ ?s ?p ?o }} }}"):
        assert select(forwarding, query) == []
    status, _, body = get(forwarding, "SELECT * WHERE { ?s ?p ?o }",
                          "application/sparql-results+json", **{"default-graph-uri": POINTER})
    assert status == 200 and json.loads(body)["results"]["bindings"] == []


# ---- limits on what comes back, and on the time ---------------------------------------------------


def test_row_cap_applies_to_the_stores_answer(forwarding):
    status, headers, body = get(forwarding, "SELECT * WHERE { ?s ?p ?o }",
                                "application/sparql-results+json")
    assert status == 200 and len(json.loads(body)["results"]["bindings"]) == 50
    assert headers["X-SPARQL-Truncated"] == "true"
    assert headers["X-SPARQL-Truncated-Reason"] == "rows"
    assert int(headers["Content-Length"]) == len(body)


def test_byte_cap_cuts_at_a_whole_row(store, built_site, tmp_path):
    root = configured(copy_project(tmp_path), f'store = "{store}/query"\n'
                      "max_result_bytes = 4096")
    with running_server(root, built_site) as url:
        for accept in ("application/sparql-results+json", "application/n-triples"):
            query = ("CONSTRUCT WHERE { ?s ?p ?o }" if "triples" in accept
                     else "SELECT * WHERE { ?s ?p ?o }")
            status, headers, body = get(url, query, accept)
            assert status == 200 and len(body) <= 4096
            assert headers["X-SPARQL-Truncated-Reason"] == "bytes"
            if "json" in accept:
                assert json.loads(body)["results"]["bindings"]
            else:
                assert len(rdflib.Graph().parse(data=body, format="nt")) > 10


def test_time_limit_aborts_the_upstream_request(forwarding):
    started = time.monotonic()
    status, headers, body = get(forwarding, CARTESIAN, "application/sparql-results+json")
    took = time.monotonic() - started
    assert status == 504 and b"did not answer within the limit of 2 s" in body, body
    assert took < 4.0, took
    assert select(forwarding, "SELECT * WHERE { ?s ?p ?o } LIMIT 1")  # still answering


def test_a_store_that_is_down_is_502_in_one_line(built_site, tmp_path):
    with contextlib.ExitStack() as stack:
        with oxigraph_server() as up:
            publish(built_site, f"{up}/query", f"{up}/store")
            url = stack.enter_context(running_server(copy_project(tmp_path), built_site,
                                                     "--store", f"{up}/query"))
        # the Oxigraph server has stopped: the store is unreachable
        status, _, body = get(url, "SELECT * WHERE { ?s ?p ?o }", "text/csv")
    assert status == 502
    assert body.decode().count("\n") == 1 and "The SPARQL store" in body.decode(), body


# ---- the atomic switch -------------------------------------------------------------------------


def test_a_query_sees_one_whole_build_while_another_is_published(built_site, tmp_path):
    site_b = retitled(tmp_path / "b", "Revised B")
    site_c = retitled(tmp_path / "c", "Revised C")
    with oxigraph_server() as up:
        query_url, gsp = f"{up}/query", f"{up}/store"
        first = publish(built_site, query_url, gsp)
        root = copy_project(tmp_path / "p")
        with running_server(root, built_site, "--store", query_url, "--app-only") as url:
            expected = {}
            (row,) = select(url, TITLE_AND_SIZE)
            expected[row["t"]["value"]] = row["n"]["value"]
            answers: list[tuple[str, str]] = []
            stop = threading.Event()

            def ask() -> None:
                with httpx.Client() as client:
                    while not stop.is_set():
                        r = client.get(f"{url}/sparql", params={"query": TITLE_AND_SIZE},
                                       headers={"Accept": "application/sparql-results+json"})
                        assert r.status_code == 200, r.text
                        rows = r.json()["results"]["bindings"]
                        answers.append(tuple((b["t"]["value"], b["n"]["value"]) for b in rows))

            asker = threading.Thread(target=ask)
            asker.start()
            try:
                second = publish(site_b, query_url, gsp)
                time.sleep(1.5)
                third = publish(site_c, query_url, gsp)
                time.sleep(1.5)
            finally:
                stop.set()
                asker.join()
            whole = {((OLD, expected[OLD]),)}
            seen = set(answers)
            titles = {a[0][0] for a in seen}
            assert titles == {OLD, "Revised B", "Revised C"}, titles
            assert all(len(a) == 1 for a in seen)
            sizes = {a[0][1] for a in seen}
            assert sizes == {expected[OLD]}, sizes  # same size: a half-loaded one would be smaller
            assert len(answers) > 20 and whole <= seen
        assert first.loaded and second.loaded and third.loaded
        assert third.deleted == (first.graph,)
        with httpx.Client() as client:
            found = client.post(query_url, data={"query": "SELECT DISTINCT ?g WHERE { GRAPH ?g "
                                                          "{ ?s ?p ?o } }"},
                                headers={"Accept": "application/sparql-results+json"}).json()
        graphs = {b["g"]["value"] for b in found["results"]["bindings"]}
        assert graphs == {POINTER, second.graph, third.graph}
