"""Things described in more than one place: a warning naming every place, a violation when the
places give the entity classes neither of which is a kind of the other."""

from __future__ import annotations

from collections import defaultdict

import pyoxigraph as ox

from ..load import Location, Sources
from .locations import Statements
from .report import Problem

RDF_TYPE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"
SUBCLASS_OF = "http://www.w3.org/2000/01/rdf-schema#subClassOf"


def description_problems(sources: Sources, short, statements: Statements | None = None
                         ) -> list[Problem]:
    """An entity described in more than one place (as a subject in several files, or in two
    blocks of one file) is published as one: a warning naming every place; a violation when
    the places give it classes neither of which is a kind of the other (an entry that is a
    sphr:ExpertCommentary in one file and a sphr:Publication in another)."""
    base = sources.base
    repeated = [i for i in sources.repeats
                if i.startswith(base) and len(i) > len(base) and "#" not in i]
    if not repeated:
        return []
    statements = statements or Statements(sources, set(repeated))
    supers = None
    problems = []
    for iri in sorted(repeated):
        blocks = _blocks(sources, statements, iri)
        if len(blocks) < 2:
            continue
        first = blocks[0][0]
        where = ", ".join(str(loc) for loc, _ in blocks[:-1]) + f" and {blocks[-1][0]}"
        classes = sorted({c for _, cs in blocks for c in cs})
        if len(classes) > 1:
            supers = supers or _superclasses(sources)
            apart = [c for c in classes
                     if not any(c != d and d in supers(c) for d in classes)
                     and not any(c != d and c in supers(d) for d in classes)]
        else:
            apart = []
        if len(apart) > 1:
            described = ", ".join(
                f"a {' and a '.join(short(c) for c in sorted(cs))} at {loc}"
                for loc, cs in blocks if cs)
            problems.append(Problem(
                file=first.file, line=first.line or 0, focus=iri, path="rdf:type",
                severity="violation",
                message=f"The entity is described in {len(blocks)} places as things of "
                        f"different classes ({described}): it would be published as one "
                        f"entity that is both ({', '.join(short(c) for c in apart)}).",
                hint="If these are different things, give each its own IRI (slug); if they are "
                     f"one, keep one description with one class, at {first}.",
                rule="kgpub:ConflictingDescriptions"))
        else:
            problems.append(Problem(
                file=first.file, line=first.line or 0, focus=iri, path="",
                severity="warning",
                message=f"The entity is described in {len(blocks)} places: {where}. They are "
                        "published as one description, in which a statement written in both "
                        "places shows twice.",
                hint=f"Keep one description: move its statements to {first} and delete the "
                     f"other block{'s' if len(blocks) > 2 else ''}.",
                rule="kgpub:SplitDescription"))
    return problems


def _blocks(sources: Sources, statements: Statements, iri: str
            ) -> list[tuple[Location, set[str]]]:
    """Where each block describing iri starts, with the classes it gives: a run of its
    statements in a file, which only blank nodes' statements (its nested values) interrupt.
    One block a file when the lines are not known."""
    by_file: dict[str, list[tuple[int, ox.Triple]]] = defaultdict(list)
    for file, position, t in statements.of(iri):
        by_file[file].append((position, t))
    firsts = {loc.file: loc for loc in sources.repeats.get(iri, [])}
    blocks: list[tuple[Location, set[str]]] = []
    for file in sorted(by_file, key=lambda f: sources.files.index(f)):
        found = by_file[file]
        triples = sources.file_triples[file]
        lines = sources.statement_lines(file)
        runs: list[list[tuple[int, ox.Triple]]] = []
        for position, t in found:
            if runs and (lines is None or file.endswith(".nt") or all(
                    type(u.subject) is ox.BlankNode or u.subject.value == iri
                    for u in triples[runs[-1][-1][0] + 1: position])):
                runs[-1].append((position, t))
            else:
                runs.append([(position, t)])
        for block in runs:
            line = lines[block[0][0]] if lines else (
                firsts[file].line if file in firsts else None)
            classes = {t.object.value for _, t in block
                       if t.predicate.value == RDF_TYPE and type(t.object) is ox.NamedNode}
            blocks.append((Location(file, line), classes))
    return blocks


def _superclasses(sources: Sources):
    """class -> its superclasses (itself included), through rdfs:subClassOf in the graph."""
    direct: dict[str, set[str]] = defaultdict(set)
    for t in sources.graph:
        if t.predicate.value == SUBCLASS_OF and type(t.object) is ox.NamedNode:
            direct[t.subject.value].add(t.object.value)
    known: dict[str, set[str]] = {}

    def supers(cls: str) -> set[str]:
        if cls not in known:
            found, todo = {cls}, [cls]
            while todo:
                for sup in direct.get(todo.pop(), ()):
                    if sup not in found:
                        found.add(sup)
                        todo.append(sup)
            known[cls] = found
        return known[cls]

    return supers
