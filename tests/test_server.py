"""The linked-data server: dereferencing by content negotiation, documents, static files, safety."""

from __future__ import annotations

import gzip
import os

import pytest
import rdflib
from bs4 import BeautifulSoup
from starlette.testclient import TestClient

from httpcases import (
    BROWSER,
    CLIENT_NEGOTIATION,
    DOCUMENTS,
    LANGUAGE_NEGOTIATION,
    NEGOTIATION,
    NO_TRAVERSAL,
    TOPIC,
    check_conditional_get_and_head,
    check_document,
    check_gzip_when_asked,
    check_language,
    check_negotiation,
    check_no_traversal,
)
from kgpub.config import load_project
from kgpub.server.app import create_app
from kgpub.server.conneg import negotiate, parse_accept
from kgtest import copy_build
from serverutil import copy_project


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    root = copy_project(tmp_path_factory.mktemp("project"))
    return load_project(root)


@pytest.fixture(scope="module")
def site(project, built_site):
    """The project's build: a copy of the run's build of the bundled project (a test adds a
    link to it)."""
    return copy_build(built_site, project.root / "site")


@pytest.fixture(scope="module")
def client(project, site):
    with TestClient(create_app(project, site), base_url="http://testserver") as c:
        yield c


# ---- content negotiation ------------------------------------------------------------------

@pytest.mark.parametrize("accept,fmt,status,suffix", NEGOTIATION)
def test_negotiation(client, accept, fmt, status, suffix):
    check_negotiation(client, accept, fmt, status, suffix)


@pytest.mark.parametrize("accept,fmt,status,suffix", CLIENT_NEGOTIATION)
def test_negotiation_with_clients_headers(client, accept, fmt, status, suffix):
    check_negotiation(client, accept, fmt, status, suffix)


def test_accept_parser_edge_cases():
    assert [m.q for m in parse_accept("a/b;q=0.3, c/d;q=nonsense, e/f;Q=2")] == [0.3, 0.0, 1.0]
    assert negotiate("", [("text/html",)]) == 0
    assert negotiate("text/plain", [("text/html",)]) is None


# ---- documents ------------------------------------------------------------------------------

@pytest.mark.parametrize("suffix,ctype,parser", DOCUMENTS)
def test_document_headers(client, suffix, ctype, parser):
    check_document(client, suffix, ctype, parser)


def test_conditional_get_and_head(client):
    check_conditional_get_and_head(client)


def test_gzip_when_asked(client):
    check_gzip_when_asked(client)


def test_static_files_and_dumps(client):
    css = client.get("/_assets/style.css")
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
    dump = client.get("/dumps/dataset.nt.gz")
    assert dump.headers["content-type"] == "application/gzip"
    assert rdflib.Graph().parse(data=gzip.decompress(dump.content), format="nt")
    assert client.get("/").status_code == 200


@pytest.mark.parametrize("path", NO_TRAVERSAL)
def test_no_traversal_no_listing(client, path):
    check_no_traversal(client, path)


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

@pytest.mark.parametrize("accept_language, location", LANGUAGE_NEGOTIATION)
def test_html_is_negotiated_by_language(client, accept_language, location):
    check_language(client, accept_language, location)


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
