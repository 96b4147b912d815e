"""Every XML output stays well-formed whatever the data - defence in depth behind the validation
gate (tests/test_characters.py). A project whose data and configuration hold characters XML 1.0
forbids (NUL, other C0 controls, U+FFFE, U+FFFF; raw and as Turtle escapes) is built with the
gate switched off, as data validated by an older kgpub would be, and every XML file is parsed
with lxml (a strict parser): the Atom feed, every RDF/XML document, the sitemaps, VoID, and the
OAI-PMH responses of every verb in both metadata formats, from the provider and through the real
application, valid against the official XSDs.

The writers' decision, tested here: each forbidden character becomes U+FFFD (REPLACEMENT
CHARACTER) in XML; Turtle, N-Triples and JSON-LD escape what they cannot carry raw and keep the
value exactly."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import replace
from pathlib import Path
from urllib.parse import urlencode

import pyoxigraph as ox
import pytest
import rdflib
from lxml import etree
from starlette.testclient import TestClient

from kgpub.config import load_project
from kgpub.errors import InvalidData
from kgpub.formats import RDF_FORMATS, RDFXML, serialize_all
from kgpub.index import Index
from kgpub.layout import FEED
from kgpub.load import load_sources
from kgpub.oaipmh import OaiProvider, OaiRecord, OaiSet, RepositoryInfo
from kgpub.render import sitemaps
from kgpub.render.feed import atom_feed
from kgpub.render.rdf import entity_documents
from kgpub.render.void import void_documents
from kgpub.validate import Report, validate_sources
from kgtest import BASE, copy_project
from oaiutil import RDF_SCHEMA_PATH
from xsdutil import OAI_NS, RDF_NS, oai_errors, sitemap_schema

FORBIDDEN = [chr(c) for c in range(0x20) if c not in (0x09, 0x0A, 0x0D)] + ["\ufffe", "\uffff"]
XML_FORBIDDEN = set(FORBIDDEN)
STRICT = etree.XMLParser(recover=False, resolve_entities=False, no_network=True)
NS = {"o": OAI_NS, "a": "http://www.w3.org/2005/Atom", "rdf": RDF_NS,
      "dc": "http://purl.org/dc/elements/1.1/"}
ENTRY = BASE + "resource/dirty-entry"
REPO_ID = "socialprotection-humanrights.org"

# Raw characters (written into the file as they are) and Turtle escapes, in every text the
# outputs show: titles, abstract, topic label and definition, agent name.
DIRTY = (
    "@prefix sphr: <ontology#> .\n@prefix resource: <resource/> .\n@prefix topic: <topic/> .\n"
    "@prefix type: <type/> .\n@prefix agent: <agent/> .\n"
    "@prefix dcterms: <http://purl.org/dc/terms/> .\n"
    "@prefix skos: <http://www.w3.org/2004/02/skos/core#> .\n"
    "@prefix foaf: <http://xmlns.com/foaf/0.1/> .\n"
    "@prefix xsd: <http://www.w3.org/2001/XMLSchema#> .\n\n"
    "resource:dirty-entry a sphr:Publication ;\n"
    '    dcterms:title "Dirty\x00 title \ufffe end\x01"@en ;\n'
    '    dcterms:title "Titre \\u0000 sale \\U0000FFFF"@fr ;\n'
    '    dcterms:abstract "Abstract \\uFFFF, \\b, \\f and \x0b end"@en ;\n'
    "    dcterms:type type:report ;\n"
    "    dcterms:subject topic:dirty-topic ;\n"
    "    dcterms:creator agent:dirty-agent ;\n"
    "    dcterms:publisher agent:dirty-agent ;\n"
    '    dcterms:date "2020"^^xsd:gYear ;\n'
    '    dcterms:modified "2030-01-01T00:00:00Z"^^xsd:dateTime .\n\n'
    'topic:dirty-topic a sphr:Topic ;\n    skos:prefLabel "Dirty\x00topic"@en ;\n'
    '    skos:definition "Definition \\uFFFE"@en ;\n    skos:inScheme <topics> ;\n'
    "    skos:broader topic:institutional-capacity-and-coordination .\n\n"
    'agent:dirty-agent a foaf:Organization ;\n    foaf:name "Dirty \\u0007 agent\x1f"@en .\n'
)
TITLE_EN = "Dirty\x00 title \ufffe end\x01"
TITLE_EN_XML = "Dirty\ufffd title \ufffd end\ufffd"


def xml_text(value: str) -> str:
    return "".join("\ufffd" if c in XML_FORBIDDEN else c for c in value)


@pytest.fixture(scope="module")
def dirty_project(tmp_path_factory):
    root = copy_project(tmp_path_factory.mktemp("xml-safety") / "project")
    (root / "data" / "entries" / "dirty.ttl").write_bytes(DIRTY.encode("utf-8"))
    # kgpub.toml refuses such settings at load (tests/test_config.py); the writers must cope
    # anyway, so the project's settings are dirtied after loading.
    project = load_project(root)
    repository = dict(project.repository, name="Social Protection \uffff knowledge graph",
                      publisher="Platform\x01")
    return dataclasses.replace(project, title="Social Protection\x00 and Human Rights",
                               repository=repository)


@pytest.fixture(scope="module")
def dirty_index(dirty_project):
    return Index(dirty_project, load_sources(dirty_project))


@pytest.fixture(scope="module")
def dirty_site(dirty_project):
    """Built with the gate switched off (the build's validation reports nothing)."""
    from kgpub.build import build, pipeline

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(pipeline, "validate_sources", lambda sources, engine="auto": Report([]))
        return build(dirty_project, dirty_project.root / "site").out


def parse_strict(data: bytes) -> etree._Element:
    assert not XML_FORBIDDEN & set(data.decode("utf-8"))
    return etree.fromstring(data, STRICT)


def test_the_gate_refuses_the_project(dirty_project, tmp_path):
    from kgpub.site import build

    report = validate_sources(load_sources(dirty_project))
    assert {p.focus for p in report.violations} >= {ENTRY, BASE + "topic/dirty-topic",
                                                     BASE + "agent/dirty-agent"}
    with pytest.raises(InvalidData):
        build(dirty_project, tmp_path / "site")
    assert not (tmp_path / "site").exists()


def test_every_xml_file_of_the_site_is_well_formed(dirty_site):
    files = sorted(dirty_site.rglob("*.rdf")) + sorted(dirty_site.glob("sitemap*.xml"))
    files += [dirty_site / "feed.atom"]
    assert dirty_site / "resource" / "dirty-entry.rdf" in files
    assert dirty_site / ".well-known" / "void.rdf" in files
    assert len(files) > 40
    for path in files:
        try:
            parse_strict(path.read_bytes())
        except (etree.XMLSyntaxError, AssertionError) as exc:
            pytest.fail(f"{path.relative_to(dirty_site)}: {exc}")


def test_sitemaps_are_schema_valid(dirty_site):
    for path in dirty_site.glob("sitemap*.xml"):
        sitemap_schema().validate(parse_strict(path.read_bytes()))


def test_feed_shows_the_replacement(dirty_site):
    feed = parse_strict((dirty_site / "feed.atom").read_bytes())
    assert feed.findtext("a:title", namespaces=NS).startswith("Social Protection\ufffd and")
    entry = feed.find("a:entry", NS)  # modified in 2030: the newest
    assert entry.findtext("a:id", namespaces=NS) == ENTRY
    assert entry.findtext("a:title", namespaces=NS) == TITLE_EN_XML
    assert entry.findtext("a:summary", namespaces=NS) == "Abstract \ufffd, \ufffd, \ufffd and \ufffd end"
    assert entry.findtext("a:author/a:name", namespaces=NS) == "Dirty \ufffd agent\ufffd"
    assert entry.find("a:category", NS).get("label") == "Dirty\ufffdtopic"


def test_rdf_xml_replaces_and_other_formats_keep_the_value(dirty_site):
    title = rdflib.URIRef("http://purl.org/dc/terms/title")
    entry = rdflib.URIRef(ENTRY)
    doc = dirty_site / "resource" / "dirty-entry"
    xml = rdflib.Graph().parse(data=(doc.with_suffix(".rdf")).read_bytes(), format="xml")
    assert {str(t) for t in xml.objects(entry, title)} == {
        TITLE_EN_XML, "Titre \ufffd sale \ufffd"}
    for fmt in RDF_FORMATS:
        if fmt is not RDFXML:
            triples = ox.parse(doc.with_suffix(fmt.suffix).read_bytes(), format=fmt.rdf)
            assert {t.object.value for t in triples if t.subject.value == ENTRY
                    and t.predicate.value == str(title)} == {TITLE_EN, "Titre \x00 sale \uffff"}
    void = rdflib.Graph().parse(data=(dirty_site / ".well-known" / "void.rdf").read_bytes(),
                                format="xml")
    assert "Social Protection\ufffd and Human Rights" in {str(o) for o in void.objects()}


def test_writers_called_directly(dirty_index):
    """The render functions themselves, on an index built from the dirty sources."""
    files = {FEED: atom_feed(dirty_index)}
    files.update(sitemaps.sitemaps(dirty_index, ["index.html"], ["", "fr/"]))
    files.update(void_documents(dirty_index))
    for iri in (ENTRY, BASE + "topic/dirty-topic", BASE + "agent/dirty-agent"):
        files.update(entity_documents(dirty_index, iri))
    xml = [name for name in files if name.endswith((".rdf", ".xml", ".atom"))]
    assert len(xml) == 6  # feed, sitemap, VoID, three entities
    for name in xml:
        parse_strict(files[name])


def test_sitemap_index_is_well_formed(dirty_index, monkeypatch):
    monkeypatch.setattr(sitemaps, "SITEMAP_LIMIT", 5)
    files = dict(sitemaps.sitemaps(dirty_index, ["index.html"]))
    assert b"<sitemapindex" in files["sitemap.xml"]
    sitemap_schema("siteindex.xsd").validate(parse_strict(files["sitemap.xml"]))


@pytest.mark.parametrize("char", FORBIDDEN, ids=[f"U+{ord(c):04X}" for c in FORBIDDEN])
def test_each_forbidden_character_in_each_rdf_format(char):
    value = f"a{char}b"
    s, p = ox.NamedNode("http://example.org/s"), ox.NamedNode("http://example.org/p")
    triples = [ox.Triple(s, p, ox.Literal(value, language="en")),
               ox.Triple(s, p, ox.Literal(value + "!"))]
    for fmt, body in zip(RDF_FORMATS, serialize_all(triples, RDF_FORMATS), strict=True):
        if fmt is RDFXML:
            parse_strict(body)
            got = {t.object.value for t in ox.parse(body, format=fmt.rdf)}
            assert got == {"a\ufffdb", "a\ufffdb!"}
        else:
            got = {t.object.value for t in ox.parse(body, format=fmt.rdf)}
            assert got == {value, value + "!"}, fmt.name


# ---- OAI-PMH: the provider and the application ---------------------------------------------------


def records_of(site: Path) -> tuple[list[OaiRecord], list[OaiSet], dict]:
    """The build's OAI records and sets, read as the server reads them."""
    meta = site / ".kgpub"
    records = []
    for line in (meta / "oai-records.jsonl").read_text("utf-8").splitlines():
        r = json.loads(line)
        records.append(OaiRecord(
            r["local_id"], r["datestamp"], tuple(r["sets"]), r["deleted"],
            tuple((e, v, lang) for e, v, lang in r["dc"]),
            (site / r["rdf"]).read_bytes() if r["rdf"] else None))
    sets = [OaiSet(s["spec"], s["name"], s.get("description"))
            for s in json.loads((meta / "oai-sets.json").read_text("utf-8"))]
    return records, sets, json.loads((meta / "site.json").read_text("utf-8"))


def every_request(respond) -> list[tuple[list, etree._Element]]:
    """Every verb, both formats, every page of every list, every record: (args, response)."""
    out = []

    def ask(args):
        root = parse_strict(respond(args))
        out.append((args, root))
        return root

    ask([("verb", "Identify")])
    ask([("verb", "ListMetadataFormats")])
    ask([("verb", "ListMetadataFormats"), ("identifier", f"oai:{REPO_ID}:resource/dirty-entry")])
    for verb, extra in (("ListSets", []), ("ListIdentifiers", [("metadataPrefix", "oai_dc")]),
                        ("ListRecords", [("metadataPrefix", "oai_dc")]),
                        ("ListRecords", [("metadataPrefix", "rdf")])):
        root = ask([("verb", verb), *extra])
        while (token := root.findtext(".//o:resumptionToken", namespaces=NS)):
            root = ask([("verb", verb), ("resumptionToken", token)])
    ids = [i for _, root in out for i in root.xpath("//o:header/o:identifier/text()",
                                                    namespaces=NS)]
    for identifier in sorted(set(ids)):
        for prefix in ("oai_dc", "rdf"):
            ask([("verb", "GetRecord"), ("identifier", identifier), ("metadataPrefix", prefix)])
    ask([("verb", "GetRecord"), ("identifier", "oai:x:\x00"), ("metadataPrefix", "rdf")])
    return out


def check_harvest(responses) -> None:
    assert len(responses) >= 30  # 11 records x 2 formats, the lists, Identify...
    for args, root in responses:
        errors = oai_errors(root)
        assert not errors, (args, errors[0])
    dirty = [root for args, root in responses if ("metadataPrefix", "rdf") in args
             and ("identifier", f"oai:{REPO_ID}:resource/dirty-entry") in args]
    rdf = dirty[0].find(".//rdf:RDF", NS)
    titles = {e.text for e in rdf.iter("{http://purl.org/dc/terms/}title")}
    assert TITLE_EN_XML in titles
    dc = [root for args, root in responses if ("metadataPrefix", "oai_dc") in args
          and ("identifier", f"oai:{REPO_ID}:resource/dirty-entry") in args][0]
    assert TITLE_EN_XML in dc.xpath("//dc:title/text()", namespaces=NS)
    assert "Dirty \ufffd agent\ufffd" in dc.xpath("//dc:creator/text()", namespaces=NS)
    identify = responses[0][1]
    assert identify.findtext(".//o:repositoryName", namespaces=NS) == (
        "Social Protection \ufffd knowledge graph")


def test_oai_provider_on_the_build(dirty_project, dirty_site):
    records, sets, meta = records_of(dirty_site)
    repo = dirty_project.repository
    info = RepositoryInfo(repo["name"], "https://example.org/oai", (repo["admin_email"],),
                          repo["oai_repository_identifier"], meta["earliest_datestamp"],
                          records[0].local_id, page_size=4, rdf_schema_path=RDF_SCHEMA_PATH)
    provider = OaiProvider(info, records, sets)
    check_harvest(every_request(provider.respond))


def test_oai_through_the_application(dirty_project, dirty_site):
    from kgpub.server.app import create_app

    client = TestClient(create_app(dirty_project, dirty_site))

    def respond(args):
        response = client.get("/oai?" + urlencode(args))
        assert response.status_code == 200, args
        return response.content

    check_harvest(every_request(respond))
    response = client.post("/oai", content=urlencode([("verb", "ListRecords"),
                                                      ("metadataPrefix", "rdf")]),
                           headers={"content-type": "application/x-www-form-urlencoded"})
    assert not oai_errors(parse_strict(response.content))


def test_rdf_written_by_an_older_kgpub(dirty_site):
    """RDF/XML files with raw forbidden characters (a writer without the fix) are read with
    each of them replaced; a document broken otherwise is still an error, loudly."""
    records, sets, meta = records_of(dirty_site)
    old = b'<?xml version="1.0" encoding="UTF-8"?>\n<rdf:RDF xmlns:rdf="' + RDF_NS.encode() + (
        b'" xmlns:dc="http://purl.org/dc/terms/"><rdf:Description rdf:about="' + ENTRY.encode()
        + b'"><dc:title>NUL\x00 BEL\x07 FFFE\xef\xbf\xbe US\x1f</dc:title></rdf:Description>'
        b"</rdf:RDF>")
    position = next(n for n, r in enumerate(records) if r.local_id == "resource/dirty-entry")
    records[position] = replace(records[position], rdf_xml=old)
    info = RepositoryInfo("r", "https://example.org/oai", ("a@b.org",), REPO_ID,
                          meta["earliest_datestamp"], records[0].local_id,
                          rdf_schema_path=RDF_SCHEMA_PATH)
    provider = OaiProvider(info, records, sets)
    args = [("verb", "GetRecord"), ("identifier", f"oai:{REPO_ID}:resource/dirty-entry"),
            ("metadataPrefix", "rdf")]
    root = parse_strict(provider.respond(args))
    assert not oai_errors(root)
    assert root.findtext(".//{http://purl.org/dc/terms/}title") == (
        "NUL\ufffd BEL\ufffd FFFE\ufffd US\ufffd")
    root = parse_strict(provider.respond([("verb", "ListRecords"), ("metadataPrefix", "rdf")]))
    assert not oai_errors(root)
    records[position] = replace(records[position], rdf_xml=old.replace(b"</rdf:RDF>", b""))
    broken = OaiProvider(info, records, sets)
    with pytest.raises(ValueError, match="does not parse"):
        broken.respond(args)
