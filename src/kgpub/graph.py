"""Graph: the published graph's statements, by subject and by object, read without recording.

The graph is what editors wrote and what the build derives from it (kgpub.entail). Only the
build's own machinery reads it directly: the incremental plan compares subjects' statements
(kgpub.incremental), the pipeline makes views over it. Renderers never receive a Graph: they get
an Index (kgpub.index), a view that records every read an incremental rebuild depends on, so
render code has no way to read the graph without recording (a rebuild would miss its edits).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

import pyoxigraph as ox

from .config import Project
from .entail import entailments, merge
from .load import Sources

RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
RDFS = "http://www.w3.org/2000/01/rdf-schema#"
SKOS = "http://www.w3.org/2004/02/skos/core#"
DCT = "http://purl.org/dc/terms/"
FOAF = "http://xmlns.com/foaf/0.1/"
OWL = "http://www.w3.org/2002/07/owl#"
XSD = "http://www.w3.org/2001/XMLSchema#"
ORG = "http://www.w3.org/ns/org#"
VOID = "http://rdfs.org/ns/void#"

RDF_TYPE = RDF + "type"

STANDARD_PREFIXES = {
    "rdf": RDF,
    "rdfs": RDFS,
    "owl": OWL,
    "xsd": XSD,
    "skos": SKOS,
    "dcterms": DCT,
    "foaf": FOAF,
    "org": ORG,
    "void": VOID,
}

Values = list[Any]  # objects: ox.NamedNode | ox.BlankNode | ox.Literal (| ox.Triple, RDF 1.2)
_NO_STATEMENTS: Mapping[str, Values] = {}


class Graph:
    """The statements, indexed once. Reads here are never recorded: see Index for render code."""

    def __init__(self, project: Project, sources: Sources,
                 derived: list[ox.Triple] | None = None):
        """derived: the statements derived from the sources (kgpub.entail.entailments; computed
        when not given)."""
        self.project = project
        self.base = project.base
        self.vocab = project.vocab
        self.ontology_iri = project.base + "ontology"
        self.derived = entailments(sources) if derived is None else derived
        # The vocabulary's document: the ontology and what is derived about its subjects (the
        # resource types are skos:Concepts, a scheme has its top concepts).
        described = {t.subject for t in sources.ontology}
        self.ontology_triples = merge(sources.ontology,
                                      [t for t in self.derived if t.subject in described])
        self.ontology_subjects = sorted({s.value for s in described})  # type: ignore[union-attr]
        self.triples = merge(sources.graph, self.derived)
        self.prefixes = {**STANDARD_PREFIXES, **{"sphr": self.vocab}}
        for prefix, ns in sorted(sources.prefixes.items()):
            self.prefixes.setdefault(prefix, ns)
        out: defaultdict[str, defaultdict[str, Values]] = defaultdict(lambda: defaultdict(list))
        inc: defaultdict[str, list[tuple[str, str]]] = defaultdict(list)
        # Statements come in runs about one subject: its string and map are found once a run,
        # and each property's string once (pyoxigraph makes a new str on every .value).
        names: dict[ox.NamedNode, str] = {}
        last, s, preds = None, "", out[""]
        for t in self.triples:
            subject, o = t.subject, t.object
            if subject != last:
                last, s = subject, subject.value  # type: ignore[union-attr]
                preds = out[s]
            predicate = t.predicate
            p = names.get(predicate)
            if p is None:
                p = names[predicate] = predicate.value
            preds[p].append(o)
            if type(o) is ox.NamedNode:
                inc[o.value].append((s, p))
        out.pop("", None)  # the placeholder (no subject is the empty IRI)
        for preds in out.values():
            for values in preds.values():
                if len(values) > 1:
                    values.sort(key=str)
        for links in inc.values():
            if len(links) > 1:
                links.sort()
        # Subject (an IRI, or a blank node's label) -> property -> objects, sorted; object IRI
        # -> (subject, property) sorted. Private: a view (kgpub.index) reads them, recording.
        self._out = out
        self._inc = inc

    # ---- the unrecorded API: for the build's own machinery, never handed to render code ------

    def statements(self, subject: str) -> Mapping[str, Sequence[Any]]:
        """A subject's properties and their values (unrecorded)."""
        return self._out.get(subject, _NO_STATEMENTS)

    def links_to(self, iri: str) -> Sequence[tuple[str, str]]:
        """(subject, property) of every statement whose object is iri (unrecorded)."""
        return self._inc.get(iri, [])
