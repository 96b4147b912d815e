"""The OAI-PMH 2.0 provider: schema validity, every error rule, resumption, selective harvesting,
both metadata formats. A synthetic repository (oaiutil.py) stands in for a build's records."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import quote

import pytest
import rdflib
import xmlschema
from lxml import etree
from rdflib.compare import isomorphic

from kgpub.oaipmh import (
    DC_NS,
    OAI_DC_NS,
    OAI_ID_NS,
    OAI_NS,
    RDF_NS,
    OaiProvider,
    OaiRecord,
    RepositoryInfo,
)
from oaiutil import (
    BASE_URL,
    DELETED,
    LIVE,
    NO_FORMATS,
    NO_RDF,
    PREFIX,
    RECORDS,
    REPO_ID,
    SETS,
    SPECIAL,
    SPECIAL_TITLE,
    make_info,
    make_provider,
)
from xsdutil import oai_schema

UTC_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
NS = {"o": OAI_NS, "oai_dc": OAI_DC_NS, "dc": DC_NS, "rdf": RDF_NS, "id": OAI_ID_NS}
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"


@pytest.fixture(scope="module")
def provider() -> OaiProvider:
    return make_provider()


@pytest.fixture(scope="module")
def big_page() -> OaiProvider:
    return make_provider(page_size=1000)


@pytest.fixture(scope="module")
def schema() -> xmlschema.XMLSchema:
    return oai_schema()  # skips, with the one message of xsdutil, without ../shared/xsd


# ---- helpers -------------------------------------------------------------------------------------


def call(p: OaiProvider, *args: tuple[str, str]) -> etree._Element:
    body = p.respond(list(args))
    assert body.startswith(b'<?xml version="1.0" encoding="UTF-8"?>')
    return etree.fromstring(body)


def error_codes(root: etree._Element) -> list[str]:
    return [e.get("code") for e in root.findall("o:error", NS)]


def request_attrs(root: etree._Element) -> dict[str, str]:
    request = root.find("o:request", NS)
    assert request.text == BASE_URL
    return dict(request.attrib)


def token_of(root: etree._Element) -> etree._Element | None:
    return root.find(".//o:resumptionToken", NS)


def assert_valid(schema: xmlschema.XMLSchema, root: etree._Element) -> None:
    errors = list(schema.iter_errors(root))
    assert not errors, errors[0]
    assert UTC_RE.match(root.findtext("o:responseDate", namespaces=NS))
    for stamp in root.iterfind(".//o:datestamp", NS):
        assert UTC_RE.match(stamp.text), stamp.text


def harvest(p: OaiProvider, verb: str, *args: tuple[str, str]) -> list[etree._Element]:
    """Every response page of a list request, following resumption tokens."""
    pages = [call(p, ("verb", verb), *args)]
    while (token := token_of(pages[-1])) is not None and token.text:
        pages.append(call(p, ("verb", verb), ("resumptionToken", token.text)))
        assert len(pages) < 100
    return pages


def identifiers(pages: list[etree._Element]) -> list[str]:
    return [e.text for page in pages for e in page.iterfind(".//o:header/o:identifier", NS)]


def expected_ids(prefix: str, keep=lambda r: True) -> list[str]:
    def has(r: OaiRecord) -> bool:
        return r.deleted or (bool(r.dc) if prefix == "oai_dc" else r.rdf_xml is not None)

    chosen = sorted((r for r in RECORDS if has(r) and keep(r)),
                    key=lambda r: (r.datestamp, r.local_id))
    return [PREFIX + r.local_id for r in chosen]


# ---- schema validity of every verb ---------------------------------------------------------------


VALID_REQUESTS = [
    [("verb", "Identify")],
    [("verb", "ListMetadataFormats")],
    [("verb", "ListMetadataFormats"), ("identifier", PREFIX + LIVE.local_id)],
    [("verb", "ListMetadataFormats"), ("identifier", PREFIX + DELETED.local_id)],
    [("verb", "ListSets")],
    [("verb", "ListIdentifiers"), ("metadataPrefix", "oai_dc")],
    [("verb", "ListIdentifiers"), ("metadataPrefix", "rdf"), ("set", "topic:health")],
    [("verb", "ListRecords"), ("metadataPrefix", "oai_dc")],
    [("verb", "ListRecords"), ("metadataPrefix", "rdf")],
    [("verb", "ListRecords"), ("metadataPrefix", "oai_dc"), ("from", "2021-01-10"),
     ("until", "2021-01-11")],
    [("verb", "GetRecord"), ("identifier", PREFIX + LIVE.local_id), ("metadataPrefix", "oai_dc")],
    [("verb", "GetRecord"), ("identifier", PREFIX + LIVE.local_id), ("metadataPrefix", "rdf")],
    [("verb", "GetRecord"), ("identifier", PREFIX + DELETED.local_id), ("metadataPrefix", "rdf")],
    [("verb", "GetRecord"), ("identifier", PREFIX + f"resource/r{SPECIAL:03d}"),
     ("metadataPrefix", "oai_dc")],
]


@pytest.mark.parametrize("args", VALID_REQUESTS, ids=lambda a: " ".join(v for _, v in a))
def test_responses_are_schema_valid(provider, schema, args):
    root = call(provider, *args)
    assert error_codes(root) == []
    assert_valid(schema, root)
    assert request_attrs(root) == dict(args)  # a valid request is echoed exactly
    assert root.findtext("o:responseDate", namespaces=NS) == "2024-05-06T07:08:09Z"


def test_every_page_of_every_list_is_schema_valid(provider, schema):
    for verb, args in [("ListSets", ()), ("ListIdentifiers", (("metadataPrefix", "rdf"),)),
                       ("ListRecords", (("metadataPrefix", "oai_dc"),)),
                       ("ListRecords", (("metadataPrefix", "rdf"),))]:
        for page in harvest(provider, verb, *args):
            assert_valid(schema, page)


def test_validator_is_not_vacuous(provider, schema):
    """The schema setup must reject what it should, or the validity tests prove nothing."""
    good = provider.respond([("verb", "GetRecord"), ("identifier", PREFIX + LIVE.local_id),
                             ("metadataPrefix", "oai_dc")])
    for broken in (good.replace(b"dc:creator", b"dc:author"),
                   good.replace(b"oai_dc:dc", b"oai_dc:dublin"),
                   good.replace(b'verb="GetRecord"', b'verb="Get"')):
        assert list(schema.iter_errors(etree.fromstring(broken)))


# ---- errors --------------------------------------------------------------------------------------


ID = PREFIX + LIVE.local_id
BAD_REQUESTS = [
    ("no verb", [], ["badVerb"]),
    ("no verb, other args", [("metadataPrefix", "oai_dc")], ["badVerb"]),
    ("unknown verb", [("verb", "ListEverything")], ["badVerb"]),
    ("verb case", [("verb", "identify")], ["badVerb"]),
    ("repeated verb", [("verb", "Identify"), ("verb", "Identify")], ["badVerb"]),
    ("two verbs", [("verb", "Identify"), ("verb", "ListSets")], ["badVerb"]),
    ("verb with NUL", [("verb", "Identify\x00")], ["badVerb"]),
    ("unknown argument", [("verb", "Identify"), ("foo", "bar")], ["badArgument"]),
    ("argument of another verb", [("verb", "Identify"), ("metadataPrefix", "oai_dc")],
     ["badArgument"]),
    ("ListSets with a date", [("verb", "ListSets"), ("from", "2020-01-01")], ["badArgument"]),
    ("ListMetadataFormats with prefix", [("verb", "ListMetadataFormats"),
                                         ("metadataPrefix", "oai_dc")], ["badArgument"]),
    ("missing metadataPrefix", [("verb", "ListRecords")], ["badArgument"]),
    ("missing metadataPrefix (ids)", [("verb", "ListIdentifiers"), ("set", "topic:health")],
     ["badArgument"]),
    ("GetRecord without prefix", [("verb", "GetRecord"), ("identifier", ID)], ["badArgument"]),
    ("GetRecord without identifier", [("verb", "GetRecord"), ("metadataPrefix", "oai_dc")],
     ["badArgument"]),
    ("GetRecord without anything", [("verb", "GetRecord")], ["badArgument", "badArgument"]),
    ("repeated argument", [("verb", "ListRecords"), ("metadataPrefix", "oai_dc"),
                           ("metadataPrefix", "oai_dc")], ["badArgument"]),
    ("repeated set", [("verb", "ListIdentifiers"), ("metadataPrefix", "oai_dc"),
                      ("set", "type:report"), ("set", "type:article")], ["badArgument"]),
    ("repeated identifier", [("verb", "GetRecord"), ("identifier", ID), ("identifier", ID),
                             ("metadataPrefix", "oai_dc")], ["badArgument"]),
    ("from later than until", [("verb", "ListRecords"), ("metadataPrefix", "oai_dc"),
                               ("from", "2021-02-01"), ("until", "2021-01-01")], ["badArgument"]),
    ("from later than until, seconds", [("verb", "ListRecords"), ("metadataPrefix", "oai_dc"),
                                        ("from", "2021-01-01T00:00:01Z"),
                                        ("until", "2021-01-01T00:00:00Z")], ["badArgument"]),
    ("mixed granularity", [("verb", "ListRecords"), ("metadataPrefix", "oai_dc"),
                           ("from", "2021-01-01"), ("until", "2021-02-01T00:00:00Z")],
     ["badArgument"]),
    ("no such day", [("verb", "ListRecords"), ("metadataPrefix", "oai_dc"),
                     ("from", "2020-02-30")], ["badArgument"]),
    ("no such month", [("verb", "ListIdentifiers"), ("metadataPrefix", "oai_dc"),
                       ("until", "2020-13-01")], ["badArgument"]),
    ("no such hour", [("verb", "ListIdentifiers"), ("metadataPrefix", "oai_dc"),
                      ("from", "2020-01-01T24:00:00Z")], ["badArgument"]),
    ("leap second", [("verb", "ListIdentifiers"), ("metadataPrefix", "oai_dc"),
                     ("from", "2020-12-31T23:59:60Z")], ["badArgument"]),
    ("no Z", [("verb", "ListRecords"), ("metadataPrefix", "oai_dc"),
              ("from", "2020-01-01T00:00:00")], ["badArgument"]),
    ("offset", [("verb", "ListRecords"), ("metadataPrefix", "oai_dc"),
                ("from", "2020-01-01T00:00:00+01:00")], ["badArgument"]),
    ("fractional seconds", [("verb", "ListRecords"), ("metadataPrefix", "oai_dc"),
                            ("until", "2020-01-01T00:00:00.5Z")], ["badArgument"]),
    ("minutes granularity", [("verb", "ListRecords"), ("metadataPrefix", "oai_dc"),
                             ("until", "2020-01-01T00:00Z")], ["badArgument"]),
    ("compact date", [("verb", "ListRecords"), ("metadataPrefix", "oai_dc"),
                      ("from", "20200101")], ["badArgument"]),
    ("year only", [("verb", "ListRecords"), ("metadataPrefix", "oai_dc"), ("from", "2020")],
     ["badArgument"]),
    ("token with prefix", [("verb", "ListRecords"), ("resumptionToken", "abc.def"),
                           ("metadataPrefix", "oai_dc")], ["badArgument"]),
    ("token with set", [("verb", "ListIdentifiers"), ("resumptionToken", "abc.def"),
                        ("set", "topic:health")], ["badArgument"]),
    ("token for GetRecord", [("verb", "GetRecord"), ("resumptionToken", "abc.def")],
     ["badArgument", "badArgument", "badArgument"]),
    ("empty prefix", [("verb", "ListRecords"), ("metadataPrefix", "")], ["badArgument"]),
    ("empty token", [("verb", "ListRecords"), ("resumptionToken", "")], ["badArgument"]),
    ("illegal prefix", [("verb", "ListRecords"), ("metadataPrefix", "oai dc")], ["badArgument"]),
    ("illegal setSpec", [("verb", "ListRecords"), ("metadataPrefix", "oai_dc"),
                         ("set", "topic::health")], ["badArgument"]),
    ("control character", [("verb", "GetRecord"), ("identifier", ID + "\x00"),
                           ("metadataPrefix", "oai_dc")], ["badArgument"]),
    ("unknown format", [("verb", "ListRecords"), ("metadataPrefix", "marc21")],
     ["cannotDisseminateFormat"]),
    ("unknown format (ids)", [("verb", "ListIdentifiers"), ("metadataPrefix", "marc21"),
                              ("set", "topic:health")], ["cannotDisseminateFormat"]),
    ("unknown format, GetRecord", [("verb", "GetRecord"), ("identifier", ID),
                                   ("metadataPrefix", "marc21")], ["cannotDisseminateFormat"]),
    ("format the item lacks", [("verb", "GetRecord"), ("identifier", PREFIX + NO_RDF.local_id),
                               ("metadataPrefix", "rdf")], ["cannotDisseminateFormat"]),
    ("unknown identifier", [("verb", "GetRecord"), ("identifier", PREFIX + "resource/nope"),
                            ("metadataPrefix", "oai_dc")], ["idDoesNotExist"]),
    ("foreign identifier", [("verb", "GetRecord"), ("identifier", "oai:other.org:resource/r003"),
                            ("metadataPrefix", "oai_dc")], ["idDoesNotExist"]),
    ("unknown identifier and format", [("verb", "GetRecord"), ("identifier", "nope"),
                                       ("metadataPrefix", "marc21")],
     ["idDoesNotExist", "cannotDisseminateFormat"]),
    ("formats of unknown identifier", [("verb", "ListMetadataFormats"), ("identifier", "x:y")],
     ["idDoesNotExist"]),
    ("identifier that is no URI", [("verb", "ListMetadataFormats"), ("identifier", "x y")],
     ["badArgument"]),
    ("item without formats", [("verb", "ListMetadataFormats"),
                              ("identifier", PREFIX + f"resource/r{NO_FORMATS:03d}")],
     ["noMetadataFormats"]),
    ("unknown set", [("verb", "ListRecords"), ("metadataPrefix", "oai_dc"),
                     ("set", "topic:nothing")], ["noRecordsMatch"]),
    ("empty set", [("verb", "ListIdentifiers"), ("metadataPrefix", "oai_dc"),
                   ("set", "topic:empty")], ["noRecordsMatch"]),
    ("future", [("verb", "ListRecords"), ("metadataPrefix", "oai_dc"), ("from", "2030-01-01")],
     ["noRecordsMatch"]),
    ("past", [("verb", "ListIdentifiers"), ("metadataPrefix", "rdf"),
              ("until", "1999-12-31T23:59:59Z")], ["noRecordsMatch"]),
    ("set and dates disjoint", [("verb", "ListRecords"), ("metadataPrefix", "oai_dc"),
                                ("set", "topic:work:informal"), ("from", "2021-01-01T00:00:00Z"),
                                ("until", "2021-01-01T06:59:59Z")], ["noRecordsMatch"]),
    ("malformed token", [("verb", "ListRecords"), ("resumptionToken", "not a token")],
     ["badResumptionToken"]),
    ("unsigned token", [("verb", "ListIdentifiers"), ("resumptionToken", "eyJvIjo3fQ.AAAA")],
     ["badResumptionToken"]),
    ("overlong token", [("verb", "ListSets"), ("resumptionToken", "a" * 5000 + ".b")],
     ["badResumptionToken"]),
]


@pytest.mark.parametrize("args,codes", [(a, c) for _, a, c in BAD_REQUESTS],
                         ids=[name for name, _, _ in BAD_REQUESTS])
def test_bad_requests(provider, schema, args, codes):
    root = call(provider, *args)
    assert error_codes(root) == codes
    assert_valid(schema, root)
    if {"badVerb", "badArgument"} & set(codes):
        assert request_attrs(root) == {}  # invalid arguments are not echoed
    else:
        assert request_attrs(root) == dict(args)
    assert all(e.text for e in root.findall("o:error", NS))


def test_no_set_hierarchy(schema):
    p = make_provider(sets=[])
    assert error_codes(call(p, ("verb", "ListSets"))) == ["noSetHierarchy"]
    root = call(p, ("verb", "ListRecords"), ("metadataPrefix", "oai_dc"), ("set", "topic:health"))
    assert error_codes(root) == ["noSetHierarchy"]
    assert_valid(schema, root)
    root = call(p, ("verb", "ListIdentifiers"), ("metadataPrefix", "marc"), ("set", "type:report"))
    assert error_codes(root) == ["cannotDisseminateFormat", "noSetHierarchy"]
    # without sets, unrestricted harvesting still works
    assert error_codes(call(p, ("verb", "ListIdentifiers"), ("metadataPrefix", "oai_dc"))) == []


def test_no_records_at_all(schema):
    p = make_provider(records=[])
    root = call(p, ("verb", "ListRecords"), ("metadataPrefix", "oai_dc"))
    assert error_codes(root) == ["noRecordsMatch"]
    root = call(p, ("verb", "Identify"))
    assert_valid(schema, root)
    assert root.findtext(".//o:earliestDatestamp", namespaces=NS) == "2022-01-01T00:00:00Z"


# ---- resumption tokens ---------------------------------------------------------------------------


def first_token(p: OaiProvider, verb: str = "ListRecords", prefix: str = "oai_dc") -> str:
    return token_of(call(p, ("verb", verb), ("metadataPrefix", prefix))).text


@pytest.mark.parametrize("verb,prefix", [("ListIdentifiers", "oai_dc"), ("ListRecords", "oai_dc"),
                                         ("ListRecords", "rdf")])
def test_resumption_walks_every_record_once(provider, verb, prefix):
    pages = harvest(provider, verb, ("metadataPrefix", prefix))
    expected = expected_ids(prefix)
    assert identifiers(pages) == expected  # all, once, in (datestamp, identifier) order
    assert len(pages) == -(-len(expected) // 7)
    tokens = [token_of(page) for page in pages]
    assert [int(t.get("cursor")) for t in tokens] == [7 * n for n in range(len(pages))]
    assert {t.get("completeListSize") for t in tokens} == {str(len(expected))}
    assert all(len(identifiers([page])) == 7 for page in pages[:-1])
    assert tokens[-1].text is None  # the final, empty token
    assert all(t.text for t in tokens[:-1])
    assert len({t.text for t in tokens[:-1]}) == len(pages) - 1


def test_list_sets_pages(provider):
    pages = harvest(provider, "ListSets")
    specs = [e.text for page in pages for e in page.iterfind(".//o:set/o:setSpec", NS)]
    assert specs == [s.spec for s in SETS]
    assert [token_of(p).get("cursor") for p in pages] == ["0", "7"]
    assert token_of(pages[-1]).text is None
    health = pages[0].find(".//o:set", NS)
    assert health.findtext("o:setName", namespaces=NS) == "Topic: Health & <care>"
    assert health.findtext("o:setDescription/oai_dc:dc/dc:description",
                           namespaces=NS) == "Health, broadly."
    assert pages[0].findall(".//o:set", NS)[1].find("o:setDescription", NS) is None


def test_single_page_list_has_no_token(provider):
    root = call(provider, ("verb", "ListIdentifiers"), ("metadataPrefix", "oai_dc"),
                ("from", "2021-01-01T00:00:00Z"), ("until", "2021-01-01T07:00:00Z"))
    assert len(identifiers([root])) == 4
    assert token_of(root) is None


def test_tokens_are_repeatable_url_safe_and_stable(provider):
    token = first_token(provider)
    assert re.fullmatch(r"[A-Za-z0-9._-]+", token) and quote(token, safe="") == token
    args = [("verb", "ListRecords"), ("resumptionToken", token)]
    assert provider.respond(args) == provider.respond(args)  # same clock: byte-identical
    ticking = make_provider()
    ticking._now = lambda: datetime.now(UTC)
    again = re.sub(rb"<responseDate>[^<]*", b"", ticking.respond(args))
    assert again == re.sub(rb"<responseDate>[^<]*", b"", provider.respond(args))
    assert first_token(make_provider()) == token  # a new process issues the same token


def test_tampered_tokens(provider, schema):
    token = first_token(provider)
    body, signature = token.split(".")
    flip = {"A": "B"}
    tampered = [
        body[:-2] + flip.get(body[-2], "A") + body[-1] + "." + signature,
        body + "." + signature[:-1] + ("A" if signature[-1] != "A" else "B"),
        body + "." + signature + "x",
        body,
        token + "." + signature,
        "." + signature,
    ]
    for bad in tampered:
        root = call(provider, ("verb", "ListRecords"), ("resumptionToken", bad))
        assert error_codes(root) == ["badResumptionToken"], bad
        assert request_attrs(root) == {"verb": "ListRecords", "resumptionToken": bad}
        assert_valid(schema, root)
    other_secret = first_token(make_provider(token_secret=b"another"))
    assert error_codes(call(provider, ("verb", "ListRecords"),
                            ("resumptionToken", other_secret))) == ["badResumptionToken"]


def test_token_is_bound_to_its_verb(provider):
    token = first_token(provider, "ListIdentifiers")
    for verb in ("ListRecords", "ListSets"):
        root = call(provider, ("verb", verb), ("resumptionToken", token))
        assert error_codes(root) == ["badResumptionToken"]


def test_token_from_another_data_version(provider):
    token = first_token(provider)
    changed = list(RECORDS)
    changed[10] = replace(changed[10], datestamp="2023-06-01T00:00:00Z")
    for p in (make_provider(records=changed), make_provider(records=RECORDS[:-1]),
              make_provider(sets=SETS[:-1])):
        root = call(p, ("verb", "ListRecords"), ("resumptionToken", token))
        assert error_codes(root) == ["badResumptionToken"]
        assert "expired" in root.findtext("o:error", namespaces=NS)
    # same data, another page size: still the same version, tokens keep working
    assert error_codes(call(make_provider(page_size=5), ("verb", "ListRecords"),
                            ("resumptionToken", token))) == []


def test_selective_token_keeps_its_arguments(provider):
    args = [("metadataPrefix", "rdf"), ("set", "topic:health"), ("from", "2021-01-05"),
            ("until", "2021-02-20")]
    pages = harvest(provider, "ListIdentifiers", *args)
    assert len(pages) > 2
    expected = expected_ids("rdf", lambda r: "topic:health" in r.sets and
                            "2021-01-05" <= r.datestamp[:10] <= "2021-02-20")
    assert identifiers(pages) == expected


# ---- selective harvesting ------------------------------------------------------------------------


def test_from_until_inclusive_day_granularity(big_page):
    root = call(big_page, ("verb", "ListIdentifiers"), ("metadataPrefix", "oai_dc"),
                ("from", "2021-01-08"), ("until", "2021-01-14"))
    expected = expected_ids("oai_dc", lambda r: "2021-01-08" <= r.datestamp[:10] <= "2021-01-14")
    assert identifiers([root]) == expected
    assert root.findtext(".//o:datestamp", namespaces=NS) == "2021-01-08T00:00:00Z"


def test_day_bounds_cover_whole_days():
    stamps = ["2021-02-28T23:59:59Z", "2021-03-01T00:00:00Z", "2021-03-01T23:59:59Z",
              "2021-03-02T00:00:00Z"]
    records = [replace(LIVE, local_id=f"edge/{n}", datestamp=s) for n, s in enumerate(stamps)]
    p = make_provider(records=records)

    def ids(*args):
        root = call(p, ("verb", "ListIdentifiers"), ("metadataPrefix", "oai_dc"), *args)
        return [i.rsplit("/", 1)[1] for i in identifiers([root])]

    assert ids(("from", "2021-03-01"), ("until", "2021-03-01")) == ["1", "2"]
    assert ids(("until", "2021-02-28")) == ["0"]
    assert ids(("from", "2021-03-02")) == ["3"]
    assert ids(("from", "2021-03-01T23:59:59Z"), ("until", "2021-03-02T00:00:00Z")) == ["2", "3"]
    assert ids(("from", "2021-03-01T00:00:01Z"), ("until", "2021-03-01T23:59:58Z")) == []


def test_from_until_inclusive_seconds_granularity(big_page):
    target = RECORDS[20].datestamp  # shared by records 20 and 21
    root = call(big_page, ("verb", "ListIdentifiers"), ("metadataPrefix", "oai_dc"),
                ("from", target), ("until", target))
    assert identifiers([root]) == [PREFIX + "resource/r020", PREFIX + "resource/r021"]
    after = call(big_page, ("verb", "ListIdentifiers"), ("metadataPrefix", "oai_dc"),
                 ("from", target))
    assert identifiers([after]) == expected_ids("oai_dc", lambda r: r.datestamp >= target)
    before = call(big_page, ("verb", "ListIdentifiers"), ("metadataPrefix", "oai_dc"),
                  ("until", target))
    assert identifiers([before]) == expected_ids("oai_dc", lambda r: r.datestamp <= target)


def test_set_includes_sub_sets(big_page):
    root = call(big_page, ("verb", "ListIdentifiers"), ("metadataPrefix", "oai_dc"),
                ("set", "topic:health"))
    got = identifiers([root])
    assert got == expected_ids("oai_dc", lambda r: "topic:health" in r.sets)
    assert PREFIX + "resource/r004" in got  # filed under topic:health:maternal:nutrition
    assert PREFIX + "resource/r002" not in got
    leaf = call(big_page, ("verb", "ListIdentifiers"), ("metadataPrefix", "oai_dc"),
                ("set", "topic:health:maternal:nutrition"))
    assert set(identifiers([leaf])) < set(got)
    header = next(h for h in root.iterfind(".//o:header", NS)
                  if h.findtext("o:identifier", namespaces=NS) == PREFIX + "resource/r004")
    assert [s.text for s in header.iterfind("o:setSpec", NS)] == list(RECORDS[4].sets)


def test_deleted_records(big_page, schema):
    deleted_ids = {PREFIX + r.local_id for r in RECORDS if r.deleted}
    for prefix in ("oai_dc", "rdf"):
        root = call(big_page, ("verb", "ListRecords"), ("metadataPrefix", prefix))
        assert_valid(schema, root)
        seen = set()
        for record in root.iterfind(".//o:record", NS):
            header = record.find("o:header", NS)
            identifier = header.findtext("o:identifier", namespaces=NS)
            if identifier in deleted_ids:
                seen.add(identifier)
                assert header.get("status") == "deleted"
                assert record.find("o:metadata", NS) is None
            else:
                assert header.get("status") is None
                assert record.find("o:metadata", NS) is not None
        assert seen == deleted_ids
    root = call(big_page, ("verb", "GetRecord"), ("identifier", PREFIX + DELETED.local_id),
                ("metadataPrefix", "oai_dc"))
    assert root.find(".//o:header", NS).get("status") == "deleted"
    assert root.find(".//o:metadata", NS) is None
    root = call(big_page, ("verb", "ListMetadataFormats"), ("identifier", PREFIX + DELETED.local_id))
    assert [e.text for e in root.iterfind(".//o:metadataPrefix", NS)] == ["oai_dc", "rdf"]


# ---- verbs in detail -----------------------------------------------------------------------------


def test_identify(provider):
    root = call(provider, ("verb", "Identify"))
    identify = root.find("o:Identify", NS)
    assert [etree.QName(e).localname for e in identify] == [
        "repositoryName", "baseURL", "protocolVersion", "adminEmail", "adminEmail",
        "earliestDatestamp", "deletedRecord", "granularity", "description"]
    text = {etree.QName(e).localname: e.text for e in identify}
    assert text["repositoryName"] == "Test repository <&>"
    assert text["baseURL"] == BASE_URL and text["protocolVersion"] == "2.0"
    assert [e.text for e in identify.iterfind("o:adminEmail", NS)] == list(make_info().admin_emails)
    assert text["earliestDatestamp"] == RECORDS[0].datestamp == "2021-01-01T00:00:00Z"
    assert text["deletedRecord"] == "persistent" and text["granularity"] == "YYYY-MM-DDThh:mm:ssZ"
    oai_id = identify.find("o:description/id:oai-identifier", NS)
    assert [(etree.QName(e).localname, e.text) for e in oai_id] == [
        ("scheme", "oai"), ("repositoryIdentifier", REPO_ID), ("delimiter", ":"),
        ("sampleIdentifier", PREFIX + "resource/r000")]


def test_list_metadata_formats(provider):
    root = call(provider, ("verb", "ListMetadataFormats"))
    formats = [[c.text for c in f] for f in root.iterfind(".//o:metadataFormat", NS)]
    assert formats == [
        ["oai_dc", "http://www.openarchives.org/OAI/2.0/oai_dc.xsd", OAI_DC_NS],
        ["rdf", "https://example.org/_assets/rdf-wrapper.xsd", RDF_NS],
    ]
    root = call(provider, ("verb", "ListMetadataFormats"), ("identifier", PREFIX + NO_RDF.local_id))
    assert [e.text for e in root.iterfind(".//o:metadataPrefix", NS)] == ["oai_dc"]


def test_get_record_oai_dc(provider):
    record = RECORDS[SPECIAL]
    root = call(provider, ("verb", "GetRecord"), ("identifier", PREFIX + record.local_id),
                ("metadataPrefix", "oai_dc"))
    header = root.find(".//o:header", NS)
    assert header.findtext("o:identifier", namespaces=NS) == PREFIX + record.local_id
    assert header.findtext("o:datestamp", namespaces=NS) == record.datestamp
    dc = root.find(".//o:metadata/oai_dc:dc", NS)
    got = [(etree.QName(e).localname, e.text, e.get(XML_LANG)) for e in dc]
    expected = [(name, value, lang) for name, value, lang in record.dc]
    expected[0] = ("title", SPECIAL_TITLE + "\ufffd", "en")  # the control character is replaced
    assert got == expected


def test_get_record_rdf_round_trips(provider):
    for record in (LIVE, RECORDS[4], RECORDS[SPECIAL]):  # "xml" and "pretty-xml" serializations
        root = call(provider, ("verb", "GetRecord"), ("identifier", PREFIX + record.local_id),
                    ("metadataPrefix", "rdf"))
        rdf = root.find(".//o:metadata/rdf:RDF", NS)
        assert rdf is not None and len(root.find(".//o:metadata", NS)) == 1
        embedded = rdflib.Graph().parse(data=etree.tostring(rdf), format="xml")
        original = rdflib.Graph().parse(data=record.rdf_xml, format="xml")
        assert len(embedded) == len(original) == 5
        assert isomorphic(embedded, original)


def test_response_date_is_utc_seconds():
    for clock in (datetime(2024, 1, 2, 3, 4, 5, 999999),  # naive: taken as UTC
                  datetime(2024, 1, 2, 5, 4, 5, tzinfo=timezone(timedelta(hours=2)))):
        p = OaiProvider(make_info(), RECORDS[:3], SETS, now=lambda c=clock: c)
        assert call(p, ("verb", "Identify")).findtext("o:responseDate", namespaces=NS) == (
            "2024-01-02T03:04:05Z")


def test_rdf_with_entities_is_not_expanded():
    evil = (b'<?xml version="1.0"?><!DOCTYPE rdf:RDF [<!ENTITY x "expanded">]>'
            b'<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
            b'<rdf:Description rdf:about="http://x/"><rdf:value>&x;</rdf:value>'
            b'</rdf:Description></rdf:RDF>')
    record = replace(LIVE, rdf_xml=evil)
    p = make_provider(records=[record])
    with pytest.raises(ValueError, match="entity"):
        p.respond([("verb", "GetRecord"), ("identifier", PREFIX + LIVE.local_id),
                   ("metadataPrefix", "rdf")])


@pytest.mark.parametrize("change,message", [
    ({"datestamp": "2021-01-01"}, "datestamp"),
    ({"datestamp": "2021-02-30T00:00:00Z"}, "datestamp"),
    ({"local_id": "resource/with space"}, "cannot carry"),
    ({"sets": ("topic::bad",)}, "setSpec"),
    ({"dc": (("author", "x", None),)}, "no DC element"),
    ({"dc": (("title", "x", "not a tag"),)}, "language tag"),
])
def test_bad_records_are_refused(change, message):
    with pytest.raises(ValueError, match=message):
        make_provider(records=[replace(LIVE, **change)])


def test_duplicates_and_bad_info_are_refused():
    with pytest.raises(ValueError, match="twice"):
        make_provider(records=[LIVE, LIVE])
    with pytest.raises(ValueError, match="twice"):
        make_provider(sets=[SETS[0], SETS[0]])
    with pytest.raises(ValueError, match="repository_id"):
        make_provider(repository_id="localhost")
    with pytest.raises(ValueError, match="admin_emails"):
        make_provider(admin_emails=())


# ---- a real harvester ----------------------------------------------------------------------------


def test_sickle_harvests_everything(provider):
    """An off-the-shelf harvester follows our tokens to the end and reads our records."""
    requests = pytest.importorskip("requests")
    sickle = pytest.importorskip("sickle")

    class LocalSickle(sickle.Sickle):
        def _request(self, kwargs):
            response = requests.Response()
            response.status_code = 200
            response._content = provider.respond(list(kwargs.items()))
            response.encoding = "utf-8"
            response.headers["Content-Type"] = "text/xml; charset=utf-8"
            return response

    client = LocalSickle(BASE_URL)
    records = list(client.ListRecords(metadataPrefix="oai_dc"))
    assert [r.header.identifier for r in records] == expected_ids("oai_dc")
    special = next(r for r in records if r.header.identifier.endswith(f"r{SPECIAL:03d}"))
    assert special.metadata["title"][0] == SPECIAL_TITLE + "\ufffd"
    assert sum(r.deleted for r in records) == sum(r.deleted for r in RECORDS)
    assert [s.setSpec for s in client.ListSets()] == [s.spec for s in SETS]
    headers = list(client.ListIdentifiers(metadataPrefix="rdf", set="type:report"))
    assert [h.identifier for h in headers] == expected_ids("rdf", lambda r: "type:report" in r.sets)
    assert client.Identify().repositoryName == "Test repository <&>"


def test_the_protocol_core_knows_no_site_layout():
    """Where the site serves the `rdf` schema is the web layer's to say: the package imports
    nothing of kgpub outside itself, a RepositoryInfo cannot be made without the path, and the
    schema URL is that path at the base URL's origin."""
    import kgpub.oaipmh as package

    for module in Path(package.__file__).parent.glob("*.py"):
        imports = re.findall(r"^\s*(?:from|import) (\S+)", module.read_text(encoding="utf-8"),
                             re.MULTILINE)
        assert not [i for i in imports if i.startswith("..") or i.startswith("kgpub")], module
    info = make_info()
    fields = {f: getattr(info, f) for f in info.__dataclass_fields__ if f != "rdf_schema_path"}
    with pytest.raises(TypeError, match="rdf_schema_path"):
        RepositoryInfo(**fields)
    provider = make_provider(rdf_schema_path="/schemas/wrapper.xsd")
    root = call(provider, ("verb", "ListMetadataFormats"))
    assert [f.findtext("o:schema", namespaces=NS) for f in root.iterfind(".//o:metadataFormat", NS)
            ][1] == "https://example.org/schemas/wrapper.xsd"
