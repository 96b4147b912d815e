"""The linked-data server: dereferencing by content negotiation, documents, static files, safety."""

from __future__ import annotations

import gzip
import os

import pytest
import rdflib
from bs4 import BeautifulSoup
from starlette.testclient import TestClient

from kgpub.config import load_project
from kgpub.server.app import create_app
from kgpub.server.conneg import negotiate, parse_accept
from kgpub.site import build
from serverutil import copy_project

TOPIC = "/topic/institutional-capacity-and-coordination"
BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,*/*;q=0.8"


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    root = copy_project(tmp_path_factory.mktemp("project"))
    return load_project(root)


@pytest.fixture(scope="module")
def site(project):
    return build(project, project.root / "site").out


@pytest.fixture(scope="module")
def client(project, site):
    with TestClient(create_app(project, site), base_url="http://testserver") as c:
        yield c


# ---- content negotiation ------------------------------------------------------------------

NEGOTIATION = [
    # (Accept, ?format=, status, Location suffix)
    ("text/html", None, 303, ".html"),
    (BROWSER, None, 303, ".html"),
    ("text/turtle", None, 303, ".ttl"),
    ("application/ld+json", None, 303, ".jsonld"),
    ("application/json", None, 303, ".jsonld"),
    ("application/n-triples", None, 303, ".nt"),
    ("application/rdf+xml", None, 303, ".rdf"),
    ("text/turtle;q=0.5, application/ld+json", None, 303, ".jsonld"),
    ("application/ld+json;q=0.4, text/turtle;q=0.9, */*;q=0.1", None, 303, ".ttl"),
    ("*/*", None, 303, ".html"),
    (None, None, 303, ".html"),
    ("text/*", None, 303, ".html"),
    ("application/*", None, 303, ".jsonld"),
    ("text/html;q=0, */*", None, 303, ".ttl"),
    ("text/turtle, text/html;q=0.9", None, 303, ".ttl"),
    ("TEXT/TURTLE", None, 303, ".ttl"),
    ("image/png", None, 406, None),
    ("text/turtle;q=0", None, 406, None),
    ("garbage", None, 406, None),
    ("text/html", "nt", 303, ".nt"),
    ("text/turtle", "html", 303, ".html"),
    ("image/png", "jsonld", 303, ".jsonld"),
    ("text/html", "exe", 400, None),
]


@pytest.mark.parametrize("accept,fmt,status,suffix", NEGOTIATION)
def test_negotiation(client, accept, fmt, status, suffix):
    headers = {"accept": accept} if accept is not None else {}
    url = TOPIC + (f"?format={fmt}" if fmt else "")
    r = client.get(url, headers=headers, follow_redirects=False)
    assert r.status_code == status, r.text
    if status == 303:
        assert r.headers["location"] == TOPIC + suffix
        assert "accept" in r.headers["vary"].lower()
        assert 'rel="alternate"' in r.headers["link"]
    if status == 406:
        for media in ("text/html", "text/turtle", "application/ld+json", "application/n-triples"):
            assert media in r.text


def test_accept_parser_edge_cases():
    assert [m.q for m in parse_accept("a/b;q=0.3, c/d;q=nonsense, e/f;Q=2")] == [0.3, 0.0, 1.0]
    assert negotiate("", [("text/html",)]) == 0
    assert negotiate("text/plain", [("text/html",)]) is None


# ---- documents ------------------------------------------------------------------------------

DOCUMENTS = [
    (".html", "text/html; charset=utf-8", None),
    (".ttl", "text/turtle; charset=utf-8", "turtle"),
    (".jsonld", "application/ld+json; charset=utf-8", "json-ld"),
    (".nt", "application/n-triples", "nt"),
    (".rdf", "application/rdf+xml", "xml"),
]


@pytest.mark.parametrize("suffix,ctype,parser", DOCUMENTS)
def test_document_headers(client, suffix, ctype, parser):
    r = client.get(TOPIC + suffix)
    assert r.status_code == 200
    assert r.headers["content-type"] == ctype
    links = r.headers["link"]
    others = [s for s, *_ in DOCUMENTS if s != suffix]
    for other in others:
        assert f"<{TOPIC}{other}>" in links
    assert f"<{TOPIC}{suffix}>" not in links
    assert 'rel="canonical"' in links and "https://w3id.org/sphr" + TOPIC in links
    etag = r.headers["etag"]
    assert etag.startswith('"') and not etag.startswith("W/")
    assert "last-modified" in r.headers and "max-age" in r.headers["cache-control"]
    assert r.headers["x-content-type-options"] == "nosniff"
    if parser:
        g = rdflib.Graph().parse(data=r.content, format=parser)
        assert (rdflib.URIRef("https://w3id.org/sphr" + TOPIC), None, None) in g
    else:
        csp = r.headers["content-security-policy"]
        assert "default-src 'none'" in csp and "script-src 'self'" in csp


def test_conditional_get_and_head(client):
    r = client.get(TOPIC + ".ttl")
    etag, modified = r.headers["etag"], r.headers["last-modified"]
    assert client.get(TOPIC + ".ttl", headers={"if-none-match": etag}).status_code == 304
    assert client.get(TOPIC + ".ttl", headers={"if-none-match": '"other"'}).status_code == 200
    assert client.get(TOPIC + ".ttl", headers={"if-modified-since": modified}).status_code == 304
    identity = {"accept-encoding": "identity"}
    head = client.head(TOPIC + ".ttl", headers=identity)
    assert head.status_code == 200 and head.content == b""
    assert head.headers["content-length"] == str(len(r.content))
    assert head.headers["etag"] == client.get(TOPIC + ".ttl", headers=identity).headers["etag"]


def test_gzip_when_asked(client):
    plain = client.get(TOPIC + ".html", headers={"accept-encoding": "identity"})
    assert "content-encoding" not in plain.headers
    raw = client.get(TOPIC + ".html", headers={"accept-encoding": "gzip"})
    assert raw.headers["content-encoding"] == "gzip"
    assert raw.content == plain.content  # httpx decoded it
    assert raw.headers["etag"] != plain.headers["etag"]
    assert "accept-encoding" in raw.headers["vary"].lower()


def test_static_files_and_dumps(client):
    css = client.get("/_assets/style.css")
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
    dump = client.get("/dumps/dataset.nt.gz")
    assert dump.headers["content-type"] == "application/gzip"
    assert rdflib.Graph().parse(data=gzip.decompress(dump.content), format="nt")
    assert client.get("/").status_code == 200


@pytest.mark.parametrize(
    "path",
    [
        "/../kgpub.toml",
        "/%2e%2e/kgpub.toml",
        "/topic/%2e%2e/%2e%2e/kgpub.toml",
        "/topic/..%2f..%2fkgpub.toml",
        "/%252e%252e/kgpub.toml",
        "/topic/",
        "/topic",
        "/dumps/",
        "/.kgpub/tombstones.json",
        "/topic/x%00.html",
        "/_assets/",
        "/..%5c..%5ckgpub.toml",
    ],
)
def test_no_traversal_no_listing(client, path):
    r = client.get(path, headers={"accept": "text/plain"}, follow_redirects=False)
    assert r.status_code == 404
    assert "[site]" not in r.text and "Index of" not in r.text


def test_symlink_out_of_site_is_refused(project, site, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("secret")
    link = site / "leak.txt"
    os.symlink(secret, link)
    try:
        with TestClient(create_app(project, site)) as c:
            assert c.get("/leak.txt").status_code == 404
    finally:
        link.unlink()


def test_unknown_iri_404_html_or_plain(client):
    html = client.get("/topic/no-such-topic", headers={"accept": BROWSER})
    assert html.status_code == 404 and html.headers["content-type"].startswith("text/html")
    assert BeautifulSoup(html.text, "html5lib").h1.get_text() == "Not found"
    plain = client.get("/topic/no-such-topic", headers={"accept": "text/turtle"})
    assert plain.status_code == 404 and plain.headers["content-type"].startswith("text/plain")


def test_methods_other_than_get_head_refused(client):
    assert client.post(TOPIC).status_code == 405
    assert client.delete(TOPIC + ".ttl").status_code == 405


def test_void_is_negotiated(client):
    r = client.get("/.well-known/void", headers={"accept": "text/turtle"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/.well-known/void.ttl"
    browser = client.get("/.well-known/void", headers={"accept": BROWSER}, follow_redirects=False)
    assert browser.headers["location"] == "/.well-known/void.ttl"  # no HTML version: Turtle


# ---- languages ----------------------------------------------------------------------------------

LANGUAGE_NEGOTIATION = [
    # (Accept-Language, Location of the HTML page)
    (None, TOPIC + ".html"),
    ("fr", "/fr" + TOPIC + ".html"),
    ("fr-CH, fr;q=0.9, en;q=0.8", "/fr" + TOPIC + ".html"),
    ("es-419", "/es" + TOPIC + ".html"),
    ("en-US,en;q=0.9,fr;q=0.8", TOPIC + ".html"),
    ("de, es;q=0.5", "/es" + TOPIC + ".html"),
    ("de", TOPIC + ".html"),  # nothing acceptable: the default language
    ("fr;q=0, *;q=0.1", TOPIC + ".html"),
    ("*", TOPIC + ".html"),
    ("es;q=0.3, fr;q=0.7", "/fr" + TOPIC + ".html"),
    ("fr;q=abc, es", "/es" + TOPIC + ".html"),
]


@pytest.mark.parametrize("accept_language, location", LANGUAGE_NEGOTIATION)
def test_html_is_negotiated_by_language(client, accept_language, location):
    headers = {"Accept": BROWSER}
    if accept_language is not None:
        headers["Accept-Language"] = accept_language
    r = client.get(TOPIC, headers=headers, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == location
    assert "Accept-Language" in r.headers["vary"]


def test_rdf_ignores_accept_language(client):
    r = client.get(TOPIC, headers={"Accept": "text/turtle", "Accept-Language": "fr"},
                   follow_redirects=False)
    assert r.headers["location"] == TOPIC + ".ttl"


def test_not_found_page_in_the_path_language(client):
    r = client.get("/fr/nothing-here", headers={"Accept": BROWSER})
    assert r.status_code == 404
    assert BeautifulSoup(r.text, "html.parser").html["lang"] == "fr"
    r = client.get("/nothing-here", headers={"Accept": BROWSER})
    assert BeautifulSoup(r.text, "html.parser").html["lang"] == "en"
