"""One table, two servers: the content-negotiation and header cases that `kgpub serve`
(tests/test_server.py) and nginx with `kgpub deploy nginx`'s configuration
(tests/test_deploy_nginx.py) must both pass, with the checks they share. A client is anything
with httpx's API: Starlette's TestClient over the application, or httpx.Client over a real
server.

Where nginx cannot follow kgpub serve exactly (kgpub.deploy.negotiation: q-values compared to
one decimal place), NGINX_DIFFERS says what nginx answers instead."""

from __future__ import annotations

import pytest
import rdflib

TOPIC = "/topic/institutional-capacity-and-coordination"
BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,*/*;q=0.8"
# What clients send as they come: browsers, command-line tools, RDF libraries.
FIREFOX = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
SAFARI = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
RDFLIB_PARSE = ("application/rdf+xml, text/rdf+xml, text/xml;q=0.9, text/n3, text/turtle, "
                "application/n-triples;q=0.7, application/ld+json;q=0.6, */*;q=0.1")
JAVA = "text/html, image/gif, image/jpeg, *; q=.2, */*; q=.2"

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
# Cases only the servers' table has (the application's own tests keep theirs as they were).
CLIENT_NEGOTIATION = [
    (FIREFOX, None, 303, ".html"),
    (SAFARI, None, 303, ".html"),
    (RDFLIB_PARSE, None, 303, ".ttl"),
    ("text/plain, */*;q=0.1", None, 303, ".nt"),
    (JAVA, None, 303, ".html"),
    ('text/turtle;q="0.3", application/rdf+xml;q=0.2', None, 303, ".ttl"),
    ("text/turtle ; q=0.2 ; x=y, application/n-triples;level=1;q=0.3", None, 303, ".nt"),
    ("application/ld+json;q=0.55, text/turtle;q=0.5", None, 303, ".jsonld"),
    ("text/turtle", "TTL", 400, None),
    ("text/turtle", "", 400, None),
]
# Accept -> the Location suffix nginx answers instead (q-values to one decimal place: a tie,
# broken in the order of formats).
NGINX_DIFFERS = {"application/ld+json;q=0.55, text/turtle;q=0.5": ".ttl"}


def check_negotiation(client, accept, fmt, status, suffix):
    headers = {"accept": accept} if accept is not None else {}
    url = TOPIC + (f"?format={fmt}" if fmt is not None else "")
    r = client.get(url, headers=headers, follow_redirects=False)
    assert r.status_code == status, r.text
    if status == 303:
        assert r.headers["location"] == TOPIC + suffix
        assert "accept" in r.headers["vary"].lower()
        assert 'rel="alternate"' in r.headers["link"]
    if status == 406:
        for media in ("text/html", "text/turtle", "application/ld+json", "application/n-triples"):
            assert media in r.text


DOCUMENTS = [
    (".html", "text/html; charset=utf-8", None),
    (".ttl", "text/turtle; charset=utf-8", "turtle"),
    (".jsonld", "application/ld+json; charset=utf-8", "json-ld"),
    (".nt", "application/n-triples", "nt"),
    (".rdf", "application/rdf+xml", "xml"),
]


def check_document(client, suffix, ctype, parser):
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
    assert etag.startswith(('"', 'W/"'))  # nginx weakens the ETag of what it compresses
    identity = client.get(TOPIC + suffix, headers={"accept-encoding": "identity"})
    assert identity.headers["etag"].startswith('"')
    assert "last-modified" in r.headers and "max-age" in r.headers["cache-control"]
    assert r.headers["x-content-type-options"] == "nosniff"
    if parser:
        g = rdflib.Graph().parse(data=r.content, format=parser)
        assert (rdflib.URIRef("https://w3id.org/sphr" + TOPIC), None, None) in g
    else:
        csp = r.headers["content-security-policy"]
        assert "default-src 'none'" in csp and "script-src 'self'" in csp


def check_conditional_get_and_head(client):
    r = client.get(TOPIC + ".ttl")
    etag, modified = r.headers["etag"], r.headers["last-modified"]
    assert client.get(TOPIC + ".ttl", headers={"if-none-match": etag}).status_code == 304
    assert client.get(TOPIC + ".ttl", headers={"if-none-match": '"other"'}).status_code == 200
    assert client.get(TOPIC + ".ttl", headers={"if-modified-since": modified}).status_code == 304
    identity = {"accept-encoding": "identity"}
    full = client.get(TOPIC + ".ttl", headers=identity)
    head = client.head(TOPIC + ".ttl", headers=identity)
    assert head.status_code == 200 and head.content == b""
    assert head.headers["content-length"] == str(len(full.content))
    assert head.headers["etag"] == full.headers["etag"]


def check_gzip_when_asked(client):
    plain = client.get(TOPIC + ".html", headers={"accept-encoding": "identity"})
    assert "content-encoding" not in plain.headers
    raw = client.get(TOPIC + ".html", headers={"accept-encoding": "gzip"})
    assert raw.headers["content-encoding"] == "gzip"
    assert raw.content == plain.content  # httpx decoded it
    assert raw.headers["etag"] != plain.headers["etag"]
    assert "accept-encoding" in raw.headers["vary"].lower()


# Paths that must not reach a file outside the site, a hidden one, or a listing. kgpub serve
# answers 404; nginx refuses some requests before looking (400: a path above the root, a NUL).
NO_TRAVERSAL = [
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
]
NGINX_REFUSES = {"/%2e%2e/kgpub.toml", "/topic/%2e%2e/%2e%2e/kgpub.toml",
                 "/topic/..%2f..%2fkgpub.toml", "/topic/x%00.html"}


def check_no_traversal(client, path, status=404):
    r = client.get(path, headers={"accept": "text/plain"}, follow_redirects=False)
    assert r.status_code == status
    assert "[site]" not in r.text and "Index of" not in r.text


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


def check_language(client, accept_language, location):
    headers = {"Accept": BROWSER}
    if accept_language is not None:
        headers["Accept-Language"] = accept_language
    r = client.get(TOPIC, headers=headers, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == location
    assert "Accept-Language" in r.headers["vary"]


class NginxTable:
    """The table, as nginx answers it (NGINX_DIFFERS, NGINX_REFUSES): a test module that runs
    nginx in front of kgpub subclasses it (class TestTable(NginxTable)) and gives a `client`
    fixture, so every deployment is held to the same tests."""

    @pytest.mark.parametrize("accept,fmt,status,suffix", NEGOTIATION + CLIENT_NEGOTIATION)
    def test_negotiation(self, client, accept, fmt, status, suffix):
        check_negotiation(client, accept, fmt, status, NGINX_DIFFERS.get(accept, suffix))

    @pytest.mark.parametrize("accept_language, location", LANGUAGE_NEGOTIATION)
    def test_language(self, client, accept_language, location):
        check_language(client, accept_language, location)

    @pytest.mark.parametrize("suffix,ctype,parser", DOCUMENTS)
    def test_document_headers(self, client, suffix, ctype, parser):
        check_document(client, suffix, ctype, parser)

    def test_conditional_get_and_head(self, client):
        check_conditional_get_and_head(client)

    def test_gzip_when_asked(self, client):
        check_gzip_when_asked(client)

    @pytest.mark.parametrize("path", NO_TRAVERSAL)
    def test_no_traversal_no_listing(self, client, path):
        check_no_traversal(client, path, 400 if path in NGINX_REFUSES else 404)
