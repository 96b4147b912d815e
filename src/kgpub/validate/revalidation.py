"""Revalidation: a rebuild validates again only what an edit can change.

The last build kept its SHACL problems (kgpub.validate.cache) and a digest of each subject's
statements in each data file (kgpub.incremental). After an edit, the subjects whose statements
changed, and every focus node from which the shapes reach one of them (kgpub.validate.reach),
are validated again on the part of the graph their results read, with the subjects of the
edited files (whose lines may have moved); the other focus nodes' problems are the last
build's. kgpub's own checks run on everything as always. The report is the one validating the
whole graph gives (tested after every kind of edit).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from .. import incremental
from ..config import Project
from ..entail import entailments
from ..graph import Graph
from ..load import Sources
from . import Only, Report, validate_sources
from .cache import Kept, dump
from .reach import affected, neighbourhood, reach


@dataclass
class Earlier:
    """What the published build kept."""

    state: incremental.State
    kept: Kept | None  # its SHACL problems (None: it has none, or they could not be read)
    unusable: str | None = None  # why they could not be read


@dataclass
class Checked:
    report: Report
    graph: Graph | None  # the graph, when it was made to find what to validate again
    kept: bytes  # this build's cache (kgpub.layout.VALIDATION)
    validated: int | None = None  # focus nodes validated again (None: all)
    warning: str | None = None  # the cache should have been used and was not: why


def revalidate(project: Project, sources: Sources, engine: str, earlier: Earlier | None,
               validate: Callable[..., Report] = validate_sources) -> Checked:
    """Validate, only what changed since the earlier build when that can be told.
    validate: kgpub.validate.validate_sources (the build hands its own name for it)."""
    inputs = incremental.inputs_digest(project, sources)
    key = f"{inputs} {engine}"
    only, graph, warning = None, None, None
    kept = earlier.kept if earlier is not None else None
    if earlier is not None and kept is None and earlier.state.inputs == inputs:
        # only then could it have been used (else the code, settings, ontology or shapes
        # changed, and everything is validated as it should be)
        warning = earlier.unusable or "has no validation cache"
    if (earlier is not None and kept is not None and kept.key == key
            and kept.data == earlier.state.data and set(kept.data) == set(sources.by_file)
            and not sources.blank):
        shape_reach = reach(sources.shapes)
        if shape_reach is not None:
            graph = Graph(project, sources, entailments(sources))
            focus = _focus(sources, earlier.state, kept, graph, shape_reach)
            only = Only(focus, neighbourhood(focus, graph.statements, shape_reach),
                        kept.problems)
    report = validate(sources, engine) if only is None else validate(sources, engine, only)
    made = dump(Kept(key, {f: sources.digests[f] for f in sources.by_file}, report.shacl))
    return Checked(report, graph, made, None if only is None else len(only.focus), warning)


def _focus(sources: Sources, state: incremental.State, kept: Kept, graph: Graph,
           shape_reach) -> set[str]:
    """The subjects whose statements changed and what reaches them, and every subject of an
    edited file."""
    changed: set[str] = set()
    edited: set[str] = set()
    for f, triples in sources.by_file.items():
        if sources.digests[f] == kept.data[f]:
            continue
        new, old = incremental.subject_digests(triples), state.subjects.get(f, {})
        changed |= {s for s in new.keys() | old.keys() if new.get(s) != old.get(s)}
        edited |= new.keys() | old.keys()
    return affected(changed, graph.links_to, shape_reach) | edited
