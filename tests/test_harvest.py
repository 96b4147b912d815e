"""Harvesting: OAI-PMH with two real harvesters, sitemaps, robots.txt, VoID/DCAT, the Atom feed,
and withdrawn entries (tombstones), against `kgpub serve` on 127.0.0.1."""

from __future__ import annotations

import gzip
import json
import re
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
import rdflib
from lxml import etree
from oaipmh_scythe import Scythe
from sickle import Sickle

from kgpub.build import build
from kgpub.config import load_project
from serverutil import copy_project, fetch, running_server
from xsdutil import oai_schema, sitemap_schema

BASE = "https://w3id.org/sphr/"
WITHDRAWN = "resource/withdrawn-test-entry"
SUPERSEDED = "resource/superseded-test-entry"
REPLACEMENT = "resource/social-protection-a-key-to-a-fair-society"
DATESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")

TOMBSTONES = f"""
@prefix resource: <resource/> .
@prefix topic: <topic/> .
@prefix type: <type/> .
@prefix sphr: <ontology#> .
@prefix dcterms: <http://purl.org/dc/terms/> .
@prefix owl: <http://www.w3.org/2002/07/owl#> .
@prefix xsd: <http://www.w3.org/2001/XMLSchema#> .

resource:withdrawn-test-entry a sphr:Publication ;
    dcterms:title "A withdrawn test entry"@en ;
    dcterms:type type:report ;
    dcterms:subject topic:institutional-capacity-and-coordination ;
    dcterms:date "2020"^^xsd:gYear ;
    dcterms:abstract "Kept as a tombstone."@en ;
    dcterms:modified "2026-11-28T10:00:00+02:00"^^xsd:dateTime ;
    owl:deprecated true .

resource:superseded-test-entry a sphr:Publication ;
    dcterms:title "A superseded test entry"@en ;
    dcterms:type type:report ;
    dcterms:subject topic:institutional-capacity-and-coordination ;
    dcterms:date "2021"^^xsd:gYear ;
    dcterms:abstract "Replaced by another entry."@en ;
    dcterms:modified "2026-11-29T08:30:00Z"^^xsd:dateTime ;
    dcterms:isReplacedBy <{REPLACEMENT}> ;
    owl:deprecated true .
"""


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    root = copy_project(tmp_path_factory.mktemp("harvest"))
    (root / "data" / "entries" / "withdrawn.ttl").write_text(TOMBSTONES, encoding="utf-8")
    with open(root / "kgpub.toml", "a", encoding="utf-8") as f:
        f.write("\n[sparql]\nworkers = 1\n")
    text = (root / "kgpub.toml").read_text()
    (root / "kgpub.toml").write_text(text.replace("[repository]\n", "[repository]\noai_page_size = 3\n"))
    return load_project(root)


@pytest.fixture(scope="module")
def site(project):
    return build(project, project.root / "site").out


@pytest.fixture(scope="module")
def server(project, site):
    with running_server(project.root, site) as url:
        yield url


def get(url: str, accept: str | None = None):
    return fetch(url, {"Accept": accept} if accept else {})


def live_entries(site: Path) -> set[str]:
    return {p.relative_to(site).with_suffix("").as_posix()
            for p in (site / "resource").glob("*.html")} - {WITHDRAWN, SUPERSEDED}


# ---- OAI-PMH with real harvesters ----------------------------------------------------------


def test_sickle_harvests_every_entry_with_metadata(server, site):
    sickle = Sickle(server + "/oai")
    records = list(sickle.ListRecords(metadataPrefix="oai_dc", ignore_deleted=False))
    by_id = {r.header.identifier: r for r in records}
    live = live_entries(site)
    assert len(records) == len(live) + 2 == 12  # 10 seed entries + 2 tombstones
    for local in live:
        record = by_id[f"oai:socialprotection-humanrights.org:{local}"]
        assert not record.header.deleted
        md = record.metadata
        assert md["title"] and md["subject"] == ["Institutional capacity and coordination"]
        assert f"{BASE}{local}.html" in md["identifier"]
        assert DATESTAMP.match(record.header.datestamp)
    gone = by_id[f"oai:socialprotection-humanrights.org:{WITHDRAWN}"]
    assert gone.header.deleted and gone.header.datestamp == "2026-11-28T08:00:00Z"
    survey = by_id["oai:socialprotection-humanrights.org:resource/"
                   "ilo-general-survey-2019-universal-social-protection"].metadata
    assert survey["creator"] == ["ILO Committee of Experts on the Application of Conventions "
                                 "and Recommendations"]
    assert survey["publisher"] == ["International Labour Organization"]
    assert survey["date"] == ["2019"] and survey["type"] == ["Report"]


def test_scythe_harvests_the_same(server, site):
    with Scythe(server + "/oai") as scythe:
        headers = list(scythe.list_identifiers(metadata_prefix="oai_dc", ignore_deleted=False))
        assert len(headers) == 12
        deleted = [h for h in headers if h.deleted]
        assert {h.identifier.rsplit(":", 1)[-1] for h in deleted} == {WITHDRAWN, SUPERSEDED}
        records = list(scythe.list_records(metadata_prefix="oai_dc", ignore_deleted=True))
        assert len(records) == 10
        identify = scythe.identify()
        assert identify.baseURL == server + "/oai"
        assert identify.deletedRecord == "persistent"
        sets = {s.setSpec for s in scythe.list_sets()}
        assert "topic:governance-accountability-and-democracy" in sets
        assert "topic:governance-accountability-and-democracy:institutional-capacity-and-coordination" in sets
        assert "type:expert-commentary" in sets


def test_set_hierarchy_and_type_sets(server):
    sickle = Sickle(server + "/oai")
    broad = list(sickle.ListIdentifiers(metadataPrefix="oai_dc",
                                        set="topic:governance-accountability-and-democracy"))
    assert len(broad) == 12  # the narrower topic's entries are in the broad topic's set
    commentaries = list(sickle.ListIdentifiers(metadataPrefix="oai_dc", set="type:expert-commentary"))
    assert len(commentaries) == 3


def test_rdf_metadata_format(server):
    sickle = Sickle(server + "/oai")
    formats = {f.metadataPrefix for f in sickle.ListMetadataFormats()}
    assert formats == {"oai_dc", "rdf"}
    ident = "oai:socialprotection-humanrights.org:resource/social-protection-as-a-human-right-in-south-asia"
    status, _, body = get(f"{server}/oai?verb=GetRecord&metadataPrefix=rdf&identifier={ident}")
    tree = etree.fromstring(body)
    rdf = tree.find(".//{http://www.w3.org/1999/02/22-rdf-syntax-ns#}RDF")
    g = rdflib.Graph().parse(data=etree.tostring(rdf), format="xml")
    subject = rdflib.URIRef(BASE + "resource/social-protection-as-a-human-right-in-south-asia")
    assert (subject, rdflib.DCTERMS.title, None) in g


def _schema():
    return oai_schema()  # skips, with the one message of xsdutil, without ../shared/xsd


@pytest.mark.parametrize(
    "query",
    [
        "verb=Identify",
        "verb=ListMetadataFormats",
        "verb=ListSets",
        "verb=ListIdentifiers&metadataPrefix=oai_dc",
        "verb=ListRecords&metadataPrefix=oai_dc",
        "verb=ListRecords&metadataPrefix=rdf",
        f"verb=GetRecord&metadataPrefix=oai_dc&identifier=oai:socialprotection-humanrights.org:{WITHDRAWN}",
        "verb=GetRecord&metadataPrefix=rdf&identifier=oai:socialprotection-humanrights.org:"
        "resource/social-protection-a-key-to-a-fair-society",
        "verb=Nope",
    ],
)
def test_every_response_is_schema_valid(server, query):
    status, headers, body = get(f"{server}/oai?{query}")
    assert status == 200 and headers["Content-Type"].startswith("text/xml")
    _schema().validate(etree.fromstring(body))
    assert DATESTAMP.match(etree.fromstring(body).findtext(
        "{http://www.openarchives.org/OAI/2.0/}responseDate"))


def test_resumption_over_pages(server):
    seen, token, pages = [], None, 0
    while True:
        q = f"resumptionToken={urllib.parse.quote(token)}" if token else "metadataPrefix=oai_dc"
        _, _, body = get(f"{server}/oai?verb=ListIdentifiers&{q}")
        tree = etree.fromstring(body)
        ns = {"o": "http://www.openarchives.org/OAI/2.0/"}
        seen += tree.xpath("//o:header/o:identifier/text()", namespaces=ns)
        pages += 1
        rt = tree.find(".//o:resumptionToken", ns)
        if rt is None or not (rt.text or "").strip():
            if rt is not None:
                assert rt.get("completeListSize") == "12"
            break
        assert rt.get("completeListSize") == "12" and int(rt.get("cursor")) == (pages - 1) * 3
        token = rt.text
    assert pages == 4 and len(seen) == len(set(seen)) == 12


@pytest.mark.parametrize(
    "query,code",
    [
        ("", "badVerb"),
        ("verb=Frobnicate", "badVerb"),
        ("verb=Identify&verb=Identify", "badVerb"),
        ("verb=ListRecords", "badArgument"),
        ("verb=ListRecords&metadataPrefix=oai_dc&from=2020-13-01", "badArgument"),
        ("verb=ListRecords&metadataPrefix=oai_dc&from=2020-01-01&until=2020-01-01T00:00:00Z",
         "badArgument"),
        ("verb=ListRecords&metadataPrefix=oai_dc&from=2021-01-01&until=2020-01-01", "badArgument"),
        ("verb=Identify&extra=1", "badArgument"),
        ("verb=ListRecords&resumptionToken=forged", "badResumptionToken"),
        ("verb=ListRecords&metadataPrefix=marc21", "cannotDisseminateFormat"),
        ("verb=GetRecord&metadataPrefix=oai_dc&identifier=oai:x:y", "idDoesNotExist"),
        ("verb=ListRecords&metadataPrefix=oai_dc&from=1990-01-01&until=1990-12-31",
         "noRecordsMatch"),
        ("verb=ListRecords&metadataPrefix=oai_dc&set=topic:nope", "noRecordsMatch"),
        # strict arguments, through the real HTTP server (tests/test_oai_arguments.py has more)
        ("verb=ListRecords&metadataPrefix=oai_dc&from=%EF%BC%92%EF%BC%90%EF%BC%92%EF%BC%90-01-01",
         "badArgument"),  # fullwidth digits
        ("verb=ListRecords&metadataPrefix=oai_dc&until=%D9%A2%D9%A0%D9%A2%D9%A0-01-01",
         "badArgument"),  # Arabic-Indic digits
        ("verb=GetRecord&metadataPrefix=rdf&identifier=%ED%A0%80", "badArgument"),
        ("verb=GetRecord&metadataPrefix=rdf&identifier=%5D%5D%3E%3Cx%2F%3E", "badArgument"),
        ("verb=GetRecord&metadataPrefix=rdf&identifier=oai:x:%00", "badArgument"),
        ("verb=ListSets&resumptionToken=%E2%80%AE", "badResumptionToken"),
    ],
)
def test_bad_requests(server, query, code):
    status, _, body = get(f"{server}/oai?{query}")
    assert status == 200
    tree = etree.fromstring(body)
    codes = [e.get("code") for e in tree.iter("{http://www.openarchives.org/OAI/2.0/}error")]
    assert code in codes
    _schema().validate(tree)


def test_post_form_is_accepted(server):
    req = urllib.request.Request(server + "/oai", data=b"verb=Identify",
                                 headers={"Content-Type": "application/x-www-form-urlencoded"})
    with urllib.request.urlopen(req, timeout=10) as r:
        assert b"<repositoryName>" in r.read()


# ---- tombstones -----------------------------------------------------------------------------


def test_withdrawn_entry_answers_410_and_replaced_301(server):
    status, headers, body = get(f"{server}/{WITHDRAWN}", accept="text/html")
    assert status == 410 and b"withdrawn" in body.lower()
    status, _, _ = get(f"{server}/{WITHDRAWN}", accept="text/turtle")
    assert status == 410
    status, headers, _ = get(f"{server}/{SUPERSEDED}", accept="text/html")
    assert status == 301 and headers["Location"] == "/" + REPLACEMENT
    # The page in another language is gone too (in that language), or moved to its successor's.
    status, _, body = get(f"{server}/fr/{WITHDRAWN}.html", accept="text/html")
    assert status == 410 and b'lang="fr"' in body
    status, headers, _ = get(f"{server}/es/{SUPERSEDED}.html", accept="text/html")
    assert status == 301 and headers["Location"] == f"/es/{REPLACEMENT}.html"


def test_withdrawn_entries_are_not_listed(site):
    topic = (site / "topic" / "institutional-capacity-and-coordination.html").read_text()
    assert "A withdrawn test entry" not in topic and "A superseded test entry" not in topic
    assert "withdrawn-test-entry" not in (site / "sitemap.xml").read_text()


# ---- sitemap, robots, VoID, feed ------------------------------------------------------------


def test_sitemap_is_valid_and_complete(server, site):
    status, _, body = get(server + "/sitemap.xml")
    assert status == 200
    sitemap_schema().validate(etree.fromstring(body))
    ns = {"s": "http://www.sitemaps.org/schemas/sitemap/0.9"}
    locs = etree.fromstring(body).xpath("//s:loc/text()", namespaces=ns)
    pages = {BASE + p.relative_to(site).as_posix() for p in site.rglob("*.html")
             if p.name != "404.html" and not p.relative_to(site).as_posix().startswith(
                 tuple(lang + t for lang in ("", "fr/", "es/") for t in (WITHDRAWN, SUPERSEDED)))}
    assert set(locs) == pages
    lastmods = etree.fromstring(body).xpath("//s:lastmod/text()", namespaces=ns)
    assert all(DATESTAMP.match(m) for m in lastmods)
    robots = get(server + "/robots.txt")[2].decode()
    assert f"Sitemap: {BASE}sitemap.xml" in robots


def test_sitemap_index_past_fifty_thousand(project, monkeypatch):
    from kgpub.render import sitemaps

    monkeypatch.setattr(sitemaps, "SITEMAP_LIMIT", 10)
    from kgpub.index import Index
    from kgpub.load import load_sources

    files = dict(sitemaps.sitemaps(Index(project, load_sources(project)), ["index.html"]))
    assert b"<sitemapindex" in files["sitemap.xml"] and len(files) >= 5
    sitemap_schema("siteindex.xsd").validate(etree.fromstring(files["sitemap.xml"]))
    for name, data in files.items():
        if name != "sitemap.xml":
            sitemap_schema().validate(etree.fromstring(data))


def _sparql_count(server: str, query: str) -> int:
    _, _, body = get(f"{server}/sparql?query={urllib.parse.quote(query)}",
                     accept="application/sparql-results+json")
    return int(json.loads(body)["results"]["bindings"][0]["n"]["value"])


def test_void_statistics_equal_sparql_counts(server):
    status, _, body = get(server + "/.well-known/void.ttl")
    g = rdflib.Graph().parse(data=body, format="turtle")
    void = rdflib.Namespace("http://rdfs.org/ns/void#")
    dcat = rdflib.Namespace("http://www.w3.org/ns/dcat#")
    ds = rdflib.URIRef(BASE + ".well-known/void#dataset")
    assert int(g.value(ds, void.triples)) == _sparql_count(
        server, "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }")
    assert int(g.value(ds, void.entities)) == _sparql_count(
        server, f'SELECT (COUNT(DISTINCT ?s) AS ?n) WHERE {{ ?s ?p ?o '
                f'FILTER(isIRI(?s) && STRSTARTS(STR(?s), "{BASE}")) }}')
    for part in g.objects(ds, void.classPartition):
        cls = g.value(part, void["class"])
        assert int(g.value(part, void.entities)) == _sparql_count(
            server, f"SELECT (COUNT(DISTINCT ?s) AS ?n) WHERE {{ ?s a <{cls}> }}")
    assert len(list(g.objects(ds, void.dataDump))) == 3
    # a catalogue's theme taxonomy (dcat:themeTaxonomy's domain is dcat:Catalog)
    catalog = rdflib.URIRef(BASE + ".well-known/void#catalog")
    assert (catalog, dcat.themeTaxonomy, rdflib.URIRef(BASE + "topics")) in g
    assert g.value(ds, void.sparqlEndpoint) == rdflib.URIRef(BASE + "sparql")
    dumps = {str(u).removeprefix(BASE) for u in g.objects(ds, void.dataDump)}
    for dump in dumps:
        assert get(f"{server}/{dump}")[0] == 200


def test_the_endpoint_and_void_count_the_derived_statements(server):
    """Clients that do not infer find concepts: the statements the build derives (kgpub.entail)
    are in the dumps the endpoint loads, and VoID counts them (test above: equal counts)."""
    skos = "http://www.w3.org/2004/02/skos/core#"
    concepts = _sparql_count(server, f"SELECT (COUNT(?c) AS ?n) WHERE {{ ?c a <{skos}Concept> }}")
    assert concepts == 8  # 2 topics, 6 resource types
    assert _sparql_count(server, f"SELECT (COUNT(*) AS ?n) WHERE {{ ?b <{skos}narrower> ?n . "
                                 f"?n <{skos}broader> ?b }}") == 5
    assert _sparql_count(server, f"SELECT (COUNT(*) AS ?n) WHERE {{ ?s <{skos}hasTopConcept> ?c "
                                 f". ?c <{skos}topConceptOf> ?s }}") == 3
    _, _, body = get(server + "/.well-known/void.ttl")
    g = rdflib.Graph().parse(data=body, format="turtle")
    part = rdflib.URIRef(BASE + ".well-known/void#class-skos-Concept")
    assert int(g.value(part, rdflib.URIRef("http://rdfs.org/ns/void#entities"))) == concepts


def test_oai_rdf_records_carry_the_derived_classes(server):
    ident = "oai:socialprotection-humanrights.org:resource/social-protection-a-key-to-a-fair-society"
    _, _, body = get(f"{server}/oai?verb=GetRecord&metadataPrefix=rdf&identifier={ident}")
    rdf = etree.fromstring(body).find(".//{http://www.w3.org/1999/02/22-rdf-syntax-ns#}RDF")
    g = rdflib.Graph().parse(data=etree.tostring(rdf), format="xml")
    subject = rdflib.URIRef(BASE + "resource/social-protection-a-key-to-a-fair-society")
    assert {rdflib.DCTERMS.BibliographicResource, rdflib.FOAF.Document} <= set(
        g.objects(subject, rdflib.RDF.type))


def test_entity_documents_point_to_the_dataset(server):
    _, _, body = get(f"{server}/topic/institutional-capacity-and-coordination.ttl")
    g = rdflib.Graph().parse(data=body, format="turtle")
    assert (rdflib.URIRef(BASE + "topic/institutional-capacity-and-coordination"),
            rdflib.URIRef("http://rdfs.org/ns/void#inDataset"),
            rdflib.URIRef(BASE + ".well-known/void#dataset")) in g


def test_atom_feed(server, site):
    status, headers, body = get(server + "/feed.atom")
    assert status == 200 and headers["Content-Type"].startswith("application/atom+xml")
    atom = "{http://www.w3.org/2005/Atom}"
    feed = etree.fromstring(body)
    assert feed.findtext(atom + "id") and feed.findtext(atom + "title")
    entries = feed.findall(atom + "entry")
    assert len(entries) == 10  # the live entries; the two withdrawn ones are tombstones
    at = "{http://purl.org/atompub/tombstones/1.0}"
    deleted = {d.get("ref"): d for d in feed.findall(at + "deleted-entry")}
    assert set(deleted) == {BASE + WITHDRAWN, BASE + SUPERSEDED}
    assert all(DATESTAMP.match(d.get("when")) for d in deleted.values())
    assert deleted[BASE + SUPERSEDED].find(atom + "link").get("href") == BASE + REPLACEMENT
    assert not {e.findtext(atom + "id") for e in entries} & set(deleted)
    assert "[Withdrawn]" not in body.decode()
    for e in entries:
        assert e.findtext(atom + "id").startswith(BASE)
        assert DATESTAMP.match(e.findtext(atom + "updated"))
        types = {link.get("type") for link in e.findall(atom + "link")}
        assert {"text/html", "text/turtle", "application/ld+json"} <= types
    html = (site / "index.html").read_text()
    assert 'type="application/atom+xml"' in html


def test_dumps_are_gzip(site):
    data = gzip.decompress((site / "dumps" / "dataset.ttl.gz").read_bytes())
    assert len(rdflib.Graph().parse(data=data, format="turtle")) > 300
