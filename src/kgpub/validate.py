"""Validate: SHACL over ontology + data with pySHACL, turned into a report an editor can act on."""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass, field

import pyoxigraph as ox
from pyshacl import validate as shacl_validate
from rdflib import BNode, Graph, Literal, URIRef
from rdflib.collection import Collection
from rdflib.namespace import RDF, SH, XSD

from .load import Sources

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


@dataclass(frozen=True, order=True)
class Problem:
    file: str
    line: int
    focus: str
    path: str
    severity: str  # "violation" | "warning" | "info"
    message: str
    value: str | None = None
    hint: str = ""
    rule: str = ""

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}" if self.line else self.file


@dataclass
class Report:
    problems: list[Problem] = field(default_factory=list)

    @property
    def violations(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "violation"]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity != "violation"]

    @property
    def conforms(self) -> bool:
        return not self.violations

    def to_json(self) -> str:
        return json.dumps(
            {
                "conforms": self.conforms,
                "violations": [asdict(p) for p in self.violations],
                "warnings": [asdict(p) for p in self.warnings],
            },
            indent=2,
            ensure_ascii=False,
        )

    def to_text(self) -> str:
        out: list[str] = []
        for title, items in (("Violations", self.violations), ("Warnings", self.warnings)):
            if not items:
                continue
            out.append(f"{title} ({len(items)}):")
            for p in items:
                focus = f"<{p.focus}>" if ":" in p.focus else "[a blank node]"
                out.append(f"{p.where}: {p.severity}: {focus}" + (f" {p.path}" if p.path else ""))
                out.append(f"    {p.message}")
                if p.value is not None:
                    out.append(f"    value: {p.value}")
                if p.hint:
                    out.append(f"    fix: {p.hint}")
                out.append(f"    rule: {p.rule}")
            out.append("")
        verdict = "conforms" if self.conforms else "does NOT conform"
        out.append(
            f"The data {verdict}: {len(self.violations)} violation(s), {len(self.warnings)} warning(s)."
        )
        return "\n".join(out)


def _shortener(prefixes: dict[str, str]):
    known = sorted(prefixes.items(), key=lambda kv: -len(kv[1]))

    def short(iri: str) -> str:
        for prefix, ns in known:
            if prefix and iri.startswith(ns) and len(iri) > len(ns):
                return f"{prefix}:{iri[len(ns) :]}"
        return f"<{iri}>" if "://" in iri else iri

    return short


def to_rdflib_term(term):
    if isinstance(term, ox.NamedNode):
        return URIRef(term.value)
    if isinstance(term, ox.BlankNode):
        return BNode(term.value)
    if term.language:
        return Literal(term.value, lang=term.language)
    dt = term.datatype.value
    return Literal(term.value, datatype=None if dt == str(XSD.string) else URIRef(dt))


def to_rdflib(triples) -> Graph:
    g = Graph()
    add = g.add
    # An ill-typed literal ("2016-13-45"^^xsd:date) is a finding for the shapes, not a traceback:
    # rdflib logs one while converting it, so keep its term logger quiet here.
    term_log = logging.getLogger("rdflib.term")
    level = term_log.level
    term_log.setLevel(logging.CRITICAL)
    try:
        for t in triples:
            add((to_rdflib_term(t.subject), to_rdflib_term(t.predicate), to_rdflib_term(t.object)))
    finally:
        term_log.setLevel(level)
    return g


# Paths the site itself uses: an entity there would be overwritten by the home page, a dump...
RESERVED = ("index", "404", "sitemap", "robots", "feed", "sparql", "oai", "dumps/", "_assets/",
            ".well-known/", ".kgpub/")


def reserved_path_problems(sources: Sources, base: str) -> list[Problem]:
    problems = []
    for iri, loc in sorted(sources.locations.items()):
        if not iri.startswith(base):
            continue
        path = iri[len(base):]
        clash = next((r for r in RESERVED if path == r.rstrip("/") or path.startswith(r)
                      or (not r.endswith("/") and path.startswith(r + "-"))), None)
        if clash:
            problems.append(Problem(
                file=loc.file, line=loc.line or 0, focus=iri, path="", severity="violation",
                message=f"The IRI's path {path!r} is reserved for the site's own files ({clash}).",
                hint="Give the entity another slug, e.g. under topic/, resource/, agent/ or place/.",
                rule="kgpub:ReservedPath",
            ))
    return problems


def validate_sources(sources: Sources) -> Report:
    """Validate ontology + data against the shapes. Ontology classes take part, so sh:class
    follows rdfs:subClassOf without inference."""
    data = to_rdflib(sources.graph)
    shapes = to_rdflib(sources.shapes)
    _conforms, results, _text = shacl_validate(
        data, shacl_graph=shapes, inference="none", allow_warnings=True, advanced=True
    )
    short = _shortener(sources.prefixes)
    # Only top-level results: nested sh:detail results (of sh:node, sh:or...) would report
    # the same fault again on other entities.
    problems = [
        _problem(results, shapes, result, sources, short)
        for report in results.subjects(RDF.type, SH.ValidationReport)
        for result in results.objects(report, SH.result)
    ]
    if sources.base:
        problems += reserved_path_problems(sources, sources.base)
    return Report(sorted(set(problems)))


def _path_text(g: Graph, path, short) -> str:
    """A SHACL property path in SPARQL syntax: skos:broader*, ^dcterms:subject, a/b, (a|b)."""
    if isinstance(path, URIRef):
        return short(str(path))
    for prop, suffix in ((SH.zeroOrMorePath, "*"), (SH.oneOrMorePath, "+"),
                         (SH.zeroOrOnePath, "?")):
        inner = g.value(path, prop)
        if inner is not None:
            return _path_text(g, inner, short) + suffix
    inverse = g.value(path, SH.inversePath)
    if inverse is not None:
        return "^" + _path_text(g, inverse, short)
    alternatives = g.value(path, SH.alternativePath)
    if alternatives is not None:
        return "(" + "|".join(_path_text(g, p, short) for p in Collection(g, alternatives)) + ")"
    if g.value(path, RDF.first) is not None:
        return "/".join(_path_text(g, p, short) for p in Collection(g, path))
    return "(path)"


def _problem(results: Graph, shapes: Graph, result, sources: Sources, short) -> Problem:
    focus = results.value(result, SH.focusNode)
    path = results.value(result, SH.resultPath)
    value = results.value(result, SH.value)
    severity = results.value(result, SH.resultSeverity)
    shape = results.value(result, SH.sourceShape)
    component = str(results.value(result, SH.sourceConstraintComponent) or "").rsplit("#", 1)[-1]
    messages = sorted(str(m) for m in results.objects(result, SH.resultMessage))
    constraint = results.value(result, SH.sourceConstraint)
    hint = next(
        (
            shapes.value(n, SH.description)
            for n in (constraint, shape)
            if n is not None and shapes.value(n, SH.description) is not None
        ),
        None,
    )
    loc = sources.locate(str(focus))
    sev = {SH.Violation: "violation", SH.Warning: "warning"}.get(severity, "info")
    return Problem(
        file=loc.file if loc else "(unknown file)",
        line=(loc.line or 0) if loc else 0,
        focus=str(focus),
        path="" if path is None else _path_text(results, path, short),
        severity=sev,
        message=" ".join(messages) or component,
        value=None
        if value is None
        else (short(str(value)) if isinstance(value, URIRef) else repr(str(value))),
        hint=str(hint) if hint else HINTS.get(component, ""),
        rule=f"sh:{component}",
    )
