"""Validate: SHACL over ontology + data, turned into a report an editor can act on.

Two engines (see kgpub.shacl_engines): pySHACL, the reference, and the much faster `shacl`
(Rust); `engine="auto"` takes the fast one when it is installed and working. Both give the same
report.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field

from rdflib import Graph, URIRef
from rdflib.collection import Collection
from rdflib.namespace import RDF, SH

from .load import Sources
from .shacl_engines import ENGINES, EngineError, Finding, run, to_rdflib, to_rdflib_term

__all__ = [
    "ENGINES", "EngineError", "HINTS", "Problem", "Report", "reserved_path_problems",
    "to_rdflib", "to_rdflib_term", "validate_sources",
]

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
    engine: str = field(default="", compare=False)  # the SHACL engine that ran

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


# Paths the site itself uses: an entity there would be overwritten by the home page, a dump...
RESERVED = ("index", "404", "sitemap", "robots", "feed", "sparql", "oai", "search", "dumps/",
            "_assets/", "_pagefind/", "browse/", ".well-known/", ".kgpub/")


def reserved_path_problems(sources: Sources, base: str) -> list[Problem]:
    problems = []
    # The pages of the site's other languages live under their codes: 'fr/', 'es/'.
    reserved = RESERVED + tuple(f"{lang}/" for lang in sources.languages[1:])
    # Every clash starts with a reserved stem: test that first (one call), the rest only then.
    stems = tuple(r.rstrip("/") for r in reserved)
    for iri, loc in sorted(sources.locations.items()):
        if not iri.startswith(base):
            continue
        path = iri[len(base):]
        if not path.startswith(stems):
            continue
        clash = next((r for r in reserved if path == r.rstrip("/") or path.startswith(r)
                      or (not r.endswith("/") and path.startswith(r + "-"))), None)
        if clash:
            problems.append(Problem(
                file=loc.file, line=loc.line or 0, focus=iri, path="", severity="violation",
                message=f"The IRI's path {path!r} is reserved for the site's own files ({clash}).",
                hint="Give the entity another slug, e.g. under topic/, resource/, agent/ or place/.",
                rule="kgpub:ReservedPath",
            ))
    return problems


def validate_sources(sources: Sources, engine: str = "auto") -> Report:
    """Validate ontology + data against the shapes. Ontology classes take part, so sh:class
    follows rdfs:subClassOf without inference.

    engine: "pyshacl" (the reference), "fast" (the `shacl` package), or "auto" (fast when it is
    installed and working, else pyshacl). Raises EngineError for an unknown or unusable engine."""
    ran, findings = run(sources, engine)
    short = _shortener(sources.prefixes)
    problems = [_problem(f, sources, short) for f in findings]
    if sources.base:
        problems += reserved_path_problems(sources, sources.base)
    return Report(sorted(set(problems)), engine=ran)


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


def _problem(f: Finding, sources: Sources, short) -> Problem:
    loc = sources.locate(str(f.focus))
    sev = {SH.Violation: "violation", SH.Warning: "warning"}.get(f.severity, "info")
    value = f.value
    return Problem(
        file=loc.file if loc else "(unknown file)",
        line=(loc.line or 0) if loc else 0,
        focus=str(f.focus),
        path="" if f.path is None else _path_text(f.graph, f.path, short),
        severity=sev,
        message=" ".join(f.messages) or f.component,
        value=None
        if value is None
        else (short(str(value)) if isinstance(value, URIRef) else repr(str(value))),
        hint=f.hint or HINTS.get(f.component, ""),
        rule=f"sh:{f.component}",
    )
