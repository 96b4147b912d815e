"""Another graph publishes without code changes: a small second project (its own kgpub.toml,
ontology, shapes and data) with another topic scheme, other resource types and another label
property, built with `kgpub build`. Its pages (read with a real HTML parser), schema.org data,
RDF documents (read with rdflib), citations (bibtexparser, rispy) and listings follow its
settings, not the bundled project's."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import bibtexparser
import pytest
import rispy
from bs4 import BeautifulSoup
from rdflib import RDF, Graph, Literal, Namespace, URIRef

BASE = "https://example.org/kb/"
KB = Namespace(BASE + "ontology#")
SDO = Namespace("https://schema.org/")
NOTE = BASE + "entry/delta-notes"
DATASET = BASE + "entry/river-levels"
THESIS = BASE + "entry/sediment-thesis"

SETTINGS = """\
[site]
base = "https://example.org/kb/"
title = "Field Notes on Rivers"
languages = ["en", "fr"]
topic_scheme = "subjects"
type_scheme = "genres"
# names are kb:name (the project's own property), then dcterms:title
label_properties = ["ontology#name", "http://purl.org/dc/terms/title"]
commentary_type = "genre/field-note"
commentary_heading = "Field notes"

[site.entry_types]
"genre/field-note" = { schema_org = "BlogPosting", ris = "BLOG" }
"genre/dataset" = { schema_org = "Dataset", bibtex = "misc", ris = "DATA" }
"genre/thesis" = { schema_org = "Thesis", bibtex = "phdthesis", ris = "THES" }
"""

PREFIXES = """\
@prefix kb:      <ontology#> .
@prefix owl:     <http://www.w3.org/2002/07/owl#> .
@prefix rdfs:    <http://www.w3.org/2000/01/rdf-schema#> .
@prefix skos:    <http://www.w3.org/2004/02/skos/core#> .
@prefix dcterms: <http://purl.org/dc/terms/> .
@prefix foaf:    <http://xmlns.com/foaf/0.1/> .
@prefix xsd:     <http://www.w3.org/2001/XMLSchema#> .
@prefix sh:      <http://www.w3.org/ns/shacl#> .
"""

ONTOLOGY = PREFIXES + """
<ontology> a owl:Ontology ; dcterms:title "Field notes vocabulary"@en .
kb:Topic a owl:Class ; rdfs:subClassOf skos:Concept ; kb:name "Subject"@en .
kb:ResourceType a owl:Class ; rdfs:subClassOf skos:Concept ; kb:name "Genre"@en .
kb:ResourceEntry a owl:Class ; kb:name "Work"@en .
kb:name a owl:DatatypeProperty ; kb:name "name"@en .
foaf:Person rdfs:subClassOf foaf:Agent .
foaf:Organization rdfs:subClassOf foaf:Agent .

<subjects> a skos:ConceptScheme ; kb:name "Subjects"@en .
<genres> a skos:ConceptScheme ; kb:name "Genres"@en .
<genre/field-note> a kb:ResourceType ; kb:name "Field note"@en , "Note de terrain"@fr ;
    skos:topConceptOf <genres> .
<genre/dataset> a kb:ResourceType ; kb:name "Dataset"@en ; skos:topConceptOf <genres> .
<genre/thesis> a kb:ResourceType ; kb:name "Thesis"@en ; skos:topConceptOf <genres> .
"""

DATA = PREFIXES + """
<subject/rivers> a kb:Topic ; kb:name "Rivers"@en , "Fleuves"@fr ; skos:topConceptOf <subjects> .
<subject/deltas> a kb:Topic ; kb:name "Deltas"@en ; skos:broader <subject/rivers> .
<person/ana-lima> a foaf:Person ; kb:name "Ana Lima" .
<org/water-board> a foaf:Organization ; kb:name "Water Board" .

<entry/delta-notes> a kb:ResourceEntry ;
    dcterms:title "Notes from the delta"@en ;
    dcterms:type <genre/field-note> ;
    dcterms:subject <subject/deltas> ;
    dcterms:creator <person/ana-lima> ;
    dcterms:date "2021-05-04"^^xsd:date .
<entry/river-levels> a kb:ResourceEntry ;
    dcterms:title "River levels 1990-2020"@en ;
    dcterms:type <genre/dataset> ;
    dcterms:subject <subject/deltas> ;
    dcterms:publisher <org/water-board> ;
    dcterms:date "2020"^^xsd:gYear .
<entry/sediment-thesis> a kb:ResourceEntry ;
    dcterms:title "Sediment transport in tidal deltas"@en ;
    dcterms:type <genre/thesis> ;
    dcterms:subject <subject/rivers> ;
    dcterms:creator <person/ana-lima> ;
    dcterms:publisher <org/water-board> ;
    dcterms:date "2019"^^xsd:gYear .
"""

SHAPES = PREFIXES + """
@prefix shape: <shapes#> .
shape:Work a sh:NodeShape ; sh:targetClass kb:ResourceEntry ;
    sh:property [ sh:path dcterms:title ; sh:minCount 1 ;
                  sh:message "A work needs a title." ] .
"""


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("second") / "project"
    for name, text in (("kgpub.toml", SETTINGS), ("ontology/kb.ttl", ONTOLOGY),
                       ("data/kb.ttl", DATA), ("shapes/shapes.ttl", SHAPES)):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text, encoding="utf-8")
    out = root.parent / "site"
    done = subprocess.run([sys.executable, "-m", "kgpub.cli", "--project", str(root), "build",
                           "--out", str(out)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    return out


def page(site: Path, path: str) -> BeautifulSoup:
    return BeautifulSoup((site / path).read_text(encoding="utf-8"), "html5lib")


def schema_org(soup: BeautifulSoup, iri: str) -> Graph:
    """The page's schema.org JSON-LD as RDF (the remote context replaced by its vocabulary)."""
    doc = json.loads(soup.find("script", type="application/ld+json").string)
    doc["@context"] = {"@vocab": str(SDO)}
    g = Graph().parse(data=json.dumps(doc), format="json-ld")
    assert (URIRef(iri), None, None) in g, iri
    return g


def nav_href(soup: BeautifulSoup, text: str) -> str:
    return soup.find("nav").find("a", string=text)["href"]


def test_the_topic_scheme_is_the_topic_index(site):
    home = page(site, "index.html")
    assert nav_href(home, "Topics") == "subjects.html"
    index = page(site, "subjects.html")
    tree = [a.get_text() for a in index.find("main").find_all("a")]
    assert tree.index("Rivers") < tree.index("Deltas")  # the tree, under its top topic
    assert nav_href(page(site, "fr/index.html"), "Thèmes") == "subjects.html"
    # The home page's tree comes from the same scheme's top concepts.
    assert "Rivers" in [a.get_text() for a in home.find("main").find_all("a")]


def test_a_topic_page_uses_the_commentary_type_and_the_label_property(site):
    soup = page(site, "subject/deltas.html")
    assert soup.h1.get_text(strip=True) == "Deltas"  # kb:name, the first label property
    crumbs = [a for a in soup.find("nav", attrs={"aria-label": True}).find_all("a")]
    assert any(a["href"] == "../subjects.html" for a in crumbs)
    sections = {s.h2.get_text(strip=True): [h.get_text(strip=True) for h in s.find_all("h3")]
                for s in soup.find_all("section") if s.h2}
    assert sections["Field notes"] == ["Notes from the delta"]
    assert sections["Resources"] == ["River levels 1990-2020"]
    assert "Expert Commentaries" not in soup.get_text()


def test_schema_org_follows_the_entry_types_and_schemes(site):
    for iri, typ in ((NOTE, SDO.BlogPosting), (DATASET, SDO.Dataset), (THESIS, SDO.Thesis)):
        g = schema_org(page(site, iri[len(BASE):] + ".html"), iri)
        assert (URIRef(iri), RDF.type, typ) in g
    g = schema_org(page(site, "entry/delta-notes.html"), NOTE)
    author = g.value(URIRef(NOTE), SDO.author)
    assert g.value(author, SDO.name) == Literal("Ana Lima")
    topic = schema_org(page(site, "subject/deltas.html"), BASE + "subject/deltas")
    # (a plain value here: the local context does not say it is an IRI, schema.org's does)
    assert str(topic.value(URIRef(BASE + "subject/deltas"), SDO.inDefinedTermSet)) == \
        BASE + "subjects"
    genre = schema_org(page(site, "genre/thesis.html"), BASE + "genre/thesis")
    assert str(genre.value(URIRef(BASE + "genre/thesis"), SDO.inDefinedTermSet)) == \
        BASE + "genres"


def test_rdf_documents_carry_the_label_property_of_what_they_link_to(site):
    g = Graph().parse(site / "entry/delta-notes.ttl", format="turtle")
    assert (URIRef(BASE + "person/ana-lima"), KB.name, Literal("Ana Lima")) in g
    assert (URIRef(BASE + "subject/deltas"), KB.name, Literal("Deltas", lang="en")) in g


def test_citations_follow_the_entry_types(site):
    expected = {NOTE: ("misc", "BLOG"), DATASET: ("misc", "DATA"), THESIS: ("phdthesis", "THES")}
    for iri, (bib_type, ris_type) in expected.items():
        doc = site / iri[len(BASE):]
        lib = bibtexparser.parse_string(doc.with_suffix(".bib").read_text(encoding="utf-8"))
        assert not lib.failed_blocks and lib.entries[0].entry_type == bib_type, iri
        record = rispy.loads(doc.with_suffix(".ris").read_text(encoding="utf-8"))[0]
        assert record["type_of_reference"] == ris_type, iri
    thesis = rispy.loads((site / "entry/sediment-thesis.ris").read_text(encoding="utf-8"))[0]
    assert thesis["authors"] == ["Lima, Ana"]  # a person, named by kb:name
    assert thesis["publisher"] == "Water Board"
    cite = page(site, "entry/delta-notes.html").get_text(" ", strip=True)
    assert "Lima, A. (2021, May 4). Notes from the delta [Field note]." in cite


def test_listings_use_the_project_labels_and_schemes(site):
    genres = page(site, "browse/types.html")
    names = [a.get_text() for a in genres.find("main").find_all("a")]
    assert {"Field note", "Dataset", "Thesis"} <= set(names)
    listing = page(site, "browse/subject/rivers.html")
    assert listing.h1.get_text(strip=True) == "Resources on Rivers"
    titles = [h.get_text(strip=True) for h in listing.find_all("h3")]
    assert titles == ["Notes from the delta", "River levels 1990-2020",
                      "Sediment transport in tidal deltas"]  # narrower topics included, newest first
    crumbs = listing.find("nav", attrs={"aria-label": True}).find_all("a")
    assert "../../subjects.html" in [a["href"] for a in crumbs]
    fr = page(site, "fr/browse/genre/field-note.html")
    assert fr.h1.get_text(strip=True).startswith("Note de terrain")
