"""`kgpub deploy nginx` run for real: Debian's nginx serves the bundled site (plus two withdrawn
entries) with the generated configuration, /sparql and /oai proxied to `kgpub serve`, and passes
the same negotiation and header table as `kgpub serve` (tests/httpcases.py: one table, two
servers)."""

from __future__ import annotations

import random
import subprocess
import sys
import time

import httpx
import pytest
from bs4 import BeautifulSoup
from sickle import Sickle

from deployutil import NGINX, free_port, need, nginx_config, public_dir, running_nginx
from httpcases import (
    BROWSER,
    CLIENT_NEGOTIATION,
    LANGUAGE_NEGOTIATION,
    NEGOTIATION,
    NGINX_DIFFERS,
    TOPIC,
    NginxTable,
)
from kgpub.config import load_project
from kgpub.deploy import negotiation
from kgpub.server.conneg import negotiate, negotiate_language
from kgpub.server.site import OFFERS
from kgpub.site import build
from serverutil import copy_project, running_server

KGPUB = [sys.executable, "-m", "kgpub.cli"]
WITHDRAWN = "resource/withdrawn-test-entry"
SUPERSEDED = "resource/superseded-test-entry"
REPLACEMENT = "resource/social-protection-a-key-to-a-fair-society"
TOMBSTONES = f"""
@prefix sphr: <ontology#> .
@prefix dcterms: <http://purl.org/dc/terms/> .
@prefix owl: <http://www.w3.org/2002/07/owl#> .
@prefix xsd: <http://www.w3.org/2001/XMLSchema#> .

<{WITHDRAWN}> a sphr:Publication ;
    dcterms:title "A withdrawn test entry"@en ;
    dcterms:type <type/report> ;
    dcterms:subject <topic/institutional-capacity-and-coordination> ;
    dcterms:date "2020"^^xsd:gYear ;
    dcterms:abstract "Kept as a tombstone."@en ;
    owl:deprecated true .

<{SUPERSEDED}> a sphr:Publication ;
    dcterms:title "A superseded test entry"@en ;
    dcterms:type <type/report> ;
    dcterms:subject <topic/institutional-capacity-and-coordination> ;
    dcterms:date "2021"^^xsd:gYear ;
    dcterms:abstract "Replaced by another entry."@en ;
    dcterms:isReplacedBy <{REPLACEMENT}> ;
    owl:deprecated true .
"""


# ---- the rules as regexes, without a server ------------------------------------------------------

def _random_accept(rng: random.Random) -> str:
    types = ["text/html", "text/turtle", "application/ld+json", "application/json", "text/*",
             "application/n-triples", "application/rdf+xml", "text/plain", "*/*", "image/png",
             "application/*", "application/x-turtle"]
    parts = []
    for media in rng.sample(types, rng.randint(1, 4)):
        q = rng.choice(["", ";q=1", ";q=0", ";q=0.5", ";q=0.9", ";q=0.1", ";q=0.05", ";q=0.25"])
        parts.append(media + q)
    return ", ".join(parts)


def test_regexes_negotiate_as_kgpub_serve_does():
    """The patterns the configuration is made of pick what kgpub.server.conneg picks, for the
    table's headers and for 2,000 random ones (q-values of one decimal: no approximation)."""
    offers = [OFFERS[f] for f in OFFERS]
    patterns = [negotiation.media_levels(o) for o in offers]
    rng = random.Random(14)
    headers = [a for a, *_ in NEGOTIATION + CLIENT_NEGOTIATION if a not in NGINX_DIFFERS]
    headers += [_random_accept(rng) for _ in range(2000)]
    for header in headers:
        for available in ([True] * 5, [False, True, True, True, True], [True, False, False, True,
                                                                       False]):
            subset = [o for o, ok in zip(offers, available, strict=True) if ok]
            expected = negotiate(header, subset)
            got = negotiation.negotiate(patterns, header, available)
            want = None if expected is None else offers.index(subset[expected])
            assert got == want, (header, available)


def test_language_regexes_agree():
    languages = ("en", "fr", "es")
    patterns = [negotiation.language_levels(x) for x in languages]
    rng = random.Random(7)
    tags = ["en", "fr", "es", "de", "fr-ch", "es-419", "en-us", "*", "pt"]
    headers = [h for h, _ in LANGUAGE_NEGOTIATION]
    headers += [", ".join(t + rng.choice(["", ";q=0", ";q=0.5", ";q=0.8"])
                          for t in rng.sample(tags, rng.randint(1, 3))) for _ in range(1000)]
    for header in headers:
        index = negotiation.negotiate(patterns, header)
        got = languages[index] if index is not None else languages[0]
        assert got == negotiate_language(header, languages), header


# ---- bad input -----------------------------------------------------------------------------------

@pytest.mark.parametrize("args,message", [
    (["--site", "no-such-site"], "is not a built site"),
    (["--app", "ftp://x"], "--app 'ftp://x': expected"),
    (["--app", "http://127.0.0.1:8000/prefix"], "expected the application's"),
    (["--listen", "99999"], "--listen '99999': expected"),
    (["--server-name", "a;b"], "--server-name 'a;b'"),
])
def test_bad_input_is_one_line_exit_2(built_site, args, message):
    site = [] if "--site" in args else ["--site", str(built_site)]
    proc = subprocess.run(KGPUB + ["deploy", "nginx", *site, *args], capture_output=True,
                          text=True)
    assert proc.returncode == 2, proc.stderr
    assert proc.stdout == "" and len(proc.stderr.strip().splitlines()) == 1
    assert proc.stderr.startswith("error: ") and message in proc.stderr


# ---- nginx, for real -----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def deployment():
    need(NGINX, "nginx")
    with public_dir("kgpub-nginx-") as tmp:
        root = copy_project(tmp / "project")
        (root / "data" / "entries" / "withdrawn.ttl").write_text(TOMBSTONES, encoding="utf-8")
        project = load_project(root)
        site = build(project, root / "site").out
        with running_server(root, site) as app:
            port = free_port()
            conf = nginx_config(root, site, port, app, tmp / "kgpub.conf")
            with running_nginx(tmp / "nginx", conf, port) as url:
                yield {"url": url, "app": app, "site": site, "conf": conf}


@pytest.fixture(scope="module")
def client(deployment):
    with httpx.Client(base_url=deployment["url"], timeout=30) as c:
        yield c


class TestTable(NginxTable):
    """The request table `kgpub serve` is tested with, through nginx (httpcases.NginxTable)."""


def test_void_has_no_html_so_browsers_get_turtle(client):
    r = client.get("/.well-known/void", headers={"accept": BROWSER})
    assert r.status_code == 303 and r.headers["location"] == "/.well-known/void.ttl"


def test_security_and_cors_headers_on_every_kind_of_answer(client):
    for path, accept in [("/", BROWSER), (TOPIC, "text/turtle"), (TOPIC + ".ttl", None),
                         ("/nothing", BROWSER), ("/nothing", "text/turtle"),
                         ("/" + WITHDRAWN, BROWSER), ("/" + SUPERSEDED, None),
                         ("/_assets/style.css", None)]:
        r = client.get(path, headers={"accept": accept} if accept else {})
        assert r.headers["x-content-type-options"] == "nosniff", path
        assert r.headers["access-control-allow-origin"] == "*", path
        assert "Link" in r.headers["access-control-expose-headers"], path
        assert r.headers["referrer-policy"] == "strict-origin-when-cross-origin", path
        html = r.headers.get("content-type", "").startswith("text/html")
        assert ("content-security-policy" in r.headers) == html, path


def test_cache_lifetimes(client):
    assert client.get(TOPIC + ".ttl").headers["cache-control"] == "public, max-age=300"
    assert client.get("/_assets/style.css").headers["cache-control"] == "public, max-age=86400"
    assert client.get(TOPIC).headers["cache-control"] == "public, max-age=3600"
    assert client.get("/nothing").headers["cache-control"] == "no-cache"


def test_withdrawn_410_and_replaced_301(client):
    r = client.get(f"/{WITHDRAWN}", headers={"accept": "text/html"})
    assert r.status_code == 410 and "withdrawn" in r.text.lower()
    assert "Accept" in r.headers["vary"] and r.headers["content-type"].startswith("text/html")
    r = client.get(f"/{WITHDRAWN}", headers={"accept": "text/turtle"})
    assert r.status_code == 410 and r.headers["content-type"] == "text/plain; charset=utf-8"
    assert r.text == f"410 Gone: https://w3id.org/sphr/{WITHDRAWN} has been withdrawn.\n"
    r = client.get(f"/{SUPERSEDED}", headers={"accept": "text/html"})
    assert r.status_code == 301 and r.headers["location"] == "/" + REPLACEMENT
    r = client.get(f"/fr/{WITHDRAWN}.html", headers={"accept": "text/html"})
    assert r.status_code == 410 and 'lang="fr"' in r.text
    r = client.get(f"/es/{SUPERSEDED}.html")
    assert r.status_code == 301 and r.headers["location"] == f"/es/{REPLACEMENT}.html"


def test_not_found_page_per_language_or_text(client):
    r = client.get("/fr/nothing-here", headers={"Accept": BROWSER})
    assert r.status_code == 404 and "Accept" in r.headers["vary"].split(", ")
    assert BeautifulSoup(r.text, "html.parser").html["lang"] == "fr"
    r = client.get("/nothing-here", headers={"Accept": BROWSER})
    assert BeautifulSoup(r.text, "html.parser").html["lang"] == "en"
    r = client.get("/nothing-here", headers={"Accept": "text/turtle"})
    assert r.status_code == 404 and r.headers["content-type"] == "text/plain; charset=utf-8"
    assert r.text == "404 Not Found: nothing is published at /nothing-here\n"


def test_methods_other_than_get_head_refused(client):
    assert client.post(TOPIC).status_code == 405
    assert client.delete(TOPIC + ".ttl").status_code == 405


def test_same_answers_as_kgpub_serve(client, deployment):
    """Status, Location, Vary, Link and Content-Type of both servers for a mix of requests."""
    with httpx.Client(base_url=deployment["app"], timeout=30) as app:
        for path, accept in [(TOPIC, "text/turtle"), (TOPIC, BROWSER), (TOPIC, "image/png"),
                             (TOPIC + ".jsonld", None), ("/", BROWSER), (f"/{SUPERSEDED}", None),
                             ("/index", None), ("/browse/types", BROWSER),
                             ("/.well-known/void", "application/ld+json"),
                             ("/nothing", "text/turtle")]:
            headers = {"accept": accept, "accept-encoding": "identity"} if accept else {
                "accept-encoding": "identity"}
            a, b = app.get(path, headers=headers), client.get(path, headers=headers)
            assert a.status_code == b.status_code, path
            for name in ("location", "link"):
                assert a.headers.get(name) == b.headers.get(name), (path, name)
            if a.status_code // 100 != 3:  # nginx writes a small page into its redirects
                assert a.headers["content-type"] == b.headers["content-type"], path
            if a.status_code == 200:
                assert a.content == b.content, path


def test_sparql_and_oai_are_proxied_to_the_application(client, deployment):
    from SPARQLWrapper import JSON, SPARQLWrapper

    sparql = SPARQLWrapper(f"{deployment['url']}/sparql")
    sparql.setQuery("SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }")
    sparql.setReturnFormat(JSON)
    sparql.setMethod("POST")
    n = int(sparql.query().convert()["results"]["bindings"][0]["n"]["value"])
    assert n > 100
    records = list(Sickle(f"{deployment['url']}/oai").ListIdentifiers(metadataPrefix="oai_dc",
                                                                    ignore_deleted=False))
    assert len(records) >= 12
    r = client.get("/oai?verb=Identify")
    # The application saw the proxy's Host: the baseURL it echoes is nginx's address.
    assert f"<baseURL>{deployment['url']}/oai</baseURL>" in r.text
    assert r.headers["access-control-allow-origin"] == "*"  # the application's, not twice
    assert len(r.headers.get_list("access-control-allow-origin")) == 1


def test_a_new_build_is_served_without_reload(deployment, client):
    """nginx reads the site through its link: the next build is served as soon as it is
    published, with no reload (run last: it changes the module's site)."""
    assert str(deployment["site"]) in deployment["conf"].read_text()  # the link itself
    root = deployment["site"].parent
    data = root / "data" / "topics.ttl"
    data.write_text(data.read_text(encoding="utf-8").replace(
        '"Institutional capacity and coordination"@en', '"Capacity, rebuilt"@en', 1),
        encoding="utf-8")
    build(load_project(root), deployment["site"])
    # nginx checks what it has open again after open_file_cache_valid (1 s).
    deadline = time.monotonic() + 5
    while "Capacity, rebuilt" not in client.get(TOPIC + ".ttl").text:
        assert time.monotonic() < deadline, "the new build was not served"
        time.sleep(0.2)
