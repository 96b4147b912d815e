"""Where a problem points: the line of the statement at fault, found in one pass over the files
for the subjects that need it (kgpub.load.Sources.statement_lines gives each statement's line)."""

from __future__ import annotations

from collections import defaultdict

import pyoxigraph as ox
from rdflib import BNode, Literal, URIRef

from ..load import Location, Sources
from ..shacl_engines import Finding

# ---- where a problem points ----------------------------------------------------------------------

# Results that name no value because a statement is missing: they point where the subject's
# description starts. Every other result of a property points at the statement at fault (the
# first of its property when no value is named: a second value, a second language).
MISSING = frozenset({"MinCountConstraintComponent", "QualifiedMinCountConstraintComponent",
                     "HasValueConstraintComponent"})


def at_statement(f: Finding) -> bool:
    return isinstance(f.path, URIRef) and f.component not in MISSING


class Statements:
    """Where the statements about some subjects are written: (file, position in the file's
    triples), found in one pass over the files, and their lines (Sources.statement_lines)."""

    def __init__(self, sources: Sources, subjects: set[str]):
        self.sources = sources
        self.found: dict[str, list[tuple[str, int, ox.Triple]]] = defaultdict(list)
        if not subjects:
            return
        for file, triples in sources.file_triples.items():
            for position, t in enumerate(triples):
                if t.subject.value in subjects:
                    self.found[t.subject.value].append((file, position, t))

    def of(self, subject: str) -> list[tuple[str, int, ox.Triple]]:
        return self.found.get(subject, [])

    def line(self, file: str, position: int) -> int | None:
        lines = self.sources.statement_lines(file)
        return lines[position] if lines else None

    def place(self, focus: str, predicate: str, value) -> Location | None:
        """Where the statement (focus, predicate, value) is written; the first one of
        (focus, predicate) when value is None or matches none exactly (a value the engine
        reports normalised, "1" for "01")."""
        candidates = [(f, n, t) for f, n, t in self.of(focus) if t.predicate.value == predicate]
        if not candidates:
            return None
        if value is not None:
            exact = [c for c in candidates if _same(c[2].object, value)]
            similar = [c for c in candidates
                       if isinstance(value, Literal) and type(c[2].object) is ox.Literal]
            candidates = exact or similar or candidates
        file, position, _t = candidates[0]
        line = self.line(file, position)
        if line is None:
            loc = self.sources.locate(focus)
            line = loc.line if loc and loc.file == file else None
        return Location(file, line)


def _same(term, value) -> bool:
    if isinstance(value, URIRef):
        return type(term) is ox.NamedNode and term.value == str(value)
    if isinstance(value, BNode):
        return type(term) is ox.BlankNode and term.value == str(value)
    return type(term) is ox.Literal and term.value == str(value)
