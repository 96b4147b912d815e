"""The public SPARQL endpoint, exercised with a real client (SPARQLWrapper) on a real server."""

from __future__ import annotations

import csv
import http.server
import io
import json
import os
import signal
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest
import rdflib
from bs4 import BeautifulSoup
from SPARQLWrapper import CSV, JSON, TURTLE, XML, SPARQLWrapper

from kgpub.sparql.examples import example_queries
from serverutil import CARTESIAN, copy_project, running_server, server_pid

BASE = "https://w3id.org/sphr/"
PREFIX = f"PREFIX dcterms: <http://purl.org/dc/terms/> PREFIX sphr: <{BASE}ontology#> "


@pytest.fixture(scope="module")
def server(tmp_path_factory, built_site):
    """One server for the module: 2 query workers, a 2 s time limit, a 50-row cap. It serves the
    session's build of the bundled project ([sparql] changes nothing in a build)."""
    root = copy_project(tmp_path_factory.mktemp("sparql"))
    with open(root / "kgpub.toml", "a", encoding="utf-8") as f:
        f.write("\n[sparql]\ntimeout = 2.0\nmax_rows = 50\nworkers = 2\n")
    with running_server(root, built_site) as url:
        yield url


def raw(url: str, data: bytes | None = None, headers: dict | None = None, method=None):
    req = urllib.request.Request(url, data=data, headers=headers or {}, method=method)
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


def wait_idle(url: str, seconds: float = 15.0) -> None:
    """Wait until every worker answers (earlier tests kill workers; replacements load)."""
    deadline = time.monotonic() + seconds
    ok = 0
    while ok < 2 and time.monotonic() < deadline:
        ok = ok + 1 if raw(f"{url}/sparql?query=ASK%7B%7D")[0] == 200 else 0
        time.sleep(0.2)


def client(url: str, query: str, fmt, method="GET") -> SPARQLWrapper:
    s = SPARQLWrapper(url + "/sparql")
    s.setQuery(query)
    s.setReturnFormat(fmt)
    s.setMethod(method)
    return s


def test_select_json_xml_csv_with_a_real_client(server):
    q = PREFIX + "SELECT ?e ?t WHERE { ?e a sphr:ExpertCommentary ; dcterms:title ?t } ORDER BY ?t"
    js = client(server, q, JSON).query().convert()
    titles = [b["t"]["value"] for b in js["results"]["bindings"]]
    assert len(titles) == 3 and titles[0].startswith("Adopting Comprehensive")
    xml = client(server, q, XML, method="POST").query().convert()  # POST form
    assert len(xml.getElementsByTagName("result")) == 3
    text = client(server, q, CSV).query().convert().decode()
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == ["e", "t"] and len(rows) == 4


def test_ask_and_construct(server):
    ask = client(server, PREFIX + "ASK { ?x a sphr:Topic }", JSON).query().convert()
    assert ask["boolean"] is True
    g = client(server, f"DESCRIBE <{BASE}topic/institutional-capacity-and-coordination>",
               TURTLE).query().convert()
    parsed = rdflib.Graph().parse(data=g, format="turtle")
    assert (rdflib.URIRef(f"{BASE}topic/institutional-capacity-and-coordination"), None, None) in parsed


@pytest.mark.parametrize(
    "accept,ctype",
    [
        ("application/sparql-results+json", "application/sparql-results+json"),
        ("application/sparql-results+xml", "application/sparql-results+xml"),
        ("text/csv", "text/csv"),
        ("text/tab-separated-values", "text/tab-separated-values"),
        ("*/*", "application/sparql-results+json"),
    ],
)
def test_select_result_types_by_accept(server, accept, ctype):
    q = urllib.parse.quote("SELECT ?s WHERE { ?s ?p ?o } LIMIT 1")
    status, headers, _ = raw(f"{server}/sparql?query={q}", headers={"Accept": accept})
    assert status == 200 and headers["Content-Type"].startswith(ctype)


@pytest.mark.parametrize(
    "accept,parser",
    [("text/turtle", "turtle"), ("application/ld+json", "json-ld"),
     ("application/n-triples", "nt"), ("application/rdf+xml", "xml")],
)
def test_construct_result_types(server, accept, parser):
    q = urllib.parse.quote("CONSTRUCT { ?s a ?c } WHERE { ?s a ?c }")
    status, headers, body = raw(f"{server}/sparql?query={q}", headers={"Accept": accept})
    assert status == 200 and headers["Content-Type"].startswith(accept)
    assert len(rdflib.Graph().parse(data=body, format=parser)) > 10


def test_direct_post_and_406(server):
    q = b"SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }"
    status, _, body = raw(server + "/sparql", data=q,
                          headers={"Content-Type": "application/sparql-query",
                                   "Accept": "application/sparql-results+json"})
    assert status == 200 and int(json.loads(body)["results"]["bindings"][0]["n"]["value"]) > 300
    status, _, body = raw(server + "/sparql", data=b"CONSTRUCT WHERE { ?s ?p ?o }",
                          headers={"Content-Type": "application/sparql-query",
                                   "Accept": "text/csv"})
    assert status == 406


REFUSED = [
    ("INSERT DATA { <http://x/a> <http://x/b> <http://x/c> }", 400),
    ("DELETE WHERE { ?s ?p ?o }", 400),
    ("LOAD <http://127.0.0.1:1/data.ttl>", 400),
    ("CLEAR ALL", 400),
    ("SELECT * WHERE { SERVICE <http://127.0.0.1:1/sparql> { ?s ?p ?o } }", 400),
    ("SELECT * WHERE { SERVICE SILENT <http://127.0.0.1:1/sparql> { ?s ?p ?o } }", 400),
    ("SELECT * WHERE { { SELECT ?s WHERE { SERVICE <http://127.0.0.1:1/> { ?s ?p ?o } } } }", 400),
    ("SELECT * WHERE { ?s ?p ?o . OPTIONAL { service <http://127.0.0.1:1/> { ?s ?q ?r } } }", 400),
    ("SELEKT * WHERE { ?s ?p ?o }", 400),
    ("SELECT * WHERE { ?s ?p ", 400),
]


@pytest.mark.parametrize("query,status", REFUSED)
def test_refusals(server, query, status):
    code, headers, body = raw(f"{server}/sparql?query={urllib.parse.quote(query)}",
                              headers={"Accept": "application/sparql-results+json"})
    assert code == status, body
    assert body.strip()  # says why


def test_update_parameter_and_update_post_refused(server):
    form = urllib.parse.urlencode({"update": "CLEAR ALL"}).encode()
    code, _, _ = raw(server + "/sparql", data=form,
                     headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert code == 400
    code, _, _ = raw(server + "/sparql", data=b"CLEAR ALL",
                     headers={"Content-Type": "application/sparql-update"})
    assert code == 400


def _post_raw(url: str, head: bytes, body: bytes) -> bytes:
    """Send a request over a socket and read the answer even if the server stops reading
    the body early (as it should when the declared size is too big)."""
    import socket

    host, port = urllib.parse.urlsplit(url).hostname, urllib.parse.urlsplit(url).port
    with socket.create_connection((host, port), timeout=10) as sock:
        sock.sendall(head)
        try:
            sock.sendall(body)
        except (BrokenPipeError, ConnectionResetError):
            pass
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
            if b"\r\n\r\n" in data:
                break
        return data


def test_body_over_one_mebibyte_refused(server):
    size = 1024 * 1024 + 10
    declared = (f"POST /sparql HTTP/1.1\r\nHost: x\r\nContent-Type: application/sparql-query\r\n"
                f"Content-Length: {size}\r\nConnection: close\r\n\r\n").encode()
    assert _post_raw(server, declared, b"x" * 4096).startswith(b"HTTP/1.1 413")
    chunked = (b"POST /sparql HTTP/1.1\r\nHost: x\r\nContent-Type: application/sparql-query\r\n"
               b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n")
    piece = b"x" * 65536
    body = (b"%x\r\n" % len(piece) + piece + b"\r\n") * 17 + b"0\r\n\r\n"
    assert _post_raw(server, chunked, body).startswith(b"HTTP/1.1 413")


def test_malformed_query_gets_the_parser_message(server):
    code, _, body = raw(f"{server}/sparql?query={urllib.parse.quote('SELECT ?x WHERE { ?x }')}",
                        headers={"Accept": "application/sparql-results+json"})
    assert code == 400 and len(body) > 20


class _Listener:
    """An HTTP listener on 127.0.0.1 that records every request it receives."""

    def __init__(self):
        hits = self.hits = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                hits.append(self.path)
                self.send_response(200)
                self.send_header("Content-Type", "text/turtle")
                self.end_headers()
                self.wfile.write(b"<http://evil/a> <http://evil/b> <http://evil/c> .")

            do_POST = do_GET  # noqa: N815

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()


def test_service_and_from_never_contact_anything(server, tmp_path):
    listener = _Listener()
    secret = tmp_path / "secret.ttl"
    secret.write_text("<http://secret/a> <http://secret/b> <http://secret/c> .")
    try:
        queries = [
            f"SELECT * WHERE {{ SERVICE <{listener.url}/sparql> {{ ?s ?p ?o }} }}",
            f"SELECT * WHERE {{ SERVICE SILENT <{listener.url}/sparql> {{ ?s ?p ?o }} }}",
            f"SELECT * FROM <{listener.url}/data.ttl> WHERE {{ ?s ?p ?o }}",
            f"SELECT * FROM NAMED <{listener.url}/g.ttl> WHERE {{ GRAPH ?g {{ ?s ?p ?o }} }}",
            f"SELECT * FROM <{secret.as_uri()}> WHERE {{ ?s ?p ?o }}",
            f"LOAD <{listener.url}/data.ttl>",
        ]
        for q in queries:
            code, _, body = raw(f"{server}/sparql?query={urllib.parse.quote(q)}",
                                headers={"Accept": "application/sparql-results+json"})
            assert code in (200, 400), body
            assert b"secret" not in body and b"evil" not in body
        code, _, _ = raw(f"{server}/sparql?query=SELECT%20*%20WHERE%7B%3Fs%20%3Fp%20%3Fo%7D"
                         f"&default-graph-uri={urllib.parse.quote(listener.url + '/x')}")
        assert code in (200, 400)
        time.sleep(0.5)
        assert listener.hits == []
    finally:
        listener.close()


def test_row_cap_is_stated(server):
    code, headers, body = raw(f"{server}/sparql?query={urllib.parse.quote('SELECT * WHERE { ?s ?p ?o }')}",
                              headers={"Accept": "application/sparql-results+json"})
    assert code == 200
    assert len(json.loads(body)["results"]["bindings"]) == 50
    assert headers["X-SPARQL-Truncated"] == "true" and headers["X-SPARQL-Max-Rows"] == "50"
    assert headers["X-SPARQL-Truncated-Reason"] == "rows"
    assert int(headers["Content-Length"]) == len(body)


def test_pathological_query_is_stopped_while_others_are_served(server):
    wait_idle(server)
    result = {}

    def slow():
        t = time.monotonic()
        result["slow"] = raw(f"{server}/sparql?query={urllib.parse.quote(CARTESIAN)}",
                             headers={"Accept": "application/sparql-results+json"})
        result["elapsed"] = time.monotonic() - t

    thread = threading.Thread(target=slow)
    thread.start()
    time.sleep(0.3)
    t = time.monotonic()
    code, _, _ = raw(f"{server}/topic/institutional-capacity-and-coordination.html")
    assert code == 200 and time.monotonic() - t < 1.0
    code, _, body = raw(f"{server}/sparql?query={urllib.parse.quote('ASK { ?s ?p ?o }')}",
                        headers={"Accept": "application/sparql-results+json"})
    assert code == 200 and json.loads(body)["boolean"] is True
    thread.join(30)
    code, headers, body = result["slow"]
    assert code == 503 and b"stopped" in body.lower()
    assert int(headers["Retry-After"]) >= 1  # a 503 says when to come back
    assert result["elapsed"] < 2.0 + 2.5
    # The killed worker is replaced: the endpoint keeps answering.
    for _ in range(3):
        code, _, _ = raw(f"{server}/sparql?query={urllib.parse.quote('ASK { ?s ?p ?o }')}")
        assert code == 200


def test_all_workers_busy_the_query_waits_its_turn(server):
    """Both workers run queries that take up to the time limit: a third query is queued (not
    refused) and answered when a worker is free again; pages stay fast meanwhile."""
    wait_idle(server)
    time.sleep(1.0)
    threads = [threading.Thread(target=raw, args=(
        f"{server}/sparql?query={urllib.parse.quote(CARTESIAN)}",)) for _ in range(2)]
    for t in threads:
        t.start()
    time.sleep(0.5)
    t = time.monotonic()
    assert raw(f"{server}/index.html")[0] == 200 and time.monotonic() - t < 1.0
    code, _, body = raw(f"{server}/sparql?query={urllib.parse.quote('ASK { ?s ?p ?o }')}",
                        headers={"Accept": "application/sparql-results+json"})
    assert code == 200 and json.loads(body)["boolean"] is True
    assert time.monotonic() - t >= 1.0  # it waited for a worker
    for t in threads:
        t.join(30)


def _query_workers(server_pid: int) -> list[int]:
    pids = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/status", encoding="ascii") as f:
                ppid = next(int(x.split()[1]) for x in f if x.startswith("PPid:"))
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                spawned = b"spawn_main" in f.read()
        except (OSError, StopIteration, ValueError):
            continue
        if ppid == server_pid and spawned:
            pids.append(int(pid))
    return pids


def _cpu_ticks(pid: int) -> int:
    with open(f"/proc/{pid}/stat", encoding="ascii") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def test_a_worker_killed_mid_query_is_503_with_retry_after(server):
    wait_idle(server)
    result = {}

    def slow():
        result["slow"] = raw(f"{server}/sparql?query={urllib.parse.quote(CARTESIAN)}",
                             headers={"Accept": "application/sparql-results+json"})

    thread = threading.Thread(target=slow)
    thread.start()
    time.sleep(0.5)
    workers = _query_workers(server_pid(server))
    before = {pid: _cpu_ticks(pid) for pid in workers}
    time.sleep(0.3)
    busy = max(workers, key=lambda pid: _cpu_ticks(pid) - before[pid])
    os.kill(busy, signal.SIGKILL)
    thread.join(30)
    code, headers, body = result["slow"]
    assert code == 503 and int(headers["Retry-After"]) >= 1
    assert b"replaced" in body and b"SIGKILL" in body
    wait_idle(server)


def test_a_prologue_alone_is_malformed(server):
    code, _, body = raw(f"{server}/sparql?query={urllib.parse.quote('PREFIX a: <http://a/>')}",
                        headers={"Accept": "application/sparql-results+json"})
    assert code == 400 and b"Malformed query" in body and b"read-only" not in body


def test_format_chosen_after_the_worker_knows_the_form(server):
    """The HTTP layer negotiates for every query form; the worker picks once it has parsed the
    query, with the same 406 messages as before."""
    construct = urllib.parse.quote("CONSTRUCT WHERE { ?s ?p ?o }")
    code, _, body = raw(f"{server}/sparql?query={construct}&format=csv")
    assert code == 406 and b"cannot carry the result of a CONSTRUCT query" in body
    select = urllib.parse.quote("SELECT * WHERE { ?s ?p ?o } LIMIT 1")
    code, _, body = raw(f"{server}/sparql?query={select}", headers={"Accept": "text/turtle"})
    assert code == 406 and b"None of the accepted types" in body
    code, headers, _ = raw(f"{server}/sparql?query={construct}",
                           headers={"Accept": "application/n-triples, text/csv;q=0.5"})
    assert code == 200 and headers["Content-Type"].startswith("application/n-triples")
    code, headers, _ = raw(f"{server}/sparql?query={select}",
                           headers={"Accept": "application/n-triples, text/csv;q=0.5"})
    assert code == 200 and headers["Content-Type"].startswith("text/csv")


def test_service_description_cors_and_page(server):
    code, headers, body = raw(server + "/sparql", headers={"Accept": "text/turtle"})
    assert code == 200
    g = rdflib.Graph().parse(data=body, format="turtle")
    sd = rdflib.Namespace("http://www.w3.org/ns/sparql-service-description#")
    assert (None, rdflib.RDF.type, sd.Service) in g
    code, headers, _ = raw(server + "/sparql", method="OPTIONS",
                           headers={"Origin": "https://example.org",
                                    "Access-Control-Request-Method": "POST"})
    assert code == 204 and headers["Access-Control-Allow-Origin"] == "*"
    assert headers.get("Access-Control-Allow-Credentials") is None
    code, headers, body = raw(server + "/sparql", headers={"Accept": "text/html"})
    page = BeautifulSoup(body, "html5lib")
    assert page.find("textarea") is not None and page.find("form") is not None
    titles = [s.get_text() for s in page.find_all("summary")]
    assert len(titles) == len(example_queries(BASE)) and not page.find_all("script", src=True)
    assert headers["Content-Security-Policy"]


def test_html_results_table_escapes(server):
    wait_idle(server)
    payload = '<script>alert(1)</script>'
    q = f'SELECT ?x WHERE {{ BIND ("{payload}" AS ?x) }}'
    code, _, body = raw(f"{server}/sparql?query={urllib.parse.quote(q)}",
                        headers={"Accept": "text/html"})
    assert code == 200
    page = BeautifulSoup(body, "html5lib")
    assert page.find("td").get_text() == payload
    assert not [s for s in page.find_all("script") if s.get("type") != "application/ld+json"]


@pytest.mark.parametrize("example", example_queries(BASE), ids=lambda e: e.slug)
def test_example_queries_answer(server, example):
    wait_idle(server)
    code, headers, body = raw(f"{server}/sparql?query={urllib.parse.quote(example.query)}",
                              headers={"Accept": "application/sparql-results+json, text/turtle"})
    assert code == 200, body
    if headers["Content-Type"].startswith("application/sparql-results+json"):
        assert json.loads(body)["results"]["bindings"], example.slug
    else:
        assert len(rdflib.Graph().parse(data=body, format="turtle")) > 0
