"""Load: parse every source file with pyoxigraph and remember where each subject is defined.

Relative IRIs in the sources resolve against the project's base IRI, so one set of files
publishes under any base. Blank nodes are relabelled in parse order, which keeps every output
deterministic.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path

import pyoxigraph as ox

from .config import Project
from .errors import LoadError

# File suffix -> parser format. Editors write Turtle; N-Triples is accepted for bulk data.
SOURCE_FORMATS = {".ttl": ox.RdfFormat.TURTLE, ".nt": ox.RdfFormat.N_TRIPLES}


@dataclass(frozen=True)
class Location:
    file: str  # relative to the project root
    line: int | None

    def __str__(self) -> str:
        return f"{self.file}:{self.line}" if self.line else self.file


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
    base: str = ""
    languages: tuple[str, ...] = ()  # the site's: other languages' pages live under 'fr/'...

    @property
    def graph(self) -> list[ox.Triple]:
        """The published graph: ontology + data."""
        return self.ontology + self.data

    def locate(self, node: str) -> Location | None:
        return self.locations.get(node)


def source_files(directory: Path) -> list[Path]:
    if not directory.is_dir():
        return []
    return sorted(p for p in directory.rglob("*") if p.suffix in SOURCE_FORMATS and p.is_file())


def load_sources(project: Project, *, with_shapes: bool = True) -> Sources:
    src = Sources(base=project.base, languages=project.languages)
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
        triples = [ox.Triple(relabel(q.subject), q.predicate, relabel(q.object)) for q in parser]
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
    src.files.append(shown)
    src.digests[shown] = hashlib.blake2b(raw, digest_size=16).hexdigest()
    if track:  # the shapes' prefixes (sh:, shape:) are not the data's
        for prefix, ns in (parser.prefixes or {}).items():
            src.prefixes.setdefault(prefix, ns)
        subjects = {t.subject.value for t in triples if isinstance(t.subject, ox.NamedNode)}
        found = _subject_lines(text, parser.prefixes or {}, project.base)
        for iri in subjects:
            if iri not in src.locations:
                src.locations[iri] = Location(
                    shown, found.get(iri) or _any_line(text, iri, parser.prefixes or {})
                )
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
    return triples


_TOKEN = re.compile(r"<([^>\s]*)>|([A-Za-z][\w.-]*)?:((?:[\w\-%]|\.(?=[\w\-%]))*)")


def _resolve(match: re.Match, prefixes: dict[str, str], base: str) -> str | None:
    from urllib.parse import urljoin

    if match.group(1) is not None:
        return urljoin(base, match.group(1))
    ns = prefixes.get(match.group(2) or "")
    return ns + match.group(3) if ns is not None else None


def _subject_lines(text: str, prefixes: dict[str, str], base: str) -> dict[str, int]:
    """Lines where a statement starts with a subject in column 0 (how editors write Turtle)."""
    found: dict[str, int] = {}
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line or line[0] in " \t#@[(" or line[:6].upper() in ("PREFIX", "BASE "):
            continue
        match = _TOKEN.match(line)
        if match:
            iri = _resolve(match, prefixes, base)
            if iri and iri not in found:
                found[iri] = lineno
    return found


def _any_line(text: str, iri: str, prefixes: dict[str, str]) -> int | None:
    """Fallback: the first line mentioning the IRI in any written form."""
    forms = [f"<{iri}>"] + [
        f"{p}:{iri[len(ns) :]}" for p, ns in prefixes.items() if iri.startswith(ns)
    ]
    for lineno, line in enumerate(text.splitlines(), 1):
        if any(f in line for f in forms):
            return lineno
    return None
