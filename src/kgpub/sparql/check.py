"""Checking a query (check_query), without evaluating it: a lexer that follows SPARQL's
terminals (strings, comments, IRIs, prefixed names...) refuses the SERVICE keyword wherever it
can be code, too deep nesting and updates; rdflib's parser builds the syntax tree, which is
walked for SERVICE (nested, SILENT, in subqueries and EXISTS), and gives the parser's message
for a malformed query. Verdicts are cached (bounded).

Only check_text (size and encoding) runs in the calling process (the HTTP server); the rest runs
in a worker, under the query's time limit (kgpub.sparql.worker)."""

from __future__ import annotations

import hashlib
import re
import threading
from collections import OrderedDict
from dataclasses import dataclass, field

from .errors import QueryInvalid, QueryRefused, QueryTooLarge
from .formats import GRAPH_FORMS, QUERY_FORMS
from .limits import MAX_QUERY_BYTES

# Bracket nesting beyond this is refused: oxigraph's parser overflows its stack (and kills the
# process) some thousands deep, and no hand-written query comes near.
MAX_NESTING = 100
# check_query called outside a worker (tests, tools) parses with rdflib only up to this size;
# workers parse everything, under the time limit, with room to recurse.
PARSE_IN_PROCESS_BYTES = 8 * 1024

UPDATE_KEYWORDS = (
    "INSERT", "DELETE", "LOAD", "CLEAR", "CREATE", "DROP", "COPY", "MOVE", "ADD", "WITH",
)
READ_ONLY = "This endpoint is read-only: SPARQL Update (INSERT, DELETE, LOAD, ...) is not accepted."
NO_SERVICE = (
    "Federated queries (SERVICE) are not allowed: this endpoint only queries its own graph."
)


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
        raise QueryInvalid("The query must be text.")
    try:
        data = text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise QueryInvalid("The query is not valid Unicode text.") from exc
    if len(data) > max_bytes:
        raise QueryTooLarge(f"The query is {len(data)} bytes; the limit is {max_bytes}.")
    if not text.strip():
        raise QueryInvalid("The query is empty.")
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
            verdict = (type(exc), exc.message)
        _CACHE.put(key, verdict)
    if isinstance(verdict, tuple):
        kind, message = verdict
        raise kind(message)
    return verdict


def _check(text: str, parse: bool, recursion_room: bool) -> ParsedInfo:
    scan = _scan(text)
    if scan.too_deep:
        raise QueryInvalid(f"The query nests brackets more than {MAX_NESTING} deep.")
    if scan.ambiguous:
        raise QueryInvalid("The query has too many '<' that could be comparisons or IRIs; put "
                           "spaces around comparison operators.")
    if scan.update:
        raise QueryInvalid(READ_ONLY)
    if scan.service:
        raise QueryInvalid(NO_SERVICE)
    prefixes = tuple(scan.prefixes.items())
    form = _parse(text, recursion_room) if parse else None
    if form is None:  # not parsed here (too big outside a worker, or out of recursion)
        if scan.form is None:
            raise QueryInvalid("Malformed query: expected SELECT, ASK, CONSTRUCT or DESCRIBE.")
        return ParsedInfo(scan.form, prefixes, parsed=False)
    return ParsedInfo(form, prefixes)


_Verdict = ParsedInfo | tuple[type[QueryRefused], str]


class _InfoCache:
    """A small LRU of verdicts by query hash (a ParsedInfo, or the (kind, message) of a
    refusal): a query sent again is not parsed again, and neither is a refused one."""

    def __init__(self, size: int = 512):
        self.size = size
        self._items: OrderedDict[bytes, _Verdict] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: bytes) -> _Verdict | None:
        with self._lock:
            info = self._items.get(key)
            if info is not None:
                self._items.move_to_end(key)
            return info

    def put(self, key: bytes, info: _Verdict) -> None:
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
                raise QueryInvalid("The query is too complex to check.") from None
            return None
        except ParseBaseException as exc:
            if _is_update(text):
                raise QueryInvalid(READ_ONLY) from None
            raise QueryInvalid(f"Malformed query: {exc}") from None
        except Exception as exc:  # rdflib reports some errors (bad IRIs, escapes) as others
            raise QueryInvalid(f"Malformed query: {exc}") from None
    if "ServiceGraphPattern" in _node_names(tree):
        raise QueryInvalid(NO_SERVICE)
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
