"""The seed is fully present in the bundled data, loaded through kgpub's own API.

Titles, summaries, the topic's name and definition are read from the seed file itself, so the
test follows the seed rather than a copy of it.
"""

from __future__ import annotations

import pytest
from rdflib import Literal, URIRef
from rdflib.namespace import DCTERMS, FOAF, RDF, RDFS, SKOS

from kgtest import BASE, COMMENTARY_TYPE, PARENT_TOPIC, SEED_CHROME_SUFFIX, SPHR, TOPIC

XSD_DATE = URIRef("http://www.w3.org/2001/XMLSchema#date")

EN = "en"


def en(text: str) -> Literal:
    return Literal(text, lang=EN)


def entry_by_title(kg, title: str) -> URIRef:
    found = list(kg.subjects(DCTERMS.title, en(title)))
    assert len(found) == 1, f"{len(found)} subjects titled {title!r}"
    return found[0]


def test_seed_parses_into_ten_items(seed):
    assert seed.topic_title == "Institutional capacity and coordination"
    assert len(seed.items) == 10
    assert len(seed.commentaries) == 3
    assert len(seed.others) == 7
    assert seed.credit.startswith("Photo credit:")


def test_exactly_ten_entries_all_filed_under_the_topic(kg):
    entries = set(kg.subjects(DCTERMS.subject, URIRef(TOPIC)))
    assert len(entries) == 10
    typed = {
        s
        for cls in (SPHR.ExpertCommentary, SPHR.Publication, SPHR.ResourceEntry)
        for s in kg.subjects(RDF.type, cls)
    }
    assert typed == entries


@pytest.mark.parametrize("n", range(10), ids=lambda n: f"item{n}")
def test_seed_item_present(kg, seed, n):
    item = seed.items[n]
    entry = entry_by_title(kg, item.title)
    assert str(entry).startswith(BASE + "resource/")
    assert set(kg.objects(entry, DCTERMS.title)) == {en(item.title)}
    assert set(kg.objects(entry, DCTERMS.abstract)) == {en(item.abstract)}
    assert set(kg.objects(entry, DCTERMS.subject)) == {URIRef(TOPIC)}
    is_commentary = (entry, RDF.type, SPHR.ExpertCommentary) in kg
    has_commentary_type = (entry, DCTERMS.type, URIRef(COMMENTARY_TYPE)) in kg
    assert is_commentary == item.commentary
    assert has_commentary_type == item.commentary
    types = list(kg.objects(entry, DCTERMS.type))
    assert len(types) == 1
    if not item.commentary:
        assert (entry, RDF.type, SPHR.Publication) in kg


def test_expert_commentary_type_is_labelled(kg):
    t = URIRef(COMMENTARY_TYPE)
    assert (t, RDF.type, SPHR.ResourceType) in kg
    english = [o for o in kg.objects(t, SKOS.prefLabel) if o.language == EN]
    assert english == [en("Expert commentary")]


def test_page_chrome_is_dropped_from_the_summary(kg, seed):
    with_chrome = [i for i in seed.items if i.summary.endswith(SEED_CHROME_SUFFIX)]
    assert [i.title for i in with_chrome] == [
        "Social Security Governance: A Practical Guide for Board Members of Social Security "
        "Institutions in Central and Eastern Europe"
    ]
    for abstract in kg.objects(None, DCTERMS.abstract):
        assert "Link to this page" not in str(abstract)
    entry = entry_by_title(kg, with_chrome[0].title)
    (abstract,) = kg.objects(entry, DCTERMS.abstract)
    assert str(abstract).endswith("ILO social security conventions.")


def test_topic_definition_and_hierarchy(kg, seed):
    topic, parent, scheme = URIRef(TOPIC), URIRef(PARENT_TOPIC), URIRef(BASE + "topics")
    assert (topic, RDF.type, SPHR.Topic) in kg
    assert set(kg.objects(topic, SKOS.prefLabel)) == {en(seed.topic_title)}
    assert set(kg.objects(topic, SKOS.definition)) == {en(seed.definition)}
    assert (topic, SKOS.inScheme, scheme) in kg
    assert set(kg.objects(topic, SKOS.broader)) == {parent}
    assert (parent, RDF.type, SPHR.Topic) in kg
    assert set(kg.objects(parent, SKOS.prefLabel)) == {
        en("Governance, accountability and democracy")
    }
    assert (parent, SKOS.topConceptOf, scheme) in kg
    assert (parent, SKOS.inScheme, scheme) in kg
    assert (scheme, RDF.type, SKOS.ConceptScheme) in kg


def label_of(kg, node) -> set[str]:
    return {
        str(o)
        for p in (FOAF.name, RDFS.label, SKOS.prefLabel, DCTERMS.title)
        for o in kg.objects(node, p)
    }


def test_topic_picture_and_its_credit(kg, seed):
    (image,) = kg.objects(URIRef(TOPIC), FOAF.depiction)
    assert (image, RDF.type, FOAF.Image) in kg
    assert set(kg.objects(image, DCTERMS.title)) == {en("Green bean farmer in Asawn")}
    assert "Green bean farmer in Asawn" in seed.credit
    (creator,) = kg.objects(image, DCTERMS.creator)
    assert label_of(kg, creator) == {"USAID Egypt"}
    assert "USAID Egypt" in seed.credit
    assert set(kg.objects(image, DCTERMS.license)) == {
        URIRef("https://creativecommons.org/licenses/by/2.0/")
    }
    (source,) = kg.objects(image, DCTERMS.source)
    assert isinstance(source, URIRef) and source.startswith("https://")
    assert "Flickr" in label_of(kg, source)
    assert "flickr.com" in str(source)


def test_dated_commentary_and_its_author(kg):
    entry = entry_by_title(
        kg, "Inter-sectoral Coordination, Social Protection and Human Rights: A virtuous circle"
    )
    assert list(kg.objects(entry, DCTERMS.date)) == [Literal("2016-03-03", datatype=XSD_DATE)]
    (creator,) = kg.objects(entry, DCTERMS.creator)
    assert (creator, RDF.type, FOAF.Person) in kg
    assert label_of(kg, creator) == {"Alexandra Barrantes"}


@pytest.mark.parametrize(
    "acronym, name",
    [
        ("ILO", "International Labour Organization"),
        ("CEACR", "ILO Committee of Experts on the Application of Conventions and Recommendations"),
        ("ISSA", "International Social Security Association"),
    ],
)
def test_organisations_are_entities_with_names(kg, acronym, name):
    orgs = list(kg.subjects(SKOS.altLabel, en(acronym)))
    assert len(orgs) == 1
    (org,) = orgs
    assert str(org).startswith(BASE + "agent/")
    assert (org, RDF.type, FOAF.Organization) in kg
    assert set(map(str, kg.objects(org, FOAF.name))) == {name}


def test_organisations_are_linked_from_the_entries_that_name_them(kg):
    ilo, ceacr, issa = (URIRef(BASE + "agent/" + a) for a in ("ilo", "ceacr", "issa"))
    survey = entry_by_title(
        kg,
        next(
            t
            for t in map(str, kg.objects(None, DCTERMS.title))
            if t.startswith("Universal social protection")
        ),
    )
    assert (survey, DCTERMS.creator, ceacr) in kg
    assert (survey, DCTERMS.publisher, ilo) in kg
    guidelines = entry_by_title(kg, "Good Governance Guidelines for Social Security Institutions")
    assert (guidelines, DCTERMS.publisher, issa) in kg


@pytest.mark.parametrize(
    "place",
    [
        "Middle East and North Africa",
        "Tunisia",
        "Morocco",
        "Yemen",
        "Lebanon",
        "Americas",
        "Kenya",
        "South Asia",
        "Bangladesh",
        "India",
        "Nepal",
        "Pakistan",
        "Sri Lanka",
        "Central and Eastern Europe",
    ],
)
def test_places_are_entities_with_labels(kg, seed, place):
    found = list(kg.subjects(RDFS.label, en(place)))
    assert len(found) == 1
    (node,) = found
    assert str(node).startswith(BASE + "place/")
    assert (node, RDF.type, DCTERMS.Location) in kg
    # every place is named in the seed and covered by at least one entry
    assert any(place in i.summary or place in i.title for i in seed.items)
    assert (None, DCTERMS.spatial, node) in kg


def test_every_place_in_the_data_has_a_label(kg):
    places = set(kg.subjects(RDF.type, DCTERMS.Location))
    assert len(places) == 14
    for p in places:
        assert [o for o in kg.objects(p, RDFS.label) if o.language == EN], p
