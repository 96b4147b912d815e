"""Load: parse every source file with pyoxigraph and remember where each subject is defined.

Relative IRIs in the sources resolve against the project's base IRI, so one set of files
publishes under any base. Blank nodes are relabelled in parse order, which keeps every output
deterministic.

Where things are written, for problems to point at: the line where each subject's description
starts is found while loading (one scan of the text); the line of each statement only when a
problem needs it (Sources.statement_lines parses that file again, handing the parser one line at
a time, so it costs nothing while the data is valid). Text values longer than
[site] max_literal_bytes are cut out before the parser sees them (it cannot read a term over
16 MiB) and reported by validation (Sources.oversized).
"""

from __future__ import annotations

import hashlib
import io
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import pyoxigraph as ox

from .config import CONFIG_FILE, Project
from .errors import LoadError
from .layout import remove_dot_segments

# File suffix -> parser format. Editors write Turtle; N-Triples is accepted for bulk data.
SOURCE_FORMATS = {".ttl": ox.RdfFormat.TURTLE, ".nt": ox.RdfFormat.N_TRIPLES}

# Characters validation reports (kgpub.validate): those XML 1.0 forbids (C0 controls but TAB, LF
# and CR; U+FFFE, U+FFFF; lone surrogates cannot come out of UTF-8 or the parser), and invisible
# bidirectional controls and zero-width characters.
XML_FORBIDDEN_CLASS = "\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff"
BIDI_CLASS = "\u200e\u200f\u202a-\u202e\u2066-\u2069"
ZERO_WIDTH_CLASS = "\u200b-\u200d\u2060\ufeff"
FLAGGED = re.compile(f"[{XML_FORBIDDEN_CLASS}{BIDI_CLASS}{ZERO_WIDTH_CLASS}]")
# A source can hold such a character raw, or as an escape (\u0000, \U0000FFFE, \b, \f). One
# scan for a backslash or a flagged character tells whether a file needs a closer look.
_SUSPECT = re.compile(f"[\\\\{XML_FORBIDDEN_CLASS}{BIDI_CLASS}{ZERO_WIDTH_CLASS}]")
_MARK = re.compile(r"\\(?:u([0-9A-Fa-f]{4})|U([0-9A-Fa-f]{8})|(.))|"
                   f"([{XML_FORBIDDEN_CLASS}{BIDI_CLASS}{ZERO_WIDTH_CLASS}])", re.DOTALL)
_ECHAR = {"b": "\b", "f": "\f"}  # the Turtle string escapes that give a flagged character

# The longest text value, in bytes as written ([site] max_literal_bytes): a summary is a few
# hundred; one over this limit would be copied into some 60 files of the site. The parser
# itself cannot read a term over 16 MiB (its buffer), whatever the limit.
DEFAULT_MAX_LITERAL_BYTES = 1024 * 1024
PARSER_TERM_BYTES = 16 * 1024 * 1024
# The terms of a Turtle or N-Triples text, for finding the long ones in a large file before
# parsing it: IRIs, comments, strings (long ones first) and runs of anything else.
_TERMS = re.compile(
    r'<[^>\s"]*>|#[^\n]*'
    r'|"""[^"\\]*(?:(?:\\.|"(?!""))[^"\\]*)*"""'
    r"|'''[^'\\]*(?:(?:\\.|'(?!''))[^'\\]*)*'''"
    r'|"[^"\\\n\r]*(?:\\.[^"\\\n\r]*)*"'
    r"|'[^'\\\n\r]*(?:\\.[^'\\\n\r]*)*'"
    r"|[^<#\"']+",
    re.DOTALL,
)
_OVERSIZED = "kgpub-oversized-literal-"  # the text that stands for a value cut out


@dataclass(frozen=True)
class Location:
    file: str  # relative to the project root
    line: int | None

    def __str__(self) -> str:
        return f"{self.file}:{self.line}" if self.line else self.file


@dataclass
class FlaggedText:
    """A source file in which validation must look for flagged characters (FLAGGED): its
    triples, and where the characters are written, so a problem can name the line."""

    triples: list[ox.Triple]
    marks: list[tuple[int, str]]  # (line, character) in text order, escapes decoded
    subject_lines: dict[str, int]  # the line where the file's statements about a subject start


@dataclass(frozen=True)
class Oversized:
    """A text value over [site] max_literal_bytes, cut out before parsing (a short placeholder
    stands in the graph, so the rest of the file is still read and validated)."""

    file: str
    line: int  # where the value starts
    size: int  # bytes as written
    subject: str
    predicate: str
    language: str | None = None


@dataclass
class Sources:
    """Everything parsed from a project: triples by role, prefixes, and subject locations."""

    ontology: list[ox.Triple] = field(default_factory=list)
    data: list[ox.Triple] = field(default_factory=list)
    shapes: list[ox.Triple] = field(default_factory=list)
    prefixes: dict[str, str] = field(default_factory=dict)
    locations: dict[str, Location] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)
    digests: dict[str, str] = field(default_factory=dict)  # file -> digest of its bytes
    by_file: dict[str, list[ox.Triple]] = field(default_factory=dict)  # data files' triples
    # ontology and data files that hold a flagged character or an escape (most hold none)
    flagged: dict[str, FlaggedText] = field(default_factory=dict)
    base: str = ""
    languages: tuple[str, ...] = ()  # the site's: other languages' pages live under 'fr/'...
    label_properties: tuple[str, ...] = ()  # the site's ([site] label_properties)
    # ontology and data files: their triples in parse order, and where they are on disk
    file_triples: dict[str, list[ox.Triple]] = field(default_factory=dict)
    paths: dict[str, Path] = field(default_factory=dict)
    # IRIs whose description may be in more than one place - a subject in several files, or
    # starting more than one statement in a file -, with where each file's first one starts
    repeats: dict[str, list[Location]] = field(default_factory=dict)
    oversized: list[Oversized] = field(default_factory=list)
    blank: set[str] = field(default_factory=set)  # ontology and data files with blank nodes
    literal_limit: int = DEFAULT_MAX_LITERAL_BYTES
    _lines: dict[str, list[int] | None] = field(default_factory=dict, repr=False,
                                                 compare=False)

    @property
    def graph(self) -> list[ox.Triple]:
        """The published graph: ontology + data."""
        return self.ontology + self.data

    def locate(self, node: str) -> Location | None:
        return self.locations.get(node)

    def statement_lines(self, file: str) -> list[int] | None:
        """The line of each statement of an ontology or data file, in the order of
        file_triples[file]: where the parser finished reading it (the line of its value).
        Parsed again on first use; None when the file changed on disk since it was loaded."""
        if file not in self._lines:
            self._lines[file] = self._statement_lines(file)
        return self._lines[file]

    def _statement_lines(self, file: str) -> list[int] | None:
        path, triples = self.paths.get(file), self.file_triples.get(file)
        if path is None or triples is None:
            return None
        try:
            raw = path.read_bytes()
        except OSError:
            return None
        if _digest(raw) != self.digests.get(file):
            return None
        if len(raw) > self.literal_limit:
            text, cut = _cut_oversized(raw.decode("utf-8", "replace"), self.literal_limit)
            raw = text.encode("utf-8") if cut else raw
        reader = _LineReader(raw)
        lines: list[int] = []
        try:
            for _ in ox.parse(reader, format=SOURCE_FORMATS[path.suffix], base_iri=self.base):
                lines.append(reader.line)
        except (SyntaxError, MemoryError, ValueError, OSError):
            return None
        return lines if len(lines) == len(triples) else None


class _LineReader(io.RawIOBase):
    """Hands the parser at most one line per read: when it gives out a statement, the line
    it read last is the one it finished the statement on."""

    def __init__(self, data: bytes):
        self.data = data
        self.pos = 0
        self.line = 0  # 1-based number of the line read last
        self._line_ended = True

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        start = self.pos
        if start >= len(self.data):
            return 0
        limit = min(len(self.data), start + len(buffer))
        end = self.data.find(b"\n", start, limit)
        end = limit if end < 0 else end + 1
        buffer[: end - start] = self.data[start:end]
        if self._line_ended:
            self.line += 1
        self._line_ended = self.data[end - 1] == 0x0A
        self.pos = end
        return end - start


def _digest(raw: bytes) -> str:
    return hashlib.blake2b(raw, digest_size=16).hexdigest()


def literal_limit(project: Project) -> int:
    """[site] max_literal_bytes of the project's kgpub.toml (checked when it was loaded)."""
    limit = getattr(project, "max_literal_bytes", None)
    if isinstance(limit, int) and not isinstance(limit, bool):
        return limit
    try:
        cfg = tomllib.loads((project.root / CONFIG_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return DEFAULT_MAX_LITERAL_BYTES
    site = cfg.get("site")
    limit = site.get("max_literal_bytes") if isinstance(site, dict) else None
    if isinstance(limit, int) and not isinstance(limit, bool) and limit > 0:
        return limit
    return DEFAULT_MAX_LITERAL_BYTES


def source_files(directory: Path) -> list[Path]:
    if not directory.is_dir():
        return []
    return sorted(p for p in directory.rglob("*") if p.suffix in SOURCE_FORMATS and p.is_file())


def load_sources(project: Project, *, with_shapes: bool = True) -> Sources:
    src = Sources(base=project.base, languages=project.languages,
                  label_properties=project.label_properties, literal_limit=literal_limit(project))
    roles = [("ontology", project.ontology_dir), ("data", project.data_dir)]
    if with_shapes:
        roles.append(("shapes", project.shapes_dir))
    for role, directory in roles:
        files = source_files(directory)
        if role in ("data", "shapes") and not files:
            raise LoadError(
                f"no .ttl files in {project.rel(directory)}/ (is this a kgpub project?)"
            )
        for path in files:
            triples = _parse_file(project, path, src, track=role != "shapes")
            getattr(src, role).extend(triples)
            if role == "data":
                src.by_file[src.files[-1]] = triples
    return src


def _parse_file(project: Project, path: Path, src: Sources, *, track: bool) -> list[ox.Triple]:
    shown = project.rel(path)
    try:
        raw = path.read_bytes()
        text = raw.decode("utf-8")
    except OSError as exc:
        raise LoadError(f"cannot read file: {exc.strerror}", shown) from exc
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise LoadError("not UTF-8 text; save the file as UTF-8", shown, line) from exc
    digest = _digest(raw)
    cut: dict[str, tuple[int, int]] = {}
    if len(raw) > src.literal_limit:  # only a file this large can hold a value this large
        text, cut = _cut_oversized(text, src.literal_limit)
        if cut:
            raw = text.encode("utf-8")
    parser = ox.parse(raw, format=SOURCE_FORMATS[path.suffix], base_iri=project.base)
    bnodes: dict[str, ox.BlankNode] = {}
    file_no = len(src.files)

    def relabel(term):
        if isinstance(term, ox.BlankNode):
            if term.value not in bnodes:
                bnodes[term.value] = ox.BlankNode(f"f{file_no}b{len(bnodes)}")
            return bnodes[term.value]
        return term

    try:
        triples = [q.triple for q in parser]
        # Most files have no blank node: their triples are kept as parsed (a new Triple per
        # statement costs half the load); the others get labels in parse order.
        blank = any(type(t.subject) is ox.BlankNode or type(t.object) is ox.BlankNode
                    for t in triples)
        if blank:
            triples = [ox.Triple(relabel(t.subject), t.predicate, relabel(t.object))
                       for t in triples]
    except SyntaxError as exc:
        message = str(exc)
        # pyoxigraph says "Parser error at line L between columns ...: what"; keep the what.
        message = re.sub(r"^Parser error at line \d+ (between columns \d+ and \d+|column \d+): ",
                         "", message)
        message = re.sub(r" \(line \d+\)$", "", message)
        col = f", column {exc.offset}" if exc.offset else ""
        raise LoadError(
            f"Turtle syntax error{col}: {message}. Fix the syntax at this line "
            f"(a missing '.', ';' or quote is the usual cause).",
            shown,
            exc.lineno,
        ) from exc
    except MemoryError as exc:  # a term the parser's buffer cannot hold (an IRI: values are cut)
        line = next((n for n, *_ in _long_terms(text, PARSER_TERM_BYTES)), None)
        raise LoadError(
            "a term (an IRI or a value) is longer than the 16 MiB the Turtle parser reads; "
            "shorten it", shown, line) from exc
    src.files.append(shown)
    src.digests[shown] = digest
    if cut:
        for t in triples:
            o = t.object
            found = cut.get(o.value.rstrip("\n")) if type(o) is ox.Literal else None
            if found:
                src.oversized.append(Oversized(shown, *found, t.subject.value,
                                               t.predicate.value, o.language))
    if track:  # the shapes' prefixes (sh:, shape:) are not the data's
        src.file_triples[shown] = triples
        src.paths[shown] = path
        for prefix, ns in (parser.prefixes or {}).items():
            src.prefixes.setdefault(prefix, ns)
        subjects_iris = _subject_iris(triples)
        found, several = _subject_lines(text, parser.prefixes or {}, project.base)
        marks = _flagged_marks(text)
        if marks:
            src.flagged[shown] = FlaggedText(triples, marks, found)
        if path.suffix == ".nt":  # a subject on many lines is how N-Triples is written
            several = set()
        for iri in subjects_iris:  # each is new, or described in an earlier file too
            first = src.locations.get(iri)
            here = Location(shown, found.get(iri) or _any_line(text, iri, parser.prefixes or {}))
            if first is None:
                src.locations[iri] = here
                if iri in several:
                    src.repeats[iri] = [here]
            elif iri in src.repeats:
                src.repeats[iri].append(here)
            else:
                src.repeats[iri] = [first, here]
        if blank:
            src.blank.add(shown)
            _locate_blank_nodes(shown, text, triples, src)
    return triples


def _subject_iris(triples: list[ox.Triple]) -> set[str]:
    """The IRIs the triples are about (one term read per run of statements about a subject,
    not one per statement: a file describes each subject in a block)."""
    found: set[str] = set()
    last = None
    for t in triples:
        s = t.subject
        if s != last:
            if type(s) is ox.NamedNode:
                found.add(s.value)
            last = s
    return found


def _locate_blank_nodes(shown: str, text: str, triples: list[ox.Triple], src: Sources) -> None:
    # A top-level blank node ("[ a sphr:Publication ... ] .") is located at the n-th
    # statement that starts with "[" in column 0; nested ones where their owner is.
    objects = {t.object.value for t in triples if isinstance(t.object, ox.BlankNode)}
    top = list(dict.fromkeys(
        t.subject.value for t in triples
        if isinstance(t.subject, ox.BlankNode) and t.subject.value not in objects
    ))
    bracket_lines = [n for n, line in enumerate(text.splitlines(), 1) if line.startswith("[")]
    for i, node in enumerate(top):
        line = bracket_lines[i] if i < len(bracket_lines) else None
        src.locations.setdefault(node, Location(shown, line))
    for t in triples:
        if isinstance(t.object, ox.BlankNode) and t.object.value not in src.locations:
            owner = src.locations.get(t.subject.value)
            if owner:
                src.locations[t.object.value] = owner


def _long_terms(text: str, limit: int, strings_only: bool = False):
    """(line, bytes as written, match, quote length) of each term of the text longer than
    limit bytes: a string (what is between its quotes) or, unless strings_only, an IRI."""
    line, last = 1, 0
    for m in _TERMS.finditer(text):
        start, end = m.span()
        if (end - start) * 4 <= limit:  # cannot be over: at most 4 bytes a character
            continue
        first = text[start]
        if first not in "<\"'" or (strings_only and first == "<"):
            continue
        quote = 3 if first != "<" and text.startswith(first * 3, start) and end - start >= 6 \
            else 1
        size = len(text[start + quote: end - quote].encode("utf-8", "surrogatepass"))
        if size > limit:
            line += text.count("\n", last, start)
            last = start
            yield line, size, m, quote


def _cut_oversized(text: str, limit: int) -> tuple[str, dict[str, tuple[int, int]]]:
    """The text with each string value over limit bytes replaced by a placeholder that keeps
    its quotes and its line breaks (so every line keeps its number), and placeholder ->
    (line, bytes as written)."""
    pieces: list[str] = []
    cut: dict[str, tuple[int, int]] = {}
    at = 0
    for line, size, m, quote in _long_terms(text, limit, strings_only=True):
        start, end = m.span()
        marker = f"{_OVERSIZED}{len(cut)}"
        delimiter = text[start: start + quote]
        breaks = text.count("\n", start, end) if quote == 3 else 0
        pieces += [text[at:start], delimiter, marker, "\n" * breaks, delimiter]
        at = end
        cut[marker] = (line, size)
    if not cut:
        return text, cut
    pieces.append(text[at:])
    return "".join(pieces), cut


def _flagged_marks(text: str) -> list[tuple[int, str]]:
    """(line, character) of every flagged character the text holds, raw or escaped."""
    if _SUSPECT.search(text) is None:
        return []
    marks: list[tuple[int, str]] = []
    line, last = 1, 0
    for m in _MARK.finditer(text):
        short, long, echar, raw = m.groups()
        if raw is not None:
            char = raw
        elif short or long:
            code = int(short or long, 16)
            char = chr(code) if code <= 0x10FFFF else ""
        else:
            char = _ECHAR.get(echar, "")
        if char and FLAGGED.fullmatch(char):
            line += text.count("\n", last, m.start())
            last = m.start()
            marks.append((line, char))
    return marks


_TOKEN = re.compile(r"<([^>\s]*)>|([A-Za-z][\w.-]*)?:((?:[\w\-%]|\.(?=[\w\-%]))*)")


def _resolve(match: re.Match, prefixes: dict[str, str], base: str) -> str | None:
    if match.group(1) is not None:
        return _join(base, match.group(1))
    ns = prefixes.get(match.group(2) or "")
    return ns + match.group(3) if ns is not None else None


_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:")


def _join(base: str, ref: str) -> str:
    """A reference resolved against the base as the parser does (RFC 3986: unlike urljoin,
    '//' stays; an absolute IRI is kept as written)."""
    if _SCHEME.match(ref):
        return ref
    scheme, rest = base.split(":", 1)
    if ref.startswith("//"):
        return f"{scheme}:{_no_dot_segments(ref)}"
    authority_end = rest.find("/", 2) if rest.startswith("//") else 0
    authority = rest[:authority_end] if authority_end > 0 else (rest if rest.startswith("//")
                                                                   else "")
    path = rest[len(authority):].split("?", 1)[0].split("#", 1)[0]
    if ref == "" or ref.startswith("#"):
        return base.split("#", 1)[0] + ref
    if ref.startswith("?"):
        return f"{scheme}:{authority}{path}{ref}"
    if ref.startswith("/"):
        return f"{scheme}:{authority}{_no_dot_segments(ref)}"
    merged = (path[: path.rfind("/") + 1] if "/" in path else "/") + ref
    return f"{scheme}:{authority}{_no_dot_segments(merged)}"


def _no_dot_segments(path: str) -> str:
    """RFC 3986 5.2.4, on the path part (a query or fragment is kept as it is)."""
    cut = min((i for i in (path.find("?"), path.find("#")) if i >= 0), default=len(path))
    path, tail = path[:cut], path[cut:]
    if "." not in path:
        return path + tail
    return remove_dot_segments(path.split("/"), floor=1)[0] + tail


def _subject_lines(text: str, prefixes: dict[str, str], base: str
                   ) -> tuple[dict[str, int], set[str]]:
    """Lines where a statement starts with a subject in column 0 (how editors write Turtle):
    the first for each IRI, and the IRIs that start more than one (candidates for a
    description in two blocks, which validation checks statement by statement)."""
    found: dict[str, int] = {}
    several: set[str] = set()
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line or line[0] in " \t#@[(" or line[:6].upper() in ("PREFIX", "BASE "):
            continue
        match = _TOKEN.match(line)
        if match:
            iri = _resolve(match, prefixes, base)
            if iri:
                if iri not in found:
                    found[iri] = lineno
                else:
                    several.add(iri)
    return found, several


def _any_line(text: str, iri: str, prefixes: dict[str, str]) -> int | None:
    """Fallback: the first line mentioning the IRI in any written form."""
    forms = [f"<{iri}>"] + [
        f"{p}:{iri[len(ns) :]}" for p, ns in prefixes.items() if iri.startswith(ns)
    ]
    for lineno, line in enumerate(text.splitlines(), 1):
        if any(f in line for f in forms):
            return lineno
    return None
