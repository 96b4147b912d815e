"""Everything that runs inside a worker process: it loads the graph once, then answers one query
at a time, under the query's time limit:
  - check_query (kgpub.sparql.check);
  - the choice of the result format, which depends on the query form (the caller sends what it
    negotiated for each form);
  - evaluation, serialization (cut at max_rows and at max_result_bytes, at the last complete
    row or triple: kgpub.sparql.capped) and the HTML page's view of a result (a bounded
    excerpt: kgpub.sparql.view).
The answer goes back to the pool in chunks (kgpub.sparql.messages).

Workers also move into an empty network namespace where the OS allows it, so even a SERVICE that
got past both checks could reach nothing.

FROM and FROM NAMED (and the protocol's default-graph-uri / named-graph-uri) select graphs of
the store; nothing is ever fetched. The dumps hold everything in the default graph, so a query
naming a FROM graph sees an empty dataset, as SPARQL says it should.

The pool starts workers with "spawn": their target, worker_main, is imported by name from this
module in the new process.
"""

from __future__ import annotations

import contextlib
import ctypes
import gzip
import os
import signal
import sys
import threading
import time
from pathlib import Path

import pyoxigraph as ox

from ..formats import xml_safe_bytes
from . import capped
from .check import _scan, check_query
from .errors import EngineFault, FormatNotAvailable, QueryInvalid, QueryRefused
from .formats import choose_format
from .limits import MAX_QUERY_BYTES, MiB
from .messages import CHUNK_BYTES, recv, send
from .view import view

# Worker thread stack: deep but legal queries recurse far in both parsers.
WORKER_STACK_BYTES = 256 * 1024 * 1024


# ---- the graph files -------------------------------------------------------------------------


def rdf_format(path: Path) -> ox.RdfFormat:
    name = path.name[:-3] if path.name.endswith(".gz") else path.name
    fmt = ox.RdfFormat.from_extension(name.rsplit(".", 1)[-1]) if "." in name else None
    if fmt is None:
        raise ValueError(f"{path}: unknown RDF format (use .nt, .nq, .ttl, .trig, optionally .gz)")
    return fmt


# ---- inside a worker process ------------------------------------------------------------------

_CLONE_NEWNET = 0x40000000
_CLONE_NEWUSER = 0x10000000


def worker_main(conn, paths: list[str], memory_mb: int) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    os.environ["RUST_BACKTRACE"] = "0"  # an allocation failure logs one line, not a backtrace
    isolated = _isolate_network()  # while still single-threaded, as unshare requires
    if memory_mb:
        _limit_memory(memory_mb)
    # Both parsers recurse; a big stack lets deep but legal queries through.
    sys.setrecursionlimit(50_000)
    with contextlib.suppress(ValueError):  # a platform may refuse the size: keep its default
        threading.stack_size(WORKER_STACK_BYTES)
    thread = threading.Thread(target=_serve, args=(conn, paths, isolated), name="kgpub-query")
    thread.start()
    thread.join()
    # Leave without finalizing: pyoxigraph objects made by the query thread must not be freed
    # by this one (pyo3 prints "unsendable ... dropped on another thread"), and there is
    # nothing else to clean up.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def _isolate_network() -> bool:
    """Enter a new, empty network namespace (Linux; needs root or unprivileged user
    namespaces). Best effort: the query checks are the rule, this is the backstop."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return any(libc.unshare(flags) == 0 for flags in (_CLONE_NEWNET,
                                                           _CLONE_NEWUSER | _CLONE_NEWNET))
    except (OSError, AttributeError):
        return False


def _limit_memory(memory_mb: int) -> None:
    """Cap the address space, so a query that builds huge values fails in its own worker
    instead of exhausting the machine."""
    try:
        import resource

        limit = memory_mb * 1024 * 1024 + WORKER_STACK_BYTES
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    except (ImportError, ValueError, OSError):
        pass


def _serve(conn, paths: list[str], isolated: bool) -> None:
    started = time.monotonic()
    try:
        store = _load(paths)
        # Import and build rdflib's grammar now, not during the first query (a few tenths of
        # a second).
        check_query("ASK { ?s ?p ?o }", full=True)
    except Exception as exc:
        send(conn, {"kind": "failed", "message": f"{type(exc).__name__}: {exc}"})
        return
    send(conn, {"kind": "ready", "info": {
        "triples": len(store),
        "load_seconds": round(time.monotonic() - started, 3),
        "network_isolated": isolated,
    }})
    while True:
        try:
            request, _ = recv(conn)
        except (EOFError, OSError):  # the parent has gone
            return
        if request.get("kind") == "exit":
            return
        # A backstop: if the parent cannot kill us at the deadline (it died), SIGALRM's
        # default action ends the process whatever the engine is doing.
        signal.setitimer(signal.ITIMER_REAL, request["timeout"] + 2.0)
        out = _Chunks(conn)
        try:
            head = _answer(store, request, out)
        except Exception as exc:  # never let one query take the worker down
            head = _refused(EngineFault(f"The query failed: {type(exc).__name__}: {exc}"))
        signal.setitimer(signal.ITIMER_REAL, 0)
        # The last message carries the rest of the result (all of a small one: one message
        # per query); a refused query's partial result is dropped.
        send(conn, head, out.rest() if head["kind"] == "ok" else b"")


def _load(paths: list[str]) -> ox.Store:
    store = ox.Store()  # in memory: FROM, FROM NAMED and GRAPH never dereference anything
    for name in paths:
        path = Path(name)
        fmt = rdf_format(path)
        if path.name.endswith(".gz"):
            with gzip.open(path, "rb") as f:
                store.bulk_load(input=f, format=fmt)
        else:
            store.bulk_load(path=path, format=fmt)
    return store


class _Chunks:
    """Where a worker writes a result: sent to the parent in messages of CHUNK_BYTES, the rest
    with the query's last message."""

    def __init__(self, conn):
        self.conn = conn
        self.buf = bytearray()
        self.size = 0

    def write(self, data) -> None:
        view = memoryview(data).cast("B")
        self.size += len(view)
        if self.buf:
            room = CHUNK_BYTES - len(self.buf)
            self.buf += view[:room]
            view = view[room:]
            if len(self.buf) < CHUNK_BYTES:
                return
            self._send(self.buf)
            self.buf = bytearray()
        while len(view) >= CHUNK_BYTES:
            self._send(view[:CHUNK_BYTES])
            view = view[CHUNK_BYTES:]
        self.buf += view

    def flush(self) -> None:
        pass  # what is left goes with the last message (rest())

    def rest(self) -> bytes:
        """What has not been sent yet (less than CHUNK_BYTES), for the last message."""
        rest, self.buf = bytes(self.buf), bytearray()
        return rest

    def _send(self, data) -> None:
        send(self.conn, {"kind": "chunk"}, bytes(data))


XML_MEDIA_TYPES = ("application/sparql-results+xml", "application/rdf+xml")


class _XmlSafe:
    """A sink that replaces the characters XML 1.0 forbids (NUL, C0 controls, U+FFFE/U+FFFF)
    by U+FFFD on their way to out, so XML results stay well-formed whatever a query computes.
    Up to two trailing bytes that may begin U+FFFE/U+FFFF wait for the next write."""

    def __init__(self, out):
        self.out = out
        self.tail = b""

    def write(self, data) -> None:
        data = self.tail + bytes(data)
        keep = 2 if data.endswith(b"\xef\xbf") else 1 if data.endswith(b"\xef") else 0
        self.tail = data[len(data) - keep:] if keep else b""
        self.out.write(xml_safe_bytes(data[:len(data) - keep]))

    def flush(self) -> None:
        pass  # the end is finish(): a tail flushed early could be half a character

    def finish(self) -> None:
        if self.tail:
            self.out.write(xml_safe_bytes(self.tail))
            self.tail = b""


def _answer(store: ox.Store, request: dict, out) -> dict:
    """Check, evaluate and serialize one query into out; returns the last message."""
    query = request["query"]
    if request.get("check", True):
        try:
            info = check_query(query, request.get("max_query_bytes", MAX_QUERY_BYTES), full=True)
        except QueryRefused as exc:
            return _refused(exc)
        form, prefixes = info.form, dict(info.prefixes)
    else:  # only the tests of the network backstop send unchecked queries
        scan = _scan(query)
        form, prefixes = scan.form or "SELECT", scan.prefixes
    plan = request["format"]
    choice = plan.get(form, {"requested": None}) if isinstance(plan, dict) else {"requested": plan}
    fmt = None
    if choice != "html":
        if "error" in choice:
            return _refused(FormatNotAvailable(choice["error"]))
        try:
            fmt = choose_format(form, choice.get("requested"))
        except FormatNotAvailable as exc:
            return _refused(exc)
    dataset = {}
    if request["default_graphs"] or request["named_graphs"]:  # the protocol's dataset wins
        dataset["default_graph"] = [ox.NamedNode(g) for g in request["default_graphs"]]
        dataset["named_graphs"] = [ox.NamedNode(g) for g in request["named_graphs"]]
    max_rows, max_bytes = request["max_rows"], request.get("max_bytes", 32 * MiB)
    try:
        if request.get("base_iri"):
            dataset["base_iri"] = request["base_iri"]
        result = store.query(query, **dataset)
        if fmt is not None and fmt.media_type in XML_MEDIA_TYPES:
            out = _XmlSafe(out)  # a query can make any string: BIND("\u0000" AS ?x)
        if fmt is None:
            rows, reason = view(result, form, max_rows, max_bytes, prefixes, out)
            name = "html"
        elif isinstance(result, ox.QueryBoolean):
            out.write(capped.boolean(result, fmt))
            rows, reason, name = None, None, fmt.name
        elif isinstance(result, ox.QuerySolutions):
            rows, reason = capped.solutions(result, fmt, max_rows, max_bytes, out)
            name = fmt.name
        else:
            rows, reason = capped.triples(result, fmt, max_rows, max_bytes, prefixes, out)
            name = fmt.name
    except SyntaxError as exc:
        return _refused(QueryInvalid(f"Malformed query: {exc}"))
    except FormatNotAvailable as exc:
        return _refused(exc)
    except (OSError, ValueError, TypeError) as exc:
        return _refused(QueryInvalid(f"The query could not be evaluated: {exc}"))
    if isinstance(out, _XmlSafe):
        out.finish()
    return {"kind": "ok", "form": form, "format": name, "truncated": reason is not None,
            "reason": reason, "rows": rows}


def _refused(error: QueryRefused) -> dict:
    """The last message of a refused query: its kind by name (kgpub.sparql.errors.refusal)."""
    return {"kind": "refused", "error": type(error).__name__, "message": error.message}
