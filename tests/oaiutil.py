"""A synthetic OAI-PMH repository (250 records: deleted ones, records without RDF or without any
format, a title that needs escaping, nested sets) standing in for a build's records; shared by
test_oaipmh.py and test_oai_arguments.py."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import rdflib

from kgpub import layout
from kgpub.oaipmh import OaiProvider, OaiRecord, OaiSet, RepositoryInfo

# Where a site serves the `rdf` format's schema: the web layer's to say, as kgpub.server.oai does.
RDF_SCHEMA_PATH = "/" + layout.RDF_WRAPPER

BASE_URL = "https://example.org/oai"
REPO_ID = "example.org"
PREFIX = f"oai:{REPO_ID}:"
NOW = datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=UTC)  # fractional seconds must be dropped
DCT = rdflib.Namespace("http://purl.org/dc/terms/")

N_RECORDS = 250
SPECIAL = 42  # the record whose title needs escaping
NO_FORMATS = 100  # a live record with neither DC nor RDF
SPECIAL_TITLE = '<&"> \'quotes\' Ünïcödé — 日本語 𝄞 ]]>'


# ---- the synthetic repository --------------------------------------------------------------------


def _topic_sets(i: int) -> tuple[str, ...]:
    return {
        0: ("topic:health", "topic:health:maternal", "topic:health:maternal:nutrition"),
        1: ("topic:health",),
        2: ("topic:work", "topic:work:informal"),
        3: (),
    }[i % 4]


def _rdf_xml(i: int) -> bytes:
    g = rdflib.Graph()
    s = rdflib.URIRef(f"https://example.org/resource/r{i:03d}")
    g.add((s, DCT.title, rdflib.Literal(f"Record {i}", lang="en")))
    g.add((s, DCT.title, rdflib.Literal(f"Notice {i} <&>", lang="fr")))
    g.add((s, DCT.issued, rdflib.Literal("2021-01-01", datatype=rdflib.XSD.date)))
    node = rdflib.BNode()
    g.add((s, DCT.creator, node))
    g.add((node, rdflib.RDFS.label, rdflib.Literal("Agency é")))
    return g.serialize(format="pretty-xml" if i % 2 else "xml", encoding="utf-8")


def make_record(i: int) -> OaiRecord:
    start = datetime(2021, 1, 1, tzinfo=UTC)
    stamp = (start + timedelta(hours=7 * (i // 2))).strftime("%Y-%m-%dT%H:%M:%SZ")  # pairs tie
    deleted = i % 17 == 5
    sets = _topic_sets(i) + ("type:report" if i % 2 else "type:article",)
    title = SPECIAL_TITLE + "\x01" if i == SPECIAL else f"Record {i}"
    dc = (
        ("title", title, "en"),
        ("title", f"Notice {i}", "fr"),
        ("creator", "Agency é", None),
        ("date", stamp[:10], None),
        ("identifier", f"https://example.org/resource/r{i:03d}", None),
    )
    has_rdf = not deleted and i % 13 != 7 and i != NO_FORMATS
    return OaiRecord(
        local_id=f"resource/r{i:03d}",
        datestamp=stamp,
        sets=sets,
        deleted=deleted,
        dc=() if deleted or i == NO_FORMATS else dc,
        rdf_xml=_rdf_xml(i) if has_rdf else None,
    )


RECORDS = [make_record(i) for i in range(N_RECORDS)]
SETS = [
    OaiSet("topic:health", "Topic: Health & <care>", "Health, broadly."),
    OaiSet("topic:health:maternal", "Topic: Maternal health"),
    OaiSet("topic:health:maternal:nutrition", "Topic: Nutrition", "Food — and “nutrition”."),
    OaiSet("topic:work", "Topic: Work"),
    OaiSet("topic:work:informal", "Topic: Informal work"),
    OaiSet("topic:empty", "Topic: nothing yet"),
    OaiSet("type:article", "Resource type: Article"),
    OaiSet("type:report", "Resource type: Report", "Long reports."),
    OaiSet("type:brief", "Resource type: Brief"),
    OaiSet("type:dataset", "Resource type: Dataset"),
]
DELETED = next(r for r in RECORDS if r.deleted)
NO_RDF = next(r for r in RECORDS if not r.deleted and r.rdf_xml is None and r.dc)
LIVE = RECORDS[3]


def make_info(**changes) -> RepositoryInfo:
    info = RepositoryInfo(
        name="Test repository <&>",
        base_url=BASE_URL,
        admin_emails=("oai@example.org", "admin@example.org"),
        repository_id=REPO_ID,
        earliest_datestamp="2022-01-01T00:00:00Z",  # later than the records: the provider fixes it
        sample_local_id="resource/r000",
        page_size=7,
        token_secret=b"test-secret",
        rdf_schema_path=RDF_SCHEMA_PATH,
    )
    return replace(info, **changes)


def make_provider(records=RECORDS, sets=SETS, **changes) -> OaiProvider:
    return OaiProvider(make_info(**changes), records, sets, now=lambda: NOW)
