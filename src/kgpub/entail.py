"""Entail: the statements clients rely on and editors do not write.

Editors write the short form: `a sphr:Topic`, `skos:broader`, `skos:topConceptOf`. Clients that
do not infer (SKOS browsers such as Skosmos or SkoHub, most SPARQL users) look for the long form:
`?c a skos:Concept`, `skos:narrower`, `skos:hasTopConcept`, `skos:inScheme`. After validation
(which checks what editors wrote) and before indexing, the build derives:

- the classes an instance's classes specialise: every superclass in the ontology's
  rdfs:subClassOf closure (a topic is `a sphr:Topic, skos:Concept`; a publication also
  `a sphr:ResourceEntry, dcterms:BibliographicResource, foaf:Document`; an organisation also
  `a foaf:Agent`), from the axioms of ontology/ only, never a table in code;
- the SKOS inverses, both ways: skos:broader / skos:narrower, skos:topConceptOf /
  skos:hasTopConcept;
- skos:inScheme for every concept of a hierarchy: a top concept is in the scheme it is a top
  concept of, a narrower concept in the schemes of its broader concepts, transitively.

A derived statement that is also written is not derived again: the published graph holds each
statement once. Everything is deterministic (the same input gives the same statements in the
same order), and the derivation is one pass over the graph plus work proportional to the
statements it concerns.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

import pyoxigraph as ox

from .load import Sources

RDF_TYPE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"
SUBCLASS_OF = "http://www.w3.org/2000/01/rdf-schema#subClassOf"
SKOS = "http://www.w3.org/2004/02/skos/core#"
BROADER, NARROWER = SKOS + "broader", SKOS + "narrower"
TOP_CONCEPT_OF, HAS_TOP_CONCEPT = SKOS + "topConceptOf", SKOS + "hasTopConcept"
IN_SCHEME = SKOS + "inScheme"

# Each property and its inverse, both ways.
INVERSES = {BROADER: NARROWER, NARROWER: BROADER,
            TOP_CONCEPT_OF: HAS_TOP_CONCEPT, HAS_TOP_CONCEPT: TOP_CONCEPT_OF}
# The order of a subject's derived statements.
_ORDER = {RDF_TYPE: 0, NARROWER: 1, BROADER: 2, HAS_TOP_CONCEPT: 3, TOP_CONCEPT_OF: 4,
          IN_SCHEME: 5}

Node = ox.NamedNode | ox.BlankNode | ox.Triple  # a subject (RDF 1.2: also a triple term)


def entailments(sources: Sources) -> list[ox.Triple]:
    """The derived statements of a project's published graph (ontology + data)."""
    return derive(sources.ontology, sources.graph)


def published(sources: Sources, derived: list[ox.Triple] | None = None) -> list[ox.Triple]:
    """The graph as published: what was written and, after each subject's statements, what
    is derived about it."""
    return merge(sources.graph, entailments(sources) if derived is None else derived)


def superclasses(ontology: Iterable[ox.Triple]) -> dict[Node, list[Node]]:
    """Each class of the ontology's rdfs:subClassOf axioms -> every class it specialises,
    transitively (itself excluded, cycles harmless), sorted."""
    direct: dict[Node, set[Node]] = defaultdict(set)
    for t in ontology:
        if t.predicate.value == SUBCLASS_OF and isinstance(t.object, ox.NamedNode):
            direct[t.subject].add(t.object)
    closure: dict[Node, list[Node]] = {}
    for cls in direct:
        found: set[Node] = set()
        stack = list(direct[cls])
        while stack:
            sup = stack.pop()
            if sup in found or sup == cls:
                continue
            found.add(sup)
            stack.extend(direct.get(sup, ()))
        closure[cls] = sorted(found, key=str)
    return closure


def derive(ontology: Iterable[ox.Triple], graph: Iterable[ox.Triple]) -> list[ox.Triple]:
    """The statements derived from graph (which includes the ontology) with the ontology's
    class axioms, none of which graph already holds. Grouped by subject (in the order subjects
    first appear), each subject's in a fixed order."""
    supers = superclasses(ontology)
    # The statements the rules read, and those they could derive (to never derive them again).
    types: dict[Node, set[Node]] = defaultdict(set)
    links: dict[str, set[tuple[Node, Node]]] = {p: set() for p in (*INVERSES, IN_SCHEME)}
    first: dict[Node, int] = {}  # subject -> the order it first appears in
    names: dict[ox.NamedNode, str] = {}  # pyoxigraph makes a new str on every .value
    last = None
    for t in graph:
        s = t.subject
        if s != last:  # statements come in runs about one subject
            last = s
            if s not in first:
                first[s] = len(first)
        predicate = t.predicate
        p = names.get(predicate)
        if p is None:
            p = names[predicate] = predicate.value
        if p == RDF_TYPE:
            if not isinstance(t.object, ox.Literal):  # a literal class is no class
                types[s].add(t.object)
        elif p in links and isinstance(t.object, ox.NamedNode | ox.BlankNode):
            links[p].add((s, t.object))

    derived: dict[Node, set[tuple[str, Node]]] = defaultdict(set)

    def add(s: Node, p: str, o: Node) -> None:
        if p == RDF_TYPE:
            if o not in types[s]:
                derived[s].add((p, o))
        elif (s, o) not in links[p]:
            derived[s].add((p, o))

    # 1. The classes an instance's classes specialise.
    for s, classes in types.items():
        for cls in classes:
            for sup in supers.get(cls, ()):
                add(s, RDF_TYPE, sup)
    # 2. The SKOS inverses, both ways; the hierarchy and the top concepts, completed.
    broader: dict[Node, set[Node]] = defaultdict(set)  # concept -> its broader concepts
    tops: dict[Node, set[Node]] = defaultdict(set)  # concept -> the schemes it tops
    for p, inverse in INVERSES.items():
        for s, o in links[p]:
            add(o, inverse, s)
            if p == BROADER:
                broader[s].add(o)
            elif p == NARROWER:
                broader[o].add(s)
            elif p == TOP_CONCEPT_OF:
                tops[s].add(o)
            else:
                tops[o].add(s)
    # 3. skos:inScheme: a top concept's schemes, passed down to narrower concepts. Written
    # skos:inScheme passes down too (a narrower concept is in its broader concept's scheme).
    schemes: dict[Node, set[Node]] = defaultdict(set)
    for s, o in links[IN_SCHEME]:
        schemes[s].add(o)
    for c, found in tops.items():
        schemes[c] |= found
    narrower: dict[Node, list[Node]] = defaultdict(list)
    for c, ups in broader.items():
        for b in ups:
            narrower[b].append(c)
    todo = [c for c in schemes if c in narrower]
    while todo:
        b = todo.pop()
        for c in narrower[b]:
            new = schemes[b] - schemes[c]
            if new:
                schemes[c] |= new
                if c in narrower:
                    todo.append(c)
    for c, found in schemes.items():
        for scheme in found:
            add(c, IN_SCHEME, scheme)

    end = len(first)
    out: list[ox.Triple] = []
    for s in sorted(derived, key=lambda n: (first.get(n, end), str(n))):
        for p, o in sorted(derived[s], key=lambda po: (_ORDER[po[0]], str(po[1]))):
            out.append(ox.Triple(s, ox.NamedNode(p), o))
    return out


def merge(asserted: list[ox.Triple], derived: list[ox.Triple]) -> list[ox.Triple]:
    """asserted with each subject's derived statements placed after its last written one
    (a Turtle dump then describes each thing in one block); derived statements about things
    nothing is written about come last."""
    if not derived:
        return list(asserted)
    by_subject: dict[Node, list[ox.Triple]] = defaultdict(list)
    for t in derived:
        by_subject[t.subject].append(t)
    last: dict[Node, int] = {}  # subject -> the index of its last written statement
    run: Node | None = None
    start = 0
    for i, t in enumerate(asserted):  # statements come in runs about one subject
        s = t.subject
        if s != run:
            if run is not None and run in by_subject:
                last[run] = i - 1
            run = s
    if run is not None and run in by_subject:
        last[run] = len(asserted) - 1
    after = sorted((i, by_subject.pop(s)) for s, i in last.items())
    out: list[ox.Triple] = []
    for i, extra in after:
        out.extend(asserted[start:i + 1])
        out.extend(extra)
        start = i + 1
    out.extend(asserted[start:])
    for rest in by_subject.values():  # in derived's order
        out.extend(rest)
    return out
