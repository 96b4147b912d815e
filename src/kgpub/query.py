"""The SPARQL engine behind /sparql and `kgpub query`: read-only, no federation, a time limit that
really stops a query, and a cap on the size of a result.

Every query is checked first (check_query), in the caller's process and without evaluating it:
  - a lexer that follows SPARQL's terminals (strings, comments, IRIs, prefixed names...) refuses
    the SERVICE keyword wherever it can be code, too deep nesting and updates;
  - rdflib's parser builds the syntax tree, which is walked for SERVICE (nested, SILENT, in
    subqueries and EXISTS), and gives the parser's message for a malformed query. Queries too big
    or too deep for rdflib's recursive parser here are parsed again in a worker, under the time
    limit, with room to recurse.

Queries run in worker processes ("spawn": never a fork of a process that runs threads), each
holding the whole graph in an in-memory pyoxigraph Store loaded once. Neither pyoxigraph nor
rdflib can cancel a running query, so a query past its deadline is stopped by killing its worker,
which is replaced in the background. Workers also move into an empty network namespace where the
OS allows it, so even a SERVICE that got past both checks could reach nothing.

FROM and FROM NAMED (and the protocol's default-graph-uri / named-graph-uri) select graphs of
the store; nothing is ever fetched. The dumps hold everything in the default graph, so a query
naming a FROM graph sees an empty dataset, as SPARQL says it should.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import gzip
import hashlib
import json
import math
import multiprocessing
import multiprocessing.connection
import os
import re
import signal
import sys
import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path

import pyoxigraph as ox

from .errors import ConfigError, KgpubError
from .formats import RDF_FORMATS, used_prefixes

MAX_QUERY_BYTES = 1024 * 1024
# Bracket nesting beyond this is refused: oxigraph's parser overflows its stack (and kills the
# process) some thousands deep, and no hand-written query comes near.
MAX_NESTING = 100
# rdflib's parser costs ~15 ms per KiB in the worst case; bigger queries are parsed in a worker,
# where the time limit applies, so a large body cannot stall the caller (the HTTP event loop).
PARSE_IN_PROCESS_BYTES = 8 * 1024
# Worker thread stack: deep but legal queries recurse far in both parsers.
WORKER_STACK_BYTES = 256 * 1024 * 1024

QUERY_FORMS = ("SELECT", "ASK", "CONSTRUCT", "DESCRIBE")
GRAPH_FORMS = ("CONSTRUCT", "DESCRIBE")
UPDATE_KEYWORDS = (
    "INSERT", "DELETE", "LOAD", "CLEAR", "CREATE", "DROP", "COPY", "MOVE", "ADD", "WITH",
)
READ_ONLY = "This endpoint is read-only: SPARQL Update (INSERT, DELETE, LOAD, ...) is not accepted."
NO_SERVICE = (
    "Federated queries (SERVICE) are not allowed: this endpoint only queries its own graph."
)


# ---- errors -----------------------------------------------------------------------------------


class QueryError(KgpubError):
    """A query that could not be answered."""


class QueryRefused(QueryError):
    """Refused or failed, with the HTTP status that says why (400 malformed or not allowed, 406
    no such result format, 413 too large, 500 the worker died, 503 the engine is unavailable)."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


class FormatNotAvailable(QueryRefused):
    """The requested result format cannot carry this kind of result (CSV for CONSTRUCT)."""

    def __init__(self, message: str):
        super().__init__(406, message)


class WorkerCrashed(QueryRefused):
    """The worker died during the query (out of memory, a crash in the engine); it is replaced."""

    def __init__(self, message: str):
        super().__init__(500, message)


class QueryTimeout(QueryError):
    """The query ran past the time limit; its worker was killed (HTTP 503)."""

    def __init__(self, timeout: float):
        super().__init__(
            f"The query ran longer than the limit of {timeout:g} s and was stopped. Narrow it "
            "(more specific patterns, a LIMIT) or load the data dumps into your own store."
        )
        self.timeout = timeout


class PoolBusy(QueryError):
    """Every worker is busy or still loading (HTTP 503 with Retry-After)."""

    def __init__(self, retry_after: int, message: str | None = None):
        super().__init__(
            message or f"All query workers are busy; retry in {retry_after} s."
        )
        self.retry_after = retry_after


# ---- limits -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class QueryLimits:
    timeout: float = 10.0  # seconds a query may run, serialization included
    max_rows: int = 10_000  # solutions of a SELECT, triples of a CONSTRUCT/DESCRIBE
    max_query_bytes: int = MAX_QUERY_BYTES
    workers: int = 2
    max_queue_wait: float = 0.0  # seconds to wait for a free worker; 0: refuse at once
    memory_mb: int = 4096  # address space of a worker; 0: unlimited

    _KEYS = {
        "timeout": (float, 0.001, 3600.0),
        "max_rows": (int, 1, 10_000_000),
        "max_query_bytes": (int, 64, 64 * MAX_QUERY_BYTES),
        "workers": (int, 1, 64),
        "max_queue_wait": (float, 0.0, 3600.0),
        "memory_mb": (int, 0, 1024 * 1024),
    }

    @classmethod
    def from_config(cls, cfg: dict | None) -> QueryLimits:
        """From the [sparql] table of kgpub.toml (or a whole config holding one)."""
        cfg = dict(cfg or {})
        if isinstance(cfg.get("sparql"), dict):
            cfg = dict(cfg["sparql"])
        unknown = sorted(set(cfg) - set(cls._KEYS))
        if unknown:
            raise ConfigError(
                f"[sparql] {', '.join(unknown)}: unknown key(s); known: {', '.join(cls._KEYS)}"
            )
        values = {}
        for key, value in cfg.items():
            kind, low, high = cls._KEYS[key]
            ok_type = isinstance(value, int | float) if kind is float else isinstance(value, int)
            if isinstance(value, bool) or not ok_type or not low <= value <= high:
                what = "a number" if kind is float else "an integer"
                raise ConfigError(f"[sparql] {key} = {value!r}: expected {what} from {low:g} to {high:g}")
            values[key] = kind(value)
        return cls(**values)


# ---- result formats ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ResultFormat:
    name: str  # short name: json, xml, csv, tsv, ttl, jsonld, nt, rdf
    media_type: str
    results: ox.QueryResultsFormat | None = None  # for SELECT and ASK
    rdf: ox.RdfFormat | None = None  # for CONSTRUCT and DESCRIBE
    aliases: tuple[str, ...] = ()


SOLUTION_FORMATS: tuple[ResultFormat, ...] = (
    ResultFormat("json", "application/sparql-results+json", ox.QueryResultsFormat.JSON,
                 aliases=("application/json",)),
    ResultFormat("xml", "application/sparql-results+xml", ox.QueryResultsFormat.XML,
                 aliases=("application/xml", "text/xml")),
    ResultFormat("csv", "text/csv", ox.QueryResultsFormat.CSV),
    ResultFormat("tsv", "text/tab-separated-values", ox.QueryResultsFormat.TSV),
)
_GRAPH_ALIASES = {"ttl": ("application/x-turtle",), "jsonld": ("application/json",)}
GRAPH_FORMATS: tuple[ResultFormat, ...] = tuple(
    ResultFormat(f.name, f.media_type, rdf=f.rdf, aliases=_GRAPH_ALIASES.get(f.name, ()))
    for f in RDF_FORMATS  # ttl, jsonld, nt, rdf: the site's own document formats
)
# In order of preference: the first is the default.
SOLUTION_MEDIA_TYPES: tuple[str, ...] = tuple(f.media_type for f in SOLUTION_FORMATS)
GRAPH_MEDIA_TYPES: tuple[str, ...] = tuple(f.media_type for f in GRAPH_FORMATS)
_FORMATS_BY_NAME = {f.name: f for f in SOLUTION_FORMATS + GRAPH_FORMATS}


def choose_format(form: str, requested: str | None = None) -> ResultFormat:
    """The result format for a query form and a requested media type or short name; JSON for
    SELECT/ASK and Turtle for graphs by default. FormatNotAvailable (406) on a mismatch."""
    offered = GRAPH_FORMATS if form in GRAPH_FORMS else SOLUTION_FORMATS
    if not requested or not requested.strip():
        return offered[0]
    key = requested.split(";")[0].strip().lower()
    for fmt in offered:
        if key in (fmt.name, fmt.media_type) or key in fmt.aliases:
            return fmt
    names = ", ".join(f"{f.name} ({f.media_type})" for f in offered)
    known = any(key in (f.name, f.media_type) for f in SOLUTION_FORMATS + GRAPH_FORMATS)
    why = f"cannot carry the result of a {form} query" if known else "is not a result format"
    raise FormatNotAvailable(f"{requested} {why}; use one of: {names}")


# ---- checking a query -------------------------------------------------------------------------


@dataclass(frozen=True)
class ParsedInfo:
    form: str  # SELECT, ASK, CONSTRUCT or DESCRIBE
    prefixes: tuple[tuple[str, str], ...] = ()  # PREFIX declarations, for Turtle results
    # True: rdflib parsed the whole query here. False: it was too big or deep for that; the
    # worker parses it again before running it.
    parsed: bool = True

    @property
    def returns_graph(self) -> bool:
        return self.form in GRAPH_FORMS


def check_query(text: str, max_bytes: int = MAX_QUERY_BYTES) -> ParsedInfo:
    """Refuse (QueryRefused) what must not run: updates, SERVICE, malformed or oversized
    queries. Returns the query form. Never evaluates anything; results are cached."""
    if not isinstance(text, str):
        raise QueryRefused(400, "The query must be text.")
    try:
        data = text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise QueryRefused(400, "The query is not valid Unicode text.") from exc
    if len(data) > max_bytes:
        raise QueryRefused(413, f"The query is {len(data)} bytes; the limit is {max_bytes}.")
    if not text.strip():
        raise QueryRefused(400, "The query is empty.")
    key = hashlib.sha256(data).digest()
    info = _CACHE.get(key)
    if info is None:
        info = _check(text, parse_here=len(data) <= PARSE_IN_PROCESS_BYTES)
        _CACHE.put(key, info)
    return info


def _check(text: str, parse_here: bool) -> ParsedInfo:
    scan = _scan(text)
    if scan.too_deep:
        raise QueryRefused(400, f"The query nests brackets more than {MAX_NESTING} deep.")
    if scan.ambiguous:
        raise QueryRefused(
            400, "The query has too many '<' that could be comparisons or IRIs; put spaces "
            "around comparison operators."
        )
    if scan.update:
        raise QueryRefused(400, READ_ONLY)
    if scan.service:
        raise QueryRefused(400, NO_SERVICE)
    prefixes = tuple(scan.prefixes.items())
    form = _parse(text, recursion_room=False) if parse_here else None
    if form is None:  # too big or deep to parse here: the worker parses it
        if scan.form is None:
            raise QueryRefused(400, "Malformed query: expected SELECT, ASK, CONSTRUCT or DESCRIBE.")
        return ParsedInfo(scan.form, prefixes, parsed=False)
    return ParsedInfo(form, prefixes)


class _InfoCache:
    """A small LRU of verdicts by query hash: the HTTP layer checks, then the pool checks again."""

    def __init__(self, size: int = 512):
        self.size = size
        self._items: OrderedDict[bytes, ParsedInfo] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: bytes) -> ParsedInfo | None:
        with self._lock:
            info = self._items.get(key)
            if info is not None:
                self._items.move_to_end(key)
            return info

    def put(self, key: bytes, info: ParsedInfo) -> None:
        with self._lock:
            self._items[key] = info
            while len(self._items) > self.size:
                self._items.popitem(last=False)


_CACHE = _InfoCache()
_RDFLIB_LOCK = threading.Lock()  # pyparsing grammars are shared objects: one parse at a time
_TREE_FORMS = {
    "SelectQuery": "SELECT", "AskQuery": "ASK", "ConstructQuery": "CONSTRUCT",
    "DescribeQuery": "DESCRIBE",
}


def _parse(text: str, recursion_room: bool) -> str | None:
    """Parse with rdflib and walk the syntax tree for SERVICE. Returns the form, or None when
    the parser ran out of recursion (only where recursion_room is False)."""
    from pyparsing import ParseBaseException
    from rdflib.plugins.sparql.parser import parseQuery, parseUpdate

    with _RDFLIB_LOCK:
        try:
            tree = parseQuery(text)
        except RecursionError:
            if recursion_room:
                raise QueryRefused(400, "The query is too complex to check.") from None
            return None
        except ParseBaseException as exc:
            if _parses(parseUpdate, text):
                raise QueryRefused(400, READ_ONLY) from None
            raise QueryRefused(400, f"Malformed query: {exc}") from None
        except Exception as exc:  # rdflib reports some errors (bad IRIs, escapes) as others
            raise QueryRefused(400, f"Malformed query: {exc}") from None
    if "ServiceGraphPattern" in _node_names(tree):
        raise QueryRefused(400, NO_SERVICE)
    return _TREE_FORMS[tree[1].name]


def _parses(parser, text: str) -> bool:
    try:
        parser(text)
    except Exception:
        return False
    return True


def _node_names(tree) -> set[str]:
    """Names of every node of an rdflib syntax tree, iteratively (trees can be deep)."""
    from pyparsing import ParseResults
    from rdflib.plugins.sparql.parserutils import CompValue

    names: set[str] = set()
    stack, seen = [tree], set()
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, CompValue):
            names.add(node.name)
            stack.extend(node.values())
        elif isinstance(node, ParseResults):
            stack.extend(node)
            stack.extend(value for _, value in node.items())  # named results, one level
        elif isinstance(node, list | tuple):
            stack.extend(node)
        elif isinstance(node, dict):
            stack.extend(node.values())
    return names


# The lexer: SPARQL 1.1 terminals (https://www.w3.org/TR/sparql11-query/#terminals), so that
# text in strings, comments, IRIs and names is not taken for keywords. It is deliberately
# conservative where SPARQL's own tokenizing is contextual (see _scan).
_PN_CHARS_BASE = (
    "A-Za-z\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u02ff\u0370-\u037d\u037f-\u1fff\u200c-\u200d"
    "\u2070-\u218f\u2c00-\u2fef\u3001-\ud7ff\uf900-\ufdcf\ufdf0-\ufffd\U00010000-\U000effff"
)
_PN_CHARS_U = _PN_CHARS_BASE + "_"
_PN_CHARS = _PN_CHARS_U + "\\-0-9\u00b7\u0300-\u036f\u203f-\u2040"
_PLX = r"%[0-9A-Fa-f]{2}|\\[_~.\-!$&'()*+,;=/?#@%]"
_PN_PREFIX = f"[{_PN_CHARS_BASE}](?:[{_PN_CHARS}.]*[{_PN_CHARS}])?"
_PN_LOCAL = (
    f"(?:[{_PN_CHARS_U}:0-9]|{_PLX})(?:(?:[{_PN_CHARS}.:]|{_PLX})*(?:[{_PN_CHARS}:]|{_PLX}))?"
)
_TOKEN = re.compile(
    # Whitespace and comments before a token; possessive, so a comment is never re-read as code.
    r"(?:[ \t\r\n]+|#[^\r\n]*)*+"
    r'(?:(?P<end>\Z)'
    r'|(?P<string>"""(?:[^"\\]|\\.|"(?!""))*(?:"""|\Z)'
    r"|'''(?:[^'\\]|\\.|'(?!''))*(?:'''|\Z)"
    r'|"(?:[^"\\\r\n]|\\.)*"?'
    r"|'(?:[^'\\\r\n]|\\.)*'?)"
    r'|(?P<iri><(?:[^<>"{}|^`\\\x00-\x20]|\\u[0-9A-Fa-f]{4}|\\U[0-9A-Fa-f]{8})*>)'
    f"|(?P<var>[?$][{_PN_CHARS_U}0-9][{_PN_CHARS_U}0-9\u00b7\u0300-\u036f\u203f-\u2040]*)"
    f"|(?P<bnode>_:[{_PN_CHARS_U}0-9](?:[{_PN_CHARS}.]*[{_PN_CHARS}])?)"
    r"|(?P<lang>@[A-Za-z]+(?:-[A-Za-z0-9]+)*)"
    f"|(?P<pname>(?P<prefix>{_PN_PREFIX})?:(?:{_PN_LOCAL})?)"
    # A number, or a run like 1+2*3 that holds nothing but digits and operators (fewer tokens).
    r"|(?P<number>[0-9]+(?:\.[0-9]*)?(?:[eE][+-]?[0-9]+)?(?:[-+*/=!&|,;^][-+*/=!&|,;^0-9.]*[0-9])*)"
    r"|(?P<word>[^\W\d]\w*)"
    r"|(?P<open>[{(\[])|(?P<close>[})\]])"
    r"|(?P<other>.))",
    re.DOTALL,
)
# After these a '<' inside parentheses may be "less than", not the start of an IRI.
_OPERAND_END = frozenset(("iri", "var", "bnode", "lang", "pname", "number", "word", "string",
                          "close"))
_MAX_FORKS = 16


@dataclass
class _Scan:
    service: bool = False
    update: bool = False
    too_deep: bool = False
    ambiguous: bool = False
    form: str | None = None
    prefixes: dict[str, str] = field(default_factory=dict)
    forks: int = 0


def _scan(text: str) -> _Scan:
    out = _Scan()
    _lex(text, 0, [], "", out, main=True)
    return out


def _lex(text: str, pos: int, stack: list[str], prev: str, out: _Scan, main: bool) -> None:
    """Tokenize from pos, noting SERVICE, nesting, and (main pass) the prologue and form.

    oxigraph matches keywords without a word boundary ("SERVICESILENT<x>{}" runs), so any word,
    or the prefix of a prefixed name, that contains SERVICE counts. A '<' right after an operand
    inside parentheses can be "less than" rather than an IRI; if the would-be IRI holds '#' or
    "'" (a comment or string in the other reading), the rest is also scanned in that reading;
    there a SERVICE word counts only if what follows could continue a SERVICE clause, so that
    IRIs like <...sparql-service-description#x> in a VALUES row pass."""
    in_prologue = main
    pending_service = False
    expect = ""  # in the prologue: what the PREFIX declaration needs next
    pending_prefix = ""
    for m in _TOKEN.finditer(text, pos):
        kind = m.lastgroup
        if pending_service:
            pending_service = False
            out.service |= kind in ("var", "iri", "pname", "word", "end")
        if kind == "end":
            break
        value = m.group(kind)
        if kind == "iri" and prev in _OPERAND_END and stack and stack[-1] == "(" and (
            "#" in value or "'" in value
        ):
            if out.forks >= _MAX_FORKS:
                out.ambiguous = True
                return
            out.forks += 1
            _lex(text, m.start(kind) + 1, list(stack), "other", out, main=False)
        if kind == "open":
            stack.append(value)
            if len(stack) > MAX_NESTING:
                out.too_deep = True
                return
        elif kind == "close" and stack:
            stack.pop()
        elif kind == "word" and "SERVICE" in value.upper():
            if main:
                out.service = True
            else:
                pending_service = True
        elif kind == "pname" and m.group("prefix") and "SERVICE" in m.group("prefix").upper():
            out.service = True
        prev = kind
        if not in_prologue:
            continue
        # The prologue (BASE, PREFIX) comes first; the next keyword is the form or an update.
        if expect == "ns" and kind == "pname":
            pending_prefix, expect = value[:-1], "iri"
        elif expect == "iri" and kind == "iri":
            out.prefixes[pending_prefix] = value[1:-1]
            expect = ""
        elif expect == "base" and kind == "iri":
            expect = ""
        elif kind == "word" and value.upper() == "PREFIX":
            expect = "ns"
        elif kind == "word" and value.upper() == "BASE":
            expect = "base"
        else:
            in_prologue = False
            word = value.upper() if kind == "word" else ""
            out.form = next((f for f in QUERY_FORMS if word.startswith(f)), None)
            out.update = any(word.startswith(k) for k in UPDATE_KEYWORDS)


# ---- the pool ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class QueryResult:
    media_type: str
    body: bytes
    truncated: bool  # cut at max_rows
    rows: int | None  # solutions or triples returned; None for ASK
    elapsed: float = 0.0  # seconds, from dispatch to answer


@dataclass(eq=False)
class _Worker:
    process: multiprocessing.process.BaseProcess
    conn: multiprocessing.connection.Connection
    state: str = "loading"  # loading -> idle <-> busy; dead
    started: float = field(default_factory=time.monotonic)
    deadline: float = 0.0
    info: dict = field(default_factory=dict)


class _Undelivered(Exception):
    """The worker died before it received the query: another one can take it."""


class QueryPool:
    """Worker processes that each hold the graph and answer one query at a time.

    Workers are started with "spawn", which imports the main module again in each of them: a
    program that creates a pool keeps its start-up under `if __name__ == "__main__":` (console
    scripts, uvicorn and pytest do). Workers read the graph files when they start, so a worker
    replaced after a rebuild of the site sees the new dumps; restart to reload all of them."""

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
        self._closed = False
        self._load_error: str | None = None
        self._load_seconds = 1.0  # estimate for Retry-After while loading
        self._started = False  # some worker has loaded the graph: start-up is over
        self.replaced = 0  # workers replaced after a timeout or crash
        # If the pool is dropped without close(), its workers still go.
        self._finalizer = weakref.finalize(self, _kill_all, self._workers, self._dying)
        for _ in range(self.limits.workers):
            self._workers.append(self._spawn())

    # ---- public API ----------------------------------------------------------------------------

    def run(
        self,
        query: str,
        result_format: str | None = None,
        default_graph_uris: Iterable[str] = (),
        named_graph_uris: Iterable[str] = (),
    ) -> QueryResult:
        """Answer a query in the requested format (media type or short name). Thread-safe.
        Raises QueryRefused, QueryTimeout or PoolBusy."""
        info = check_query(query, self.limits.max_query_bytes)
        fmt = choose_format(info.form, result_format)
        request = {
            "query": query,
            "format": fmt.name,
            "default_graphs": _graph_iris(default_graph_uris, "default-graph-uri"),
            "named_graphs": _graph_iris(named_graph_uris, "named-graph-uri"),
            "max_rows": self.limits.max_rows,
            "prefixes": dict(info.prefixes),
            "verify": not info.parsed,
            "timeout": self.limits.timeout,
        }
        started = time.monotonic()
        for _ in range(3):
            worker = self._acquire()
            try:
                answer = self._exchange(worker, request)
                break
            except _Undelivered:
                continue
        else:
            raise QueryRefused(503, "The query workers keep failing; try again later.")
        head, body = answer
        if head["kind"] == "refused":
            raise QueryRefused(head["status"], head["message"])
        elapsed = time.monotonic() - started
        return QueryResult(fmt.media_type, body, head["truncated"], head["rows"], elapsed)

    async def arun(
        self,
        query: str,
        result_format: str | None = None,
        default_graph_uris: Iterable[str] = (),
        named_graph_uris: Iterable[str] = (),
    ) -> QueryResult:
        """run() from a thread, so the event loop stays free while the worker computes."""
        return await asyncio.to_thread(
            self.run, query, result_format, tuple(default_graph_uris), tuple(named_graph_uris)
        )

    def wait_ready(self, timeout: float | None = None) -> bool:
        """Wait until every worker has loaded the graph: True, or False if timeout passed first.
        QueryRefused(503) if no worker could load it."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            with self._cond:
                self._refresh()
                if self._closed:
                    raise QueryRefused(503, "The SPARQL engine is shut down.")
                loading = [w for w in self._workers if w.state == "loading"]
                if not loading:
                    self._raise_if_unavailable()
                    return True
                handles = [w.conn for w in loading] + [w.process.sentinel for w in loading]
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                return False
            # Short slices: another thread may take the "ready" message first.
            with contextlib.suppress(OSError, ValueError):
                multiprocessing.connection.wait(handles, min(remaining or 0.1, 0.1))

    def status(self) -> dict:
        """What each worker is doing, for logs and health checks."""
        with self._cond:
            self._refresh()
            workers = [
                {"pid": w.process.pid, "state": w.state, **w.info, "rss_bytes": _rss(w.process.pid)}
                for w in self._workers
            ]
            return {"workers": workers, "replaced": self.replaced, "load_error": self._load_error}

    def close(self) -> None:
        """Stop the workers: idle ones are told to exit, the others are killed."""
        with self._cond:
            if self._closed:
                return
            self._closed = True
            workers = list(self._workers)
            self._cond.notify_all()
        for w in workers:
            if w.state == "idle":
                with contextlib.suppress(OSError, ValueError):
                    _send(w.conn, {"kind": "exit"})
        deadline = time.monotonic() + 1.0
        for w in workers:
            if w.state == "idle":
                w.process.join(max(0.0, deadline - time.monotonic()))
            _kill(w.process)
            if w.state != "busy":  # a busy worker's connection belongs to the thread running it
                w.conn.close()
        self._finalizer()  # and the killed ones still exiting

    def __enter__(self) -> QueryPool:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ---- workers -------------------------------------------------------------------------------

    def _spawn(self) -> _Worker:
        parent, child = self._ctx.Pipe(duplex=True)
        process = self._ctx.Process(
            target=_worker_main,
            args=(child, [str(p) for p in self.paths], self.limits.memory_mb),
            name="kgpub-sparql",
            daemon=True,
        )
        process.start()
        child.close()  # so the parent sees EOF when the worker dies
        return _Worker(process, parent)

    def _acquire(self) -> _Worker:
        # Queries that come during start-up wait for the first load (at most their time
        # limit); after it, a pool with no free worker refuses at once.
        wait = self.limits.max_queue_wait
        if not self._started:
            wait = max(wait, self.limits.timeout)
        wait_until = time.monotonic() + wait
        with self._cond:
            while True:
                if self._closed:
                    raise QueryRefused(503, "The SPARQL engine is shut down.")
                self._refresh()
                for w in self._workers:
                    if w.state == "idle":
                        w.state = "busy"
                        return w
                self._raise_if_unavailable()
                remaining = wait_until - time.monotonic()
                if remaining <= 0:
                    raise self._busy()
                # Loading workers do not notify: look again shortly.
                self._cond.wait(min(remaining, 0.05))

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
            raise QueryRefused(
                503, f"The SPARQL engine could not load the graph: {self._load_error}"
            )

    def _refresh(self) -> None:
        """Take in loading workers that are ready, replace idle ones that died, reap killed
        ones. Under the lock."""
        self._dying[:] = [p for p in self._dying if p.is_alive()]  # is_alive() reaps
        if self._closed:
            return
        for w in list(self._workers):
            if w.state == "loading" and w.conn.poll(0):
                try:
                    head, _ = _recv(w.conn)
                except (EOFError, OSError, ValueError):
                    head = {"kind": "failed",
                            "message": _exit_reason(w.process, "while loading the graph")}
                if head["kind"] == "ready":
                    w.state, w.info = "idle", head["info"]
                    self._started = True
                    self._load_seconds = head["info"]["load_seconds"]
                    self._cond.notify_all()
                else:  # loading fails the same way again: no replacement
                    self._load_error = head["message"]
                    self._bury(w)
            elif w.state == "idle" and not w.process.is_alive():
                self._bury(w)
                self._workers.append(self._spawn())
                self.replaced += 1

    def _bury(self, w: _Worker) -> None:
        w.state = "dead"
        _kill(w.process, wait=False)
        self._dying.append(w.process)
        w.conn.close()
        self._workers.remove(w)

    def _exchange(self, w: _Worker, request: dict) -> tuple[dict, bytes]:
        timeout = request["timeout"]
        w.deadline = time.monotonic() + timeout
        try:
            _send(w.conn, request)
        except (OSError, ValueError):
            self._discard(w)
            raise _Undelivered() from None
        ready = multiprocessing.connection.wait([w.conn, w.process.sentinel], timeout)
        if not ready:
            self._discard(w)
            raise QueryTimeout(timeout)
        try:
            answer = _recv(w.conn)
        except (EOFError, OSError, ValueError):
            reason = _exit_reason(w.process, "during the query")
            self._discard(w)
            if self._closed:
                raise QueryRefused(503, "The SPARQL engine shut down during the query.") from None
            if w.process.exitcode == -signal.SIGALRM:  # its own backstop timer: a timeout
                raise QueryTimeout(timeout) from None
            raise WorkerCrashed(
                f"The query worker stopped {reason}; it has been replaced. The query may need "
                "more memory than a worker may use."
            ) from None
        with self._cond:
            if w.state == "busy":
                w.state = "idle"
                self._cond.notify()
        return answer

    def _discard(self, w: _Worker) -> None:
        """Kill a worker (SIGKILL: it may be deep in a query) and start its replacement."""
        _kill(w.process, wait=False)
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


def _source_paths(source) -> list[Path]:
    items = [source] if isinstance(source, str | Path) else list(source)
    if not items:
        raise ValueError("no graph files to load")
    paths = [Path(p) for p in items]
    for path in paths:
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no such graph file")
        _rdf_format(path)
    return paths


def _rdf_format(path: Path) -> ox.RdfFormat:
    name = path.name[:-3] if path.name.endswith(".gz") else path.name
    fmt = ox.RdfFormat.from_extension(name.rsplit(".", 1)[-1]) if "." in name else None
    if fmt is None:
        raise ValueError(f"{path}: unknown RDF format (use .nt, .nq, .ttl, .trig, optionally .gz)")
    return fmt


def _graph_iris(iris: Iterable[str], param: str) -> list[str]:
    out = []
    for iri in iris:
        try:
            out.append(ox.NamedNode(iri).value)
        except (ValueError, TypeError) as exc:
            raise QueryRefused(400, f"{param}: {iri!r} is not an IRI ({exc})") from None
    return out


def _kill(process, wait: bool = True) -> None:
    if process.is_alive():
        with contextlib.suppress(OSError):
            process.kill()
    if wait:
        process.join(2.0)


def _kill_all(workers: list[_Worker], dying: list) -> None:
    for w in list(workers):
        _kill(w.process, wait=False)
    for process in [w.process for w in list(workers)] + list(dying):
        process.join(2.0)


def _exit_reason(process, when: str) -> str:
    process.join(1.0)
    code = process.exitcode
    if code is not None and code < 0:
        try:
            return f"{when} (signal {signal.Signals(-code).name})"
        except ValueError:
            return f"{when} (signal {-code})"
    return f"{when} (exit code {code})"


def _rss(pid: int | None) -> int | None:
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        return None
    return None


def _send(conn, head: dict, body: bytes = b"") -> None:
    """One message: a JSON header line, then raw bytes. Not pickle: a worker runs untrusted
    queries, and unpickling what it sends could run code in the parent."""
    conn.send_bytes(json.dumps(head).encode("utf-8") + b"\n" + body)


def _recv(conn) -> tuple[dict, bytes]:
    head, _, body = conn.recv_bytes().partition(b"\n")
    return json.loads(head), body


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
        try:
            answer = _answer(store, request)
        except Exception as exc:  # never let one query take the worker down
            answer = _refused(500, f"The query failed: {type(exc).__name__}: {exc}")
        signal.setitimer(signal.ITIMER_REAL, 0)
        _send(conn, *answer)


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


def _answer(store: ox.Store, request: dict) -> tuple[dict, bytes]:
    query = request["query"]
    if request["verify"]:  # too big or deep to parse in the caller: check it fully here
        try:
            _parse(query, recursion_room=True)
        except QueryRefused as exc:
            return _refused(exc.status, exc.message)
    dataset = {}
    if request["default_graphs"] or request["named_graphs"]:  # the protocol's dataset wins
        dataset["default_graph"] = [ox.NamedNode(g) for g in request["default_graphs"]]
        dataset["named_graphs"] = [ox.NamedNode(g) for g in request["named_graphs"]]
    fmt = _FORMATS_BY_NAME[request["format"]]
    try:
        result = store.query(query, **dataset)
        if isinstance(result, ox.QueryBoolean):
            return _ok(_boolean(result, fmt), False, None)
        if isinstance(result, ox.QuerySolutions):
            return _ok(*_solutions(result, fmt, request["max_rows"]))
        return _ok(*_triples(result, fmt, request["max_rows"], request["prefixes"]))
    except SyntaxError as exc:
        return _refused(400, f"Malformed query: {exc}")
    except FormatNotAvailable as exc:
        return _refused(exc.status, exc.message)
    except (OSError, ValueError, TypeError) as exc:
        return _refused(400, f"The query could not be evaluated: {exc}")


def _ok(body: bytes, truncated: bool, rows: int | None) -> tuple[dict, bytes]:
    return {"kind": "ok", "truncated": truncated, "rows": rows}, body


def _refused(status: int, message: str) -> tuple[dict, bytes]:
    return {"kind": "refused", "status": status, "message": message}, b""


def _boolean(result: ox.QueryBoolean, fmt: ResultFormat) -> bytes:
    if fmt.results is None:
        raise FormatNotAvailable(f"{fmt.media_type} cannot carry the result of an ASK query")
    return result.serialize(format=fmt.results)


class _RowsFull(Exception):
    pass


class _LineCap:
    """A binary sink that stops the serializer after `lines` lines: TSV has one solution a
    line, so this cuts a SELECT at max_rows without evaluating the rest."""

    def __init__(self, lines: int):
        self.lines = lines
        self.data = bytearray()
        self.seen = 0

    def write(self, chunk) -> int:
        self.data += chunk
        self.seen += chunk.count(b"\n") if isinstance(chunk, bytes) else bytes(chunk).count(b"\n")
        if self.seen > self.lines:
            raise _RowsFull()
        return len(chunk)

    def flush(self) -> None:
        pass

    def first_lines(self) -> bytes:
        end = -1
        for _ in range(self.lines):
            end = self.data.index(b"\n", end + 1)
        return bytes(self.data[: end + 1])


def _solutions(result: ox.QuerySolutions, fmt: ResultFormat, max_rows: int):
    """SELECT results, at most max_rows: serialized as TSV (lossless: terms in N-Triples
    syntax) through a line cap, then re-serialized by pyoxigraph in the requested format."""
    if fmt.results is None:
        raise FormatNotAvailable(f"{fmt.media_type} cannot carry the result of a SELECT query")
    sink = _LineCap(max_rows + 1)  # the header line, then a line per solution
    try:
        result.serialize(sink, ox.QueryResultsFormat.TSV)
        tsv, truncated = bytes(sink.data), False
    except _RowsFull:
        tsv, truncated = sink.first_lines(), True
    rows = tsv.count(b"\n") - 1
    if fmt.results == ox.QueryResultsFormat.TSV:
        return tsv, truncated, rows
    parsed = ox.parse_query_results(tsv, ox.QueryResultsFormat.TSV)
    return parsed.serialize(format=fmt.results), truncated, rows


def _triples(result: ox.QueryTriples, fmt: ResultFormat, max_rows: int, prefixes: dict):
    if fmt.rdf is None:
        raise FormatNotAvailable(f"{fmt.media_type} cannot carry the result of a graph query")
    triples = list(islice(result, max_rows + 1))
    truncated = len(triples) > max_rows
    triples = triples[:max_rows]
    if fmt.rdf in (ox.RdfFormat.TURTLE, ox.RdfFormat.RDF_XML) and prefixes:
        body = ox.serialize(triples, format=fmt.rdf, prefixes=used_prefixes(triples, prefixes))
    else:
        body = ox.serialize(triples, format=fmt.rdf)
    return body, truncated, len(triples)


# ---- for the terminal -------------------------------------------------------------------------


def table(result: QueryResult, max_width: int = 60) -> str:
    """SPARQL JSON results as plain-text columns (ASK: true or false)."""
    data = json.loads(result.body)
    if "boolean" in data:
        return "true" if data["boolean"] else "false"
    head = data.get("head", {}).get("vars", [])
    rows = [[_cell(b.get(v)) for v in head] for b in data.get("results", {}).get("bindings", [])]
    widths = [
        min(max_width, max([len(h)] + [len(r[i]) for r in rows])) for i, h in enumerate(head)
    ]

    def line(cells: list[str]) -> str:
        return "  ".join(_clip(c, w).ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip()

    out = [line(head), line(["-" * w for w in widths])] + [line(r) for r in rows]
    note = f"{len(rows)} row(s)"
    if result.truncated:
        note += " (cut at the row limit)"
    return "\n".join(out + [note])


def _cell(term: dict | None) -> str:
    if term is None:
        return ""
    value = term["value"].replace("\n", "\\n").replace("\t", "\\t")
    if term["type"] == "bnode":
        return "_:" + value
    if term["type"] == "literal" and "xml:lang" in term:
        return f"{value}@{term['xml:lang']}"
    return value


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"
