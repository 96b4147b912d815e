"""IRIs that cannot be published as files (kgpub.index.path_problem), and IRIs whose paths differ
only in case."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import replace

from ..index import path_key, path_problem
from ..load import Location, Sources
from .report import Problem, shortener


def unpublishable_problems(sources: Sources, iris=None) -> list[Problem]:
    """A violation for each entity whose IRI cannot be published as files (kgpub.index.
    path_problem: dot-segments, a trailing '/', segments too long, a reserved path...), and for
    IRIs whose paths differ only in case (one file on macOS and Windows). iris: the entities
    to check, by default every subject under the base (the build passes its index's, in
    kgpub.site: the same words refuse it there)."""
    base = sources.base
    if not base:
        return []
    if iris is None:
        iris = [i for i in sources.locations
                if i.startswith(base) and len(i) > len(base) and "#" not in i]
    short = shortener(sources.prefixes)
    problems: list[Problem] = []
    keys: dict[str, list[str]] = defaultdict(list)
    languages = sources.languages
    for iri in iris:
        found = path_problem(iri, base, languages)
        if found:
            loc = sources.locate(iri)
            problems.append(Problem(
                file=loc.file if loc else "(derived)", line=(loc.line or 0) if loc else 0,
                focus=iri, path="", severity="violation", message=found.message,
                value=short(iri), hint=found.fix, rule=found.rule))
        else:
            keys[path_key(iri[len(base):])].append(iri)
    for same in keys.values():
        if len(same) < 2:
            continue
        order = {f: n for n, f in enumerate(sources.files)}
        places = sorted(((sources.locate(i) or Location("(derived)", None), i) for i in same),
                        key=lambda p: (order.get(p[0].file, len(order)), p[0].line or 0, p[1]))
        (loc, iri), others = places[-1], places[:-1]
        named = ", ".join(f"<{o}> ({where})" for where, o in others)
        problems.append(Problem(
            file=loc.file, line=loc.line or 0, focus=iri, path="", severity="violation",
            message=f"The IRI differs from {named} only in case: on macOS and Windows their "
                    "files are the same files, and one entity's pages would replace the "
                    "other's.",
            value=short(iri),
            hint="Give one of them another slug; slugs are lower-case letters, digits and "
                 "hyphens.",
            rule="kgpub:CaseCollision"))
    return problems


def reserved_path_problems(sources: Sources, base: str) -> list[Problem]:
    """The entities that cannot be published as files (see unpublishable_problems)."""
    return unpublishable_problems(replace(sources, base=base))
