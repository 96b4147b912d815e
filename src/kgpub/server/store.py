"""/sparql on a SPARQL 1.1 store ([sparql] store, `kgpub serve --store URL`): the same checks,
limits and result formats as the embedded engine, the evaluation done by the store.

A query is first checked by the engine's workers (kgpub.sparql.QueryPool) holding an empty
graph: read-only, no SERVICE, well formed, its form and negotiated format, all under the time
limit and in their own processes, as before, but with no copy of the graph in this tier. Then it
goes to the store's query endpoint with `default-graph-uri` of the build graph that `kgpub
publish` made current (kgpub.publish; the pointer is read at most once a second), so it sees one
whole build. A query that names its own dataset (FROM, FROM NAMED, the protocol's graph
parameters) gets an empty one, as from the embedded engine, whose dumps have no named graphs:
nothing is ever fetched.

The store's answer, asked for in a lossless format (SPARQL JSON, N-Triples), is parsed as it
arrives and written in the client's format by the engine's own serializers, cut at max_rows and
max_result_bytes; reading stops there and the upstream request is closed. It is spooled, like the
workers' answers, because X-SPARQL-Truncated is a header: known before the first byte is sent.
The time limit covers it all: past it the upstream request is aborted (504). A store that cannot
be reached or fails: 502."""

from __future__ import annotations

import asyncio
import contextlib
import re
import tempfile
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import IO, Any, cast

import httpx
import pyoxigraph as ox

from .. import layout
from ..formats import NTRIPLES
from ..publish import PublishError, read_pointer
from ..sparql import (
    EngineUnavailable,
    PoolBusy,
    QueryLimits,
    QueryPool,
    QueryResult,
    StoreFailed,
    StoreTimeout,
)
from ..sparql.check import _TOKEN, _scan
from ..sparql.errors import refusal
from ..sparql.messages import format_plan
from ..sparql.result import SPOOL_MEMORY_BYTES
from ..sparql.worker import _answer
from .static import SiteFiles

# How long the current build graph is trusted before the pointer is read again (seconds).
POINTER_SECONDS = 1.0
# A store's answer is parsed as it streams; one bigger than this many times max_result_bytes
# is broken (the caps stop reading long before: JSON is at most a few times the output).
UPSTREAM_FACTOR = 16
EMPTY_GRAPH = "urn:kgpub:empty"  # no store holds it: an empty default graph
READ_BYTES = 64 * 1024
_DATASET_WORD = re.compile(r"FROM", re.IGNORECASE)


def query_backend(store: str | None, files: SiteFiles, limits: QueryLimits
                  ) -> QueryPool | StoreBackend:
    """What answers /sparql: the store at `store`, or the engine's workers on the build's dump."""
    if store:
        return StoreBackend(store, limits)
    path = layout.dump_path(NTRIPLES)
    dump = files.resolve(path)
    if dump is None:
        raise FileNotFoundError(f"the site has no {path}; rebuild it")
    return QueryPool(Path(dump), limits)


class StoreBackend:
    """QueryPool's interface (arun, wait_ready, close) over a store's query endpoint."""

    def __init__(self, url: str, limits: QueryLimits):
        self.url = url
        self.limits = limits
        self._empty = tempfile.TemporaryDirectory(prefix="kgpub-check-")
        empty = Path(self._empty.name) / "empty.nt"
        empty.write_bytes(b"")
        self.checker = QueryPool(empty, limits)
        # Every call also gets the time left of its query; this bounds the pointer's reads.
        self._client = httpx.Client(limits=httpx.Limits(max_connections=limits.workers + 1),
                                    timeout=limits.timeout)
        self._threads = ThreadPoolExecutor(max_workers=limits.workers,
                                           thread_name_prefix="kgpub-store")
        self._slots = threading.BoundedSemaphore(limits.workers + limits.max_queue)
        self._pointer = _Pointer(self._client, url)

    def wait_ready(self, timeout: float | None = None) -> bool:
        return self.checker.wait_ready(timeout)

    def close(self) -> None:
        self.checker.close()
        self._threads.shutdown(wait=False, cancel_futures=True)
        self._client.close()
        self._empty.cleanup()

    async def arun(self, query: str, result_format: str | Mapping[str, Any] | None = None,
                   default_graph_uris: Iterable[str] = (), named_graph_uris: Iterable[str] = (),
                   *, client: str | None = None, base_iri: str | None = None) -> QueryResult:
        deadline = time.monotonic() + self.limits.timeout
        defaults, named = tuple(default_graph_uris), tuple(named_graph_uris)
        checked = await self.checker.arun(query, result_format, defaults, named,
                                          client=client, base_iri=base_iri)
        checked.close()  # its answer over an empty graph: only its form and format count
        if not self._slots.acquire(blocking=False):
            raise PoolBusy(1, "Too many queries are waiting for the SPARQL store; retry in 1 s.")
        try:
            own_dataset = bool(defaults or named) or _names_dataset(query)
            request = {
                "query": query, "check": False, "default_graphs": [], "named_graphs": [],
                "format": _only(result_format, checked.form), "max_rows": self.limits.max_rows,
                "max_bytes": self.limits.max_result_bytes, "base_iri": base_iri,
            }
            upstream = _Upstream(self, deadline, own_dataset)
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(self._threads, upstream.answer, request)
        finally:
            self._slots.release()


def _only(plan: str | Mapping[str, Any] | None, form: str | None) -> dict[str, Any]:
    """The worker's plan, with the choice for the form the checker found for every form (the
    scan in _answer need not agree with the parser)."""
    planned = format_plan(plan)
    return {f: planned[form] for f in planned} if form in planned else planned


def _names_dataset(query: str) -> bool:
    """Whether the query has a FROM or FROM NAMED clause: the keyword as a token (not in a
    string, IRI, comment or name), which SPARQL allows nowhere else."""
    if not _DATASET_WORD.search(query):
        return False
    return any(m.lastgroup == "word" and m.group("word").upper() == "FROM"
               for m in _TOKEN.finditer(query))


class _Pointer:
    """The current build graph, read from the store at most once per POINTER_SECONDS."""

    def __init__(self, client: httpx.Client, url: str):
        self._client, self._url = client, url
        self._lock = threading.Lock()
        self._graph: str | None = None
        self._read = -POINTER_SECONDS

    def graph(self) -> str:
        with self._lock:
            if time.monotonic() - self._read >= POINTER_SECONDS:
                try:
                    current, _ = read_pointer(self._client, self._url)
                except PublishError as exc:
                    raise StoreFailed(f"The SPARQL store failed: {exc}", 5) from None
                self._graph = current or self._graph  # never back to nothing mid-switch
                self._read = time.monotonic()
            if self._graph is None:
                raise EngineUnavailable("The SPARQL store holds no published build yet; run "
                                   "kgpub publish.", 5)
            return self._graph


class _Upstream:
    """One query at the store, as the `store` _answer evaluates with: query() sends it and
    returns the answer parsed lazily from the response, which is read under the deadline."""

    def __init__(self, backend: StoreBackend, deadline: float, own_dataset: bool):
        self.backend = backend
        self.deadline = deadline
        self.own_dataset = own_dataset
        self.response: httpx.Response | None = None

    def answer(self, request: dict[str, Any]) -> QueryResult:
        spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_MEMORY_BYTES, prefix="kgpub-store-")
        started = time.monotonic()
        try:
            head = _answer(self, request, spool)  # type: ignore[arg-type]  # a store for it
        except BaseException:
            spool.close()
            raise
        finally:
            if self.response is not None:
                self.response.close()  # stops a store still sending what was not read
        if head["kind"] == "refused":
            spool.close()
            raise refusal(head["error"], head["message"])
        size = spool.tell()
        spool.seek(0)
        return _result(head, spool, size, time.monotonic() - started)

    def query(self, query: str, base_iri: str | None = None, **_: object) -> object:
        graph = EMPTY_GRAPH if self.own_dataset else self.backend._pointer.graph()
        text = f"BASE <{base_iri}>\n{query}" if base_iri else query  # the query's own BASE wins
        form = _form(query)
        accept = ("application/n-triples" if form in ("CONSTRUCT", "DESCRIBE")
                  else "application/sparql-results+json")
        self.response = self._send(text, graph, accept)
        body = _Body(self.response, self.deadline,
                     UPSTREAM_FACTOR * self.backend.limits.max_result_bytes + 1024 * 1024,
                     self.backend)
        stream = cast(IO[bytes], body)  # what the parsers call: read(n)
        if accept == "application/n-triples":
            return (quad.triple for quad in ox.parse(stream, format=ox.RdfFormat.N_TRIPLES))
        return ox.parse_query_results(stream, format=ox.QueryResultsFormat.JSON)

    def _send(self, text: str, graph: str, accept: str) -> httpx.Response:
        backend = self.backend
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            raise _timeout(backend.limits.timeout)
        request = backend._client.build_request(
            "POST", backend.url, data={"query": text, "default-graph-uri": graph},
            headers={"Accept": accept}, timeout=httpx.Timeout(remaining))
        try:
            response = backend._client.send(request, stream=True)
        except httpx.HTTPError as exc:
            raise _failure(exc, self.deadline, backend) from None
        if response.status_code != 200:
            with contextlib.closing(response):
                raise StoreFailed(f"The SPARQL store answered {response.status_code}"
                                   f"{_first_line(response, self.deadline)}")
        return response


class _Body:
    """The response body as a file for pyoxigraph's parsers: read as they ask, under the
    deadline and a size bound."""

    def __init__(self, response: httpx.Response, deadline: float, most: int,
                 backend: StoreBackend):
        self._chunks: Iterator[bytes] = response.iter_bytes(READ_BYTES)
        self._deadline, self._most, self._backend = deadline, most, backend
        self._buffer = b""
        self._read = 0

    def read(self, size: int = -1) -> bytes:
        if not self._buffer:
            if time.monotonic() > self._deadline:
                raise _timeout(self._backend.limits.timeout)
            try:
                self._buffer = next(self._chunks, b"")
            except httpx.HTTPError as exc:
                raise _failure(exc, self._deadline, self._backend) from None
            self._read += len(self._buffer)
            if self._read > self._most:
                raise StoreFailed(f"The SPARQL store sent more than {self._most} bytes "
                                   "for one result.")
        n = len(self._buffer) if size is None or size < 0 else size
        out, self._buffer = self._buffer[:n], self._buffer[n:]
        return out


def _form(query: str) -> str:
    return _scan(query).form or "SELECT"


def _result(head: dict[str, Any], spool: Any, size: int, elapsed: float) -> QueryResult:
    import json

    from ..sparql.formats import _FORMATS_BY_NAME

    name, view = head["format"], None
    if name == "html":
        view = json.loads(spool.read() or b"{}")
        spool.close()
        spool, size = None, 0
    media_type = "text/html" if name == "html" else _FORMATS_BY_NAME[name].media_type
    return QueryResult(media_type, None, head["truncated"], head["rows"], elapsed, spool=spool,
                       size=size, form=head["form"], format=name,
                       truncated_reason=head.get("reason"), view=view)


def _timeout(limit: float) -> StoreTimeout:
    return StoreTimeout(f"The SPARQL store did not answer within the limit of {limit:g} s; "
                        "the request was aborted. Narrow the query (more specific patterns, a "
                        "LIMIT).", 1)


def _failure(exc: Exception, deadline: float, backend: StoreBackend) -> StoreFailed | StoreTimeout:
    if isinstance(exc, httpx.TimeoutException) or time.monotonic() > deadline:
        return _timeout(backend.limits.timeout)
    return StoreFailed(f"The SPARQL store cannot be reached: {type(exc).__name__}: "
                        f"{str(exc).splitlines()[0] if str(exc) else 'no answer'}", 5)


def _first_line(response: httpx.Response, deadline: float) -> str:
    """': ' and the first line of an error body (at most 4 KiB of it read)."""
    data = b""
    with contextlib.suppress(httpx.HTTPError):
        for chunk in response.iter_bytes(4096):
            data += chunk
            if len(data) >= 4096 or time.monotonic() > deadline:
                break
    line = data[:4096].decode("utf-8", "replace").strip().splitlines()
    return f": {line[0][:300]}" if line else "."

