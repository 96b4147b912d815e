"""The exchange between the server and a query worker, made cheap per request: a small answer
in one message, kept as bytes (no spool); taken on the event loop without a thread, under the
same deadline and bounds; the response head written with its body; the negotiated plan and a
small result's document made once. Each test fails without its part."""

from __future__ import annotations

import asyncio
import gzip
import json
import multiprocessing
import os
import signal
import threading
import time
import urllib.parse
from pathlib import Path

import pyoxigraph as ox
import pytest

from kgpub.server.http import HeadWithBody
from kgpub.server.sparql import (
    PLAN_KEY_CHARS,
    QUERY_STRING_CACHE_BYTES,
    _cached_plan,
    _cached_query_string,
    _negotiate_plan,
    _query_string_pairs,
)
from kgpub.sparql import QueryLimits, QueryPool, QueryTimeout, WorkerCrashed
from kgpub.sparql.capped import _reserialize, _write_solutions
from kgpub.sparql.messages import CHUNK_BYTES, FrameReader, decode, query_request, send
from kgpub.sparql.pool import INLINE_SEND_BYTES

THINGS = 150
# Every triple with every triple with every triple, sorted: nothing comes out before the sort.
CARTESIAN = "SELECT * WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i } ORDER BY ?a ?e ?i"
ASK_TRUE = b'{"head":{},"boolean":true}'


@pytest.fixture(scope="module")
def graph_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("graph") / "dataset.nt.gz"
    lines = [f'<http://example.org/t{i}> <http://example.org/p> "thing {i}" .'
             for i in range(THINGS)]
    with gzip.open(path, "wt", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    return path


@pytest.fixture(scope="module")
def pool(graph_file):
    with QueryPool(graph_file, QueryLimits(timeout=10.0, workers=1)) as p:
        assert p.wait_ready(30)
        yield p


def _slow(units: int) -> str:
    """A query that runs about units x 0.1 s here, and finishes."""
    values = " ".join(str(i) for i in range(units))
    return (f"SELECT (COUNT(*) AS ?n) WHERE {{ ?a ?b ?c . ?d ?e ?f VALUES ?k {{ {values} }} "
            "FILTER(STR(?c) < STR(?f)) }")


async def _until(predicate, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.01)


def _busy(p: QueryPool) -> bool:
    return any(w["state"] == "busy" for w in p.status()["workers"])


# ---- the messages ------------------------------------------------------------------------------


def test_frames_are_read_as_they_arrive_and_bounded():
    reader_end, writer_end = multiprocessing.Pipe(duplex=False)
    big = os.urandom(3 * CHUNK_BYTES)  # more than a pipe holds: arrives in many reads
    sender = threading.Thread(target=lambda: [writer_end.send_bytes(m) for m in (b"hi", big)])
    sender.start()
    os.set_blocking(reader_end.fileno(), False)
    frames = FrameReader(reader_end.fileno(), 4 * CHUNK_BYTES)
    got: list[bytes] = []
    deadline = time.monotonic() + 10
    while len(got) < 2:
        assert time.monotonic() < deadline
        message = frames.message()
        if message is None:
            assert frames.read()
            time.sleep(0.001)
        else:
            got.append(message)
    sender.join()
    assert got == [b"hi", big] and frames.message() is None
    writer_end.close()
    while frames.read():  # the writer's end closed: end of file
        time.sleep(0.001)
    # A frame that says it is longer than the bound is refused before it is read.
    small = FrameReader(-1, 1024)
    small.buf += (2048).to_bytes(4, "big") + b"x" * 10
    with pytest.raises(ValueError):
        small.message()
    reader_end.close()


def test_a_small_answer_is_one_message(pool):
    """The worker sends a small result with its last message (not a chunk, then the end)."""
    worker = pool._acquire()
    try:
        send(worker.conn, query_request("ASK { ?s ?p ?o }", "json", pool.limits))
        assert worker.conn.poll(10)
        head, body = decode(worker.conn.recv_bytes())
        assert head["kind"] == "ok" and body == ASK_TRUE
        assert not worker.conn.poll(0.2)  # nothing after it
    finally:
        pool._release(worker, time.monotonic())


def test_a_small_answer_is_not_spooled_and_a_big_one_is(graph_file):
    limits = QueryLimits(timeout=10.0, max_rows=100_000, max_result_bytes=64 * 1024 * 1024,
                         workers=1)
    with QueryPool(graph_file, limits) as p:
        assert p.wait_ready(30)
        small = asyncio.run(p.arun("ASK { ?s ?p ?o }", "json"))
        assert not small.spooled and small.body == ASK_TRUE and small.size == len(ASK_TRUE)
        big_string = ('BIND("0123456789" AS ?v1) '
                      + " ".join(f"BIND(CONCAT({', '.join([f'?v{i - 1}'] * 10)}) AS ?v{i})"
                                 for i in range(2, 5)))
        big = asyncio.run(p.arun(f"SELECT ?s ?v4 WHERE {{ ?s ?p ?o {big_string} }}", "tsv"))
        try:
            assert big.spooled and big.size > CHUNK_BYTES
            assert sum(len(c) for c in big.chunks(1 << 20)) == big.size
        finally:
            big.close()
        assert [w["state"] for w in p.status()["workers"]] == ["idle"]


# ---- the exchange on the event loop -------------------------------------------------------------


def test_the_deadline_holds_and_the_loop_stays_free(graph_file):
    with QueryPool(graph_file, QueryLimits(timeout=0.5, workers=1)) as p:
        assert p.wait_ready(30)

        async def main():
            ticks = 0

            async def ticker():
                nonlocal ticks
                while True:
                    ticks += 1
                    await asyncio.sleep(0.01)

            tick = asyncio.create_task(ticker())
            started = time.monotonic()
            with pytest.raises(QueryTimeout):
                await p.arun(CARTESIAN)
            elapsed = time.monotonic() - started
            tick.cancel()
            return elapsed, ticks

        elapsed, ticks = asyncio.run(main())
        assert 0.4 < elapsed < 3
        assert ticks > 10 * elapsed  # the event loop kept running while the query did
        assert p.status()["replaced"] == 1
        assert p.wait_ready(30)
        assert asyncio.run(p.arun("ASK { ?s ?p ?o }")).body == ASK_TRUE


def test_a_worker_killed_mid_query_is_reported_and_replaced(graph_file):
    with QueryPool(graph_file, QueryLimits(timeout=10.0, workers=1)) as p:
        assert p.wait_ready(30)

        async def main():
            query = asyncio.create_task(p.arun(CARTESIAN))
            await _until(lambda: _busy(p))
            await asyncio.sleep(0.3)
            os.kill(p.status()["workers"][0]["pid"], signal.SIGKILL)
            with pytest.raises(WorkerCrashed, match="SIGKILL"):
                await query

        asyncio.run(main())
        assert p.status()["replaced"] == 1 and p.wait_ready(30)


def test_a_caller_that_goes_away_leaves_the_worker_free(graph_file):
    """Cancelled mid-query, the exchange still takes the answer: the worker is idle again,
    not killed."""
    with QueryPool(graph_file, QueryLimits(timeout=10.0, workers=1)) as p:
        assert p.wait_ready(30)

        async def main():
            query = asyncio.create_task(p.arun(_slow(3)))
            await _until(lambda: _busy(p))
            query.cancel()
            with pytest.raises(asyncio.CancelledError):
                await query
            await _until(lambda: not _busy(p))
            return await p.arun("ASK { ?s ?p ?o }")

        assert asyncio.run(main()).body == ASK_TRUE
        assert p.status()["replaced"] == 0


def test_a_query_bigger_than_a_pipe_is_answered(pool):
    query = "ASK { ?s ?p ?o }\n" + "# padding\n" * 8000  # 80 KB: sent from a thread
    assert asyncio.run(pool.arun(query)).body == ASK_TRUE


def test_a_small_exchange_takes_no_task_and_the_rest_goes_on_in_one(pool, monkeypatch):
    """A small query is written by arun itself and its small answer taken in arun's own
    coroutine: no exchange task. A big query (sent from a thread) and a big answer (spooled
    by a thread, after what arun read of it) go on in the exchange task."""
    seen: list[tuple[bool, bool]] = []
    aserve = QueryPool._aserve

    async def spy(self, worker, request, payload, sent, started, loop, reader=None, first=None):
        seen.append((sent, first is not None))
        return await aserve(self, worker, request, payload, sent, started, loop, reader, first)

    monkeypatch.setattr(QueryPool, "_aserve", spy)
    big_query = "ASK { ?s ?p ?o }\n" + "#" * INLINE_SEND_BYTES
    assert asyncio.run(pool.arun("ASK { ?s ?p ?o }")).body == ASK_TRUE
    assert seen == []
    assert asyncio.run(pool.arun(big_query)).body == ASK_TRUE
    assert seen == [(False, False)]
    big_string = ('BIND("0123456789" AS ?v1) '
                  + " ".join(f"BIND(CONCAT({', '.join([f'?v{i - 1}'] * 10)}) AS ?v{i})"
                             for i in range(2, 5)))  # 10 kB a row, 150 rows
    result = asyncio.run(pool.arun(f"SELECT ?s ?v4 WHERE {{ ?s ?p ?o {big_string} }}", "tsv"))
    assert result.spooled and result.size > CHUNK_BYTES
    result.close()
    assert [sent for sent, _ in seen[1:]] == [True]  # (with what arun read of it, if whole)
    assert not _busy(pool)


# ---- the response ------------------------------------------------------------------------------


class _Transport:
    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.closed = False

    def write(self, data: bytes) -> None:
        self.writes.append(data)

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True

    def get_extra_info(self, name: str):
        return ("127.0.0.1", 1) if name == "peername" else None


class _Cycle:
    response_started = False


def test_the_response_head_goes_out_with_its_body():
    async def main():
        loop = asyncio.get_running_loop()
        transport, cycle = _Transport(), _Cycle()
        writer = HeadWithBody(transport, cycle, loop)
        writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")  # before the response: never held
        assert transport.writes == [b"HTTP/1.1 100 Continue\r\n\r\n"]
        cycle.response_started = True
        writer.write(b"HEAD\r\n\r\n")
        writer.write(b"body")
        assert transport.writes[1:] == [b"HEAD\r\n\r\nbody"]
        assert writer.get_extra_info("peername") == ("127.0.0.1", 1)  # the rest passes through

        # No body in this turn of the loop (HEAD, or a body that comes later): the head goes
        # out at the end of it.
        late, cycle2 = _Transport(), _Cycle()
        writer2 = HeadWithBody(late, cycle2, loop)
        cycle2.response_started = True
        writer2.write(b"HEAD\r\n\r\n")
        assert late.writes == []
        await asyncio.sleep(0)
        assert late.writes == [b"HEAD\r\n\r\n"]
        writer2.write(b"later")
        assert late.writes == [b"HEAD\r\n\r\n", b"later"]

        # Closing writes what is held first.
        closing, cycle3 = _Transport(), _Cycle()
        writer3 = HeadWithBody(closing, cycle3, loop)
        cycle3.response_started = True
        writer3.write(b"HEAD\r\n\r\n")
        writer3.close()
        assert closing.writes == [b"HEAD\r\n\r\n"] and closing.closed

    asyncio.run(main())


def test_plans_are_cached_by_accept_and_long_headers_are_not_kept():
    accept = "application/sparql-results+json, text/turtle;q=0.9"
    first = _cached_plan(accept, None)
    assert _cached_plan(accept, None) is first
    assert dict(first) == dict(_negotiate_plan(accept, None))
    with pytest.raises(TypeError):
        first["SELECT"] = "xml"  # shared: read-only
    assert dict(_cached_plan(None, "csv"))["SELECT"] == "csv"
    assert PLAN_KEY_CHARS <= 1024


def test_query_strings_are_decoded_once_as_starlette_does():
    from starlette.datastructures import QueryParams

    raw = ("query=" + urllib.parse.quote("SELECT * { ?s ?p \"é+x\" }") + "&format=&x=%ZZ+1"
           "&default-graph-uri=a&default-graph-uri=b").encode("latin-1")
    pairs = _query_string_pairs(raw)
    assert list(pairs) == QueryParams(raw).multi_items()
    assert _query_string_pairs(raw) is pairs  # decoded once
    long = b"query=" + b"%20" * QUERY_STRING_CACHE_BYTES
    before = _cached_query_string.cache_info().currsize
    assert _query_string_pairs(long) == (("query", " " * QUERY_STRING_CACHE_BYTES),)
    assert _cached_query_string.cache_info().currsize == before  # not kept
    assert _cached_query_string.cache_info().maxsize <= 1024


def test_a_small_result_is_written_whole_as_the_batches_would():
    store = ox.Store()
    store.extend(ox.Quad(ox.NamedNode(f"http://example.org/t{i}"),
                         ox.NamedNode("http://example.org/p"), ox.Literal(f"thing {i} \u00e9"))
                 for i in range(40))
    query = "SELECT ?s ?o WHERE { ?s ?p ?o } ORDER BY ?s"
    from kgpub.sparql.capped import collect

    for fmt in (ox.QueryResultsFormat.JSON, ox.QueryResultsFormat.XML,
                ox.QueryResultsFormat.CSV):
        header, rows, _ = collect(store.query(query), 100, 1 << 20)
        whole = bytearray()
        assert _write_solutions(header, rows, fmt, 1 << 20, _Sink(whole)) == (40, False)
        exact = len(whole)
        batched = bytearray()  # just fits: too big for the whole-document path
        assert _write_solutions(header, rows, fmt, exact, _Sink(batched)) == (40, False)
        assert bytes(whole) == bytes(batched) == _reserialize(header + b"".join(rows), fmt)
        if fmt == ox.QueryResultsFormat.JSON:
            assert len(json.loads(bytes(whole))["results"]["bindings"]) == 40


class _Sink:
    def __init__(self, data: bytearray):
        self.data = data

    def write(self, chunk) -> None:
        self.data += chunk


def test_uvicorn_formats_no_access_log_line():
    """At kgpub's log level the access log's lines were dropped, after being formatted for
    every request: uvicorn runs without it."""
    import logging

    import uvicorn

    from kgpub.server.app import uvicorn_options

    async def app(scope, receive, send):  # pragma: no cover (never called)
        pass

    config = uvicorn.Config(app, **uvicorn_options("127.0.0.1"))
    config.load()
    assert config.access_log is False
    assert not logging.getLogger("uvicorn.access").hasHandlers()


def test_the_server_runs_on_uvloop():
    """uvicorn's "auto" loop is uvloop's when it is installed, and it is a dependency."""
    import uvicorn
    import uvloop

    from kgpub.server.app import uvicorn_options

    async def app(scope, receive, send):  # pragma: no cover (never called)
        pass

    config = uvicorn.Config(app, **uvicorn_options("127.0.0.1"))
    assert config.get_loop_factory() is uvloop.new_event_loop
