"""SHACL engine findings as problems: where each points, its message, the hint to fix it (the
shape's sh:description, else one per constraint component), and one problem a statement when
several rules find the same fault."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import replace

from rdflib import Graph, URIRef
from rdflib.collection import Collection
from rdflib.namespace import RDF, SH

from ..load import Sources
from ..shacl_engines import Finding
from .locations import Statements, at_statement
from .report import Problem

# How to fix a failure of each SHACL constraint component, when the shape gives no sh:description.
HINTS = {
    "MinCountConstraintComponent": "add the missing statement",
    "MaxCountConstraintComponent": "keep one value and remove the others",
    "DatatypeConstraintComponent": "write the value with the expected datatype",
    "ClassConstraintComponent": "point to an entity of the expected class (check the IRI's spelling)",
    "NodeKindConstraintComponent": "use an IRI (<...>), not a string",
    "PatternConstraintComponent": "correct the value's form",
    "UniqueLangConstraintComponent": "keep one value per language tag",
    "InConstraintComponent": "use one of the allowed values",
    "HasValueConstraintComponent": "add the required value",
    "MinLengthConstraintComponent": "write a non-empty value",
    "LanguageInConstraintComponent": "tag the text with one of the site's languages",
    "SPARQLConstraintComponent": "correct the value",
}


# ---- one problem a statement ---------------------------------------------------------------------

# Shape results an ill-typed value causes: its kgpub:InvalidLiteral problem says more, and the
# engines differ in which ill-typed values they notice.
ILL_TYPED = ("sh:DatatypeConstraintComponent", "sh:OrConstraintComponent")


def merged(problems: list[Problem]) -> list[Problem]:
    """Problems about one statement (focus, path, value), of one severity, as one: kgpub's own
    (the most specific) first, its message and fix, with every rule named."""
    groups: dict[tuple, list[Problem]] = defaultdict(list)
    for n, p in enumerate(problems):
        # a value cut out for its size is not shown: two of them are two statements
        alone = n if p.rule == "kgpub:LiteralSize" else None
        groups[(p.focus, p.path, p.value, p.severity, alone)].append(p)
    out = []
    for same in groups.values():
        if len(same) == 1:
            out.append(same[0])
            continue
        ordered = sorted(set(same), key=lambda p: (not p.rule.startswith("kgpub:"), p.message,
                                                    p.rule, p.file, p.line))
        rules = list(dict.fromkeys(r for p in ordered for r in p.rule.split(", ")))
        if "kgpub:InvalidLiteral" in rules:
            rules = [r for r in rules if r not in ILL_TYPED]
        out.append(replace(ordered[0], rule=", ".join(rules)))
    return out


def path_text(g: Graph, path, short) -> str:
    """A SHACL property path in SPARQL syntax: skos:broader*, ^dcterms:subject, a/b, (a|b)."""
    if isinstance(path, URIRef):
        return short(str(path))
    for prop, suffix in ((SH.zeroOrMorePath, "*"), (SH.oneOrMorePath, "+"),
                         (SH.zeroOrOnePath, "?")):
        inner = g.value(path, prop)
        if inner is not None:
            return path_text(g, inner, short) + suffix
    inverse = g.value(path, SH.inversePath)
    if inverse is not None:
        return "^" + path_text(g, inverse, short)
    alternatives = g.value(path, SH.alternativePath)
    if alternatives is not None:
        return "(" + "|".join(path_text(g, p, short) for p in Collection(g, alternatives)) + ")"
    if g.value(path, RDF.first) is not None:
        return "/".join(path_text(g, p, short) for p in Collection(g, path))
    return "(path)"


def finding_problem(f: Finding, sources: Sources, short, statements: Statements) -> Problem:
    loc = sources.locate(str(f.focus))
    if at_statement(f):
        value = None if f.value == f.focus else f.value
        loc = statements.place(str(f.focus), str(f.path), value) or loc
    sev = {SH.Violation: "violation", SH.Warning: "warning"}.get(f.severity, "info")
    value = f.value
    return Problem(
        file=loc.file if loc else "(unknown file)",
        line=(loc.line or 0) if loc else 0,
        focus=str(f.focus),
        path="" if f.path is None else path_text(f.graph, f.path, short),
        severity=sev,
        message=" ".join(f.messages) or f.component,
        value=None
        if value is None
        else (short(str(value)) if isinstance(value, URIRef) else repr(str(value))),
        hint=f.hint or HINTS.get(f.component, ""),
        rule=f"sh:{f.component}",
    )
