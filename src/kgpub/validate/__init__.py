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
    "ENGINES", "LEXICAL", "XSD", "EngineError", "HINTS", "RESERVED", "Problem", "Report",
    "character_problems", "description_problems", "literal_problems", "reserved_path_problems",
    "to_rdflib", "to_rdflib_term", "unpublishable_problems", "validate_sources",
]


def validate_sources(sources: Sources, engine: str = "auto") -> Report:
    """Validate ontology + data against the shapes, then with kgpub's own checks. Ontology
    classes take part, so sh:class follows rdfs:subClassOf without inference.

    engine: "pyshacl" (the reference), "fast" (the `shacl` package), or "auto" (fast when it is
    installed and working, else pyshacl). Raises EngineError for an unknown or unusable engine."""
    ran, findings = run(sources, engine)
    short = shortener(sources.prefixes)
    statements = Statements(sources, {str(f.focus) for f in findings if at_statement(f)}
                            | {i for i in sources.repeats})
    problems = [finding_problem(f, sources, short, statements) for f in findings]
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
    return Report(sorted(merged(problems)), engine=ran)
