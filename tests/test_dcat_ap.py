"""The catalogue description at /.well-known/void conforms to DCAT-AP 3.0: the official SHACL shapes
(SEMIC's, in ../shared/dcat-ap/ beside the repository) find nothing to report on it, without
inference, for the bundled project and for one whose configuration says as little as it may; and
it has the recommended properties the project knows (DCAT-AP's shapes check only the mandatory
ones and the classes of values)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from rdflib import RDF, Graph, Namespace, URIRef
from rdflib.compare import isomorphic
from rdflib.namespace import DCTERMS, FOAF, SKOS

from kgpub.config import load_project
from kgpub.index import Index
from kgpub.load import load_sources
from kgpub.render.void import void_documents
from kgtest import BASE, copy_project

SHAPES = Path(__file__).resolve().parents[1].parent / "shared" / "dcat-ap" / \
    "dcat-ap-3.0.0-SHACL.ttl"
SH = Namespace("http://www.w3.org/ns/shacl#")
DCAT = Namespace("http://www.w3.org/ns/dcat#")
DCATAP = Namespace("http://data.europa.eu/r5r/")
VCARD = Namespace("http://www.w3.org/2006/vcard/ns#")
VOID = BASE + ".well-known/void"


@pytest.fixture(scope="module")
def shapes() -> Graph:
    if not SHAPES.is_file():
        pytest.skip(f"the DCAT-AP 3.0 SHACL shapes are not at {SHAPES} (shared/dcat-ap/ next to "
                    "the repository directory): DCAT-AP conformance tests skipped")
    return Graph().parse(SHAPES, format="turtle")


@pytest.fixture(scope="module")
def void(built_site) -> Graph:
    return Graph().parse(built_site / ".well-known" / "void.ttl", format="turtle")


def problems(data: Graph, shapes: Graph) -> list[str]:
    """Every result of DCAT-AP's shapes, whatever its severity, one line each."""
    from pyshacl import validate

    _, report, _ = validate(data, shacl_graph=shapes, inference="none", allow_warnings=True)
    return sorted(
        f"{report.value(r, SH.focusNode)} {report.value(r, SH.resultPath)}: "
        f"{report.value(r, SH.resultMessage)} ({report.value(r, SH.value)})"
        for r in report.subjects(RDF.type, SH.ValidationResult))


def test_the_bundled_projects_description_conforms(built_site, void, shapes):
    assert problems(void, shapes) == []
    # what is validated is what every format of it says
    for suffix, fmt in (("nt", "nt"), ("jsonld", "json-ld"), ("rdf", "xml")):
        other = Graph().parse(built_site / ".well-known" / f"void.{suffix}", format=fmt)
        assert isomorphic(other, void), suffix


def test_a_project_that_says_little_conforms_too(tmp_path, shapes):
    """No description, licence, contact address or publisher name in kgpub.toml: the mandatory
    properties are still there, and nothing is said that the shapes refuse."""
    root = copy_project(tmp_path / "project")
    toml = root / "kgpub.toml"
    text = toml.read_text(encoding="utf-8")
    text = re.sub(r"^(description|license|admin_email|publisher|name) = .*\n", "", text,
                  flags=re.M)
    toml.write_text(text, encoding="utf-8")
    project = load_project(root)
    assert not project.description and not project.license
    docs = dict(void_documents(Index(project, load_sources(project))))
    g = Graph().parse(data=docs[".well-known/void.ttl"], format="turtle")
    assert problems(g, shapes) == []
    catalog = URIRef(VOID + "#catalog")
    assert g.value(catalog, DCTERMS.description) is not None
    assert g.value(URIRef(VOID + "#dataset"), DCAT.contactPoint) is None


def test_recommended_properties(void):
    """DCAT-AP 3.0's recommended properties, where the project knows them. Not given: a
    catalogue's and a dataset's geographical and temporal coverage and keywords (the data is
    about the world and has no period), an agent's type (not configured)."""
    catalog, ds = URIRef(VOID + "#catalog"), URIRef(VOID + "#dataset")
    service = URIRef(VOID + "#sparql")

    def has(node, *props) -> None:
        for prop in props:
            assert void.value(node, prop) is not None, f"{node} has no {prop}"

    has(catalog, FOAF.homepage, DCTERMS.language, DCTERMS.license, DCTERMS.modified,
        DCAT.themeTaxonomy, DCAT.dataset, DCAT.service)
    has(ds, DCAT.contactPoint, DCAT.distribution, DCTERMS.publisher, DCAT.theme,
        DCTERMS.license, DCAT.landingPage)
    for dist in void.objects(ds, DCAT.distribution):
        has(dist, DCAT.accessURL, DCATAP.availability, DCTERMS.description, DCTERMS["format"],
            DCTERMS.license, DCAT.mediaType)
        media = str(void.value(dist, DCAT.mediaType))
        assert re.fullmatch(r"https://www\.iana\.org/assignments/media-types/"
                            r"(text/turtle|application/n-triples|application/ld\+json)", media)
        assert str(void.value(dist, DCAT.accessURL)).startswith(BASE + "dumps/")
    has(service, DCAT.endpointURL, DCAT.endpointDescription, DCAT.servesDataset)
    # the values, typed as DCAT-AP's ranges ask
    publisher = void.value(ds, DCTERMS.publisher)
    assert {FOAF.Agent, FOAF.Organization} <= set(void.objects(publisher, RDF.type))
    assert void.value(publisher, FOAF.name) is not None
    assert (void.value(ds, DCTERMS.license), RDF.type, DCTERMS.LicenseDocument) in void
    assert (void.value(ds, DCAT.landingPage), RDF.type, FOAF.Document) in void
    assert (void.value(ds, DCAT.contactPoint), VCARD.hasEmail, None) in void
    assert {str(lang) for lang in void.objects(catalog, DCTERMS.language)} == {
        f"http://publications.europa.eu/resource/authority/language/{c}"
        for c in ("ENG", "FRA", "SPA")}
    topics = URIRef(BASE + "topics")
    assert void.value(catalog, DCAT.themeTaxonomy) == topics
    assert (topics, RDF.type, SKOS.ConceptScheme) in void and (topics, DCTERMS.title, None) in void
    for theme in void.objects(ds, DCAT.theme):
        assert (theme, SKOS.inScheme, topics) in void and (theme, SKOS.prefLabel, None) in void
