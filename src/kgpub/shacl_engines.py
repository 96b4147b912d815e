"""SHACL engines behind `kgpub validate`: pySHACL, the reference, and `shacl`, a validator written
in Rust (PyPI package `shacl`), ~50x faster on large graphs.

Both run the project's shapes over ontology + data without inference and hand back the same
engine-neutral findings: the top-level validation results, described with the shape's own
sh:message and sh:description, so `kgpub.validate` renders identical reports whichever ran.

    pyshacl  converts the pyoxigraph triples to rdflib (~20 s per million triples) and validates
             in Python.
    fast     writes the triples as N-Triples to a temporary file (the fastest way in: the engine
             parses a file on several threads; ~250 MB per million triples of this data, in
             $TMPDIR) and validates with the compiled shapes. No rdflib conversion of the data.
    auto     fast when the `shacl` package is installed, passes a self-check, and the shapes use
             only features whose results kgpub has checked against pySHACL (no SPARQL-based or
             SHACL-AF constraints); pySHACL otherwise, or when the fast engine fails.

Blank nodes: the fast engine renames them, numbering them _:0_b<n> in the order it first meets
them, shape blank nodes first. Shapes that are blank nodes get IRIs (urn:kgpub:shape:...) so that
results name a shape that can be looked up; the data's blank nodes are traced back by their order
in the file, which two sentinel blank nodes, first and last in the file, check on every run. If
the check fails, a result naming a blank node raises EngineError (auto then uses pySHACL).
"""

from __future__ import annotations

import logging
import os
import re
import tempfile
import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from itertools import chain

import pyoxigraph as ox
from rdflib import BNode, Graph, Literal, URIRef
from rdflib.namespace import SH, XSD
from rdflib.term import Node

from .errors import KgpubError
from .load import Sources

log = logging.getLogger(__name__)

ENGINES = ("auto", "fast", "pyshacl")

SH_NS = "http://www.w3.org/ns/shacl#"
RDF_FIRST = "http://www.w3.org/1999/02/22-rdf-syntax-ns#first"
RDF_REST = "http://www.w3.org/1999/02/22-rdf-syntax-ns#rest"
# Predicates of SHACL path and list nodes: those nodes stay blank (SHACL requires complex paths to
# be blank nodes); every other blank node of the shapes graph is a shape and gets an IRI.
PATH_OR_LIST = {RDF_FIRST, RDF_REST} | {
    SH_NS + p
    for p in ("inversePath", "alternativePath", "zeroOrMorePath", "oneOrMorePath", "zeroOrOnePath")
}
# Shapes features whose results kgpub has not checked against pySHACL with the fast engine:
# SPARQL-based and SHACL-AF constraints, targets and rules (pySHACL fills in their messages).
UNVERIFIED = {
    SH_NS + p
    for p in ("sparql", "select", "ask", "construct", "rule", "target", "parameter",
              "jsFunctionName", "jsLibrary", "ConstraintComponent", "SPARQLFunction")
}
SKOLEM = "urn:kgpub:shape:"
SENTINEL_P = ox.NamedNode("urn:kgpub:sentinel")
SENTINEL_SHAPE = "urn:kgpub:sentinel-shape"
SENTINEL_SHAPES = f"""
<{SENTINEL_SHAPE}> <http://www.w3.org/1999/02/22-rdf-syntax-ns#type> <{SH_NS}NodeShape> .
<{SENTINEL_SHAPE}> <{SH_NS}targetSubjectsOf> <{SENTINEL_P.value}> .
<{SENTINEL_SHAPE}> <{SH_NS}nodeKind> <{SH_NS}IRI> .
<{SENTINEL_SHAPE}> <{SH_NS}severity> <{SH_NS}Info> .
"""
BNODE_NAME = re.compile(r"_:(\d+)_b(\d+)")  # the engine's blank node names
SEVERITIES = {"Violation": SH.Violation, "Warning": SH.Warning, "Info": SH.Info}


class EngineError(KgpubError):
    """The chosen SHACL engine is missing or cannot validate these shapes or data."""


@dataclass(frozen=True)
class Finding:
    """One top-level validation result, engine-neutral (rdflib terms, as pySHACL reports them)."""

    focus: Node
    path: Node | None  # the sh:path node, described in `graph`
    graph: Graph  # where the path's nodes (and the shape) are described
    value: Node | None
    severity: URIRef  # sh:Violation, sh:Warning, sh:Info
    component: str  # local name, e.g. "MinCountConstraintComponent"
    messages: tuple[str, ...]
    hint: str | None  # sh:description of the constraint or the shape


# ---- rdflib conversion (the pySHACL engine's input) -----------------------------------------


def to_rdflib_term(term):
    if isinstance(term, ox.NamedNode):
        return URIRef(term.value)
    if isinstance(term, ox.BlankNode):
        return BNode(term.value)
    if term.language:
        return Literal(term.value, lang=term.language)
    dt = term.datatype.value
    return Literal(term.value, datatype=None if dt == str(XSD.string) else URIRef(dt))


def to_rdflib(triples: Iterable[ox.Triple]) -> Graph:
    g = Graph()
    add = g.add
    # An ill-typed literal ("2016-13-45"^^xsd:date) is a finding for the shapes, not a traceback:
    # rdflib logs one while converting it, so keep its term logger quiet here.
    with _quiet_rdflib_terms():
        for t in triples:
            add((to_rdflib_term(t.subject), to_rdflib_term(t.predicate), to_rdflib_term(t.object)))
    return g


class _quiet_rdflib_terms:
    """rdflib says so, in its log or as a warning ("weird boolean"), when it cannot read a
    typed value: validation reports those values itself (kgpub.validate.literal_problems)."""

    def __enter__(self):
        self.log = logging.getLogger("rdflib.term")
        self.level = self.log.level
        self.log.setLevel(logging.CRITICAL)
        self.warnings = warnings.catch_warnings()
        self.warnings.__enter__()
        warnings.filterwarnings("ignore", category=UserWarning, module="rdflib.term")

    def __exit__(self, *exc):
        self.warnings.__exit__(*exc)
        self.log.setLevel(self.level)


def _description(shapes: Graph, *nodes) -> str | None:
    for n in nodes:
        if n is not None:
            d = shapes.value(n, SH.description)
            if d is not None:
                return str(d)
    return None


# ---- pySHACL ----------------------------------------------------------------------------------


class PyShaclEngine:
    name = "pyshacl"

    def findings(self, sources: Sources) -> list[Finding]:
        from pyshacl import validate as shacl_validate
        from rdflib.namespace import RDF

        data = to_rdflib(chain(sources.ontology, sources.data))
        shapes = to_rdflib(sources.shapes)
        _conforms, results, _text = shacl_validate(
            data, shacl_graph=shapes, inference="none", allow_warnings=True, advanced=True
        )
        # Only top-level results: nested sh:detail results (of sh:node, sh:or...) would report
        # the same fault again on other entities.
        out = []
        for report in results.subjects(RDF.type, SH.ValidationReport):
            for r in results.objects(report, SH.result):
                shape = results.value(r, SH.sourceShape)
                component = str(results.value(r, SH.sourceConstraintComponent) or "")
                out.append(Finding(
                    focus=results.value(r, SH.focusNode),
                    path=results.value(r, SH.resultPath),
                    graph=results,
                    value=results.value(r, SH.value),
                    severity=results.value(r, SH.resultSeverity),
                    component=component.rsplit("#", 1)[-1],
                    messages=tuple(sorted(str(m) for m in results.objects(r, SH.resultMessage))),
                    hint=_description(shapes, results.value(r, SH.sourceConstraint), shape),
                ))
        return out


# ---- shacl (Rust) -----------------------------------------------------------------------------


@cache
def fast_engine_status() -> str | None:
    """None when the `shacl` package imports and passes a self-check; else why not."""
    try:
        import shacl
    except ImportError as exc:
        return f"the shacl package is not installed ({exc})"
    try:
        shapes = shacl.Shapes.from_text(
            SENTINEL_SHAPES + f"""
<urn:t:s> <http://www.w3.org/1999/02/22-rdf-syntax-ns#type> <{SH_NS}NodeShape> .
<urn:t:s> <{SH_NS}targetSubjectsOf> <urn:t:p> .
<urn:t:s> <{SH_NS}property> <urn:t:ps> .
<urn:t:ps> <{SH_NS}path> <urn:t:p> .
<urn:t:ps> <{SH_NS}pattern> "^ok$" .
<urn:t:ps> <{SH_NS}message> "m" .
""", format="ntriples")
        with tempfile.TemporaryDirectory(prefix="kgpub-shacl-") as tmp:
            path = os.path.join(tmp, "data.nt")
            with open(path, "wb") as f:
                f.write(b'_:a <urn:kgpub:sentinel> "s" .\n<urn:t:x> <urn:t:p> "ok" .\n'
                        b'<urn:t:y> <urn:t:p> _:c .\n_:c <urn:t:p> "bad" .\n'
                        b'_:z <urn:kgpub:sentinel> "s" .\n')
            report = shapes.validate_file(path, allow_warnings=True)
        got = sorted((r.focus_node, r.value, r.source_shape, r.severity, tuple(r.messages))
                     for r in report.results)
    except Exception as exc:  # noqa: BLE001 - any failure means "not working"
        return f"the shacl package fails its self-check ({type(exc).__name__}: {exc})"
    expected = sorted([
        ("_:0_b0", "_:0_b0", f"<{SENTINEL_SHAPE}>", "Info", ()),
        ("_:0_b2", "_:0_b2", f"<{SENTINEL_SHAPE}>", "Info", ()),
        ("<urn:t:y>", "_:0_b1", "<urn:t:ps>", "Violation", ("m",)),
        ("_:0_b1", '"bad"', "<urn:t:ps>", "Violation", ("m",)),
    ])
    if got != expected:
        return f"the shacl package reports unexpected results in its self-check: {got}"
    return None


def unverified_features(sources: Sources) -> set[str]:
    """SHACL features in the shapes whose results the fast engine is not known to report as
    pySHACL does."""
    found = set()
    for t in sources.shapes:
        for term in (t.predicate, t.object):
            if isinstance(term, ox.NamedNode) and term.value in UNVERIFIED:
                found.add("sh:" + term.value[len(SH_NS):])
    return found


class FastEngine:
    name = "fast"

    def findings(self, sources: Sources) -> list[Finding]:
        problem = fast_engine_status()
        if problem:
            raise EngineError(f"the fast SHACL engine is unavailable: {problem}")
        try:
            return self._findings(sources)
        except EngineError:
            raise
        except Exception as exc:  # noqa: BLE001 - e.g. an unwritable $TMPDIR, a shapes error
            raise EngineError(
                f"the fast SHACL engine failed ({type(exc).__name__}: {exc}); "
                "try --engine pyshacl"
            ) from exc

    def _findings(self, sources: Sources) -> list[Finding]:
        import shacl

        shapes_graph = to_rdflib(sources.shapes)
        skolem = _skolemize_shapes(sources.shapes)
        compiled = shacl.Shapes.from_text(
            ox.serialize(skolem.triples, format=ox.RdfFormat.N_TRIPLES).decode("utf-8")
            + SENTINEL_SHAPES,
            format="ntriples",
        )
        with tempfile.TemporaryDirectory(prefix="kgpub-shacl-") as tmp:
            path = os.path.join(tmp, "data.nt")
            _write_data(path, sources)
            report = compiled.validate_file(path, allow_warnings=True)
        return _Converter(shapes_graph, skolem.names, sources).convert(report.results)


@dataclass
class _Skolemized:
    triples: list[ox.Triple]
    names: dict[str, Node]  # the engine's name of a shape (N-Triples) -> the rdflib node


def _skolemize_shapes(triples: list[ox.Triple]) -> _Skolemized:
    """Give every blank-node shape an IRI, so results name their shape in a form that can be
    looked up (the engine renames blank nodes), and no shape blank node shifts the numbering of
    the data's blank nodes. Path and list nodes stay as they are."""
    shapes = {
        t.subject.value
        for t in triples
        if isinstance(t.subject, ox.BlankNode) and t.predicate.value not in PATH_OR_LIST
    }

    def name(term):
        if isinstance(term, ox.BlankNode) and term.value in shapes:
            return ox.NamedNode(SKOLEM + term.value)
        return term

    names: dict[str, Node] = {f"<{SKOLEM}{label}>": BNode(label) for label in shapes}
    out = [ox.Triple(name(t.subject), t.predicate, name(t.object)) for t in triples]
    return _Skolemized(out, names)


def _write_data(path: str, sources: Sources) -> None:
    """Write ontology + data as N-Triples between two sentinel blank nodes."""
    first = ox.Triple(ox.BlankNode("kgpubsentinelfirst"), SENTINEL_P, ox.Literal("first"))
    last = ox.Triple(ox.BlankNode("kgpubsentinellast"), SENTINEL_P, ox.Literal("last"))
    ox.serialize(chain([first], sources.ontology, sources.data, [last]), path,
                 format=ox.RdfFormat.N_TRIPLES)


def _blank_nodes(sources: Sources) -> list[str]:
    """The data's blank node labels in the order they first occur in the file written by
    _write_data: the order the engine numbers them in."""
    order: dict[str, None] = {}
    for t in chain(sources.ontology, sources.data):
        if isinstance(t.subject, ox.BlankNode):
            order.setdefault(t.subject.value, None)
        if isinstance(t.object, ox.BlankNode):
            order.setdefault(t.object.value, None)
    return list(order)


class _Converter:
    """The fast engine's results as findings, described with the shapes graph as pySHACL does."""

    def __init__(self, shapes: Graph, shape_names: dict[str, Node], sources: Sources):
        self.shapes = shapes
        self.shape_names = shape_names
        self.sources = sources
        self.bnodes: list[str] = []
        self.terms: dict[str, Node] = {}
        self.described: dict[str | None, tuple] = {}

    def convert(self, results) -> list[Finding]:
        sentinel = f"<{SENTINEL_SHAPE}>"
        self.check_numbering([r.focus_node for r in results if r.source_shape == sentinel])
        out = []
        with _quiet_rdflib_terms():
            for r in results:
                if r.source_shape == sentinel or r.focus_node in self.sentinels:
                    continue
                out.append(self.finding(r))
        return out

    def check_numbering(self, sentinels: list[str]) -> None:
        """The two sentinels bracket the data's blank nodes: the first is numbered just before
        them, the last just after (shape blank nodes come first and shift them all). The data's
        blank nodes are listed only when there are some."""
        self.sentinels: set[str] = set()
        self.numbering: tuple[str, int] | None = None
        found = sorted(
            (m.group(1), int(m.group(2)))
            for m in (BNODE_NAME.fullmatch(s) for s in sentinels) if m
        )
        if len(found) != len(sentinels) or len(found) != 2 or found[0][0] != found[1][0]:
            return
        between = found[1][1] - found[0][1] - 1
        self.bnodes = _blank_nodes(self.sources) if between else []
        if len(self.bnodes) == between:
            self.sentinels = set(sentinels)
            self.numbering = found[0]

    def finding(self, r) -> Finding:
        if r.source_shape not in self.described:
            shape = self.shape(r.source_shape)
            self.described[r.source_shape] = (
                self.shapes.value(shape, SH.path),
                tuple(sorted(str(m) for m in self.shapes.objects(shape, SH.message))),
                _description(self.shapes, shape),
            )
        path, messages, hint = self.described[r.source_shape]
        return Finding(
            focus=self.term(r.focus_node),
            path=path,
            graph=self.shapes,
            value=None if r.value is None else self.term(r.value),
            severity=SEVERITIES.get(r.severity, URIRef(r.severity_iri)),
            component=r.component,
            messages=messages or tuple(r.messages),
            hint=hint,
        )

    def shape(self, name: str | None) -> Node:
        if name in self.shape_names:
            return self.shape_names[name]
        if name and name.startswith("<") and name.endswith(">"):
            return URIRef(name[1:-1])
        raise EngineError(f"the fast SHACL engine reported a result of an unknown shape {name}")

    def term(self, nt: str) -> Node:
        if nt in self.terms:
            return self.terms[nt]
        if nt.startswith("_:"):
            m = BNODE_NAME.fullmatch(nt)
            graph, first = self.numbering or ("", 0)
            index = int(m.group(2)) - first - 1 if m and m.group(1) == graph else -1
            if not 0 <= index < len(self.bnodes):
                raise EngineError(f"the fast SHACL engine names a blank node {nt} that cannot be "
                                  "traced back to the data (its numbering is not as expected)")
            term: Node = BNode(self.bnodes[index])
        elif nt.startswith("<") and nt.endswith(">") and "\\" not in nt:
            term = URIRef(nt[1:-1])
        else:
            (triple,) = ox.parse(f"<urn:s> <urn:p> {nt} .".encode(),
                                 format=ox.RdfFormat.N_TRIPLES)
            term = to_rdflib_term(triple.object)
        self.terms[nt] = term
        return term


# ---- choosing -----------------------------------------------------------------------------------


def run(sources: Sources, engine: str = "auto") -> tuple[str, list[Finding]]:
    """Validate with the named engine; return the engine that ran and its findings."""
    if engine not in ENGINES:
        raise EngineError(f"unknown SHACL engine {engine!r}; choose one of {', '.join(ENGINES)}")
    if engine == "pyshacl":
        return "pyshacl", PyShaclEngine().findings(sources)
    if engine == "fast":
        return "fast", FastEngine().findings(sources)
    reason = fast_engine_status()
    if reason is None:
        features = unverified_features(sources)
        if features:
            reason = f"the shapes use {', '.join(sorted(features))}"
    if reason is None:
        try:
            return "fast", FastEngine().findings(sources)
        except Exception as exc:  # noqa: BLE001 - the reference engine is the fallback
            reason = f"{type(exc).__name__}: {exc}"
            log.warning("fast SHACL engine failed (%s); validating with pySHACL", reason)
    else:
        log.info("validating with pySHACL: %s", reason)
    return "pyshacl", PyShaclEngine().findings(sources)
