"""Index: the validated graph, organised for rendering and serving.

Holds the triples by subject and by object, knows which IRIs are published (every subject under
the base), what kind each is, its label in a language, and its RDF description.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property

import pyoxigraph as ox

from .config import Project
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
# Where a thing's name is found, in order of preference.
LABEL_PROPERTIES = (SKOS + "prefLabel", DCT + "title", FOAF + "name", RDFS + "label")

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


@dataclass(frozen=True)
class Label:
    text: str
    lang: str | None


class Index:
    def __init__(self, project: Project, sources: Sources):
        self.project = project
        self.base = project.base
        self.vocab = project.vocab
        self.ontology_iri = project.base + "ontology"
        self.ontology_triples = list(sources.ontology)
        self.triples = sources.graph
        self.prefixes = {**STANDARD_PREFIXES, **{"sphr": self.vocab}}
        for prefix, ns in sorted(sources.prefixes.items()):
            self.prefixes.setdefault(prefix, ns)
        self._kinds: dict[str, str] = {}
        self.out: dict[str, dict[str, list]] = defaultdict(lambda: defaultdict(list))
        self.inc: dict[str, list[tuple[str, str]]] = defaultdict(list)
        for t in self.triples:
            s, p, o = t.subject.value, t.predicate.value, t.object
            self.out[s][p].append(o)
            if isinstance(o, ox.NamedNode):
                self.inc[o.value].append((s, p))
        for preds in self.out.values():
            for values in preds.values():
                values.sort(key=str)
        for links in self.inc.values():
            links.sort()
        # While a page is rendered, the keys of everything it reads (IRIs whose triples it used,
        # incoming_key(iri) for what links to an IRI, navigation keys from kgpub.browse): an
        # incremental build renders a page again only when one of them changed
        # (kgpub.incremental). None: nothing is recorded.
        self.seen: set | None = None

    # ---- dependency recording -----------------------------------------------------------------

    def note(self, key) -> None:
        if self.seen is not None:
            self.seen.add(key)

    def note_all(self, keys: Iterable) -> None:
        if self.seen is not None:
            self.seen.update(keys)

    @contextmanager
    def recording(self) -> Iterator[set]:
        """Record what is read inside the block into a new set (also kept by an enclosing
        recording)."""
        outer, self.seen = self.seen, set()
        try:
            yield self.seen
        finally:
            inner, self.seen = self.seen, outer
            if outer is not None:
                outer.update(inner)

    # ---- what is published -----------------------------------------------------------------

    @cached_property
    def entities(self) -> list[str]:
        """Every IRI under the base that is described, except vocabulary terms (they live in the
        ontology document, behind its hash namespace)."""
        found = {
            s
            for s in self.out
            if s.startswith(self.base) and len(s) > len(self.base) and "#" not in s
        }
        found.add(self.ontology_iri)
        return sorted(found)

    def is_published(self, iri: str) -> bool:
        self.note(iri)
        return iri in self._entity_set

    @cached_property
    def _entity_set(self) -> frozenset[str]:
        return frozenset(self.entities)

    def path(self, iri: str) -> str:
        """The document path (without suffix) of an IRI under the base: {base}topic/x -> topic/x.
        Vocabulary terms resolve to the ontology document."""
        if iri.startswith(self.vocab):
            return "ontology"
        return iri[len(self.base) :]

    def iri_for_path(self, path: str) -> str:
        return self.base + path

    def types(self, iri: str) -> list[str]:
        self.note(iri)
        return [o.value for o in self.out.get(iri, {}).get(RDF_TYPE, [])]

    def has_type(self, iri: str, cls: str) -> bool:
        return cls in self.types(iri) or any(self._subclass(t, cls) for t in self.types(iri))

    def _subclass(self, sub: str, sup: str, seen: frozenset = frozenset()) -> bool:
        if sub == sup:
            return True
        if sub in seen:
            return False
        return any(
            self._subclass(o.value, sup, seen | {sub})
            for o in self.out.get(sub, {}).get(RDFS + "subClassOf", [])
        )

    def kind(self, iri: str) -> str:
        """A coarse kind that picks the page template."""
        self.note(iri)
        if iri not in self._kinds:
            self._kinds[iri] = self._kind(iri)
        return self._kinds[iri]

    def _kind(self, iri: str) -> str:
        if iri == self.ontology_iri:
            return "ontology"
        v = self.vocab
        checks = (
            (v + "Topic", "topic"),
            (v + "ResourceEntry", "entry"),
            (v + "ResourceType", "type"),
            (SKOS + "ConceptScheme", "scheme"),
            (FOAF + "Agent", "agent"),
            (FOAF + "Person", "agent"),
            (FOAF + "Organization", "agent"),
            (DCT + "Location", "place"),
            (FOAF + "Image", "image"),
            (v + "Instrument", "instrument"),
            (v + "Initiative", "initiative"),
        )
        for cls, kind in checks:
            if self.has_type(iri, cls):
                return kind
        return "thing"

    def of_kind(self, kind: str) -> list[str]:
        self.note(EVERYTHING)  # a list over the whole graph: any edit may change it
        return [e for e in self.entities if self.kind(e) == kind]

    def subjects(self) -> list[str]:
        """Every subject of the graph (IRIs and blank node labels)."""
        self.note(EVERYTHING)
        return list(self.out)

    # ---- values and labels ------------------------------------------------------------------

    def values(self, iri: str, prop: str) -> list:
        if self.seen is not None:
            self.seen.add(iri)
        return self.out.get(iri, {}).get(prop, [])

    def predicates(self, iri: str) -> list[str]:
        """The properties iri has values for, in source order."""
        self.note(iri)
        return list(self.out.get(iri, {}))

    def value(self, iri: str, prop: str):
        vals = self.values(iri, prop)
        return vals[0] if vals else None

    def text(self, iri: str, prop: str, lang: str) -> Label | None:
        """The literal of prop in lang, else in the default language, else untagged, else any."""
        return pick_lang(
            [v for v in self.values(iri, prop) if isinstance(v, ox.Literal)],
            lang,
            self.project.default_language,
        )

    def label(self, iri: str, lang: str) -> Label:
        for prop in LABEL_PROPERTIES:
            found = self.text(iri, prop, lang)
            if found:
                return found
        return Label(fallback_name(iri), None)

    def is_tombstone(self, iri: str) -> bool:
        """A withdrawn entity: kept in the data with owl:deprecated true (and, if it has a
        successor, dcterms:isReplacedBy), so its IRI answers 410 Gone or 301 instead of 404."""
        return any(
            isinstance(v, ox.Literal) and v.value in ("true", "1")
            for v in self.values(iri, OWL + "deprecated")
        )

    def replacement(self, iri: str) -> str | None:
        v = self.value(iri, DCT + "isReplacedBy")
        return v.value if isinstance(v, ox.NamedNode) else None

    @cached_property
    def live_entries(self) -> list[str]:
        return [e for e in self.entities if self.kind(e) == "entry" and not self.is_tombstone(e)]

    def has_label(self, iri: str) -> bool:
        return any(self.values(iri, p) for p in LABEL_PROPERTIES)

    def incoming(self, iri: str, prop: str | None = None) -> list[str]:
        found = [s for s, p in self.inc.get(iri, []) if prop is None or p == prop]
        if self.seen is not None:  # what links to iri, and each of those
            self.seen.add(incoming_key(iri, prop))
            self.seen.update(found)
        return found

    # ---- RDF descriptions ---------------------------------------------------------------------

    def description(self, iri: str) -> list[ox.Triple]:
        """An entity's document: its own triples (following its blank nodes) plus the labels
        and types of what it links to, so a client can show it without further requests.
        The ontology's document is the whole vocabulary."""
        if iri == self.ontology_iri:
            return list(self.ontology_triples)
        triples: list[ox.Triple] = []
        seen_nodes: set[str] = set()
        linked: set[str] = set()
        stack = [iri]
        while stack:
            node = stack.pop()
            if node in seen_nodes:
                continue
            seen_nodes.add(node)
            self.note(node)
            subject = ox.BlankNode(node) if _is_bnode_id(node) else ox.NamedNode(node)
            for p, objs in self.out.get(node, {}).items():
                for o in objs:
                    triples.append(ox.Triple(subject, ox.NamedNode(p), o))
                    if isinstance(o, ox.BlankNode):
                        stack.append(o.value)
                    elif isinstance(o, ox.NamedNode) and o.value != iri:
                        linked.add(o.value)
        for other in sorted(linked):
            node = ox.NamedNode(other)
            for prop in LABEL_PROPERTIES:
                for v in self.values(other, prop):
                    triples.append(ox.Triple(node, ox.NamedNode(prop), v))
        return triples


# The key noted by a page that reads a list over the whole graph (kgpub.incremental renders such
# pages again after any edit).
EVERYTHING = "*"


def incoming_key(iri: str, prop: str | None = None) -> str:
    """The key noted when a page reads what links to iri (through prop, or any property);
    the IRI itself is the key of what iri says."""
    return f"in\t{iri}\t{prop}" if prop else "in\t" + iri


def _is_bnode_id(node: str) -> bool:
    return ":" not in node


def pick_lang(literals: list, lang: str, default: str) -> Label | None:
    if not literals:
        return None
    for wanted in (lang, default, None):
        for lit in literals:
            if (lit.language or None) == wanted:
                return Label(lit.value, lit.language)
    lit = min(literals, key=lambda x: (x.language or "", x.value))
    return Label(lit.value, lit.language)


def fallback_name(iri: str) -> str:
    """A readable name for an unlabelled IRI (validation makes this rare): its last segment."""
    tail = iri.rstrip("/").rsplit("/", 1)[-1].rsplit("#", 1)[-1]
    return tail.replace("-", " ").replace("_", " ") or iri
