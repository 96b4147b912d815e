"""The graph as clients read it (kgpub.entail): the build publishes the statements clients rely on
and editors do not write (the classes our classes specialise, the SKOS inverses, skos:inScheme),
in every form: per-entity documents, dumps, `kgpub query`; a SKOS browser loading the dump as it
is finds the topic and type schemes whole and consistent."""

from __future__ import annotations

import dataclasses
import gzip
import json
from collections import Counter

import pyoxigraph as ox
import pytest
from rdflib import RDF, Graph, URIRef
from rdflib.namespace import DCTERMS, FOAF, SKOS

from kgpub.entail import derive, entailments, merge, published, superclasses
from kgpub.formats import NTRIPLES, serialize
from kgpub.validate import validate_sources
from kgtest import BASE, PARENT_TOPIC, REPO, SPHR, TOPIC, run_cli

TYPES = URIRef(BASE + "types")
TOPICS = URIRef(BASE + "topics")


# ---- the rules, on a small graph -------------------------------------------------------------


EX = "http://example.org/"


def n(name: str) -> ox.NamedNode:
    return ox.NamedNode(EX + name)


def t(s: str, p: str, o: str) -> ox.Triple:
    props = {"a": "http://www.w3.org/1999/02/22-rdf-syntax-ns#type",
             "sub": "http://www.w3.org/2000/01/rdf-schema#subClassOf"}
    pred = props.get(p) or "http://www.w3.org/2004/02/skos/core#" + p
    return ox.Triple(n(s), ox.NamedNode(pred), n(o))


ONTOLOGY = [t("A", "sub", "B"), t("B", "sub", "C"), t("C", "sub", "A"),  # a cycle, harmless
            t("D", "sub", "E"), t("Topic", "sub", "Concept")]
DATA = [
    t("x", "a", "A"), t("y", "a", "D"), t("y", "a", "E"),  # E is written: not derived again
    t("t0", "a", "Topic"), t("t0", "topConceptOf", "S"),
    t("t1", "a", "Topic"), t("t1", "broader", "t0"), t("t1", "inScheme", "S"),
    t("t2", "a", "Topic"), t("t2", "broader", "t1"),
    t("t1", "narrower", "t4"),  # written the other way round
    t("t4", "a", "Topic"),
    t("S2", "hasTopConcept", "t3"),  # so is this top concept
    t("t5", "a", "Topic"), t("t5", "broader", "t6"), t("t6", "broader", "t5"),  # a cycle
    t("t6", "topConceptOf", "S"),
]


def test_the_rules():
    derived = derive(ONTOLOGY, ONTOLOGY + DATA)
    got = {(d.subject.value[len(EX):], d.predicate.value.rsplit("#", 1)[-1],
            d.object.value[len(EX):]) for d in derived}
    assert got == {
        # the classes an instance's classes specialise, transitively, cycles harmless
        ("x", "type", "B"), ("x", "type", "C"),
        ("t0", "type", "Concept"), ("t1", "type", "Concept"), ("t2", "type", "Concept"),
        ("t4", "type", "Concept"), ("t5", "type", "Concept"),
        # the inverses, both ways
        ("t0", "narrower", "t1"), ("t1", "narrower", "t2"), ("t4", "broader", "t1"),
        ("S", "hasTopConcept", "t0"), ("t3", "topConceptOf", "S2"),
        ("t6", "narrower", "t5"), ("t5", "narrower", "t6"), ("S", "hasTopConcept", "t6"),
        # skos:inScheme from the top concepts down (t1's is written)
        ("t0", "inScheme", "S"), ("t2", "inScheme", "S"), ("t4", "inScheme", "S"),
        ("t3", "inScheme", "S2"), ("t5", "inScheme", "S"), ("t6", "inScheme", "S"),
    }
    # nothing written is derived again, nothing twice; the same input, the same output
    assert not set(derived) & set(ONTOLOGY + DATA)
    assert len(derived) == len(set(derived))
    assert derived == derive(ONTOLOGY, ONTOLOGY + DATA)
    assert superclasses(ONTOLOGY)[n("A")] == [n("B"), n("C")]


def test_merge_places_each_subjects_derived_statements_after_its_own():
    asserted = [t("a", "broader", "b"), t("b", "prefLabel", "x"), t("a", "inScheme", "s")]
    derived = [t("a", "a", "Concept"), t("b", "narrower", "a"), t("z", "narrower", "a")]
    assert merge(asserted, derived) == [asserted[0], asserted[1], derived[1], asserted[2],
                                        derived[0], derived[2]]


# ---- the bundled project, built --------------------------------------------------------------


@pytest.fixture(scope="module")
def dump(built_site) -> Graph:
    raw = gzip.decompress((built_site / "dumps" / "dataset.ttl.gz").read_bytes())
    return Graph().parse(data=raw, format="turtle")


def test_a_skos_browser_finds_both_schemes_whole(dump):
    """What Skosmos, SkoHub or SKOS Play do with a dump: no inference, only what is written."""
    g = dump
    concepts = set(g.subjects(RDF.type, SKOS.Concept))
    topics = set(g.subjects(RDF.type, SPHR.Topic))
    types = set(g.subjects(RDF.type, SPHR.ResourceType))
    assert topics and types and concepts == topics | types
    assert set(g.subjects(RDF.type, SKOS.ConceptScheme)) == {TOPICS, TYPES}
    # the hierarchy, both ways
    assert {(a, b) for a, b in g.subject_objects(SKOS.broader)} == {
        (b, a) for a, b in g.subject_objects(SKOS.narrower)}
    assert (URIRef(PARENT_TOPIC), SKOS.narrower, URIRef(TOPIC)) in g
    # the top concepts, both ways
    assert {(c, s) for c, s in g.subject_objects(SKOS.topConceptOf)} == {
        (c, s) for s, c in g.subject_objects(SKOS.hasTopConcept)}
    assert set(g.objects(TOPICS, SKOS.hasTopConcept)) == {URIRef(PARENT_TOPIC)}
    assert set(g.objects(TYPES, SKOS.hasTopConcept)) == {URIRef(BASE + "type/publication"),
                                                         URIRef(BASE + "type/expert-commentary")}
    for c in concepts:
        schemes = set(g.objects(c, SKOS.inScheme))
        assert len(schemes) == 1 and schemes <= {TOPICS, TYPES}, c  # one scheme each
        assert set(g.objects(c, SKOS.topConceptOf)) <= schemes
        for b in g.objects(c, SKOS.broader):
            assert set(g.objects(b, SKOS.inScheme)) == schemes, (c, b)
        # exactly one prefLabel per language
        langs = Counter(label.language for label in g.objects(c, SKOS.prefLabel))
        assert langs and set(langs.values()) == {1}, (c, langs)
        # never both a top concept and a narrower one
        assert not (set(g.objects(c, SKOS.topConceptOf)) and set(g.objects(c, SKOS.broader))), c
        # every concept reaches a top concept of its scheme, without a cycle
        seen, node = [c], c
        while not set(g.objects(node, SKOS.topConceptOf)):
            node = next(iter(sorted(g.objects(node, SKOS.broader))))
            assert node not in seen, f"a skos:broader cycle through {node}"
            seen.append(node)
        assert set(g.objects(node, SKOS.topConceptOf)) == schemes
    # what a browser queries: the narrower concepts of a top concept, with their labels
    rows = g.query("""
        PREFIX skos: <http://www.w3.org/2004/02/skos/core#>
        SELECT ?n ?label WHERE { ?top skos:topConceptOf ?s ; skos:narrower ?n .
                                 ?n skos:prefLabel ?label FILTER(lang(?label) = "en") }""")
    assert {str(r.n) for r in rows} == {TOPIC} | {BASE + f"type/{x}" for x in (
        "report", "article", "policy-paper", "guide")}


def test_every_instance_carries_the_classes_its_classes_specialise(dump):
    g = dump
    entries = set(g.subjects(RDF.type, SPHR.ResourceEntry))
    assert len(entries) == 10
    assert entries == set(g.subjects(RDF.type, DCTERMS.BibliographicResource))
    assert entries <= set(g.subjects(RDF.type, FOAF.Document))
    agents = set(g.subjects(RDF.type, FOAF.Organization)) | set(g.subjects(RDF.type, FOAF.Person))
    assert agents and agents == set(g.subjects(RDF.type, FOAF.Agent))
    images = set(g.subjects(RDF.type, FOAF.Image))
    assert images and images <= set(g.subjects(RDF.type, FOAF.Document))
    assert set(g.subjects(RDF.type, SPHR.Instrument)) <= set(g.subjects(RDF.type, FOAF.Document))
    # every such class is declared in the ontology (where the build takes them from)
    for cls in (SKOS.Concept, DCTERMS.BibliographicResource, FOAF.Document, FOAF.Agent):
        assert (None, URIRef("http://www.w3.org/2000/01/rdf-schema#subClassOf"), cls) in g


def test_no_statement_is_published_twice(built_site, bundled_sources):
    lines = gzip.decompress((built_site / "dumps" / "dataset.nt.gz").read_bytes()).splitlines()
    derived = entailments(bundled_sources)
    written = set(bundled_sources.graph)
    assert derived and not written & set(derived)
    assert len(lines) == len(set(lines)) == len(written) + len(derived)


@pytest.mark.parametrize("suffix, fmt", [("ttl", "turtle"), ("jsonld", "json-ld"), ("nt", "nt"),
                                         ("rdf", "xml")])
def test_every_document_carries_the_derived_statements(built_site, suffix, fmt):
    def doc(path: str) -> Graph:
        return Graph().parse(built_site / f"{path}.{suffix}", format=fmt)

    parent, topic = URIRef(PARENT_TOPIC), URIRef(TOPIC)
    g = doc("topic/governance-accountability-and-democracy")
    assert (parent, RDF.type, SKOS.Concept) in g and (parent, SKOS.narrower, topic) in g
    assert (topic, SKOS.prefLabel, None) in g  # the label of what it links to
    g = doc("topic/institutional-capacity-and-coordination")
    assert (topic, RDF.type, SKOS.Concept) in g and (topic, SKOS.inScheme, TOPICS) in g
    g = doc("topics")
    assert (TOPICS, SKOS.hasTopConcept, parent) in g
    entry = URIRef(BASE + "resource/social-protection-a-key-to-a-fair-society")
    g = doc("resource/social-protection-a-key-to-a-fair-society")
    assert {DCTERMS.BibliographicResource, FOAF.Document, SPHR.ResourceEntry} <= set(
        g.objects(entry, RDF.type))
    g = doc("agent/ilo")
    assert (URIRef(BASE + "agent/ilo"), RDF.type, FOAF.Agent) in g
    g = doc("type/publication")
    assert (URIRef(BASE + "type/publication"), SKOS.narrower, URIRef(BASE + "type/report")) in g
    # the vocabulary's document: its resource types are concepts, its schemes have top concepts
    g = doc("ontology")
    assert (URIRef(BASE + "type/report"), RDF.type, SKOS.Concept) in g
    assert (TOPICS, SKOS.hasTopConcept, parent) in g


def test_validation_checks_what_editors_wrote_and_the_derived_graph_passes_too(bundled_sources,
                                                                              bundled_report):
    """Validation runs on the sources (what editors wrote): the bundled data conforms while
    writing none of the long form; and the published graph, derived statements included, raises
    no problem the written one does not (nothing derived would ever be flagged)."""
    assert bundled_report.conforms
    derived = entailments(bundled_sources)
    assert not any(d.predicate.value.endswith(("#narrower", "#hasTopConcept"))
                   for d in bundled_sources.graph)
    longer = dataclasses.replace(bundled_sources, data=bundled_sources.data + derived)
    report = validate_sources(longer)
    assert report.conforms
    assert len(report.warnings) == len(bundled_report.warnings)


def test_kgpub_query_sees_the_graph_as_published(bundled_sources):
    query = ("PREFIX skos: <http://www.w3.org/2004/02/skos/core#> "
             "SELECT (COUNT(?c) AS ?n) WHERE { ?c a skos:Concept }")
    r = run_cli("query", "--project", REPO, query, "--format", "json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["results"]["bindings"][0]["n"]["value"] == "8"  # 2 topics, 6 types
    # the same graph as the dumps
    assert serialize(published(bundled_sources), NTRIPLES).count(b"\n") == len(
        bundled_sources.graph) + len(entailments(bundled_sources))
