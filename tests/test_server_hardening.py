"""The public server under attack: bodies refused before they are read, no state that grows with
what clients send, strict HTTP framing (no request smuggling), safe Location headers, forwarded
headers that never cause a 500. Against a real `kgpub serve` on 127.0.0.1, with raw sockets
where a well-behaved client library would not send the attack."""

from __future__ import annotations

import os
import socket
import threading
import time
import urllib.request
from pathlib import Path

import pytest
from lxml import etree
from starlette.testclient import TestClient

from kgpub.config import load_project
from kgpub.server.app import create_app
from kgtest import copy_build
from serverutil import copy_project, port_of, rss, running_server, server_pid

pytestmark = pytest.mark.timeout(180)


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    return copy_project(tmp_path_factory.mktemp("hardening") / "project")


@pytest.fixture(scope="module")
def site(project, built_site) -> Path:
    """The project's build: a copy of the run's build of the bundled project."""
    return copy_build(built_site, project / "site")


@pytest.fixture(scope="module")
def server(project, site):
    with running_server(project, site) as url:
        yield url


def exchange(url: str, data: bytes, *, timeout: float = 10.0, then: bytes | None = None) -> bytes:
    """Send raw bytes, read until the server closes (b'<EOF>' appended) or goes quiet
    (b'<open>')."""
    with socket.create_connection(("127.0.0.1", port_of(url)), timeout=timeout) as s:
        s.sendall(data)
        if then is not None:
            time.sleep(0.3)
            try:
                s.sendall(then)
            except OSError:
                pass
        out = b""
        try:
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    return out + b"<EOF>"
                out += chunk
        except TimeoutError:
            return out + b"<open>"
        except ConnectionResetError:
            return out + b"<EOF>"


def status_of(response: bytes) -> int:
    return int(response.split(b" ", 2)[1])


def get(url: str, headers: dict | None = None):
    req = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, r.read(), r.headers
    except urllib.error.HTTPError as e:
        return e.code, e.read(), e.headers


# ---- 1. request bodies ------------------------------------------------------------------------

ROUTES = ["/oai", "/sparql", "/", "/topic/institutional-capacity-and-coordination"]


@pytest.mark.parametrize("path", ROUTES)
def test_declared_body_over_the_limit_is_refused_before_it_is_read(server, path):
    head = (f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded"
            f"\r\nContent-Length: {1 << 30}\r\n\r\n").encode()
    started = time.monotonic()
    response = exchange(server, head + b"verb=Identify&", timeout=5)
    assert time.monotonic() - started < 3  # at once, not after a gigabyte
    assert status_of(response) == 413, response[:200]
    assert response.endswith(b"<EOF>")  # and the connection is closed
    assert b"connection: close" in response.lower()


@pytest.mark.parametrize("path", ["/oai", "/sparql"])
def test_chunked_body_is_stopped_as_soon_as_it_passes_the_limit(server, path):
    pid = server_pid(server)
    before = rss(pid)
    chunk = b"a" * 65536
    with socket.create_connection(("127.0.0.1", port_of(server)), timeout=10) as s:
        s.sendall((f"POST {path} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
                   "Content-Type: application/x-www-form-urlencoded\r\n\r\n").encode())
        sent, refused = 0, False
        try:
            while sent < 64 * 1024 * 1024:  # 64 MiB at most, far over any limit
                s.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                sent += len(chunk)
        except OSError:  # the server closed the connection: the body was refused
            refused = True
        s.settimeout(5)
        try:
            response = s.recv(65536)
        except OSError:
            response = b""
    assert refused or status_of(response) == 413
    if response:
        assert status_of(response) == 413
    assert sent < 32 * 1024 * 1024, "the server read far past the limit"
    assert rss(pid) - before < 40 * 1024 * 1024


def test_bodies_under_the_limit_still_work(server):
    status, body, _ = get(server + "/oai?verb=Identify")
    assert status == 200
    req = urllib.request.Request(server + "/oai", data=b"verb=Identify", method="POST",
                                 headers={"Content-Type": "application/x-www-form-urlencoded"})
    with urllib.request.urlopen(req, timeout=10) as r:
        assert r.status == 200 and b"<Identify>" in r.read()


# ---- 2. no per-client state -------------------------------------------------------------------

def test_new_host_headers_cost_no_memory(server):
    pid = server_pid(server)
    for i in range(50):  # warm up: allocator, caches of the first requests
        exchange(server, f"GET /oai?verb=Identify HTTP/1.1\r\nHost: h{i}.example\r\n"
                         "Connection: close\r\n\r\n".encode())
    before = rss(pid)
    started = time.monotonic()
    n = 1000
    for i in range(n):
        response = exchange(server, f"GET /oai?verb=Identify HTTP/1.1\r\nHost: host{i}.example"
                                    "\r\nConnection: close\r\n\r\n".encode())
        assert status_of(response) == 200
    elapsed = time.monotonic() - started
    grown = rss(pid) - before
    assert grown < 15 * 1024 * 1024, f"{n} Hosts grew the server by {grown >> 20} MiB"
    assert b"<baseURL>http://host999.example/oai</baseURL>" in response
    print(f"{n} distinct Hosts: RSS +{grown / 2**20:.1f} MiB, {1000 * elapsed / n:.1f} ms each")


def test_new_host_headers_allocate_nothing_that_stays(project, site):
    """The OAI provider is built once per build: a base URL from the request is a value, not
    a cache key (Python allocations that survive 300 new Hosts, measured with tracemalloc)."""
    import gc
    import tracemalloc

    with TestClient(create_app(load_project(project), site)) as client:
        for i in range(20):
            assert client.get("/oai?verb=Identify", headers={"Host": f"w{i}.example"}).is_success
        gc.collect()
        tracemalloc.start()
        try:
            before = tracemalloc.take_snapshot()
            for i in range(300):
                r = client.get("/oai?verb=ListRecords&metadataPrefix=oai_dc",
                               headers={"Host": f"h{i}.example"})
                assert r.status_code == 200 and f"http://h{i}.example/oai".encode() in r.content
            gc.collect()
            after = tracemalloc.take_snapshot()
        finally:
            tracemalloc.stop()
    grown = sum(s.size_diff for s in after.compare_to(before, "filename"))
    assert grown < 200 * 1024, f"300 Hosts left {grown} bytes behind"


HOSTILE_HOSTS = ["[", "a b", 'evil"><x/>', "x" * 5000, "exa mple.org:80", "[::1", "\u00e9.org",
                 "host:99999999", ":80", ""]


@pytest.mark.parametrize("host", HOSTILE_HOSTS)
@pytest.mark.parametrize("path", ["/oai?verb=Identify", "/sparql"])
def test_hostile_host_headers_never_cause_a_500(server, host, path):
    accept = "text/turtle" if path == "/sparql" else "*/*"
    response = exchange(server, f"GET {path} HTTP/1.1\r\nHost: {host}\r\nAccept: {accept}\r\n"
                                "Connection: close\r\n\r\n".encode())
    status = status_of(response)
    assert status in (200, 400), response[:300]
    if status == 200 and path.startswith("/oai"):
        body = response.split(b"\r\n\r\n", 1)[1].removesuffix(b"<EOF>")
        body = _dechunk(body) if b"transfer-encoding: chunked" in response.lower() else body
        base = etree.fromstring(body).findtext("{*}Identify/{*}baseURL")
        assert base.startswith("http://127.0.0.1") or base.startswith("http://" + host)


def _dechunk(data: bytes) -> bytes:
    out = b""
    while data:
        size, _, rest = data.partition(b"\r\n")
        n = int(size, 16)
        if n == 0:
            break
        out, data = out + rest[:n], rest[n + 2:]
    return out


@pytest.mark.parametrize("proto", ["ws", "wss", "gopher", "", "https", "HTTP", "http, https"])
def test_forwarded_headers_never_cause_a_500(server, proto):
    # The test client is on 127.0.0.1, a trusted proxy by default: its headers are honoured.
    for path in ("/oai?verb=Identify", "/sparql", "/topic/institutional-capacity-and-coordination"):
        status, body, headers = get(server + path, {
            "X-Forwarded-Proto": proto, "X-Forwarded-For": "not an address, ::zz",
            "Accept": "text/turtle"})
        assert status in (200, 303), (path, proto, status, body[:200])
        if path.startswith("/oai"):
            base = etree.fromstring(body).findtext("{*}Identify/{*}baseURL")
            assert base.startswith(("http://", "https://"))


# ---- 5. HTTP framing ----------------------------------------------------------------------------

SMUGGLING = [
    # (request, why it must be refused)
    (b"POST /oai HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"
     b"0\r\n\r\nGET /oai?verb=Identify HTTP/1.1\r\nHost: x\r\n\r\n", "CL and TE"),
    (b"POST /oai HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n"
     b"0\r\n\r\n", "TE and CL"),
    (b"POST /oai HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nabcdef",
     "two Content-Lengths"),
    (b"POST /oai HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: xchunked\r\n\r\n0\r\n\r\n",
     "unknown coding"),
    (b"POST /oai HTTP/1.1\r\nHost: x\r\nContent-Length: +5\r\n\r\nverb=", "signed length"),
    (b"GET / HTTP/1.1\r\nHost: x\r\nX: a\nb\r\n\r\n", "bare LF in a header"),
]


@pytest.mark.parametrize("request_bytes,why", SMUGGLING, ids=[w for _, w in SMUGGLING])
def test_ambiguous_framing_is_400_and_the_connection_closed(server, request_bytes, why):
    response = exchange(server, request_bytes, timeout=5)
    assert status_of(response) == 400, (why, response[:200])
    assert response.endswith(b"<EOF>"), why
    assert response.count(b"HTTP/1.1 ") == 1, "a smuggled second request was answered"


def test_headers_are_bounded(server):
    pid = server_pid(server)
    before = rss(pid)
    with socket.create_connection(("127.0.0.1", port_of(server)), timeout=10) as s:
        s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")
        sent = 0
        try:
            while sent < 64 * 1024 * 1024:
                s.sendall(b"X-A: " + b"a" * 8000 + b"\r\n")
                sent += 8007
        except OSError:
            pass
        s.settimeout(5)
        try:
            response = s.recv(65536)
        except OSError:
            response = b""
    assert sent < 8 * 1024 * 1024
    assert not response or status_of(response) == 431
    # One long header value (httptools would buffer it whole) is bounded the same way.
    response = exchange(server, b"GET / HTTP/1.1\r\nHost: x\r\nX-A: " + b"a" * (1 << 20), timeout=5)
    assert status_of(response) == 431 and response.endswith(b"<EOF>")
    assert rss(pid) - before < 20 * 1024 * 1024


def test_a_slow_request_head_is_timed_out():
    """A client that never finishes its headers holds its socket only head_timeout seconds
    (the real protocol class on a real uvicorn, with a short timeout for the test)."""
    import uvicorn

    from kgpub.server.http import BoundedHttpToolsProtocol

    class Quick(BoundedHttpToolsProtocol):
        head_timeout = 1.0

    async def app(scope, receive, send):
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(app, http=Quick, log_level="error", lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        while not server.started:
            time.sleep(0.05)
        url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        started = time.monotonic()
        response = exchange(url, b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow: 1", timeout=10)
        assert status_of(response) == 408 and response.endswith(b"<EOF>")
        assert 0.8 < time.monotonic() - started < 5
        # A complete request on a kept-alive connection is not cut.
        ok = exchange(url, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n" * 2, timeout=2)
        assert ok.count(b"HTTP/1.1 204") == 2
    finally:
        server.should_exit = True
        thread.join(10)


# ---- Location headers -----------------------------------------------------------------------

@pytest.mark.parametrize("path", [
    "//topic/institutional-capacity-and-coordination",
    "///topic/institutional-capacity-and-coordination",
    "//topic//institutional-capacity-and-coordination",
    "/%2Ftopic/institutional-capacity-and-coordination",
    "//fr/topic/institutional-capacity-and-coordination",
])
def test_location_never_names_another_host(server, path):
    response = exchange(server, f"GET {path} HTTP/1.1\r\nHost: x\r\nAccept: text/turtle\r\n"
                                "Connection: close\r\n\r\n".encode())
    for line in response.split(b"\r\n\r\n", 1)[0].split(b"\r\n"):
        if line.lower().startswith(b"location:"):
            location = line.split(b":", 1)[1].strip()
            assert location.startswith(b"/") and not location.startswith((b"//", b"/\\"))


def test_safe_location_in_the_app(project, site):
    with TestClient(create_app(load_project(project), site)) as client:
        r = client.get("http://testserver//topic/institutional-capacity-and-coordination",
                       headers={"Accept": "text/turtle"}, follow_redirects=False)
        assert r.status_code == 303
        assert r.headers["location"] == "/topic/institutional-capacity-and-coordination.ttl"


def test_every_response_names_its_build(server, site):
    status, _, headers = get(server + "/")
    assert status == 200
    assert headers["Kgpub-Build"] == Path(site).resolve().name



def test_large_files_are_streamed_not_held_in_memory(server, site):
    """Dumps can be hundreds of MB: served from disk in chunks (and in byte ranges), so
    concurrent downloads do not grow the server by their size."""
    big = Path(site).resolve() / "dumps" / "test-large.nt.gz"
    big.write_bytes(os.urandom(1 << 20) * 48)  # 48 MiB
    try:
        pid = server_pid(server)
        get(server + "/dumps/test-large.nt.gz", {"Range": "bytes=0-0"})  # warm up
        before = rss(pid)
        sizes = []

        def download() -> None:
            status, body, headers = get(server + "/dumps/test-large.nt.gz")
            sizes.append((status, len(body), headers["ETag"]))

        threads = [threading.Thread(target=download) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert [s[:2] for s in sizes] == [(200, 48 << 20)] * 4
        assert rss(pid) - before < 30 * 1024 * 1024
        status, body, headers = get(server + "/dumps/test-large.nt.gz",
                                    {"Range": "bytes=100-199"})
        assert status == 206 and body == big.read_bytes()[100:200]
        assert headers["Content-Range"] == f"bytes 100-199/{48 << 20}"
        status, _, _ = get(server + "/dumps/test-large.nt.gz",
                           {"If-None-Match": sizes[0][2]})
        assert status == 304
    finally:
        big.unlink()
