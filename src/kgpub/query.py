"""The SPARQL engine behind /sparql and `kgpub query`: read-only, no federation, a time limit that
really stops a query, a cap on the size of a result (rows and bytes), and a fair queue.

Queries run in worker processes ("spawn": never a fork of a process that runs threads), each
holding the whole graph in an in-memory pyoxigraph Store loaded once. The calling process (the
HTTP server) only checks a query's size and encoding; everything that costs time in proportion to
what a client sent happens in a worker, under the query's time limit:
  - check_query: a lexer that follows SPARQL's terminals (strings, comments, IRIs, prefixed
    names...) refuses the SERVICE keyword wherever it can be code, too deep nesting and updates;
    rdflib's parser builds the syntax tree, which is walked for SERVICE (nested, SILENT, in
    subqueries and EXISTS), and gives the parser's message for a malformed query;
  - the choice of the result format, which depends on the query form (the caller sends what it
    negotiated for each form);
  - evaluation, serialization (cut at max_rows and at max_result_bytes, at the last complete
    row or triple) and the HTML page's view of a result (a bounded excerpt).
Results travel back in chunks and are spooled (a little in memory, the rest in a temporary file),
so the caller's memory does not grow with a result, and a worker is free again as soon as its
answer is spooled, whatever the speed of the client that reads it.

Neither pyoxigraph nor rdflib can cancel a running query, so a query past its deadline is stopped
by killing its worker, which is replaced in the background. Workers also move into an empty
network namespace where the OS allows it, so even a SERVICE that got past both checks could
reach nothing.

When every worker is busy, queries wait in a queue: bounded in length (max_queue) and in time
(max_queue_wait), served round-robin between clients (the caller names the client, e.g. its
address), so one client's many slow queries cannot starve the others. Waiting costs no thread.

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
import tempfile
import threading
import time
import weakref
from collections import OrderedDict, deque
from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path

import pyoxigraph as ox

from .errors import ConfigError, KgpubError
from .formats import RDF_FORMATS, used_prefixes, xml_safe_bytes

MAX_QUERY_BYTES = 1024 * 1024
MiB = 1024 * 1024
# Bracket nesting beyond this is refused: oxigraph's parser overflows its stack (and kills the
# process) some thousands deep, and no hand-written query comes near.
MAX_NESTING = 100
# check_query called outside a worker (tests, tools) parses with rdflib only up to this size;
# workers parse everything, under the time limit, with room to recurse.
PARSE_IN_PROCESS_BYTES = 8 * 1024
# Worker thread stack: deep but legal queries recurse far in both parsers.
WORKER_STACK_BYTES = 256 * 1024 * 1024
# A result travels from a worker in messages of this size, and the caller keeps this much of it
# in memory before spooling the rest to a temporary file.
CHUNK_BYTES = 1 * MiB
SPOOL_MEMORY_BYTES = 1 * MiB
# The HTML page shows an excerpt of a result: at most this many rows (or triples), each cell cut
# at HTML_CELL_CHARS characters, HTML_TEXT_CHARS characters of text in all.
HTML_ROWS = 500
HTML_CELL_CHARS = 2000
HTML_TEXT_CHARS = 512 * 1024

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
    no such result format, 413 too large, 503 the engine is unavailable or the worker died).
    retry_after (seconds) is set where trying again later can succeed."""

    def __init__(self, status: int, message: str, retry_after: int | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.retry_after = retry_after


class FormatNotAvailable(QueryRefused):
    """The requested result format cannot carry this kind of result (CSV for CONSTRUCT)."""

    def __init__(self, message: str):
        super().__init__(406, message)


class WorkerCrashed(QueryRefused):
    """The worker died during the query (killed, out of memory, a crash in the engine); it is
    replaced (HTTP 503 with Retry-After)."""

    def __init__(self, message: str, retry_after: int = 1):
        super().__init__(503, message, retry_after)


class QueryTimeout(QueryError):
    """The query ran past the time limit; its worker was killed (HTTP 503 with Retry-After)."""

    def __init__(self, timeout: float, retry_after: int = 1):
        super().__init__(
            f"The query ran longer than the limit of {timeout:g} s and was stopped. Narrow it "
            "(more specific patterns, a LIMIT) or load the data dumps into your own store."
        )
        self.timeout = timeout
        self.retry_after = retry_after


class PoolBusy(QueryError):
    """The queue is full, or the query waited for a worker as long as it may (HTTP 503 with
    Retry-After)."""

    def __init__(self, retry_after: int, message: str | None = None):
        super().__init__(
            message or f"All query workers are busy; retry in {retry_after} s."
        )
        self.retry_after = retry_after


# ---- limits -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class QueryLimits:
    timeout: float = 10.0  # seconds a query may run: checking, evaluation, serialization, transfer
    max_rows: int = 10_000  # solutions of a SELECT, triples of a CONSTRUCT/DESCRIBE
    max_result_bytes: int = 32 * MiB  # a serialized result, cut at the last row that fits
    max_query_bytes: int = MAX_QUERY_BYTES
    workers: int = 2
    max_queue: int = 64  # queries waiting for a worker; 0: no queue
    max_queue_wait: float = 10.0  # seconds a query may wait for a worker; 0: refuse at once
    memory_mb: int = 4096  # address space of a worker; 0: unlimited

    _KEYS = {
        "timeout": (float, 0.001, 3600.0),
        "max_rows": (int, 1, 10_000_000),
        "max_result_bytes": (int, 4096, 1 << 40),
        "max_query_bytes": (int, 64, 64 * MAX_QUERY_BYTES),
        "workers": (int, 1, 64),
        "max_queue": (int, 0, 100_000),
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
    if key == "xml" and form in GRAPH_FORMS:  # "xml" names the XML of each kind: RDF/XML here
        key = "rdf"
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
    # True: rdflib parsed the whole query. False (only outside a worker): it was too big for
    # that there; a worker parses it in full before running it.
    parsed: bool = True

    @property
    def returns_graph(self) -> bool:
        return self.form in GRAPH_FORMS


def check_text(text: str, max_bytes: int = MAX_QUERY_BYTES) -> bytes:
    """The checks that cost next to nothing (the HTTP server's part): text, valid Unicode, not
    empty, not over max_bytes (413). Returns the UTF-8 bytes."""
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
    return data


def check_query(text: str, max_bytes: int = MAX_QUERY_BYTES, *, full: bool = False) -> ParsedInfo:
    """Refuse (QueryRefused) what must not run: updates, SERVICE, malformed or oversized
    queries. Returns the query form. Never evaluates anything. full: parse with rdflib whatever
    the size (in a worker: a thread with a deep stack, under the time limit); otherwise only
    queries up to PARSE_IN_PROCESS_BYTES are parsed and bigger ones only scanned. Verdicts,
    refusals included, are cached (bounded)."""
    data = check_text(text, max_bytes)
    key = hashlib.sha256(data).digest() + (b"F" if full else b"S")
    verdict = _CACHE.get(key)
    if verdict is None:
        try:
            verdict = _check(text, parse=full or len(data) <= PARSE_IN_PROCESS_BYTES,
                             recursion_room=full)
        except QueryRefused as exc:
            verdict = (exc.status, exc.message)
        _CACHE.put(key, verdict)
    if isinstance(verdict, tuple):
        raise QueryRefused(*verdict)
    return verdict


def _check(text: str, parse: bool, recursion_room: bool) -> ParsedInfo:
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
    form = _parse(text, recursion_room) if parse else None
    if form is None:  # not parsed here (too big outside a worker, or out of recursion)
        if scan.form is None:
            raise QueryRefused(400, "Malformed query: expected SELECT, ASK, CONSTRUCT or DESCRIBE.")
        return ParsedInfo(scan.form, prefixes, parsed=False)
    return ParsedInfo(form, prefixes)


class _InfoCache:
    """A small LRU of verdicts by query hash (a ParsedInfo, or the (status, message) of a
    refusal): a query sent again is not parsed again, and neither is a refused one."""

    def __init__(self, size: int = 512):
        self.size = size
        self._items: OrderedDict[bytes, ParsedInfo | tuple[int, str]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: bytes) -> ParsedInfo | tuple[int, str] | None:
        with self._lock:
            info = self._items.get(key)
            if info is not None:
                self._items.move_to_end(key)
            return info

    def put(self, key: bytes, info: ParsedInfo | tuple[int, str]) -> None:
        with self._lock:
            self._items[key] = info
            while len(self._items) > self.size:
                self._items.popitem(last=False)

    def __len__(self) -> int:
        return len(self._items)


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
    from rdflib.plugins.sparql.parser import parseQuery

    with _RDFLIB_LOCK:
        try:
            tree = parseQuery(text)
        except RecursionError:
            if recursion_room:
                raise QueryRefused(400, "The query is too complex to check.") from None
            return None
        except ParseBaseException as exc:
            if _is_update(text):
                raise QueryRefused(400, READ_ONLY) from None
            raise QueryRefused(400, f"Malformed query: {exc}") from None
        except Exception as exc:  # rdflib reports some errors (bad IRIs, escapes) as others
            raise QueryRefused(400, f"Malformed query: {exc}") from None
    if "ServiceGraphPattern" in _node_names(tree):
        raise QueryRefused(400, NO_SERVICE)
    return _TREE_FORMS[tree[1].name]


def _is_update(text: str) -> bool:
    """An update with at least one operation: a prologue alone (PREFIX a: <x>) parses as an
    empty update, but it is a malformed query, not an attempt to write."""
    from rdflib.plugins.sparql.parser import parseUpdate

    try:
        tree = parseUpdate(text)
    except Exception:
        return False
    return "request" in tree.keys()


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


class QueryResult:
    """A query's answer. The body is spooled (SpooledTemporaryFile: SPOOL_MEMORY_BYTES in
    memory, the rest on disk): read it with chunks() to stream it, or .body to have it all in
    memory (QueryPool.run does that). close() frees the spool.

    format is the short name of the result format ("json", "ttl"...) or "html", for which
    the body is the worker's excerpt of the result for the page, also as .view."""

    def __init__(self, media_type: str, body: bytes | None = None, truncated: bool = False,
                 rows: int | None = None, elapsed: float = 0.0, *, spool=None, size: int = 0,
                 form: str | None = None, format: str | None = None,  # noqa: A002
                 truncated_reason: str | None = None, view: dict | None = None):
        self.media_type = media_type
        self.truncated = truncated  # cut at max_rows or max_result_bytes
        self.truncated_reason = truncated_reason  # "rows" or "bytes"
        self.rows = rows  # solutions or triples returned; None for ASK
        self.elapsed = elapsed  # seconds, from dispatch to the answer spooled
        self.form = form
        self.format = format
        self.view = view
        self._body = body
        self._spool = spool
        self.size = len(body) if body is not None else size

    @property
    def body(self) -> bytes:
        if self._body is None:
            if self._spool is None:
                self._body = b""
            else:
                self._spool.seek(0)
                self._body = self._spool.read()
                self._spool.close()
                self._spool = None
        return self._body

    def chunks(self, size: int = 256 * 1024) -> Iterator[bytes]:
        """The body in pieces (from the spool: memory stays flat); closes the spool at the end."""
        if self._body is not None or self._spool is None:
            body = self.body
            for i in range(0, len(body), size):
                yield body[i:i + size]
            return
        spool, self._spool = self._spool, None
        try:
            spool.seek(0)
            while chunk := spool.read(size):
                yield chunk
        finally:
            spool.close()

    def close(self) -> None:
        if self._spool is not None:
            self._spool.close()
            self._spool = None

    def __repr__(self) -> str:
        return (f"QueryResult({self.media_type!r}, {self.size} bytes, rows={self.rows}, "
                f"truncated={self.truncated_reason or False})")


@dataclass(eq=False)
class _Worker:
    process: multiprocessing.process.BaseProcess
    conn: multiprocessing.connection.Connection
    state: str = "loading"  # loading -> idle <-> busy; dead
    started: float = field(default_factory=time.monotonic)
    deadline: float = 0.0
    info: dict = field(default_factory=dict)


@dataclass(eq=False)
class _Ticket:
    """A query waiting for a worker. Woken (under the pool's lock) with a worker or an error:
    a thread through its Event, a coroutine through its Future."""

    client: str
    event: threading.Event | None = None
    loop: asyncio.AbstractEventLoop | None = None
    future: asyncio.Future | None = None
    worker: _Worker | None = None
    error: Exception | None = None

    def wake(self) -> bool:
        if self.event is not None:
            self.event.set()
            return True
        try:
            self.loop.call_soon_threadsafe(_resolve, self.future)
        except RuntimeError:  # its event loop is closed: nobody waits any more
            return False
        return True


def _resolve(future: asyncio.Future) -> None:
    if not future.done():
        future.set_result(None)


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
    queries; the exchange with a worker runs in a thread of the pool's own executor (as many as
    workers), so queries waiting in the queue hold no thread at all."""

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
        self._queues: OrderedDict[str, deque[_Ticket]] = OrderedDict()  # by client, round-robin
        self._queued = 0
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
        raise QueryRefused(503, "The query workers keep failing; try again later.", 5)

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
        loop = asyncio.get_running_loop()
        for _ in range(3):
            worker = await self._acquire_async(client, loop)
            try:
                future = loop.run_in_executor(self._executor, self._serve, worker, request)
            except RuntimeError:  # the executor is shut down: close() came meanwhile
                raise QueryRefused(503, "The SPARQL engine is shut down.") from None
            try:
                return await future
            except _Undelivered:
                continue
        raise QueryRefused(503, "The query workers keep failing; try again later.", 5)

    def wait_ready(self, timeout: float | None = None) -> bool:
        """Wait until every worker has loaded the graph: True, or False if timeout passed first.
        QueryRefused(503) if no worker could load it."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while True:
                self._refresh()
                if self._closed:
                    raise QueryRefused(503, "The SPARQL engine is shut down.")
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
                {"pid": w.process.pid, "state": w.state, **w.info, "rss_bytes": _rss(w.process.pid)}
                for w in self._workers
            ]
            return {"workers": workers, "replaced": self.replaced, "load_error": self._load_error,
                    "queued": self._queued, "queued_clients": len(self._queues),
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
            self._fail_queued(QueryRefused(503, "The SPARQL engine is shut down."))
            self._cond.notify_all()
        self._wake()
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
        limits = self.limits
        check_text(query, limits.max_query_bytes)
        return {
            "kind": "query",
            "query": query,
            "format": _format_plan(result_format),
            "default_graphs": _graph_iris(default_graph_uris, "default-graph-uri"),
            "named_graphs": _graph_iris(named_graph_uris, "named-graph-uri"),
            "base_iri": _graph_iris([base_iri], "base IRI")[0] if base_iri else None,
            "max_rows": limits.max_rows,
            "max_bytes": limits.max_result_bytes,
            "max_query_bytes": limits.max_query_bytes,
            "timeout": limits.timeout,
            "check": True,
        }

    def _serve(self, worker: _Worker, request: dict) -> QueryResult:
        """Exchange with an acquired worker (releasing it) and make the QueryResult."""
        started = time.monotonic()
        head, spool, size = self._exchange(worker, request)
        if head["kind"] == "refused":
            if spool is not None:
                spool.close()
            if head["status"] == 406:
                raise FormatNotAvailable(head["message"])
            raise QueryRefused(head["status"], head["message"])
        name = head["format"]
        view = None
        if name == "html":
            media_type = "text/html"
            if spool is not None:
                spool.seek(0)
                view = json.loads(spool.read())
                spool.close()
            spool, size = None, 0
        else:
            media_type = _FORMATS_BY_NAME[name].media_type
        if spool is not None:
            spool.seek(0)
        return QueryResult(media_type, None, head["truncated"], head["rows"],
                           time.monotonic() - started, spool=spool, size=size, form=head["form"],
                           format=name, truncated_reason=head.get("reason"), view=view)

    def _exchange(self, w: _Worker, request: dict) -> tuple[dict, object, int]:
        """Send the query, spool the chunks of the answer until its last message, all before
        the deadline (else the worker is killed). Returns (last message, spool or None, size)."""
        timeout = request["timeout"]
        started = time.monotonic()
        deadline = started + timeout
        w.deadline = deadline
        try:
            _send(w.conn, request)
        except (OSError, ValueError):
            self._discard(w)
            raise _Undelivered() from None
        spool, size = None, 0
        most = request.get("max_bytes", self.limits.max_result_bytes) + 8 * MiB
        try:
            while True:
                remaining = deadline - time.monotonic()
                ready = remaining > 0 and multiprocessing.connection.wait(
                    [w.conn, w.process.sentinel], remaining)
                if not ready:
                    self._discard(w)
                    raise QueryTimeout(timeout, self._retry_after_replacement())
                try:
                    head, body = _recv(w.conn)
                except (EOFError, OSError, ValueError):
                    raise self._crashed(w, timeout) from None
                if head.get("kind") != "chunk":
                    break
                size += len(body)
                if size > most:  # a worker never sends this much: treat it as broken
                    self._discard(w)
                    raise QueryRefused(500, "The query worker sent more than the result limit.")
                if spool is None:
                    spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_MEMORY_BYTES,
                                                          prefix="kgpub-sparql-")
                spool.write(body)
        except BaseException:
            if spool is not None:
                spool.close()
            raise
        with self._cond:
            self._service_seconds += 0.2 * (time.monotonic() - started - self._service_seconds)
            if w.state == "busy":
                w.state = "idle"
                self._dispatch()
                self._cond.notify_all()
        return head, spool, size

    def _crashed(self, w: _Worker, timeout: float) -> QueryError:
        reason = _exit_reason(w.process, "during the query")
        self._discard(w)
        if self._closed:
            return QueryRefused(503, "The SPARQL engine shut down during the query.", 5)
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
        try:
            await asyncio.wait_for(got.future, wait)
        except TimeoutError:
            pass
        except asyncio.CancelledError:
            with self._cond:
                self._unqueue(got)
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
            raise QueryRefused(503, "The SPARQL engine is shut down.")
        self._refresh()
        self._raise_if_unavailable()
        if not self._queued:
            for w in self._workers:
                if w.state == "idle":
                    w.state = "busy"
                    return w
        capacity = self.limits.max_queue if self._started else max(self.limits.max_queue, 16)
        if self._wait_limit() <= 0 or capacity <= 0:
            self.refused_busy += 1
            raise self._busy()
        key = client or ""
        if self._queued >= capacity:
            self._make_room(key, capacity)
        ticket = make_ticket(key)
        self._queues.setdefault(key, deque()).append(ticket)
        self._queued += 1
        self._dispatch()
        return ticket

    def _make_room(self, key: str, capacity: int) -> None:
        """The queue is full. If another client holds clearly more of it than this one, its
        newest query gives up its place (503); otherwise this query is refused."""
        mine = len(self._queues.get(key, ()))
        victim = max(self._queues, key=lambda c: len(self._queues[c]))
        retry = self._retry_after_queue()
        if len(self._queues[victim]) > mine + 1:
            dropped = self._queues[victim].pop()
            self._queued -= 1
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
        self._unqueue(ticket)
        self.refused_busy += 1
        if not self._started:
            raise self._busy()
        retry = self._retry_after_queue()
        raise PoolBusy(retry, f"All query workers stayed busy for {waited:g} s "
                              f"({self._queued} queries waiting); retry in {retry} s.")

    def _unqueue(self, ticket: _Ticket) -> None:
        queue = self._queues.get(ticket.client)
        if queue is not None and ticket in queue:
            queue.remove(ticket)
            self._queued -= 1
            if not queue:
                del self._queues[ticket.client]

    def _dispatch(self) -> None:
        """Under the lock: hand idle workers to waiting queries, one client after another."""
        while self._queued:
            worker = next((w for w in self._workers if w.state == "idle"), None)
            if worker is None:
                return
            client, queue = next(iter(self._queues.items()))
            ticket = queue.popleft()
            self._queued -= 1
            if queue:
                self._queues.move_to_end(client)  # round-robin: the next client's turn
            else:
                del self._queues[client]
            worker.state = "busy"
            ticket.worker = worker
            if not ticket.wake():
                worker.state = "idle"
                ticket.worker = None

    def _fail_queued(self, error: Exception) -> None:
        for queue in self._queues.values():
            for ticket in queue:
                ticket.error = error
                ticket.wake()
        self._queues.clear()
        self._queued = 0

    def _retry_after_queue(self) -> int:
        per_worker = (self._queued + 1) / max(1, len(self._workers))
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
            raise QueryRefused(
                503, f"The SPARQL engine could not load the graph: {self._load_error}"
            )

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
        self._wake()
        return _Worker(process, parent)

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
                    head, _ = _recv(w.conn)
                except (EOFError, OSError, ValueError):
                    head = {"kind": "failed",
                            "message": _exit_reason(w.process, "while loading the graph")}
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
                self._fail_queued(QueryRefused(
                    503, f"The SPARQL engine could not load the graph: {self._load_error}"))
            self._dispatch()
            self._cond.notify_all()

    def _bury(self, w: _Worker) -> None:
        w.state = "dead"
        _kill(w.process, wait=False)
        self._dying.append(w.process)
        w.conn.close()
        self._workers.remove(w)

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


def _format_plan(result_format) -> dict:
    """The format to use for each query form, decided by the worker once it knows the form:
    {"requested": name or media type or None}, "html", or {"error": message} (406)."""
    if result_format is None or isinstance(result_format, str):
        return {form: {"requested": result_format} for form in QUERY_FORMS}
    plan = {}
    for form in QUERY_FORMS:
        choice = result_format.get(form, result_format.get(
            "graph" if form in GRAPH_FORMS else "solutions"))
        if choice == "html":
            plan[form] = "html"
        elif isinstance(choice, Mapping) and "error" in choice:
            plan[form] = {"error": str(choice["error"])}
        else:
            plan[form] = {"requested": choice}
    return plan


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


def _shutdown(workers: list[_Worker], dying: list, executor: ThreadPoolExecutor,
              fds: tuple[int, ...]) -> None:
    for w in list(workers):
        _kill(w.process, wait=False)
    for process in [w.process for w in list(workers)] + list(dying):
        process.join(2.0)
    executor.shutdown(wait=False)
    for fd in fds:
        with contextlib.suppress(OSError):
            os.close(fd)


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
