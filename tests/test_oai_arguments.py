"""OAI-PMH arguments, validated strictly and attacked: hostile values for every argument of
every verb (Unicode digits, control characters, lone surrogates, markup, broken escapes, very
long, repeated and unknown arguments, forged resumption tokens), as tables of request ->
expected error codes and as a bounded random fuzz with a fixed seed, against the provider and
through the real application (starlette's TestClient). Whatever comes in: never a 500, always a
response valid against the official OAI-PMH schema, the right error code, and the request
element echoing the arguments only when they are legal (and then exactly)."""

from __future__ import annotations

import json
import random
from urllib.parse import parse_qsl, quote, urlencode

import pytest
from lxml import etree
from starlette.testclient import TestClient

from kgpub import oaipmh
from kgpub.oaipmh import OaiProvider, tokens, values
from oaiutil import DELETED, LIVE, NO_RDF, PREFIX, make_provider
from xsdutil import OAI_NS, oai_errors

NS = {"o": OAI_NS}
VERBS = ("Identify", "ListMetadataFormats", "ListSets", "GetRecord", "ListIdentifiers",
         "ListRecords")
# The error codes each verb may answer (OAI-PMH 2.0, section 4), besides badVerb.
LEGAL = {
    "Identify": {"badArgument"},
    "ListMetadataFormats": {"badArgument", "idDoesNotExist", "noMetadataFormats"},
    "ListSets": {"badArgument", "badResumptionToken", "noSetHierarchy"},
    "GetRecord": {"badArgument", "cannotDisseminateFormat", "idDoesNotExist"},
    "ListIdentifiers": {"badArgument", "badResumptionToken", "cannotDisseminateFormat",
                        "noRecordsMatch", "noSetHierarchy"},
    "ListRecords": {"badArgument", "badResumptionToken", "cannotDisseminateFormat",
                    "noRecordsMatch", "noSetHierarchy"},
}
# (required, optional, exclusive) arguments of each verb, as the specification lists them.
ARGUMENTS = {
    "Identify": (set(), set(), None),
    "ListMetadataFormats": (set(), {"identifier"}, None),
    "ListSets": (set(), set(), "resumptionToken"),
    "GetRecord": ({"identifier", "metadataPrefix"}, set(), None),
    "ListIdentifiers": ({"metadataPrefix"}, {"from", "until", "set"}, "resumptionToken"),
    "ListRecords": ({"metadataPrefix"}, {"from", "until", "set"}, "resumptionToken"),
}
ID = PREFIX + LIVE.local_id
FULLWIDTH = "２０２０-０１-０１"
ARABIC_INDIC = "٢٠٢٠-٠١-٠١"
DEVANAGARI = "२०२०-०१-०१"


@pytest.fixture(scope="module")
def provider() -> OaiProvider:
    return make_provider()


def call(p: OaiProvider, args: list[tuple[str, str]]) -> tuple[bytes, etree._Element]:
    body = p.respond(list(args))
    return body, etree.fromstring(body)


def codes_of(root: etree._Element) -> list[str]:
    return [e.get("code") for e in root.findall("o:error", NS)]


def check_response(root: etree._Element, args: list[tuple[str, str]], codes: list[str]) -> None:
    """What holds for every response: schema-valid, errors with text, and the request element
    echoing the arguments only when they are legal, then exactly."""
    errors = oai_errors(root)
    assert not errors, errors[0]
    assert all((e.text or "").strip() for e in root.findall("o:error", NS))
    attrs = dict(root.find("o:request", NS).attrib)
    if {"badVerb", "badArgument"} & set(codes):
        assert attrs == {}
    else:
        assert attrs == dict(args)


def forge(p: OaiProvider, payload: dict) -> str:
    """A token signed with the provider's own secret: what anyone can do when the secret is
    the public default, so the payload must be checked as untrusted input."""
    body = tokens.b64(json.dumps(payload, separators=(",", ":")).encode())
    return f"{body}.{p._tokens._sign(body)}"


def payload(p: OaiProvider, **fields) -> dict:
    base = {"v": "ListRecords", "m": "oai_dc", "o": 7, "d": p._tokens._fingerprint}
    return {k: v for k, v in {**base, **fields}.items() if v is not None}


def first_token(p: OaiProvider, verb: str = "ListRecords") -> str:
    args = [("verb", verb)] + ([] if verb == "ListSets" else [("metadataPrefix", "oai_dc")])
    token = call(p, args)[1].find(".//o:resumptionToken", NS)
    return token.text


def LR(*args: tuple[str, str]) -> list[tuple[str, str]]:
    return [("verb", "ListRecords"), ("metadataPrefix", "oai_dc"), *args]


def GR(identifier: str, prefix: str = "oai_dc") -> list[tuple[str, str]]:
    return [("verb", "GetRecord"), ("identifier", identifier), ("metadataPrefix", prefix)]


BAD = ["badArgument"]
# name, arguments, expected error codes (in order)
TABLE = [
    # ---- dates: ASCII digits only, the exact form, nothing around it ----
    ("from fullwidth digits", LR(("from", FULLWIDTH)), BAD),
    ("until fullwidth digits", LR(("until", FULLWIDTH)), BAD),
    ("from Arabic-Indic digits", LR(("from", ARABIC_INDIC)), BAD),
    ("until Devanagari digits", LR(("until", DEVANAGARI)), BAD),
    ("one fullwidth digit", LR(("from", "2020-01-0１")), BAD),
    ("fullwidth seconds", LR(("from", "2020-01-01T00:00:0０Z")), BAD),
    ("superscript digit", LR(("from", "2020-01-0²")), BAD),
    ("trailing newline", LR(("from", "2020-01-01\n")), BAD),
    ("leading space", LR(("until", " 2020-01-01")), BAD),
    ("trailing NUL", LR(("from", "2020-01-01\x00")), BAD),
    ("lone surrogate in date", LR(("from", "2020-01-\ud8001")), BAD),
    ("replacement character in date", LR(("from", "2020-01-01\ufffd")), BAD),
    ("lower-case t and z", LR(("from", "2020-01-01t00:00:00z")), BAD),
    ("date of 5000 characters", LR(("from", "2" * 5000)), BAD),
    ("fullwidth from with legal until", LR(("from", FULLWIDTH), ("until", "2021-01-01")), BAD),
    ("legal dates", LR(("from", "2021-01-01"), ("until", "2021-01-02")), []),
    # ---- identifiers: a URI at least; else idDoesNotExist when legal but unknown ----
    ("identifier ]]><x/>", GR("]]><x/>"), BAD),
    ("identifier with markup", GR(ID + "<x/>"), BAD),
    ("identifier %zz", GR("%zz"), BAD),
    ("identifier with a bad escape", GR(PREFIX + "resource/r%zz"), BAD),
    ("identifier ending with %", GR(ID + "%"), BAD),
    ("identifier with %0", GR(ID + "%0"), BAD),
    ("identifier with NUL", GR(ID + "\x00"), BAD),
    ("identifier with a control character", GR(ID + "\x1b"), BAD),
    ("identifier with a tab", GR(ID + "\t"), BAD),
    ("identifier with a newline", GR(ID + "\n"), BAD),
    ("identifier with a space", GR(PREFIX + "resource/r 003"), BAD),
    ("identifier with a lone surrogate", GR(ID + "\udc80"), BAD),
    ("identifier with U+FFFE", GR(ID + "\ufffe"), BAD),
    ("identifier with U+FFFD", GR(ID + "\ufffd"), BAD),
    ("identifier with non-ASCII", GR(PREFIX + "resource/résumé"), BAD),
    ("identifier with a fullwidth colon", GR("oai：example.org：resource/r003"), BAD),
    ("identifier with RLO", GR(ID + "\u202e"), BAD),
    ("identifier with quotes", GR(ID + '"'), BAD),
    ("identifier with a backslash", GR(ID + "\\"), BAD),
    ("identifier of 1025 characters", GR(ID + "a" * (1025 - len(ID))), BAD),
    ("identifier of 100,000 characters", GR("a" * 100_000), BAD),
    ("identifier of 1024 characters", GR(ID + "a" * (1024 - len(ID))), ["idDoesNotExist"]),
    ("identifier percent-encoded", GR(PREFIX + "resource%2Fr003"), ["idDoesNotExist"]),
    ("identifier of another repository", GR("oai:x:y"), ["idDoesNotExist"]),
    ("identifier with a fragment", GR(ID + "#x"), ["idDoesNotExist"]),
    ("relative identifier", GR("r003"), ["idDoesNotExist"]),
    ("identifier in another case", GR(ID.upper()), ["idDoesNotExist"]),
    ("bad identifier, unknown format", GR("x y", "marc21"), BAD),
    ("formats of ]]><x/>", [("verb", "ListMetadataFormats"), ("identifier", "]]><x/>")], BAD),
    ("formats of unknown id", [("verb", "ListMetadataFormats"), ("identifier", "oai:a.b:c")],
     ["idDoesNotExist"]),
    ("known identifier", GR(ID), []),
    # ---- metadataPrefix and set ----
    ("prefix with newline", [("verb", "ListRecords"), ("metadataPrefix", "oai_dc\n")], BAD),
    ("fullwidth prefix", [("verb", "ListRecords"), ("metadataPrefix", "ｏａｉ_dc")], BAD),
    ("prefix with NUL", [("verb", "ListIdentifiers"), ("metadataPrefix", "rdf\x00")], BAD),
    ("prefix with a lone surrogate", [("verb", "ListIdentifiers"), ("metadataPrefix", "\ud800")],
     BAD),
    ("prefix of 2000 characters", [("verb", "ListRecords"), ("metadataPrefix", "a" * 2000)],
     BAD),
    ("prefix in another case", [("verb", "ListRecords"), ("metadataPrefix", "OAI_DC")],
     ["cannotDisseminateFormat"]),
    ("set with newline", LR(("set", "topic:health\n")), BAD),
    ("set with a leading colon", LR(("set", ":topic")), BAD),
    ("set with a final colon", LR(("set", "topic:")), BAD),
    ("set with non-ASCII", LR(("set", "tópic:health")), BAD),
    ("set with markup", LR(("set", "topic:<x/>")), BAD),
    ("set of 2000 characters", LR(("set", "topic:" + "a" * 2000)), BAD),
    ("unknown set", LR(("set", "topic:nothing")), ["noRecordsMatch"]),
    # ---- verbs, repeated and unknown arguments ----
    ("verb with NUL", [("verb", "Identify\x00")], ["badVerb"]),
    ("verb with newline", [("verb", "Identify\n")], ["badVerb"]),
    ("fullwidth verb", [("verb", "Ｉｄｅｎｔｉｆｙ")], ["badVerb"]),
    ("verb with a lone surrogate", [("verb", "\ud800")], ["badVerb"]),
    ("empty verb", [("verb", "")], ["badVerb"]),
    ("verb of 100,000 characters", [("verb", "V" * 100_000)], ["badVerb"]),
    ("repeated identical argument", GR(ID) + [("identifier", ID)], BAD),
    ("argument with NUL in its name", [("verb", "Identify"), ("x\x00", "1")], BAD),
    ("argument with an empty name", [("verb", "Identify"), ("", "1")], BAD),
    ("argument name in another case", [("verb", "GetRecord"), ("Identifier", ID),
                                       ("metadataPrefix", "oai_dc")], BAD * 2),  # + missing
    ("empty identifier", GR(""), BAD),
    # ---- resumption tokens ----
    ("garbage token", [("verb", "ListRecords"), ("resumptionToken", "garbage")],
     ["badResumptionToken"]),
    ("token with NUL", [("verb", "ListRecords"), ("resumptionToken", "a.b\x00")], BAD),
    ("token with a lone surrogate", [("verb", "ListSets"), ("resumptionToken", "a.\ud800")], BAD),
    ("token with non-ASCII", [("verb", "ListSets"), ("resumptionToken", "ａ.ｂ")],
     ["badResumptionToken"]),
    ("token with markup", [("verb", "ListIdentifiers"), ("resumptionToken", "]]><x/>")],
     ["badResumptionToken"]),
    ("token of 100,000 characters", [("verb", "ListRecords"), ("resumptionToken", "a" * 100_000)],
     ["badResumptionToken"]),
]


@pytest.mark.parametrize("args,codes", [(a, c) for _, a, c in TABLE],
                         ids=[name for name, _, _ in TABLE])
def test_argument_table(provider, args, codes):
    body, root = call(provider, args)
    assert codes_of(root) == codes
    check_response(root, args, codes)
    if codes:  # an error echoes at most the (legal) arguments: no amplification
        assert len(body) < 2000 + sum(len(v) for _, v in args)


def test_unicode_digits_are_refused_not_read(provider):
    """Python's int() reads fullwidth and Arabic-Indic digits: the provider must not. The same
    date in ASCII digits selects records; in other digits it is an error, whatever the data."""
    ok = codes_of(call(provider, LR(("from", "2021-01-01"), ("until", "2021-01-01")))[1])
    assert ok == []
    for digits in (FULLWIDTH, ARABIC_INDIC, DEVANAGARI):
        translated = digits.translate({ord(c): str(int(c)) for c in digits if c.isdigit()})
        assert translated == "2020-01-01"  # int() reads them ...
        assert oaipmh.parse_utc(digits) is None  # ... the provider does not
    assert oaipmh.parse_utc("2020-01-01\n") is None


def test_many_bad_arguments_give_a_bounded_response(provider):
    args = [("verb", "Identify")] + [(f"a{n}", "1") for n in range(5000)]
    body, root = call(provider, args)
    assert codes_of(root) == ["badArgument"] * oaipmh.MAX_ERRORS
    assert "4991 more" in root.findall("o:error", NS)[-1].text
    assert len(body) < 5000
    check_response(root, args, codes_of(root))


# ---- resumption tokens: truncated, re-signed, forged ---------------------------------------------


def test_truncated_and_altered_tokens(provider):
    token = first_token(provider)
    body, signature = token.split(".")
    variants = [token[:-1], token[: len(token) // 2], body + ".", "." + signature, token + ".",
                token + "=", token.replace(".", ".."), body[1:] + "." + signature,
                token.upper(), token[::-1], token + "\n", " " + token, token + "%00"]
    for bad in variants:
        args = [("verb", "ListRecords"), ("resumptionToken", bad)]
        _, root = call(provider, args)
        assert codes_of(root) == ["badResumptionToken"], bad
        check_response(root, args, ["badResumptionToken"])


FORGED = [
    ("deeply nested JSON", "[" * 1500 + "]" * 1500),
    ("JSON list", [1, 2, 3]),
    ("JSON string", "x"),
    ("no fingerprint", {"v": "ListRecords", "m": "oai_dc", "o": 7}),
]


@pytest.mark.parametrize("name,raw", FORGED, ids=[n for n, _ in FORGED])
def test_forged_token_bodies(provider, name, raw):
    body = tokens.b64(json.dumps(raw).encode())
    token = f"{body}.{provider._tokens._sign(body)}"
    if len(token) > tokens.TOKEN_MAX:  # the nesting must fit a token to be a threat
        pytest.fail("forged token too long to test the parser")
    args = [("verb", "ListRecords"), ("resumptionToken", token)]
    _, root = call(provider, args)
    assert codes_of(root) == ["badResumptionToken"]
    check_response(root, args, ["badResumptionToken"])


RESIGNED = [
    # payload fields -> expected codes; signed with the provider's secret
    ("fullwidth from", {"f": FULLWIDTH}, ["badResumptionToken"]),
    ("Arabic-Indic until", {"u": ARABIC_INDIC}, ["badResumptionToken"]),
    ("date with newline", {"f": "2021-01-01\n"}, ["badResumptionToken"]),
    ("from later than until", {"f": "2022-01-01", "u": "2021-01-01"}, ["badResumptionToken"]),
    ("mixed granularities", {"f": "2021-01-01", "u": "2021-01-01T00:00:00Z"},
     ["badResumptionToken"]),
    ("set with NUL", {"s": "topic:health\x00"}, ["badResumptionToken"]),
    ("set with markup", {"s": "<x/>"}, ["badResumptionToken"]),
    ("prefix with newline", {"m": "oai_dc\n"}, ["badResumptionToken"]),
    ("no prefix", {"m": None}, ["badResumptionToken"]),
    ("prefix is a number", {"m": 1}, ["badResumptionToken"]),
    ("set is a list", {"s": ["topic:health"]}, ["badResumptionToken"]),
    ("offset zero", {"o": 0}, ["badResumptionToken"]),
    ("offset negative", {"o": -7}, ["badResumptionToken"]),
    ("offset true", {"o": True}, ["badResumptionToken"]),
    ("offset float", {"o": 7.0}, ["badResumptionToken"]),
    ("offset string", {"o": "7"}, ["badResumptionToken"]),
    ("offset huge", {"o": 10**30}, ["badResumptionToken"]),
    ("offset past the end", {"o": 10_000}, ["badResumptionToken"]),
    ("verb unknown", {"v": "GetRecord"}, ["badResumptionToken"]),
    ("verb of another list", {"v": "ListSets"}, ["badResumptionToken"]),
    ("other data version", {"d": "AAAAAAAAAAAAAAAA"}, ["badResumptionToken"]),
    ("unknown format, signed", {"m": "marc21"}, ["cannotDisseminateFormat"]),
    ("unknown set, signed", {"s": "topic:nothing"}, ["noRecordsMatch"]),
    ("legal, signed", {}, []),
]


@pytest.mark.parametrize("fields,codes", [(f, c) for _, f, c in RESIGNED],
                         ids=[n for n, _, _ in RESIGNED])
def test_resigned_tokens(provider, fields, codes):
    token = forge(provider, payload(provider, **fields))
    args = [("verb", "ListRecords"), ("resumptionToken", token)]
    _, root = call(provider, args)
    assert codes_of(root) == codes
    check_response(root, args, codes)


# ---- bounded random fuzz -------------------------------------------------------------------------

GOOD_VALUES = {
    "identifier": [ID, PREFIX + DELETED.local_id, PREFIX + NO_RDF.local_id, "oai:x:y",
                   PREFIX + "resource/nope", "urn:x", ID + "#f", PREFIX + "a%20b"],
    "metadataPrefix": ["oai_dc", "rdf", "marc21", "OAI_DC", "x.y-z_(1)!"],
    "from": ["2021-01-01", "2021-01-10T00:00:00Z", "1999-12-31", "2030-01-01", "2021-02-28"],
    "until": ["2021-01-02", "2021-01-20T23:59:59Z", "2000-01-01", "2040-12-31", "2021-03-01"],
    "set": ["topic:health", "topic:health:maternal", "type:report", "topic:nothing",
            "topic:empty", "a.b-c"],
}
HOSTILE = ["", "\x00", "\x01", "\ud800", "\udfff", "\ufffe", "\uffff", "\ufffd", "]]><x/>",
           "%zz", "%", "a b", "\n", "\t", "é", "\u202e", "&amp;", "'\"", "\\", "x" * 3000,
           FULLWIDTH, ARABIC_INDIC, "2020-01-01\n", "oai_dc\n", "topic::x", "٣", "２"]
# Hostile values that are legal all the same for a key (an identifier is any URI reference).
LEGAL_HOSTILE = {"identifier": {"&amp;", "topic::x"}}
NOT_XML = {"", "\x00", "\x01", chr(0xD800), chr(0xDFFF), "\ufffe", "\uffff"}  # badArgument
TOKENS = ["garbage", "a.b", "AAAA.BBBB", "x" * 5000 + ".y"]
UNKNOWN_KEYS = ["foo", "", "Verb", "identifier ", "set\x00", "\ud800", "metadataprefix"]
HOSTILE_VERBS = ["identify", "Identify\x00", "ＬｉｓｔＳｅｔｓ", "", "\ud800", "ListRecords "]


def fuzz_request(rng: random.Random, tokens: list[str]) -> list[tuple[str, str]]:
    args: list[tuple[str, str]] = []
    roll = rng.random()
    if roll < 0.04:
        pass  # no verb
    elif roll < 0.1:
        args.append(("verb", rng.choice(HOSTILE_VERBS)))
    else:
        args.append(("verb", rng.choice(VERBS)))
        if roll > 0.97:
            args.append(("verb", rng.choice(VERBS)))
    for key in ("identifier", "metadataPrefix", "from", "until", "set", "resumptionToken"):
        if rng.random() < 0.35:
            if key == "resumptionToken":
                pool = tokens + TOKENS + HOSTILE[:8]
            else:
                pool = GOOD_VALUES[key] * 2 + HOSTILE
            args.append((key, rng.choice(pool)))
            if rng.random() < 0.05:
                args.append((key, rng.choice(pool)))
    if rng.random() < 0.08:
        args.append((rng.choice(UNKNOWN_KEYS), rng.choice(["1", "\x00", ""])))
    rng.shuffle(args)
    return args


def _date_bounds(value: str) -> tuple[str, str, int]:
    if len(value) == 10:
        return value + "T00:00:00Z", value + "T23:59:59Z", 10
    return value, value, 20


def expected(args: list[tuple[str, str]]) -> tuple[str, set[str]]:
    """An oracle written from the specification, independent of the provider: 'badVerb',
    'badArgument' (every error is one), or 'other' with the codes that may then occur."""
    verbs = [v for k, v in args if k == "verb"]
    if len(verbs) != 1 or verbs[0] not in VERBS:
        return "badVerb", {"badVerb"}
    verb = verbs[0]
    required, optional, exclusive = ARGUMENTS[verb]
    keys = [k for k, _ in args if k != "verb"]
    given = dict((k, v) for k, v in args if k != "verb")
    allowed = required | optional | ({exclusive} if exclusive else set())
    bad = len(keys) != len(set(keys)) or not set(keys) <= allowed
    if exclusive and exclusive in given:
        bad = bad or len(given) > 1
    else:
        bad = bad or not required <= set(given)
    for key, value in given.items():
        if key == "resumptionToken":  # any other garbage is badResumptionToken
            legal = value not in NOT_XML
        else:
            legal = value in GOOD_VALUES.get(key, ()) or value in LEGAL_HOSTILE.get(key, ())
        bad = bad or not legal
    if not bad and "from" in given and "until" in given:
        low, high = _date_bounds(given["from"]), _date_bounds(given["until"])
        bad = low[2] != high[2] or low[0] > high[1]
    if bad:
        return "badArgument", {"badArgument"}
    return "other", LEGAL[verb] - {"badArgument"}


def check_fuzzed(args, root) -> None:
    codes = codes_of(root)
    kind, allowed = expected(args)
    if kind == "other":
        assert set(codes) <= allowed, (args, codes)
    else:
        assert codes and set(codes) == allowed, (args, codes)
    check_response(root, args, codes)


def test_random_fuzz_against_the_provider(provider):
    rng = random.Random(20240506)
    tokens = [first_token(provider), first_token(provider, "ListSets"),
              first_token(provider, "ListIdentifiers")]
    kinds = set()
    for _ in range(400):
        args = fuzz_request(rng, tokens)
        check_fuzzed(args, call(provider, args)[1])
        kinds.add(expected(args)[0])
    assert kinds == {"badVerb", "badArgument", "other"}  # the fuzz reaches every branch


# ---- through the real application ----------------------------------------------------------------


@pytest.fixture(scope="module")
def client(bundled_project, built_site):
    return TestClient(create_app_for(bundled_project, built_site), raise_server_exceptions=False)


def create_app_for(project, site):
    from kgpub.server.app import create_app

    return create_app(project, site)


REAL_ID = "oai:socialprotection-humanrights.org:resource/social-protection-a-key-to-a-fair-society"
FW_DATE = quote(FULLWIDTH)
APP_TABLE = [
    (f"verb=ListRecords&metadataPrefix=oai_dc&from={FW_DATE}", BAD),
    (f"verb=ListIdentifiers&metadataPrefix=oai_dc&until={quote(ARABIC_INDIC)}", BAD),
    ("verb=ListRecords&metadataPrefix=oai_dc&from=2020-01-01%0A", BAD),
    ("verb=ListRecords&metadataPrefix=oai_dc&from=2020-01-01%00", BAD),
    ("verb=GetRecord&metadataPrefix=oai_dc&identifier=%ED%A0%80", BAD),  # a surrogate's UTF-8
    ("verb=GetRecord&metadataPrefix=oai_dc&identifier=%FF", BAD),  # not UTF-8
    ("verb=GetRecord&metadataPrefix=oai_dc&identifier=%zz", BAD),
    ("verb=GetRecord&metadataPrefix=oai_dc&identifier=%", BAD),
    ("verb=GetRecord&metadataPrefix=oai_dc&identifier=%5D%5D%3E%3Cx%2F%3E", BAD),
    ("verb=GetRecord&metadataPrefix=oai_dc&identifier=a+b", BAD),
    ("verb=GetRecord&metadataPrefix=rdf&identifier=" + "a" * 3000, BAD),
    ("verb=GetRecord&metadataPrefix=rdf&identifier=oai:x:y", ["idDoesNotExist"]),
    (f"verb=GetRecord&metadataPrefix=rdf&identifier={REAL_ID}", []),
    (f"verb=GetRecord&metadataPrefix=oai_dc&identifier={REAL_ID}%0A", BAD),
    ("verb=ListRecords&metadataPrefix=oai_dc%0A", BAD),
    ("verb=ListRecords&metadataPrefix=oai_dc&set=topic:x%0A", BAD),
    ("verb=ListSets&resumptionToken=garbage", ["badResumptionToken"]),
    ("verb=ListSets&resumptionToken=%ED%A0%80", ["badResumptionToken"]),
    ("verb=ListSets&resumptionToken=%00", BAD),
    ("verb=Identify&verb=Identify", ["badVerb"]),
    ("verb=Identify%00", ["badVerb"]),
    ("verb=Identify&foo=bar", BAD),
    ("verb=Identify&" + "&".join(f"a{n}=1" for n in range(500)), BAD * oaipmh.MAX_ERRORS),
]


def _get(client, query: str):
    response = client.get("/oai?" + query)
    assert response.status_code == 200, (query, response.status_code, response.text[:300])
    assert response.headers["content-type"].startswith("text/xml")
    return etree.fromstring(response.content)


@pytest.mark.parametrize("query,codes", APP_TABLE, ids=[q[:60] for q, _ in APP_TABLE])
def test_app_argument_table(client, query, codes):
    root = _get(client, query)
    assert codes_of(root) == codes
    check_response(root, parse_qsl(query, keep_blank_values=True), codes)


@pytest.mark.parametrize("body", [
    b"verb=GetRecord&metadataPrefix=oai_dc&identifier=%ED%A0%80",
    b"verb=GetRecord&metadataPrefix=oai_dc&identifier=\xff\xfe",  # raw bytes, not UTF-8
    b"verb=ListRecords&metadataPrefix=oai_dc&from=" + FW_DATE.encode(),
    b"verb=ListRecords&metadataPrefix=oai_dc&from=\xef\xbc\x92020-01-01",  # raw UTF-8
    b"verb=Identify&x=\x00",
])
def test_app_post_forms(client, body):
    response = client.post("/oai", content=body,
                           headers={"content-type": "application/x-www-form-urlencoded"})
    assert response.status_code == 200
    root = etree.fromstring(response.content)
    assert codes_of(root) == BAD
    check_response(root, [], BAD)


def test_random_fuzz_through_the_app(client):
    """The same generator, percent-encoded (lone surrogates as the bytes a client would send
    for them) and decoded by the server as starlette does: the oracle judges what arrives."""
    rng = random.Random(7)
    kinds = set()
    for _ in range(200):
        args = fuzz_request(rng, TOKENS)
        query = urlencode(args, quote_via=lambda s, *a, **k: quote(
            s.encode("utf-8", "surrogatepass"), safe=""))
        arrived = parse_qsl(query, keep_blank_values=True)
        root = _get(client, query)
        check_fuzzed(arrived, root)
        kinds.add(expected(arrived)[0])
    assert kinds == {"badVerb", "badArgument", "other"}


def test_base_urls_that_are_not_uris_are_escaped():
    """The base URL comes from the configuration or the request's Host: whatever it holds,
    baseURL and the request element stay valid anyURIs."""
    for url in ("http://a b/oai", "http://exämple.org/oai", "https://x.org/o%zz", "http://x/\x00"):
        p = make_provider(base_url=url)
        _, root = call(p, [("verb", "Identify")])
        base = root.findtext("o:Identify/o:baseURL", namespaces=NS)
        assert base == root.findtext("o:request", namespaces=NS)
        assert values.URI_RE.fullmatch(base), base
        check_response(root, [("verb", "Identify")], [])


def test_base_url_per_request_is_escaped(provider):
    """The web layer passes each request's own base URL (from its Host): whatever it holds,
    the response is valid; what is not an http(s) URL is replaced by the configured one."""
    for url, shown in (("http://a b/oai", "http://a%20b/oai"), ("javascript:alert(1)", None),
                       ("http://x.org/\x00<oai>", "http://x.org/%3Coai%3E"), ("", None)):
        root = etree.fromstring(provider.respond([("verb", "Identify")], url or None))
        base = root.findtext("o:Identify/o:baseURL", namespaces=NS)
        assert base == (shown or provider.info.base_url)
        check_response(root, [("verb", "Identify")], [])


@pytest.mark.parametrize("host", ["evil.example", "a b", "x\x7f", "[::1]:8000", "h:99999999",
                                  "<x>", "%00", "a" * 400])
def test_hostile_host_headers(client, host):
    """Host is the client's to choose: every answer is valid, rdf's schemaLocation too."""
    response = client.get("/oai?verb=GetRecord&metadataPrefix=rdf&identifier=" + REAL_ID,
                          headers={"host": host})
    assert response.status_code == 200
    root = etree.fromstring(response.content)
    assert codes_of(root) == []
    check_response(root, [("verb", "GetRecord"), ("metadataPrefix", "rdf"),
                          ("identifier", REAL_ID)], [])
