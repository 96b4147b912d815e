"""Everything that runs inside a worker process: it loads the graph once, then answers one query
at a time, under the query's time limit:
  - check_query (kgpub.sparql.check);
  - the choice of the result format, which depends on the query form (the caller sends what it
    negotiated for each form);
  - evaluation, serialization (cut at max_rows and at max_result_bytes, at the last complete
    row or triple) and the HTML page's view of a result (a bounded excerpt).
The answer goes back to the pool in chunks (_send, _recv: the messages of both sides).

Workers also move into an empty network namespace where the OS allows it, so even a SERVICE that
got past both checks could reach nothing.

FROM and FROM NAMED (and the protocol's default-graph-uri / named-graph-uri) select graphs of
the store; nothing is ever fetched. The dumps hold everything in the default graph, so a query
naming a FROM graph sees an empty dataset, as SPARQL says it should.

The pool starts workers with "spawn": their target, _worker_main, is imported by name from this
module in the new process.
"""

from __future__ import annotations

import contextlib
import ctypes
import gzip
import json
import os
import signal
import sys
import threading
import time
from itertools import islice
from pathlib import Path

import pyoxigraph as ox

from ..formats import used_prefixes, xml_safe_bytes
from .check import _scan, check_query
from .errors import FormatNotAvailable, QueryError, QueryRefused
from .formats import ResultFormat, choose_format
from .limits import MAX_QUERY_BYTES, MiB

# Worker thread stack: deep but legal queries recurse far in both parsers.
WORKER_STACK_BYTES = 256 * 1024 * 1024
# A result travels from a worker in messages of this size.
CHUNK_BYTES = 1 * MiB
# The HTML page shows an excerpt of a result: at most this many rows (or triples), each cell cut
# at HTML_CELL_CHARS characters, HTML_TEXT_CHARS characters of text in all.
HTML_ROWS = 500
HTML_CELL_CHARS = 2000
HTML_TEXT_CHARS = 512 * 1024


# ---- shared with the pool: the messages, the graph files' formats --------------------------------


def _send(conn, head: dict, body: bytes = b"") -> None:
    """One message: a JSON header line, then raw bytes. Not pickle: a worker runs untrusted
    queries, and unpickling what it sends could run code in the parent."""
    conn.send_bytes(json.dumps(head).encode("utf-8") + b"\n" + body)


def _recv(conn) -> tuple[dict, bytes]:
    head, _, body = conn.recv_bytes().partition(b"\n")
    return json.loads(head), body


def _rdf_format(path: Path) -> ox.RdfFormat:
    name = path.name[:-3] if path.name.endswith(".gz") else path.name
    fmt = ox.RdfFormat.from_extension(name.rsplit(".", 1)[-1]) if "." in name else None
    if fmt is None:
        raise ValueError(f"{path}: unknown RDF format (use .nt, .nq, .ttl, .trig, optionally .gz)")
    return fmt


# ---- inside a worker process ------------------------------------------------------------------

_CLONE_NEWNET = 0x40000000
_CLONE_NEWUSER = 0x10000000


def _worker_main(conn, paths: list[str], memory_mb: int) -> None:
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
        _send(conn, {"kind": "failed", "message": f"{type(exc).__name__}: {exc}"})
        return
    _send(conn, {"kind": "ready", "info": {
        "triples": len(store),
        "load_seconds": round(time.monotonic() - started, 3),
        "network_isolated": isolated,
    }})
    while True:
        try:
            request, _ = _recv(conn)
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
            if head["kind"] == "ok":
                out.flush()
        except Exception as exc:  # never let one query take the worker down
            head = _refused(500, f"The query failed: {type(exc).__name__}: {exc}")
        signal.setitimer(signal.ITIMER_REAL, 0)
        _send(conn, head)


def _load(paths: list[str]) -> ox.Store:
    store = ox.Store()  # in memory: FROM, FROM NAMED and GRAPH never dereference anything
    for name in paths:
        path = Path(name)
        fmt = _rdf_format(path)
        if path.name.endswith(".gz"):
            with gzip.open(path, "rb") as f:
                store.bulk_load(input=f, format=fmt)
        else:
            store.bulk_load(path=path, format=fmt)
    return store


class _Chunks:
    """Where a worker writes a result: sent to the parent in messages of CHUNK_BYTES."""

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
        if self.buf:
            self._send(self.buf)
            self.buf = bytearray()

    def _send(self, data) -> None:
        _send(self.conn, {"kind": "chunk"}, bytes(data))


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


class _Collect:
    """A _Chunks that keeps everything (tests, tools)."""

    def __init__(self):
        self.data = bytearray()

    def write(self, data) -> None:
        self.data += data

    def flush(self) -> None:
        pass


def _answer(store: ox.Store, request: dict, out) -> dict:
    """Check, evaluate and serialize one query into out; returns the last message."""
    query = request["query"]
    if request.get("check", True):
        try:
            info = check_query(query, request.get("max_query_bytes", MAX_QUERY_BYTES), full=True)
        except QueryRefused as exc:
            return _refused(exc.status, exc.message)
        form, prefixes = info.form, dict(info.prefixes)
    else:  # only the tests of the network backstop send unchecked queries
        scan = _scan(query)
        form, prefixes = scan.form or "SELECT", scan.prefixes
    plan = request["format"]
    choice = plan.get(form, {"requested": None}) if isinstance(plan, dict) else {"requested": plan}
    fmt = None
    if choice != "html":
        if "error" in choice:
            return _refused(406, choice["error"])
        try:
            fmt = choose_format(form, choice.get("requested"))
        except FormatNotAvailable as exc:
            return _refused(exc.status, exc.message)
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
            rows, reason = _view(result, form, max_rows, max_bytes, prefixes, out)
            name = "html"
        elif isinstance(result, ox.QueryBoolean):
            out.write(_boolean(result, fmt))
            rows, reason, name = None, None, fmt.name
        elif isinstance(result, ox.QuerySolutions):
            rows, reason = _solutions(result, fmt, max_rows, max_bytes, out)
            name = fmt.name
        else:
            rows, reason = _triples(result, fmt, max_rows, max_bytes, prefixes, out)
            name = fmt.name
    except SyntaxError as exc:
        return _refused(400, f"Malformed query: {exc}")
    except FormatNotAvailable as exc:
        return _refused(exc.status, exc.message)
    except (OSError, ValueError, TypeError) as exc:
        return _refused(400, f"The query could not be evaluated: {exc}")
    if isinstance(out, _XmlSafe):
        out.finish()
    return {"kind": "ok", "form": form, "format": name, "truncated": reason is not None,
            "reason": reason, "rows": rows}


def _refused(status: int, message: str) -> dict:
    return {"kind": "refused", "status": status, "message": message}


def _boolean(result: ox.QueryBoolean, fmt: ResultFormat) -> bytes:
    if fmt.results is None:
        raise FormatNotAvailable(f"{fmt.media_type} cannot carry the result of an ASK query")
    return result.serialize(format=fmt.results)


class _Full(Exception):
    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class _TsvCap:
    """A binary sink for pyoxigraph's TSV serializer (one solution a line, terms in N-Triples
    syntax: lossless) that stops it, without evaluating the rest, after `lines` lines ("rows")
    or `max_bytes` bytes ("bytes")."""

    def __init__(self, lines: int, max_bytes: int):
        self.lines = lines
        self.max_bytes = max_bytes
        self.data = bytearray()
        self.ends: list[int] = []  # offset just past each complete line

    def write(self, chunk) -> int:
        start = len(self.data)
        self.data += chunk
        find = self.data.find
        pos = find(b"\n", start)
        while pos != -1:
            self.ends.append(pos + 1)
            if len(self.ends) > self.lines:
                raise _Full("rows")
            pos = find(b"\n", pos + 1)
        if len(self.data) > self.max_bytes:
            raise _Full("bytes")
        return len(chunk)

    def flush(self) -> None:
        pass

    def split(self) -> tuple[bytes, list[bytes]]:
        """The header line and the complete solution lines, at most lines - 1 of them."""
        ends = self.ends[: self.lines]
        if not ends:
            return bytes(self.data), []
        data = bytes(self.data)
        rows = [data[a:b] for a, b in zip(ends, ends[1:], strict=False)]
        return data[: ends[0]], rows


def _collect(result: ox.QuerySolutions, rows: int, max_bytes: int) -> tuple[bytes, list, str | None]:
    sink = _TsvCap(rows + 1, max_bytes)  # the header line, then a line per solution
    reason = None
    try:
        result.serialize(sink, ox.QueryResultsFormat.TSV)
    except _Full as full:
        reason = full.reason
    header, lines = sink.split()
    return header, lines, reason


def _solutions(result: ox.QuerySolutions, fmt: ResultFormat, max_rows: int, max_bytes: int,
               out) -> tuple[int, str | None]:
    """SELECT results, at most max_rows solutions and max_bytes bytes (cut at the last whole
    solution): evaluated into a capped TSV, then written in the requested format."""
    if fmt.results is None:
        raise FormatNotAvailable(f"{fmt.media_type} cannot carry the result of a SELECT query")
    # CSV drops datatypes and brackets, so it can hold more solutions than the same bytes of TSV.
    collect = max_bytes * (2 if fmt.results == ox.QueryResultsFormat.CSV else 1) + 64 * 1024
    header, rows, reason = _collect(result, max_rows, collect)
    count, cut = _write_solutions(header, rows, fmt.results, max_bytes, out)
    return count, "bytes" if cut else reason


def _reserialize(tsv: bytes, fmt: ox.QueryResultsFormat) -> bytes:
    return ox.parse_query_results(tsv, ox.QueryResultsFormat.TSV).serialize(format=fmt)


def _frame(empty: bytes, fmt: ox.QueryResultsFormat) -> tuple[bytes, bytes, bytes]:
    """(prefix, suffix, separator) of a serialized result: a document with solutions is the
    prefix, the solutions joined by the separator, the suffix."""
    if fmt == ox.QueryResultsFormat.JSON:
        at = empty.rfind(b"[]")
        return empty[: at + 1], empty[at + 1:], b","
    if fmt == ox.QueryResultsFormat.XML:
        at = empty.rfind(b"<results></results>")
        return empty[: at + 9], empty[at + 9:], b""
    return empty, b"", b""  # CSV, TSV: a header line, then a line per solution


def _write_solutions(header: bytes, rows: list[bytes], fmt: ox.QueryResultsFormat,
                     max_bytes: int, out) -> tuple[int, bool]:
    """Write header + rows in fmt, in batches, stopping before the solution that would take the
    document past max_bytes. Returns (solutions written, whether any was left out)."""
    if fmt == ox.QueryResultsFormat.TSV:
        size = len(header)
        out.write(header)
        for i, row in enumerate(rows):
            if size + len(row) > max_bytes:
                return i, True
            out.write(row)
            size += len(row)
        return len(rows), False
    prefix, suffix, sep = _frame(_reserialize(header, fmt), fmt)

    def inner(lines: list[bytes]) -> bytes:
        doc = _reserialize(header + b"".join(lines), fmt)
        if not (doc.startswith(prefix) and doc.endswith(suffix)):
            raise QueryError("this result format cannot be cut at a solution")
        return doc[len(prefix): len(doc) - len(suffix)]

    budget = max_bytes - len(prefix) - len(suffix)
    out.write(prefix)
    used = written = i = 0
    while i < len(rows):
        j, batch_bytes = i, 0
        while j < len(rows) and j - i < 2000 and batch_bytes < CHUNK_BYTES:
            batch_bytes += len(rows[j])
            j += 1
        body = inner(rows[i:j])
        extra = len(body) + (len(sep) if written else 0)
        if used + extra > budget:  # this batch does not fit whole: one solution at a time
            for row in rows[i:j]:
                body = inner([row])
                extra = len(body) + (len(sep) if written else 0)
                if used + extra > budget:
                    out.write(suffix)
                    return written, True
                out.write(sep if written else b"")
                out.write(body)
                used += extra
                written += 1
            i = j
            continue
        out.write(sep if written else b"")
        out.write(body)
        used += extra
        written += j - i
        i = j
    out.write(suffix)
    return written, False


def _triples(result: ox.QueryTriples, fmt: ResultFormat, max_rows: int, max_bytes: int,
             prefixes: dict, out) -> tuple[int, str | None]:
    """CONSTRUCT/DESCRIBE results, at most max_rows triples and max_bytes bytes (the most
    triples whose document fits)."""
    if fmt.rdf is None:
        raise FormatNotAvailable(f"{fmt.media_type} cannot carry the result of a graph query")
    triples: list[ox.Triple] = []
    sizes: list[int] = []  # running size in N-Triples, to estimate where to cut
    total, reason = 0, None
    for triple in result:
        if len(triples) == max_rows:
            reason = "rows"
            break
        total += len(str(triple)) + 3
        triples.append(triple)
        sizes.append(total)
        if total > 2 * max_bytes + 64 * 1024:
            reason = "bytes"
            break

    def ser(ts: list[ox.Triple]) -> bytes:
        if fmt.rdf in (ox.RdfFormat.TURTLE, ox.RdfFormat.RDF_XML) and prefixes:
            return ox.serialize(ts, format=fmt.rdf, prefixes=used_prefixes(ts, prefixes))
        return ox.serialize(ts, format=fmt.rdf)

    body = ser(triples)
    if len(body) > max_bytes:  # the most triples that fit: guess from the sizes, then bisect
        reason = "bytes"
        lo, hi, best = 0, len(triples), ser([])
        scale = len(body) / max(total, 1)
        k = next((i for i, s in enumerate(sizes) if s * scale > max_bytes), len(triples))
        for step in range(64):
            if hi - lo <= 1:
                break
            k = k if lo < k < hi else (lo + hi) // 2
            candidate = ser(triples[:k])
            if len(candidate) <= max_bytes:
                lo, best = k, candidate
            else:
                hi = k
            guess = int(k * max_bytes / max(len(candidate), 1))
            k = guess if step % 2 == 0 else (lo + hi) // 2
        body, count = best, lo
    else:
        count = len(triples)
    out.write(body)
    return count, reason


# ---- the page's excerpt of a result (built in the worker, rendered by the HTTP layer) ----------


def _view(result, form: str, max_rows: int, max_bytes: int, prefixes: dict,
          out) -> tuple[int | None, str | None]:
    """A bounded excerpt for the HTML page, as JSON: a table of at most HTML_ROWS rows (cells
    cut at HTML_CELL_CHARS, HTML_TEXT_CHARS in all), or the Turtle of at most HTML_ROWS
    triples (cut at HTML_TEXT_CHARS). "cut": None, "rows" (the endpoint's max_rows) or
    "page" (the page shows less than the whole result)."""
    shown = min(max_rows, HTML_ROWS)
    if isinstance(result, ox.QueryBoolean):
        view = {"kind": "boolean", "value": bool(result)}
        out.write(json.dumps(view).encode("utf-8"))
        return None, None
    if isinstance(result, ox.QuerySolutions):
        header, lines, reason = _collect(result, shown, max_bytes)
        solutions = ox.parse_query_results(header + b"".join(lines), ox.QueryResultsFormat.TSV)
        head = [v.value for v in solutions.variables]
        rows, chars = [], 0
        for solution in solutions:
            row = [_view_cell(solution[i]) for i in range(len(head))]
            chars += sum(len(c[1]) for c in row)
            if chars > HTML_TEXT_CHARS:
                reason = "bytes"
                break
            rows.append(row)
        view = {"kind": "table", "head": head, "rows": rows}
        count = len(rows)
    else:
        triples = list(islice(result, shown + 1))
        reason = "rows" if len(triples) > shown else None
        triples = triples[:shown]
        if prefixes:
            text = ox.serialize(triples, format=ox.RdfFormat.TURTLE,
                                prefixes=used_prefixes(triples, prefixes))
        else:
            text = ox.serialize(triples, format=ox.RdfFormat.TURTLE)
        text = text.decode("utf-8")
        if len(text) > HTML_TEXT_CHARS:
            text = text[:HTML_TEXT_CHARS].rsplit("\n", 1)[0] + "\n…\n"
            reason = "bytes"
        view = {"kind": "graph", "text": text}
        count = len(triples)
    # Cut where the endpoint itself would have cut, or only for the page?
    view["cut"] = None if reason is None else (
        "rows" if reason == "rows" and max_rows <= HTML_ROWS else "page")
    view["shown"] = count
    out.write(json.dumps(view, ensure_ascii=False).encode("utf-8"))
    return count, None if view["cut"] is None else ("rows" if view["cut"] == "rows" else "page")


def _view_cell(term) -> list:
    """[type, text, language] of a term for a table cell; long text is cut."""
    if term is None:
        return ["", "", None]
    if isinstance(term, ox.NamedNode):
        kind, text, lang = "uri", term.value, None
    elif isinstance(term, ox.BlankNode):
        kind, text, lang = "bnode", term.value, None
    elif isinstance(term, ox.Literal):
        kind, text, lang = "literal", term.value, term.language
    else:  # a quoted triple (RDF-star)
        kind, text, lang = "triple", str(term), None
    if len(text) > HTML_CELL_CHARS:
        text = text[:HTML_CELL_CHARS] + "…"
    return [kind, text, lang]
