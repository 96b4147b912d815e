"""The pool of worker processes that answer queries, and the queue in front of them.

Queries run in worker processes ("spawn": never a fork of a process that runs threads), each
holding the whole graph in an in-memory pyoxigraph Store loaded once (kgpub.sparql.worker). The
calling process (the HTTP server) only checks a query's size and encoding; everything that costs
time in proportion to what a client sent happens in a worker, under the query's time limit.
A result travels back in one message when it is small (kept as bytes: no spool) or in chunks
that are spooled (kgpub.sparql.result), so a worker is free again as soon as its answer is
taken, whatever the speed of the client that reads it.

Neither pyoxigraph nor rdflib can cancel a running query, so a query past its deadline is stopped
by killing its worker, which is replaced in the background.

When every worker is busy, queries wait in a queue (kgpub.sparql.queue): bounded in length
(max_queue) and in time (max_queue_wait), served round-robin between clients (the caller names
the client, e.g. its address). This module holds the admission policy: who waits, who is
refused, and what Retry-After says.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import multiprocessing
import multiprocessing.connection
import os
import signal
import threading
import time
import weakref
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import IO

from .check import check_text
from .errors import (
    EngineFault,
    EngineUnavailable,
    PoolBusy,
    QueryError,
    QueryTimeout,
    WorkerCrashed,
    refusal,
)
from .formats import _FORMATS_BY_NAME
from .limits import MiB, QueryLimits
from .messages import CHUNK_BYTES, FrameReader, decode, encode, query_request, recv, send
from .processes import WorkerProcess, exit_reason, kill, rss, start_worker
from .queue import FairQueue, Ticket
from .result import QueryResult, new_spool
from .worker import rdf_format

_Worker = WorkerProcess
_Ticket = Ticket[WorkerProcess]
SHUT_DOWN = "The SPARQL engine is shut down."
KEEP_FAILING = "The query workers keep failing; try again later."
# A request up to this size is written to a worker from the event loop: an idle worker's pipe
# is empty and holds 64 KiB, so the write cannot wait.
INLINE_SEND_BYTES = 32 * 1024


class _Undelivered(Exception):
    """The worker died before it received the query: another one can take it."""


class QueryPool:
    """Worker processes that each hold the graph and answer one query at a time, and a queue
    in front of them.

    Workers are started with "spawn", which imports the main module again in each of them: a
    program that creates a pool keeps its start-up under `if __name__ == "__main__":` (console
    scripts, uvicorn and pytest do). Workers read the graph files when they start, so a worker
    replaced after a rebuild of the site sees the new dumps; restart to reload all of them.

    One thread per pool watches the workers (loading, dying) and hands free workers to waiting
    queries. run() exchanges with a worker in the calling thread; arun() on the event loop for
    a small answer (one message: no thread to wake, the fixed cost of a query is one round trip
    to the worker) and in a thread of the pool's own executor (as many as workers) for a big
    one, so queries waiting in the queue hold no thread at all."""

    def __init__(
        self,
        source: str | Path | Sequence[str | Path],
        limits: QueryLimits | None = None,
        *,
        start_method: str = "spawn",
    ):
        if start_method not in ("spawn", "forkserver"):
            raise ValueError("start_method must be 'spawn' or 'forkserver' (never 'fork')")
        self.limits = limits or QueryLimits()
        self.paths = _source_paths(source)
        self._ctx = multiprocessing.get_context(start_method)
        self._cond = threading.Condition()
        self._workers: list[_Worker] = []
        self._dying: list = []  # killed processes, reaped later so no request waits on them
        self._queue: FairQueue[WorkerProcess] = FairQueue()
        self._closed = False
        self._load_error: str | None = None
        self._load_seconds = 1.0  # estimate for Retry-After while loading
        self._service_seconds = 0.05  # moving average of a query's time in a worker
        self._started = False  # some worker has loaded the graph: start-up is over
        self.replaced = 0  # workers replaced after a timeout or crash
        self.refused_busy = 0  # queries refused because the queue was full or the wait too long
        self._executor = ThreadPoolExecutor(max_workers=self.limits.workers,
                                            thread_name_prefix="kgpub-sparql")
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_w, False)
        # If the pool is dropped without close(), its workers still go.
        self._finalizer = weakref.finalize(self, _shutdown, self._workers, self._dying,
                                           self._executor, (self._wake_r, self._wake_w))
        for _ in range(self.limits.workers):
            self._workers.append(self._spawn())
        self._watcher = threading.Thread(target=_watch, args=(weakref.ref(self), self._wake_r),
                                         name="kgpub-sparql-watch", daemon=True)
        self._watcher.start()

    # ---- public API ----------------------------------------------------------------------------

    def run(
        self,
        query: str,
        result_format: str | Mapping | None = None,
        default_graph_uris: Iterable[str] = (),
        named_graph_uris: Iterable[str] = (),
        *,
        client: str | None = None,
        base_iri: str | None = None,
    ) -> QueryResult:
        """Answer a query in the requested format (media type or short name; or, as the HTTP
        layer does, a mapping from each query form to a format, "html", or {"error": message}
        for a 406). Thread-safe; the body is read into memory. Raises QueryRefused,
        QueryTimeout or PoolBusy. base_iri: what relative IRIs in the query resolve against
        (the protocol: the endpoint's URL)."""
        request = self._request(query, result_format, default_graph_uris, named_graph_uris,
                                base_iri)
        for _ in range(3):
            worker = self._acquire(client)
            try:
                result = self._serve(worker, request)
            except _Undelivered:
                continue
            result.body  # noqa: B018  (into memory, spool closed)
            return result
        raise EngineUnavailable(KEEP_FAILING, 5)

    async def arun(
        self,
        query: str,
        result_format: str | Mapping | None = None,
        default_graph_uris: Iterable[str] = (),
        named_graph_uris: Iterable[str] = (),
        *,
        client: str | None = None,
        base_iri: str | None = None,
    ) -> QueryResult:
        """run() for an event loop: waiting in the queue costs no thread, the exchange with the
        worker runs in the pool's executor. The body stays spooled: stream it with
        result.chunks() (or read result.body), then result.close()."""
        request = self._request(query, result_format, default_graph_uris, named_graph_uris,
                                base_iri)
        payload = encode(request)
        loop = asyncio.get_running_loop()
        for _ in range(3):
            worker = await self._acquire_async(client, loop)
            started = time.monotonic()
            sent = len(payload) <= INLINE_SEND_BYTES
            if sent:
                # Sent now, not from the task below (which starts on the event loop's next
                # turn): the worker is at work while this process finishes its turn.
                worker.deadline = started + request["timeout"]
                try:
                    worker.conn.send_bytes(payload)
                except (OSError, ValueError):
                    await asyncio.to_thread(self._discard, worker)
                    continue
            reader, first = None, None
            if sent:
                taken = await self._small_answer(worker, request, payload, started, loop)
                if isinstance(taken, QueryResult):
                    return taken
                reader, first = taken
            # The exchange runs to its end even if this caller is cancelled (the worker is
            # then free again, not killed); its answer is dropped.
            task = loop.create_task(self._aserve(worker, request, payload, sent, started, loop,
                                                 reader, first))
            try:
                return await asyncio.shield(task)
            except _Undelivered:
                continue
            except asyncio.CancelledError:
                task.add_done_callback(_drop_answer)
                raise
        raise EngineUnavailable(KEEP_FAILING, 5)

    async def _small_answer(self, w: _Worker, request: dict, payload: bytes, started: float,
                            loop) -> QueryResult | tuple[FrameReader, bytes | None]:
        """The usual case in arun's own coroutine, without the exchange task and its shield
        (two turns of the event loop fewer): wait until the worker's descriptor is readable
        and take what is there; a whole last message (a small answer) is the result. Anything
        else (a part of a message, a big answer's first chunk, a worker gone, the deadline) is
        left to the exchange task, with the reader and the message already taken (returned);
        a caller cancelled meanwhile leaves the rest to that task too, its answer dropped."""
        fd = w.conn.fileno()
        most = self._answer_bound(request)
        reader = FrameReader(fd, most + CHUNK_BYTES)
        os.set_blocking(fd, False)  # until the exchange ends (here, or in the exchange task)
        first = None
        try:
            remaining = started + request["timeout"] - time.monotonic()
            if remaining > 0 and await _readable(loop, w, remaining, sentinel=False) and (
                    reader.read()):
                with contextlib.suppress(ValueError):  # too big: the task says so
                    first = reader.message()
        except asyncio.CancelledError:
            task = loop.create_task(self._aserve(w, request, payload, True, started, loop,
                                                 reader, first))
            task.add_done_callback(_drop_answer)
            raise
        if first is None:
            return reader, None
        try:
            head, body = decode(first)
        except ValueError:
            return reader, first
        if head.get("kind") == "chunk" or len(body) > most:
            return reader, first
        os.set_blocking(fd, True)
        self._release(w, started)
        return self._result(head, body, None, len(body), started)

    def wait_ready(self, timeout: float | None = None) -> bool:
        """Wait until every worker has loaded the graph: True, or False if timeout passed first.
        EngineUnavailable if no worker could load it."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while True:
                self._refresh()
                if self._closed:
                    raise EngineUnavailable(SHUT_DOWN)
                if not any(w.state == "loading" for w in self._workers):
                    self._raise_if_unavailable()
                    return True
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return False
                self._cond.wait(min(remaining or 0.1, 0.1))

    def status(self) -> dict:
        """What each worker is doing and how long the queue is, for logs and health checks."""
        with self._cond:
            self._refresh()
            workers = [
                {"pid": w.process.pid, "state": w.state, **w.info, "rss_bytes": rss(w.process.pid)}
                for w in self._workers
            ]
            return {"workers": workers, "replaced": self.replaced, "load_error": self._load_error,
                    "queued": len(self._queue), "queued_clients": self._queue.clients,
                    "refused_busy": self.refused_busy,
                    "service_seconds": round(self._service_seconds, 4)}

    def close(self) -> None:
        """Stop the workers: idle ones are told to exit, the others are killed; queries waiting
        in the queue are refused (503)."""
        with self._cond:
            if self._closed:
                return
            self._closed = True
            workers = list(self._workers)
            self._fail_queued(EngineUnavailable(SHUT_DOWN))
            self._cond.notify_all()
        self._wake()
        for w in workers:
            if w.state == "idle":
                with contextlib.suppress(OSError, ValueError):
                    send(w.conn, {"kind": "exit"})
        deadline = time.monotonic() + 1.0
        for w in workers:
            if w.state == "idle":
                w.process.join(max(0.0, deadline - time.monotonic()))
            kill(w.process)
            if w.state != "busy":  # a busy worker's connection belongs to the thread running it
                w.conn.close()
        self._watcher.join(2.0)
        self._finalizer()  # and the killed ones still exiting, the executor, the wake pipe

    def __enter__(self) -> QueryPool:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ---- one query -----------------------------------------------------------------------------

    def _request(self, query, result_format, default_graph_uris, named_graph_uris,
                 base_iri: str | None = None) -> dict:
        """What a worker needs: cheap checks only here (size, encoding), the rest is its job."""
        check_text(query, self.limits.max_query_bytes)
        return query_request(query, result_format, self.limits, default_graph_uris,
                             named_graph_uris, base_iri)

    def _serve(self, worker: _Worker, request: dict) -> QueryResult:
        """Exchange with an acquired worker (releasing it) and make the QueryResult."""
        started = time.monotonic()
        return self._result(*self._exchange(worker, request), started)

    async def _aserve(self, worker: _Worker, request: dict, payload: bytes, sent: bool,
                      started: float, loop, reader: FrameReader | None = None,
                      first: bytes | None = None) -> QueryResult:
        exchange = await self._aexchange(worker, request, payload, sent, started, loop, reader,
                                         first)
        return self._result(*exchange, started)

    def _answer_bound(self, request: dict) -> int:
        """The most a worker may send for this request: its result cap, with room for the
        messages' framing and heads (more means a faulty worker)."""
        return request.get("max_bytes", self.limits.max_result_bytes) + 8 * MiB

    def _result(self, head: dict, body: bytes | None, spool: IO[bytes] | None, size: int,
                started: float) -> QueryResult:
        if head["kind"] == "refused":
            if spool is not None:
                spool.close()
            raise refusal(head["error"], head["message"])
        name = head["format"]
        view = None
        if name == "html":
            media_type = "text/html"
            if spool is not None:
                spool.seek(0)
                body = spool.read()
                spool.close()
            view = json.loads(body) if body else None
            spool, body, size = None, None, 0
        else:
            media_type = _FORMATS_BY_NAME[name].media_type
        if spool is not None:
            spool.seek(0)
        return QueryResult(media_type, body, head["truncated"], head["rows"],
                           time.monotonic() - started, spool=spool, size=size, form=head["form"],
                           format=name, truncated_reason=head.get("reason"), view=view)

    def _exchange(self, w: _Worker, request: dict
                  ) -> tuple[dict, bytes | None, IO[bytes] | None, int]:
        """Send the query, take the answer until its last message, all before the deadline
        (else the worker is killed). Returns (last message, body, spool, size): an answer in
        one message (under CHUNK_BYTES, the usual case) is its body as bytes, a bigger one is
        spooled (body None)."""
        timeout = request["timeout"]
        started = time.monotonic()
        deadline = started + timeout
        w.deadline = deadline
        try:
            send(w.conn, request)
        except (OSError, ValueError):
            self._discard(w)
            raise _Undelivered() from None
        spool: IO[bytes] | None = None
        size = 0
        most = self._answer_bound(request)
        try:
            while True:
                remaining = deadline - time.monotonic()
                # A message already there needs no wait() (a selector made per call).
                ready = remaining > 0 and (w.conn.poll(0) or multiprocessing.connection.wait(
                    [w.conn, w.process.sentinel], remaining))
                if not ready:
                    self._discard(w)
                    raise QueryTimeout(timeout, self._retry_after_replacement())
                try:
                    head, body = recv(w.conn)
                except (EOFError, OSError, ValueError):
                    raise self._crashed(w, timeout) from None
                size += len(body)
                if size > most:  # a worker never sends this much: treat it as broken
                    self._discard(w)
                    raise EngineFault("The query worker sent more than the result limit.")
                if head.get("kind") != "chunk":
                    break
                if spool is None:
                    spool = new_spool()
                spool.write(body)
        except BaseException:
            if spool is not None:
                spool.close()
            raise
        if spool is not None and body:
            spool.write(body)
        self._release(w, started)
        return head, (None if spool is not None else body), spool, size

    async def _aexchange(self, w: _Worker, request: dict, payload: bytes, sent: bool,
                         started: float, loop, reader: FrameReader | None = None,
                         first: bytes | None = None
                         ) -> tuple[dict, bytes | None, IO[bytes] | None, int]:
        """_exchange on the event loop, without a thread for a small answer (the usual case):
        it is read from the worker's descriptor as it becomes readable (FrameReader), under the
        same deadline and bounds. A big answer (its first message a chunk) is spooled by a
        thread (_rest), and a big query (not `sent` already by arun) handed to the worker from
        one (a pipe holds 64 KiB: the write could wait for the worker to read). reader and
        first: where arun's _small_answer left off (its reader, a message it took)."""
        timeout = request["timeout"]
        deadline = started + timeout
        w.deadline = deadline
        if not sent:
            try:
                await loop.run_in_executor(self._executor, w.conn.send_bytes, payload)
            except (OSError, ValueError, RuntimeError):  # RuntimeError: executor shut down
                await asyncio.to_thread(self._discard, w)
                raise _Undelivered() from None
        spool: IO[bytes] | None = None
        size = 0
        most = self._answer_bound(request)
        fd = w.conn.fileno()
        os.set_blocking(fd, False)
        if reader is None:
            reader = FrameReader(fd, most + CHUNK_BYTES)
        # Killing and replacing a worker (a process to start), or learning why one died (a
        # join), happen in a thread: never on the event loop.

        async def discard() -> None:
            await asyncio.to_thread(self._discard, w)

        async def crashed() -> QueryError:
            return await asyncio.to_thread(self._crashed, w, timeout)

        open_ = True  # the worker's end is still open
        try:
            while True:
                try:
                    message, first = (first, None) if first is not None else (
                        reader.message(), None)
                except ValueError:
                    await discard()
                    raise EngineFault("The query worker sent more than the result limit.") from None
                if message is None:
                    if not open_:
                        raise await crashed()
                    remaining = deadline - time.monotonic()
                    if remaining <= 0 or not await _readable(loop, w, remaining):
                        await discard()
                        raise QueryTimeout(timeout, self._retry_after_replacement())
                    open_ = reader.read()
                    continue
                try:
                    head, body = decode(message)
                except ValueError:
                    raise await crashed() from None
                size = len(body)
                if head.get("kind") == "chunk":  # a big answer: spooled in a thread
                    spool = new_spool()
                    spool.write(body)
                    try:
                        head, body, size = await loop.run_in_executor(
                            self._executor, self._rest, w, reader, spool, size, most, deadline,
                            timeout)
                    except RuntimeError:  # the executor is shut down: close() came meanwhile
                        raise EngineUnavailable(SHUT_DOWN) from None
                break
        except BaseException:
            if spool is not None:
                spool.close()
            raise
        finally:
            if not w.conn.closed:
                os.set_blocking(fd, True)
        if spool is not None and body:
            spool.write(body)
        self._release(w, started)
        return head, (None if spool is not None else body), spool, size

    def _rest(self, w: _Worker, reader: FrameReader, spool: IO[bytes], size: int, most: int,
              deadline: float, timeout: float) -> tuple[dict, bytes, int]:
        """The rest of a big answer, after its first chunk, spooled in a thread (writing to a
        spool's file never happens on the event loop). Returns (last message, its body, size)."""
        open_ = True
        while True:
            try:
                message = reader.message()
            except ValueError:
                self._discard(w)
                raise EngineFault("The query worker sent more than the result limit.") from None
            if message is None:
                if not open_:
                    raise self._crashed(w, timeout)
                remaining = deadline - time.monotonic()
                ready = remaining > 0 and multiprocessing.connection.wait(
                    [w.conn, w.process.sentinel], remaining)
                if not ready:
                    self._discard(w)
                    raise QueryTimeout(timeout, self._retry_after_replacement())
                open_ = reader.read()
                continue
            try:
                head, body = decode(message)
            except ValueError:
                raise self._crashed(w, timeout) from None
            size += len(body)
            if size > most:  # a worker never sends this much: treat it as broken
                self._discard(w)
                raise EngineFault("The query worker sent more than the result limit.")
            if head.get("kind") != "chunk":
                return head, body, size
            spool.write(body)

    def _release(self, w: _Worker, started: float) -> None:
        """The worker has answered: idle again, to the next query waiting."""
        with self._cond:
            self._service_seconds += 0.2 * (time.monotonic() - started - self._service_seconds)
            if w.state == "busy":
                w.state = "idle"
                self._dispatch()
                self._cond.notify_all()

    def _crashed(self, w: _Worker, timeout: float) -> QueryError:
        reason = exit_reason(w.process, "during the query")
        self._discard(w)
        if self._closed:
            return EngineUnavailable("The SPARQL engine shut down during the query.", 5)
        retry = self._retry_after_replacement()
        if w.process.exitcode == -signal.SIGALRM:  # its own backstop timer: a timeout
            return QueryTimeout(timeout, retry)
        return WorkerCrashed(
            f"The query worker was stopped {reason} (killed, or out of memory: a worker may "
            f"use {self.limits.memory_mb} MB); it has been replaced. Retry in {retry} s; if "
            "the same query fails again, it needs more memory than a worker may use.",
            retry,
        )

    def _retry_after_replacement(self) -> int:
        return max(1, math.ceil(self._load_seconds))

    # ---- the queue -----------------------------------------------------------------------------

    def _acquire(self, client: str | None = None) -> _Worker:
        """A worker for this thread, waiting in the queue if need be."""
        with self._cond:
            got = self._take(client, lambda key: _Ticket(key, event=threading.Event()))
            if isinstance(got, _Worker):
                return got
            wait = self._wait_limit()
        assert got.event is not None
        got.event.wait(wait)
        with self._cond:
            return self._settle(got, wait)

    async def _acquire_async(self, client: str | None, loop) -> _Worker:
        with self._cond:
            got = self._take(client, lambda key: _Ticket(key, loop=loop,
                                                         future=loop.create_future()))
            if isinstance(got, _Worker):
                return got
            wait = self._wait_limit()
        assert got.future is not None
        try:
            await asyncio.wait_for(got.future, wait)
        except TimeoutError:
            pass
        except asyncio.CancelledError:
            with self._cond:
                self._queue.remove(got)
                if got.worker is not None and got.worker.state == "busy":
                    got.worker.state = "idle"
                    self._dispatch()
            raise
        with self._cond:
            return self._settle(got, wait)

    def _wait_limit(self) -> float:
        # Queries that come during start-up wait for the first load (at most their time limit).
        wait = self.limits.max_queue_wait
        return wait if self._started else max(wait, self.limits.timeout)

    def _take(self, client: str | None, make_ticket) -> _Worker | _Ticket:
        """Under the lock: a free worker at once (when nobody is waiting), or a ticket in the
        queue, or PoolBusy (queue full, or no waiting allowed)."""
        if self._closed:
            raise EngineUnavailable(SHUT_DOWN)
        self._refresh()
        self._raise_if_unavailable()
        if not self._queue:
            for w in self._workers:
                if w.state == "idle":
                    w.state = "busy"
                    return w
        capacity = self.limits.max_queue if self._started else max(self.limits.max_queue, 16)
        if self._wait_limit() <= 0 or capacity <= 0:
            self.refused_busy += 1
            raise self._busy()
        key = client or ""
        if len(self._queue) >= capacity:
            self._make_room(key, capacity)
        ticket = make_ticket(key)
        self._queue.push(ticket)
        self._dispatch()
        return ticket

    def _make_room(self, key: str, capacity: int) -> None:
        """The queue is full. If another client holds clearly more of it than this one, its
        newest query gives up its place (503); otherwise this query is refused."""
        retry = self._retry_after_queue()
        dropped = self._queue.evict_for(key)
        if dropped is not None:
            dropped.error = PoolBusy(retry, f"The query queue is full ({capacity} queries) and "
                                     "this client holds most of it; retry in "
                                     f"{retry} s.")
            dropped.wake()
            self.refused_busy += 1
            return
        self.refused_busy += 1
        raise PoolBusy(retry, f"All query workers are busy and the queue is full ({capacity} "
                              f"queries waiting); retry in {retry} s.")

    def _settle(self, ticket: _Ticket, waited: float) -> _Worker:
        """Under the lock, after waiting: the worker the ticket was given, or its error, or
        PoolBusy when its wait ran out."""
        if ticket.worker is not None:
            return ticket.worker
        if ticket.error is not None:
            raise ticket.error
        self._queue.remove(ticket)
        self.refused_busy += 1
        if not self._started:
            raise self._busy()
        retry = self._retry_after_queue()
        raise PoolBusy(retry, f"All query workers stayed busy for {waited:g} s "
                              f"({len(self._queue)} queries waiting); retry in {retry} s.")

    def _dispatch(self) -> None:
        """Under the lock: hand idle workers to waiting queries, one client after another."""
        while self._queue:
            worker = next((w for w in self._workers if w.state == "idle"), None)
            if worker is None:
                return
            ticket = self._queue.pop()
            worker.state = "busy"
            ticket.worker = worker
            if not ticket.wake():
                worker.state = "idle"
                ticket.worker = None

    def _fail_queued(self, error: Exception) -> None:
        for ticket in self._queue.drain():
            ticket.error = error
            ticket.wake()

    def _retry_after_queue(self) -> int:
        per_worker = (len(self._queue) + 1) / max(1, len(self._workers))
        return max(1, min(120, math.ceil(per_worker * self._service_seconds)))

    def _busy(self) -> PoolBusy:
        now = time.monotonic()
        busy = [w.deadline - now for w in self._workers if w.state == "busy"]
        loading = [self._load_seconds - (now - w.started) for w in self._workers
                   if w.state == "loading"]
        if busy:
            return PoolBusy(max(1, math.ceil(min(busy + loading))))
        return PoolBusy(
            max(1, math.ceil(min(loading, default=1.0))),
            "The SPARQL engine is still loading the graph; retry shortly.",
        )

    def _raise_if_unavailable(self) -> None:
        if not any(w.state in ("loading", "idle", "busy") for w in self._workers):
            raise EngineUnavailable(
                f"The SPARQL engine could not load the graph: {self._load_error}")

    # ---- workers -------------------------------------------------------------------------------

    def _spawn(self) -> _Worker:
        worker = start_worker(self._ctx, self.paths, self.limits.memory_mb)
        self._wake()
        return worker

    def _wake(self) -> None:
        """Make the watcher look at the workers again (a new one to watch, or closing)."""
        with contextlib.suppress(OSError):
            os.write(self._wake_w, b"x")

    def _refresh(self) -> None:
        """Take in loading workers that are ready, replace idle ones that died, reap killed
        ones, hand free workers to waiting queries. Under the lock."""
        self._dying[:] = [p for p in self._dying if p.is_alive()]  # is_alive() reaps
        if self._closed:
            return
        changed = False
        for w in list(self._workers):
            if w.state == "loading" and w.conn.poll(0):
                try:
                    head, _ = recv(w.conn)
                except (EOFError, OSError, ValueError):
                    head = {"kind": "failed",
                            "message": exit_reason(w.process, "while loading the graph")}
                if head["kind"] == "ready":
                    w.state, w.info = "idle", head["info"]
                    self._started = True
                    self._load_seconds = head["info"]["load_seconds"]
                else:  # loading fails the same way again: no replacement
                    self._load_error = head["message"]
                    self._bury(w)
                changed = True
            elif w.state == "idle" and not w.process.is_alive():
                self._bury(w)
                self._workers.append(self._spawn())
                self.replaced += 1
                changed = True
        if changed:
            if not any(w.state in ("loading", "idle", "busy") for w in self._workers):
                self._fail_queued(EngineUnavailable(
                    f"The SPARQL engine could not load the graph: {self._load_error}"))
            self._dispatch()
            self._cond.notify_all()

    def _bury(self, w: _Worker) -> None:
        w.state = "dead"
        kill(w.process, wait=False)
        self._dying.append(w.process)
        w.conn.close()
        self._workers.remove(w)

    def _discard(self, w: _Worker) -> None:
        """Kill a worker (SIGKILL: it may be deep in a query) and start its replacement."""
        kill(w.process, wait=False)
        with self._cond:
            self._dying.append(w.process)
            if w in self._workers:
                self._workers.remove(w)
                w.state = "dead"
                if not self._closed:
                    self._workers.append(self._spawn())
                    self.replaced += 1
            self._cond.notify_all()
        w.conn.close()


async def _readable(loop, w: _Worker, timeout: float, sentinel: bool = True) -> bool:
    """Wait until the worker's connection has something to read or the worker has ended:
    True, or False when timeout passed first. sentinel=False watches the connection alone
    (half the event-loop bookkeeping): a worker that ends closes its end, which makes the
    connection readable too (only the worker holds that end)."""
    fds = (w.conn.fileno(), w.process.sentinel) if sentinel else (w.conn.fileno(),)
    ready = loop.create_future()

    def wake(readable: bool = True) -> None:
        if not ready.done():
            ready.set_result(readable)

    for fd in fds:
        loop.add_reader(fd, wake)
    # A timer of its own rather than asyncio.wait_for (a task and two more callbacks per query).
    timer = loop.call_later(timeout, wake, False)
    try:
        return await ready
    finally:
        timer.cancel()
        for fd in fds:
            loop.remove_reader(fd)


def _drop_answer(task: asyncio.Task) -> None:
    """The answer of a query whose caller went away: its spool freed, any error ignored."""
    if not task.cancelled() and task.exception() is None:
        task.result().close()


def _watch(pool_ref, wake_r: int) -> None:
    """The pool's watcher thread: wakes when a loading worker speaks, a worker dies, or the
    pool asks (a new worker, closing); holds no reference to the pool while it waits."""
    while True:
        pool = pool_ref()
        if pool is None:
            return
        with pool._cond:
            if pool._closed:
                return
            pool._refresh()
            handles = [wake_r]
            for w in pool._workers:
                if w.state == "loading":
                    handles += [w.conn, w.process.sentinel]
                elif w.state == "idle":
                    handles.append(w.process.sentinel)
        del pool
        try:
            ready = multiprocessing.connection.wait(handles, 1.0)
        except (OSError, ValueError):  # a connection closed meanwhile: look again
            time.sleep(0.01)
            continue
        if wake_r in ready:
            with contextlib.suppress(OSError):
                os.read(wake_r, 4096)


def _source_paths(source) -> list[Path]:
    items = [source] if isinstance(source, str | Path) else list(source)
    if not items:
        raise ValueError("no graph files to load")
    paths = [Path(p) for p in items]
    for path in paths:
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no such graph file")
        rdf_format(path)
    return paths


def _shutdown(workers: list[_Worker], dying: list, executor: ThreadPoolExecutor,
              fds: tuple[int, ...]) -> None:
    for w in list(workers):
        kill(w.process, wait=False)
    for process in [w.process for w in list(workers)] + list(dying):
        process.join(2.0)
    executor.shutdown(wait=False)
    for fd in fds:
        with contextlib.suppress(OSError):
            os.close(fd)
