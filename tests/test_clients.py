"""What real clients trip on, against `kgpub serve` on 127.0.0.1: CORS for browser-based
linked-data clients, byte ranges for resumed downloads, rdflib's own Accept header, Vary on
every body that depends on Accept, compressed OAI-PMH pages (Sickle), /sparql/."""

from __future__ import annotations

import gzip
import json

import pytest
import rdflib
from lxml import etree
from sickle import Sickle

from kgpub.config import load_project
from kgpub.site import build
from serverutil import copy_project, fetch, running_server

AGENT = "/agent/ilo"
WITHDRAWN = "/resource/withdrawn-client-test"
DATA = """
@prefix sphr: <ontology#> .
@prefix dcterms: <http://purl.org/dc/terms/> .
@prefix owl: <http://www.w3.org/2002/07/owl#> .
@prefix xsd: <http://www.w3.org/2001/XMLSchema#> .

<resource/withdrawn-client-test> a sphr:Publication ;
    dcterms:title "Withdrawn for the client tests"@en ;
    dcterms:type <type/report> ;
    dcterms:subject <topic/institutional-capacity-and-coordination> ;
    dcterms:date "2020"^^xsd:gYear ;
    dcterms:abstract "Gone."@en ;
    dcterms:modified "2026-11-28T10:00:00Z"^^xsd:dateTime ;
    owl:deprecated true .
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    root = copy_project(tmp_path_factory.mktemp("clients") / "project")
    (root / "data" / "entries" / "withdrawn.ttl").write_text(DATA, encoding="utf-8")
    site = build(load_project(root), root / "site").out
    with running_server(root, site) as url:
        yield url


PUBLIC = [f"{AGENT}.jsonld", f"{AGENT}.ttl", f"{AGENT}.html", "/dumps/dataset.nt.gz",
          "/.well-known/void", "/sitemap.xml", "/feed.atom", "/oai?verb=Identify", "/robots.txt",
          AGENT, "/no/such/thing", WITHDRAWN]


@pytest.mark.parametrize("path", PUBLIC)
def test_cors_on_every_public_resource(server, path):
    status, headers, _ = fetch(server + path, {"Origin": "https://client.example",
                                               "Accept": "application/ld+json"})
    assert headers["Access-Control-Allow-Origin"] == "*", (path, status)
    assert "Access-Control-Allow-Credentials" not in headers
    assert "Link" in headers["Access-Control-Expose-Headers"]


RANGES = [  # (Range, If-Range: None / "etag" / "stale", status, (start, end) of the body or None)
    ("bytes=0-9", None, 206, (0, 10)),
    ("bytes=10-", None, 206, (10, None)),
    ("bytes=-5", None, 206, (-5, None)),
    ("bytes=0-9", "etag", 206, (0, 10)),
    ("bytes=0-9", "stale", 200, None),
    ("bytes=999999-", None, 416, None),
]


@pytest.mark.parametrize("path", [f"{AGENT}.ttl", f"{AGENT}.jsonld", "/dumps/dataset.ttl.gz"])
@pytest.mark.parametrize("rng,if_range,status,span", RANGES)
def test_byte_ranges_on_documents_and_dumps(server, path, rng, if_range, status, span):
    code, headers, whole = fetch(server + path)
    assert code == 200 and headers["Accept-Ranges"] == "bytes"
    asked = {"Range": rng, "Accept-Encoding": "gzip"}
    if if_range == "etag":
        asked["If-Range"] = headers["ETag"]
    elif if_range == "stale":
        asked["If-Range"] = '"not-this-one"'
    code, got, body = fetch(server + path, asked)
    assert code == status, (path, rng, code)
    if status == 206:
        start, end = span
        assert body == (whole[start:end] if end is not None else whole[start:])
        assert got["Content-Range"].endswith(f"/{len(whole)}")
        assert "Content-Encoding" not in got  # the range is of the file itself
    elif status == 200:
        assert body == whole or gzip.decompress(body) == whole


def test_rdflib_reads_an_iri_as_it_asks(server):
    """rdflib sends 'text/plain, */*;q=0.1' style headers for N-Triples; it gets N-Triples, and
    rdflib's own dereferencing (its Accept, the 303) reads the graph."""
    status, headers, _ = fetch(server + AGENT, {"Accept": "text/plain, */*;q=0.1"})
    assert status == 303 and headers["Location"] == f"{AGENT}.nt"
    graph = rdflib.Graph().parse(server + AGENT)
    assert len(graph) > 3


@pytest.mark.parametrize("path", ["/no/such/thing", WITHDRAWN])
@pytest.mark.parametrize("accept", ["text/html", "text/turtle"])
def test_bodies_that_depend_on_accept_say_vary(server, path, accept):
    status, headers, _ = fetch(server + path, {"Accept": accept})
    assert status in (404, 410)
    assert "Accept" in [v.strip() for v in headers["Vary"].split(",")]


def test_oai_pages_are_compressed_when_asked(server):
    status, headers, body = fetch(server + "/oai?verb=ListRecords&metadataPrefix=rdf",
                                  {"Accept-Encoding": "gzip"})
    assert status == 200 and headers["Content-Encoding"] == "gzip"
    assert "Accept-Encoding" in headers["Vary"]
    etree.fromstring(gzip.decompress(body))
    status, headers, plain = fetch(server + "/oai?verb=ListRecords&metadataPrefix=rdf")
    assert "Content-Encoding" not in headers and gzip.decompress(body) == plain
    # Sickle (requests) asks for gzip and harvests through it.
    assert len(list(Sickle(server + "/oai").ListIdentifiers(metadataPrefix="oai_dc"))) >= 10


def test_sparql_with_a_slash_redirects(server):
    status, headers, _ = fetch(server + "/sparql/?query=ASK%7B%7D")
    assert status == 301 and headers["Location"] == "/sparql?query=ASK%7B%7D"
    status, headers, _ = fetch(server + "/sparql/", method="POST")
    assert status == 308 and headers["Location"] == "/sparql"


# ---- SPARQL clients -------------------------------------------------------------------------

def test_relative_iris_resolve_against_the_endpoint(server):
    """W3C SPARQL 1.1 Protocol test query_content_type_construct: relative IRIs in the query."""
    status, headers, body = fetch(server + "/sparql", {
        "Content-Type": "application/sparql-query", "Accept": "application/n-triples"},
        method="POST", data=b"CONSTRUCT { <s> <p> 1 } WHERE {}")
    assert status == 200, body
    assert body.decode().strip().startswith(f"<{server}/s> <{server}/p> ")


@pytest.mark.parametrize("query,fmt,check", [
    ("CONSTRUCT { ?s ?p ?o } WHERE { ?s ?p ?o } LIMIT 3", "JSON",
     lambda r: len(rdflib.Graph().parse(data=r.response.read(), format="json-ld")) == 3),
    ("CONSTRUCT { ?s ?p ?o } WHERE { ?s ?p ?o } LIMIT 3", "N3",
     lambda r: len(rdflib.Graph().parse(data=r.response.read(), format="turtle")) == 3),
    ("CONSTRUCT { ?s ?p ?o } WHERE { ?s ?p ?o } LIMIT 3", "XML",
     lambda r: len(r.convert()) == 3),
    ("CONSTRUCT { ?s ?p ?o } WHERE { ?s ?p ?o } LIMIT 3", "JSONLD",
     lambda r: len(r.convert()) == 3),
    ("SELECT ?s WHERE { ?s ?p ?o } LIMIT 3", "N3",
     lambda r: len(json.loads(r.response.read())["results"]["bindings"]) == 3),
    ("SELECT ?s WHERE { ?s ?p ?o } LIMIT 3", "XML",
     lambda r: len(r.convert().getElementsByTagName("result")) == 3),
])
def test_sparqlwrapper_conventions_get_the_nearest_format(server, query, fmt, check):
    from SPARQLWrapper import SPARQLWrapper

    client = SPARQLWrapper(server + "/sparql")
    client.setQuery(query)
    client.setReturnFormat(fmt.lower() if fmt != "JSONLD" else "json-ld")
    assert check(client.query())


@pytest.mark.parametrize("accept,kind", [
    ("application/sparql-results+json", "json"), ("application/json", "json"),
    ("text/html,application/xhtml+xml,*/*;q=0.8", "html"), ("*/*", "text"), (None, "text"),
    ("text/turtle", "text"),
])
def test_error_bodies_follow_accept(server, accept, kind):
    status, headers, body = fetch(server + "/sparql?query=SELECT%20%3Fx%20WHERE%20%7B%20%3Fx%20%7D",
                                  {"Accept": accept} if accept else {})
    assert status == 400 and "Accept" in headers["Vary"]
    if kind == "json":
        assert json.loads(body)["error"]["status"] == 400
        assert headers["Content-Type"].startswith("application/json")
    elif kind == "html":
        assert headers["Content-Type"].startswith("text/html") and b"Malformed" in body
    else:
        assert headers["Content-Type"].startswith("text/plain") and len(body) < 2000


@pytest.mark.parametrize("query,accept", [
    ('SELECT ?x WHERE { BIND("a\\u0000b\\u0001c\\uFFFF\\uFFFEd" AS ?x) }',
     "application/sparql-results+xml"),
    ('CONSTRUCT { <http://a/> <http://b/p> ?x } WHERE { BIND("a\\u0000b\\uFFFF" AS ?x) }',
     "application/rdf+xml"),
])
def test_xml_results_are_well_formed_whatever_a_query_computes(server, query, accept):
    status, _, body = fetch(server + "/sparql", {"Accept": accept,
                                                 "Content-Type": "application/sparql-query"},
                            method="POST", data=query.encode())
    assert status == 200
    etree.fromstring(body)  # a real parser: no forbidden character got through
    assert "\ufffd".encode() in body
