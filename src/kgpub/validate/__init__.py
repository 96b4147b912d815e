"""Validate: SHACL over ontology + data, turned into a report an editor can act on.

Two engines (see kgpub.shacl_engines): pySHACL, the reference, and the much faster `shacl`
(Rust); `engine="auto"` takes the fast one when it is installed and working. Both give the same
report.

After either engine, kgpub's own checks, the same whichever ran: text values over
[site] max_literal_bytes, typed values outside their datatype's lexical space ("2021-13"^^
xsd:gYearMonth), IRIs that cannot be published as files (kgpub.index.path_problem), things
described in more than one place, and characters XML cannot carry. Each problem points at the
line of the statement at fault (a missing statement: where the subject's description starts),
and the problems several rules find in one statement are reported once.

  report        Problem and Report (text for people, JSON for machines)
  findings      engine findings as problems: hints, the statement at fault, merging
  locations     where a statement is written (file:line)
  literals      text sizes and typed values' lexical spaces, with a fix for each datatype
  paths         IRIs that cannot be published as files
  descriptions  an entity described in more than one place
  characters    what XML cannot carry, and what cannot be seen
"""

from __future__ import annotations

from dataclasses import dataclass

import pyoxigraph as ox

from ..layout import RESERVED
from ..load import Sources
from ..shacl_engines import ENGINES, EngineError, run, to_rdflib, to_rdflib_term
from .characters import character_problems
from .descriptions import description_problems
from .findings import HINTS, ILL_TYPED, finding_problem, merged
from .literals import LEXICAL, XSD, literal_problems
from .locations import Statements, at_statement
from .paths import reserved_path_problems, unpublishable_problems
from .report import Problem, Report, shortener

__all__ = [
    "ENGINES", "LEXICAL", "XSD", "EngineError", "HINTS", "Only", "RESERVED", "Problem", "Report",
    "character_problems", "description_problems", "literal_problems", "reserved_path_problems",
    "to_rdflib", "to_rdflib_term", "unpublishable_problems", "validate_sources",
]


@dataclass(frozen=True)
class Only:
    """Validate again only these focus nodes, on the statements of these nodes (what their
    results read: kgpub.validate.reach); the other focus nodes' SHACL problems are kept."""

    focus: set[str]
    nodes: set[str]
    kept: list[Problem]


def validate_sources(sources: Sources, engine: str = "auto", only: Only | None = None) -> Report:
    """Validate ontology + data against the shapes, then with kgpub's own checks. Ontology
    classes take part, so sh:class follows rdfs:subClassOf without inference.

    engine: "pyshacl" (the reference), "fast" (the `shacl` package), or "auto" (fast when it is
    installed and working, else pyshacl). Raises EngineError for an unknown or unusable engine.
    only: run the shapes on part of the graph (a rebuild: kgpub.validate.cache); the report is
    the same as the whole graph's."""
    if only is None:
        ran, findings = run(sources, engine)
    else:
        ran, findings = run(_part(sources, only.nodes), engine)
        findings = [f for f in findings if str(f.focus) in only.focus]
    short = shortener(sources.prefixes)
    statements = Statements(sources, {str(f.focus) for f in findings if at_statement(f)}
                            | {i for i in sources.repeats})
    shacl = [finding_problem(f, sources, short, statements) for f in findings]
    if only is not None:
        shacl += [p for p in only.kept if p.focus not in only.focus]
    problems = list(shacl)
    literals = literal_problems(sources, short)
    # An ill-typed value fails the shapes' sh:datatype too, as the engines read it (pySHACL
    # reports "yes"^^xsd:boolean as 'false'): its own problem says more, once.
    ill_typed = {(p.focus, p.path, p.file, p.line) for p in literals
                 if p.rule == "kgpub:InvalidLiteral"}
    problems = [p for p in problems
                if p.rule not in ILL_TYPED or (p.focus, p.path, p.file, p.line) not in ill_typed]
    problems += literals
    problems += unpublishable_problems(sources)
    problems += description_problems(sources, short, statements)
    problems += character_problems(sources, short)
    return Report(sorted(merged(problems)), engine=ran, shacl=shacl)


def _part(sources: Sources, nodes: set[str]) -> Sources:
    """The ontology and the data's statements about the nodes (no blank node among them:
    kgpub.validate.reach is not used on data with blank nodes)."""
    data: list[ox.Triple] = []
    last, keep = None, False
    for t in sources.data:  # statements come in runs about one subject
        if t.subject != last:
            last = t.subject
            keep = t.subject.value in nodes
        if keep:
            data.append(t)
    return Sources(ontology=sources.ontology, data=data, shapes=sources.shapes,
                   prefixes=sources.prefixes, base=sources.base, languages=sources.languages,
                   label_properties=sources.label_properties)
