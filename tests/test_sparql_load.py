"""The SPARQL endpoint under load, on a real `kgpub serve` on 127.0.0.1: what clients send never
stalls the event loop (pages stay fast while the most expensive queries are checked and big
results are rendered), results are bounded in bytes and in the server's memory, and a burst of
queries is queued, fairly between clients, instead of refused.

Figures are printed (pytest -s shows them)."""

from __future__ import annotations

import contextlib
import http.client
import json
import statistics
import threading
import time
import urllib.parse

import pytest
from bs4 import BeautifulSoup

from kgpub.sparql import HTML_ROWS, MAX_NESTING
from kgpub.sparql.examples import example_queries
from serverutil import CARTESIAN, copy_project, rss, running_server, server_pid

BASE = "https://w3id.org/sphr/"
DOCUMENT = "/topic/institutional-capacity-and-coordination.html"
MiB = 1024 * 1024

# The most expensive things to check: rdflib needs over a second for this arithmetic FILTER
# (3.9 KB: the old server checked queries under 4 KiB on its event loop) ...
ARITHMETIC = "ASK { ?s ?p ?o FILTER(" + " + ".join(["(?o * 2 - 1)"] * 300) + " > 0) }"
# ... brackets nested just under the limit ...
DEEP = ("SELECT * WHERE { " + "{ " * (MAX_NESTING - 2) + "?s ?p ?o " + "} " * (MAX_NESTING - 2)
        + "}")
# ... and a query of almost a mebibyte (a VALUES list), sent as a body and as a form.
HUGE = "SELECT ?x WHERE { VALUES ?x { " + "1 " * (MiB // 2 - 40) + "} } LIMIT 1"
# A big result asked for as a page (10,000 rows: the old server rendered all of them, 1.6 s).
BIG_PAGE = "SELECT * WHERE { ?s ?p ?o . ?a ?b ?c } LIMIT 10000"


@pytest.fixture(scope="module")
def site(built_site):
    """The session's build of the bundled project (each server gets its own [sparql])."""
    return built_site


@contextlib.contextmanager
def serve(tmp_path_factory, site, sparql: str):
    """A server on the shared site with its own [sparql] settings."""
    root = copy_project(tmp_path_factory.mktemp("load-server"))
    with open(root / "kgpub.toml", "a", encoding="utf-8") as f:
        f.write("\n[sparql]\n" + sparql + "\n")
    with running_server(root, site) as url:
        yield url


def request(url: str, path: str, *, method: str = "GET", body: bytes | None = None,
            headers: dict | None = None, source: str | None = None, timeout: float = 60):
    """(status, headers, body, seconds) over a fresh connection, optionally from another
    loopback address (127.0.0.2, ...: another client for the server)."""
    host, port = urllib.parse.urlsplit(url).hostname, urllib.parse.urlsplit(url).port
    conn = http.client.HTTPConnection(host, port, timeout=timeout,
                                      source_address=(source, 0) if source else None)
    started = time.perf_counter()
    try:
        conn.request(method, path, body=body, headers=headers or {})
        r = conn.getresponse()
        data = r.read()
        return r.status, r.headers, data, time.perf_counter() - started
    finally:
        conn.close()


def sparql_get(query: str, accept: str = "application/sparql-results+json") -> tuple[str, dict]:
    return f"/sparql?query={urllib.parse.quote(query)}", {"Accept": accept}


def percentile(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * p / 100))]


# ---- A: nothing a client sends runs on the event loop for long ---------------------------------


def test_pages_stay_fast_while_the_most_expensive_queries_are_checked(tmp_path_factory, site):
    # Limits of a few seconds: the clients' last requests (up to queue wait + time limit) are
    # waited for at the end; 5 s each made that wait most of the test's time.
    limit, wait = 3.0, 2.0
    with serve(tmp_path_factory, site,
               f"timeout = {limit}\nmax_rows = 10000\nmax_queue_wait = {wait}") as url:
        kinds = {
            "arithmetic": ("GET", *sparql_get(ARITHMETIC), None, {200, 503}),
            "deep": ("GET", *sparql_get(DEEP), None, {200, 503}),
            "huge body": ("POST", "/sparql", {"Content-Type": "application/sparql-query"},
                          HUGE.encode(), {400, 503}),
            "huge form": ("POST", "/sparql",
                          {"Content-Type": "application/x-www-form-urlencoded",
                           "Accept": "text/html"},
                          urllib.parse.urlencode({"query": HUGE[: MiB // 4]}).encode(),
                          {400, 503}),
            "big page": ("GET", *sparql_get(BIG_PAGE, "text/html"), None, {200, 503}),
        }
        names = list(kinds)
        stop = threading.Event()
        outcomes: list[tuple[str, int, float]] = []
        errors: list[str] = []

        def client(k: int) -> None:
            i = k
            while not stop.is_set():
                name = names[i % len(names)]
                i += 1
                method, path, headers, body, _ = kinds[name]
                try:
                    status, _, _, seconds = request(url, path, method=method, body=body,
                                                    headers=headers)
                except OSError as exc:
                    errors.append(f"{name}: {exc}")
                    continue
                outcomes.append((name, status, seconds))

        clients = [threading.Thread(target=client, args=(k,)) for k in range(8)]
        for t in clients:
            t.start()
        time.sleep(1.0)  # let the load build up
        latencies = []
        try:
            for i in range(60):  # p99 of 60 (or of 100) samples is the slowest of them
                status, _, _, seconds = request(url, "/" if i % 2 else DOCUMENT)
                assert status == 200
                latencies.append(seconds)
                time.sleep(0.05)
        finally:
            stop.set()
            for t in clients:
                t.join(60)
        p50, p99 = percentile(latencies, 50) * 1000, percentile(latencies, 99) * 1000
        by_kind = {n: sorted({s for k, s, _ in outcomes if k == n}) for n in names}
        counts = {n: {s: sum(1 for k, x, _ in outcomes if k == n and x == s) for s in by_kind[n]}
                  for n in names}
        slowest = max(s for _, _, s in outcomes)
        print(f"\npages under expensive-check load: p50 {p50:.1f} ms, p99 {p99:.1f} ms, "
              f"max {max(latencies) * 1000:.1f} ms; {len(outcomes)} expensive requests, "
              f"statuses {counts}, slowest {slowest:.2f} s")
        assert not errors, errors
        assert p99 < 250, latencies
        for name, status, _ in outcomes:
            assert status in kinds[name][4], (name, status)
        assert all(by_kind[n] for n in names)  # every kind was answered
        # Not only refusals: checked in full and answered, in the workers.
        assert 200 in by_kind["deep"] + by_kind["arithmetic"]
        # Bounded: queue wait + time limit + transfer.
        assert slowest < wait + limit + 5.0


def test_a_big_result_as_a_page_is_an_excerpt(tmp_path_factory, site):
    with serve(tmp_path_factory, site, "max_rows = 10000") as url:
        status, headers, body, seconds = request(url, *sparql_get(BIG_PAGE, "text/html")[:1],
                                                 headers={"Accept": "text/html"})
        assert status == 200 and headers["Content-Type"].startswith("text/html")
        page = BeautifulSoup(body, "html5lib")
        assert len(page.select("#results ~ div table tbody tr")) == HTML_ROWS
        assert f"first {HTML_ROWS} rows" in page.get_text()
        form = page.find("form", class_="downloads")
        assert form["method"] == "post" and form.find("input", attrs={"name": "query"})["value"] \
            == BIG_PAGE
        assert {b["value"] for b in form.find_all("button")} == {"csv", "json"}
        print(f"\npage of {HTML_ROWS} of 10,000 rows: {len(body):,} bytes in {seconds * 1000:.0f} ms")
        # The download the page offers: the whole result.
        status, headers, body, _ = request(
            url, "/sparql", method="POST", body=urllib.parse.urlencode(
                {"query": BIG_PAGE, "format": "csv"}).encode(),
            headers={"Content-Type": "application/x-www-form-urlencoded"})
        assert status == 200 and headers["Content-Type"].startswith("text/csv")
        assert body.count(b"\r\n") == 10_001


# ---- B: results are bounded in bytes, and in the server's memory ------------------------------


def _big_rows(tens: int) -> str:
    binds = ['BIND("0123456789" AS ?v1)'] + [
        f"BIND(CONCAT({', '.join([f'?v{i - 1}'] * 10)}) AS ?v{i})" for i in range(2, tens + 1)]
    return ("SELECT ?s ?big WHERE { ?s ?p ?o . ?a ?b ?c " + " ".join(binds)
            + f" BIND(CONCAT(STR(?s), ?v{tens}) AS ?big) }} LIMIT 10000")


def test_big_results_are_cut_and_do_not_grow_the_server(tmp_path_factory, site):
    """Two queries at once whose results would be ~100 MB each (10,000 rows of 10 KB): each
    is cut at max_result_bytes after a whole row, says so in its headers, and the server
    process (not its query workers) grows by far less than the results."""
    cap = 48 * MiB
    query = _big_rows(4)
    with serve(tmp_path_factory, site,
               f"timeout = 30.0\nmax_rows = 10000\nmax_result_bytes = {cap}") as url:
        pid = server_pid(url)
        request(url, *sparql_get("ASK { ?s ?p ?o }")[:1])
        time.sleep(0.5)
        baseline = rss(pid)
        peak = [baseline]
        done = threading.Event()

        def sample() -> None:
            while not done.is_set():
                peak[0] = max(peak[0], rss(pid))
                time.sleep(0.02)

        sampler = threading.Thread(target=sample)
        sampler.start()
        answers: dict = {}

        def fetch(fmt: str) -> None:
            path, headers = sparql_get(query, fmt)
            answers[fmt] = request(url, path, headers=headers, timeout=120)

        fetchers = [threading.Thread(target=fetch, args=(fmt,))
                    for fmt in ("application/sparql-results+json", "text/csv")]
        started = time.perf_counter()
        for t in fetchers:
            t.start()
        for t in fetchers:
            t.join(120)
        elapsed = time.perf_counter() - started
        done.set()
        sampler.join()
        growth = peak[0] - baseline
        print(f"\nserver RSS {baseline / MiB:.0f} MiB before, {peak[0] / MiB:.0f} MiB at most "
              f"(+{growth / MiB:.1f} MiB) while sending "
              + ", ".join(f"{len(a[2]) / MiB:.1f} MiB" for a in answers.values())
              + f" in {elapsed:.1f} s")
        for status, headers, body, _ in answers.values():
            assert status == 200, body[:300]
            assert headers["X-SPARQL-Truncated"] == "true"
            assert headers["X-SPARQL-Truncated-Reason"] == "bytes"
            assert headers["X-SPARQL-Max-Bytes"] == str(cap)
            assert int(headers["Content-Length"]) == len(body) <= cap
            assert len(body) > cap - 64 * 1024  # cut at the last row that fits, not far before
        rows = json.loads(answers["application/sparql-results+json"][2])["results"]["bindings"]
        assert 1000 < len(rows) < 10_000 and all(len(r["big"]["value"]) > 10_000 for r in rows)
        csv_body = answers["text/csv"][2]
        assert csv_body.endswith(b"\r\n") and csv_body.startswith(b"s,big\r\n")
        assert growth < 100 * MiB


# ---- C: load is queued, not refused, and fairly ----------------------------------------------


@pytest.fixture(scope="module")
def queue_server(tmp_path_factory, site):
    with serve(tmp_path_factory, site, "timeout = 5.0") as url:  # 2 workers, queue of 64
        yield url


def test_sixteen_clients_running_the_examples_get_no_503(queue_server):
    examples = [sparql_get(ex.query, "application/sparql-results+json, text/turtle")
                for ex in example_queries(BASE)]
    statuses: list[int] = []
    stop = time.monotonic() + 4.0

    def client(k: int) -> None:
        i = k
        while time.monotonic() < stop:
            path, headers = examples[i % len(examples)]
            i += 1
            statuses.append(request(queue_server, path, headers=headers)[0])

    threads = [threading.Thread(target=client, args=(k,)) for k in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    print(f"\n16 clients, example queries, 4 s: {len(statuses)} answers, "
          f"{statuses.count(200)} x 200, {statuses.count(503)} x 503")
    assert statuses and set(statuses) == {200}


def _slow(units: int) -> str:
    values = " ".join(str(i) for i in range(units))
    return (f"SELECT (COUNT(*) AS ?n) WHERE {{ ?a ?b ?c . ?d ?e ?f VALUES ?k {{ {values} }} "
            "FILTER(STR(?c) < STR(?f)) }")


def test_one_client_flooding_slow_queries_does_not_starve_another(queue_server):
    """Client 127.0.0.2 keeps 24 slow queries (~0.2 s each) going; client 127.0.0.3's quick
    queries are served in turn: each within about a slow query's time, not behind the whole
    flood (first come, first served: 22 waiting on 2 workers, ~11 slow queries' time)."""
    flood_path, flood_headers = sparql_get(_slow(4))
    stop = threading.Event()
    flood: list[int] = []

    def flooder() -> None:
        while not stop.is_set():
            flood.append(request(queue_server, flood_path, headers=flood_headers,
                                 source="127.0.0.2")[0])

    threads = [threading.Thread(target=flooder) for _ in range(24)]
    for t in threads:
        t.start()
    quick = []
    try:
        time.sleep(1.5)  # the queue fills
        for _ in range(5):
            status, _, _, seconds = request(queue_server, *sparql_get("ASK { ?s ?p ?o }")[:1],
                                            source="127.0.0.3")
            quick.append((status, seconds))
            time.sleep(0.2)
    finally:
        stop.set()
        for t in threads:
            t.join(60)
    served = [s for s in flood if s == 200]
    slow = statistics.median(
        request(queue_server, flood_path, headers=flood_headers)[3] for _ in range(3))
    print(f"\nfairness: a slow query alone takes {slow:.2f} s; the other client's quick "
          f"queries took {', '.join(f'{s:.2f}' for _, s in quick)} s while "
          f"{len(served)} slow ones were served")
    assert all(status == 200 for status, _ in quick)
    assert max(s for _, s in quick) < 3 * slow + 0.5
    # The flood itself is queued: mostly served; a slow machine may push some past the
    # queue's wait, and those are 503 (with Retry-After), never anything else.
    assert flood and set(flood) <= {200, 503} and flood.count(200) >= 0.8 * len(flood)


def test_a_full_queue_is_503_with_retry_after(tmp_path_factory, site):
    # The slow query holds the one worker for its whole time limit, past the 1 s the test
    # needs to queue another and be refused a third.
    with serve(tmp_path_factory, site, "workers = 1\nmax_queue = 1\ntimeout = 2.0") as url:
        outcome: dict = {}

        def run(name: str, query: str) -> None:
            outcome[name] = request(url, *sparql_get(query)[:1])

        slow = threading.Thread(target=run, args=("slow", CARTESIAN))
        slow.start()
        time.sleep(0.5)
        queued = threading.Thread(target=run, args=("queued", "ASK { ?s ?p ?o }"))
        queued.start()
        time.sleep(0.5)
        status, headers, body, seconds = request(url, *sparql_get("ASK { ?s ?p ?o }")[:1])
        assert status == 503 and int(headers["Retry-After"]) >= 1
        assert b"queue is full" in body and seconds < 0.5
        slow.join(30)
        queued.join(30)
        assert outcome["slow"][0] == 503 and int(outcome["slow"][1]["Retry-After"]) >= 1
        assert outcome["queued"][0] == 200  # it waited for the worker's replacement
