"""An OAI-PMH 2.0 data provider, framework-free: request arguments in, response XML bytes out.

The web layer only passes the raw (multi-valued, ordered) GET query or POST form arguments to
`OaiProvider.respond` and sends the result with status 200 and `MEDIA_TYPE`: every protocol error
is an OAI-PMH <error> inside a normal response, as the specification requires.

Indexes are built once in `OaiProvider.__init__` (records sorted by (datestamp, identifier), a
dict by identifier, per-set and per-format position lists), so a request costs O(log n) to find
its date range plus O(page) to render. Resumption tokens are stateless: the signed list arguments,
an offset and a fingerprint of the data, so any worker or restart can continue a harvest and a
token from another data version is refused.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import hmac
import json
import re
import threading
from array import array
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from urllib.parse import quote, urlsplit

from lxml import etree

from .layout import RDF_WRAPPER

MEDIA_TYPE = "text/xml; charset=utf-8"

OAI_NS = "http://www.openarchives.org/OAI/2.0/"
OAI_SCHEMA = "http://www.openarchives.org/OAI/2.0/OAI-PMH.xsd"
OAI_DC_NS = "http://www.openarchives.org/OAI/2.0/oai_dc/"
OAI_DC_SCHEMA = "http://www.openarchives.org/OAI/2.0/oai_dc.xsd"
DC_NS = "http://purl.org/dc/elements/1.1/"
OAI_ID_NS = "http://www.openarchives.org/OAI/2.0/oai-identifier"
OAI_ID_SCHEMA = "http://www.openarchives.org/OAI/2.0/oai-identifier.xsd"
RDF_NS = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
XML_NS = "http://www.w3.org/XML/1998/namespace"
# Where a site serves the `rdf` format's schema (static/rdf-wrapper.xsd) unless RepositoryInfo
# says otherwise: the web layer's business (kgpub.layout), a default here.
RDF_WRAPPER_PATH = "/" + RDF_WRAPPER

GRANULARITY = "YYYY-MM-DDThh:mm:ssZ"
DC_ELEMENTS = frozenset({
    "title", "creator", "subject", "description", "publisher", "contributor", "date", "type",
    "format", "identifier", "source", "language", "relation", "coverage", "rights",
})
# Publicly known on purpose: the HMAC only detects tampering, tokens carry nothing secret, and a
# fixed default keeps tokens valid across workers and restarts. Deployments may set their own.
DEFAULT_TOKEN_SECRET = b"kgpub-oai-pmh-resumption-token-v1"

# Every pattern is used with fullmatch (a "$" would let a final newline through) and spells its
# digits [0-9]: Python's \d also matches fullwidth, Arabic-Indic and other Unicode digits, which
# int() reads but the XSD's dates do not allow - and the request element echoes the arguments.
_SECONDS_RE = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})Z")
_DAY_RE = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})")
# Patterns from OAI-PMH.xsd and oai-identifier.xsd: what the schema lets through is what we accept.
_PREFIX_RE = re.compile(r"[A-Za-z0-9\-_.!~*'()]+")
_SETSPEC_RE = re.compile(r"[A-Za-z0-9\-_.!~*'()]+(:[A-Za-z0-9\-_.!~*'()]+)*")
_REPO_ID_RE = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9\-]*(\.[a-zA-Z0-9][a-zA-Z0-9\-]*)+")
_LOCAL_ID_RE = re.compile(r"[a-zA-Z0-9\-_.!~*'();/?:@&=+$,%]+")
_EMAIL_RE = re.compile(r"[^\s@]+@([^\s@.]+\.)+[^\s@.]+")  # a subset of the XSD's
_LANG_RE = re.compile(r"[a-zA-Z]{1,8}(-[a-zA-Z0-9]{1,8})*")  # xs:language
_NOT_XML_CHAR = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
# An identifier argument must at least be a URI reference (RFC 3986): ASCII, no spaces, no
# <>"{}|\^` and every % starting an escape. Anything else cannot name an item anywhere.
_URI_RE = re.compile(r"(?:[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=]|%[0-9A-Fa-f]{2})+")
# UTF-8 bytes of what XML 1.0 forbids (see _sanitized_rdf)
_NOT_XML_UTF8 = re.compile(b"[\x00-\x08\x0b\x0c\x0e-\x1f]|\xef\xbf[\xbe\xbf]")
_TOKEN_RE = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")
_TOKEN_MAX = 4096
ARGUMENT_MAX = 1024  # characters of an identifier, metadataPrefix or set: longer is badArgument
MAX_ERRORS = 10  # error elements in one response: a request of 10,000 bad arguments gets 10


def utc_now() -> datetime:
    return datetime.now(UTC)


# ---- data interface -----------------------------------------------------------------------------


@dataclass(frozen=True)
class OaiRecord:
    local_id: str  # e.g. "resource/some-slug" -> identifier "oai:{repository_id}:resource/some-slug"
    datestamp: str  # UTC "YYYY-MM-DDThh:mm:ssZ"
    sets: tuple[str, ...]  # setSpecs, all levels already expanded ("topic:a", "topic:a:b")
    deleted: bool
    dc: tuple[tuple[str, str, str | None], ...]  # (element, value, xml:lang or None), in order
    rdf_xml: bytes | None = None  # the record's RDF/XML document (an rdf:RDF root)


@dataclass(frozen=True)
class OaiSet:
    spec: str
    name: str
    description: str | None = None


@dataclass(frozen=True)
class RepositoryInfo:
    name: str
    base_url: str
    admin_emails: tuple[str, ...]
    repository_id: str  # e.g. "socialprotection-humanrights.org"
    earliest_datestamp: str
    sample_local_id: str
    page_size: int = 100
    token_secret: bytes = DEFAULT_TOKEN_SECRET
    rdf_schema_path: str = RDF_WRAPPER_PATH  # the `rdf` format's schema, at the base URL's origin


@dataclass(frozen=True)
class MetadataFormat:
    prefix: str
    schema: str
    namespace: str
    bit: int  # flag in the per-record availability mask


def rdf_wrapper_schema_url(base_url: str, path: str = RDF_WRAPPER_PATH) -> str:
    """The `rdf` format's schema: the site serves static/rdf-wrapper.xsd at its origin."""
    parts = urlsplit(base_url)
    return f"{parts.scheme}://{parts.netloc}{path}"


def metadata_formats(base_url: str, rdf_schema_path: str = RDF_WRAPPER_PATH
                     ) -> tuple[MetadataFormat, ...]:
    return (
        MetadataFormat("oai_dc", OAI_DC_SCHEMA, OAI_DC_NS, 1),
        MetadataFormat("rdf", rdf_wrapper_schema_url(base_url, rdf_schema_path), RDF_NS, 2),
    )


# ---- requests -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _VerbSpec:
    required: frozenset[str]
    optional: frozenset[str]
    exclusive: str | None = None  # an argument that must stand alone (resumptionToken)

    @property
    def allowed(self) -> frozenset[str]:
        return self.required | self.optional | ({self.exclusive} if self.exclusive else set())


_LIST_ARGS = frozenset({"from", "until", "set"})
VERBS: dict[str, _VerbSpec] = {
    "Identify": _VerbSpec(frozenset(), frozenset()),
    "ListMetadataFormats": _VerbSpec(frozenset(), frozenset({"identifier"})),
    "ListSets": _VerbSpec(frozenset(), frozenset(), "resumptionToken"),
    "GetRecord": _VerbSpec(frozenset({"identifier", "metadataPrefix"}), frozenset()),
    "ListIdentifiers": _VerbSpec(frozenset({"metadataPrefix"}), _LIST_ARGS, "resumptionToken"),
    "ListRecords": _VerbSpec(frozenset({"metadataPrefix"}), _LIST_ARGS, "resumptionToken"),
}
_ECHO_ORDER = ("verb", "identifier", "metadataPrefix", "from", "until", "set", "resumptionToken")


class _Failure(Exception):
    """One or more OAI-PMH errors, as (code, message) pairs."""

    def __init__(self, errors: list[tuple[str, str]]):
        super().__init__(errors)
        self.errors = errors


def _fail(code: str, message: str) -> _Failure:
    return _Failure([(code, message)])


def _show(value: str, limit: int = 60) -> str:
    """A request value quoted for an error message: XML-safe and short."""
    clean = _NOT_XML_CHAR.sub("\ufffd", value)
    return repr(clean if len(clean) <= limit else clean[:limit] + "…")


@dataclass(frozen=True)
class _Range:
    """A from/until pair as inclusive bounds on seconds-granularity datestamps."""

    lower: str | None
    upper: str | None


def parse_utc(value: str) -> tuple[str, str, str] | None:
    """A from/until value as (first second, last second, granularity), or None when it is not a
    real date in either granularity. A day covers the whole day."""
    if m := _SECONDS_RE.fullmatch(value):
        if _valid_datetime(*(int(g) for g in m.groups())):
            return value, value, GRANULARITY
        return None
    if m := _DAY_RE.fullmatch(value):
        if _valid_datetime(*(int(g) for g in m.groups())):
            return f"{value}T00:00:00Z", f"{value}T23:59:59Z", "YYYY-MM-DD"
    return None


def _valid_datetime(*parts: int) -> bool:
    try:
        datetime(*parts)  # type: ignore[misc]
    except ValueError:
        return False
    return True


def _date_range(from_: str | None, until: str | None) -> _Range:
    lower = parse_utc(from_)[0] if from_ else None  # type: ignore[index]
    upper = parse_utc(until)[1] if until else None  # type: ignore[index]
    return _Range(lower, upper)


def _parse_request(args: Sequence[tuple[str, str]]) -> tuple[str, dict[str, str]]:
    """Check the verb and the arguments' presence and syntax; raise badVerb/badArgument."""
    verbs = [value for key, value in args if key == "verb"]
    if not verbs:
        raise _fail("badVerb", "The verb argument is missing.")
    if len(verbs) > 1:
        raise _fail("badVerb", "The verb argument is repeated.")
    verb = verbs[0]
    if verb not in VERBS:
        raise _fail("badVerb", f"{_show(verb)} is not an OAI-PMH verb.")
    spec = VERBS[verb]
    params, errors = _collect_arguments(args, spec)
    errors += _presence_errors(params, spec)
    errors += [e for key, value in params.items() if (e := _syntax_error(key, value))]
    if not errors:
        errors += _range_errors(params)
    if len(errors) > MAX_ERRORS:
        errors = errors[:MAX_ERRORS - 1] + [f"... and {len(errors) - MAX_ERRORS + 1} more "
                                            "problems with the arguments."]
    if errors:
        raise _Failure([("badArgument", message) for message in errors])
    return verb, params


def _collect_arguments(
    args: Sequence[tuple[str, str]], spec: _VerbSpec
) -> tuple[dict[str, str], list[str]]:
    params: dict[str, str] = {}
    errors: list[str] = []
    repeated: set[str] = set()
    for key, value in args:
        if key == "verb":
            continue
        if key not in spec.allowed:
            errors.append(f"{_show(key)} is not an argument of this verb.")
        elif key in params:
            if key not in repeated:
                errors.append(f"The {key} argument is repeated.")
                repeated.add(key)
        else:
            params[key] = value
    return params, errors


def _presence_errors(params: dict[str, str], spec: _VerbSpec) -> list[str]:
    if spec.exclusive and spec.exclusive in params:
        others = sorted(k for k in params if k != spec.exclusive)
        if others:
            return [f"The {spec.exclusive} argument is exclusive; it came with {', '.join(others)}."]
        return []
    return [f"The required argument {key} is missing." for key in sorted(spec.required)
            if key not in params]


def _syntax_error(key: str, value: str) -> str | None:
    """What is wrong with an argument's value, or None. What passes can be echoed in the
    request element and still validate against OAI-PMH.xsd. (A resumptionToken's form is
    checked when it is read: a bad one is badResumptionToken, not badArgument.)"""
    if value == "":
        return f"The {key} argument is empty."
    if _NOT_XML_CHAR.search(value):
        return f"The {key} argument contains characters that XML cannot carry."
    if key == "resumptionToken":
        return None
    if len(value) > ARGUMENT_MAX:
        return f"The {key} argument is longer than {ARGUMENT_MAX} characters."
    if key in ("from", "until") and parse_utc(value) is None:
        return (f"The {key} argument {_show(value)} is not a date in YYYY-MM-DD or "
                f"{GRANULARITY} (ASCII digits, UTC).")
    if key == "metadataPrefix" and not _PREFIX_RE.fullmatch(value):
        return f"The metadataPrefix {_show(value)} is not a legal metadata prefix."
    if key == "set" and not _SETSPEC_RE.fullmatch(value):
        return f"The set {_show(value)} is not a legal setSpec."
    if key == "identifier" and not _URI_RE.fullmatch(value):
        return (f"The identifier {_show(value)} is not a URI (ASCII only, no spaces, "
                "'%' only in %XX escapes).")
    return None


def _range_errors(params: dict[str, str]) -> list[str]:
    from_, until = params.get("from"), params.get("until")
    if not (from_ and until):
        return []
    first, last = parse_utc(from_), parse_utc(until)
    assert first and last  # syntax was checked before
    if first[2] != last[2]:
        return ["The from and until arguments have different granularities."]
    if first[0] > last[1]:
        return ["The from argument is later than the until argument."]
    return []


# ---- resumption tokens --------------------------------------------------------------------------


@dataclass(frozen=True)
class _ListQuery:
    verb: str
    prefix: str | None  # None for ListSets
    set_spec: str | None
    from_: str | None
    until: str | None
    offset: int


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class _Tokens:
    """Stateless, URL-safe tokens: base64url(JSON) "." base64url(HMAC-SHA256, truncated).
    The same list position always yields the same token, so a retried harvest is repeatable."""

    def __init__(self, secret: bytes, fingerprint: str):
        self._secret = secret
        self._fingerprint = fingerprint

    def _sign(self, body: str) -> str:
        return _b64(hmac.new(self._secret, body.encode("ascii"), hashlib.sha256).digest()[:18])

    def make(self, query: _ListQuery) -> str:
        payload = {"v": query.verb, "m": query.prefix, "s": query.set_spec, "f": query.from_,
                   "u": query.until, "o": query.offset, "d": self._fingerprint}
        payload = {k: v for k, v in payload.items() if v is not None}
        body = _b64(json.dumps(payload, sort_keys=True, separators=(",", ":")).encode("utf-8"))
        return f"{body}.{self._sign(body)}"

    def read(self, token: str, verb: str) -> _ListQuery:
        """The query a token continues; badResumptionToken for anything we did not issue for
        this verb and this data version."""
        if len(token) > _TOKEN_MAX or not _TOKEN_RE.fullmatch(token):
            raise _fail("badResumptionToken", "The resumptionToken is malformed.")
        body, signature = token.split(".")
        if not hmac.compare_digest(signature, self._sign(body)):
            raise _fail("badResumptionToken", "The resumptionToken is not one this repository issued.")
        try:
            payload = json.loads(_unb64(body))
        except (binascii.Error, ValueError, RecursionError):  # deep nesting: a forged token
            raise _fail("badResumptionToken", "The resumptionToken is malformed.") from None
        if not isinstance(payload, dict) or payload.get("d") != self._fingerprint:
            raise _fail("badResumptionToken",
                        "The resumptionToken has expired: the repository has changed since.")
        query = _query_from_payload(payload)
        if query is None or query.verb != verb:
            raise _fail("badResumptionToken", f"The resumptionToken is not for {verb}.")
        return query


def _query_from_payload(payload: dict) -> _ListQuery | None:
    """Re-check a signed payload as if it were untrusted input: the default secret is public."""
    verb, offset = payload.get("v"), payload.get("o")
    fields = {key: payload.get(short) for short, key in
              (("m", "metadataPrefix"), ("s", "set"), ("f", "from"), ("u", "until"))}
    if verb not in ("ListSets", "ListIdentifiers", "ListRecords"):
        return None
    if not isinstance(offset, int) or isinstance(offset, bool) or offset < 1:
        return None
    present = {k: v for k, v in fields.items() if v is not None}
    if not all(isinstance(v, str) and _syntax_error(k, v) is None for k, v in present.items()):
        return None
    if verb == "ListSets" and present:
        return None
    if verb != "ListSets" and ("metadataPrefix" not in present or _range_errors(present)):
        return None
    return _ListQuery(verb, fields["metadataPrefix"], fields["set"], fields["from"],
                      fields["until"], offset)


# ---- the provider -------------------------------------------------------------------------------


class _RdfParser(threading.local):
    """lxml parsers must not be shared between threads; one per thread, made once."""

    def __init__(self) -> None:
        self.parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False,
                                      load_dtd=False, remove_blank_text=False)


_RDF_PARSER = _RdfParser()


class OaiProvider:
    """Answers OAI-PMH 2.0 requests for a fixed set of records and sets."""

    def __init__(
        self,
        info: RepositoryInfo,
        records: Sequence[OaiRecord],
        sets: Sequence[OaiSet],
        now: Callable[[], datetime] = utc_now,
    ):
        info = replace(info, base_url=_uri(info.base_url))
        _check_info(info)
        self.info = info
        self.formats = metadata_formats(info.base_url, info.rdf_schema_path)
        self._format_by_prefix = {f.prefix: f for f in self.formats}
        self._all_bits = sum(f.bit for f in self.formats)
        self._now = now
        self._prefix = f"oai:{info.repository_id}:"
        self.sets = tuple(sets)
        _check_sets(self.sets)
        order = sorted(records, key=lambda r: (r.datestamp, r.local_id))
        self._records: list[OaiRecord] = order
        self._datestamps = [r.datestamp for r in order]
        self._masks = bytearray(self._format_mask(r) for r in order)
        self._by_id: dict[str, int] = {}  # by local id: the identifier prefix is common
        self._by_set: dict[str, array] = {}
        self._index(order)
        self._earliest = min([_seconds(info.earliest_datestamp)] + self._datestamps[:1])
        self._views: dict[tuple[str, str | None], Sequence[int]] = {}
        self._views_lock = threading.Lock()
        for f in self.formats:  # the common full-harvest views are ready before any request
            self._view(f.prefix, None)
        self._tokens = _Tokens(info.token_secret, self._fingerprint())

    # -- construction --

    def _format_mask(self, record: OaiRecord) -> int:
        if record.deleted:  # a deletion is news in every format a harvester may follow
            return self._all_bits
        mask = 1 if record.dc else 0
        return mask | (2 if record.rdf_xml is not None else 0)

    def _index(self, order: list[OaiRecord]) -> None:
        checked_specs: set[str] = set()
        checked: set[str | None] = {None, ""}  # datestamps and language tags already seen valid
        for position, record in enumerate(order):
            _check_record(record, checked)
            if record.local_id in self._by_id:
                raise ValueError(f"OAI record {record.local_id!r} is listed twice")
            self._by_id[record.local_id] = position
            for spec in record.sets:
                if spec not in checked_specs:
                    if not _SETSPEC_RE.fullmatch(spec):
                        raise ValueError(f"OAI record {record.local_id!r}: bad setSpec {spec!r}")
                    checked_specs.add(spec)
                    self._by_set[spec] = array("l")
                self._by_set[spec].append(position)

    def _fingerprint(self) -> str:
        """Changes whenever any header, format availability or set does: tokens of another data
        version must be refused, since their offsets would skip or repeat records."""
        digest = hashlib.sha256()
        for record, mask in zip(self._records, self._masks, strict=True):
            digest.update(f"{record.local_id}\0{record.datestamp}\0{record.deleted:d}\0{mask}\0"
                          f"{' '.join(record.sets)}\n".encode())
        for s in self.sets:
            digest.update(f"set\0{s.spec}\n".encode())
        return _b64(digest.digest()[:12])

    def _view(self, prefix: str, set_spec: str | None) -> Sequence[int]:
        """Positions (ascending, so datestamp-sorted) of the records in a format and set."""
        key = (prefix, set_spec)
        view = self._views.get(key)
        if view is not None:
            return view
        if set_spec is None:
            base: Sequence[int] = range(len(self._records))
        elif set_spec in self._by_set:
            base = self._by_set[set_spec]
        else:
            return ()  # not cached: request values must not grow memory
        bit = self._format_by_prefix[prefix].bit
        masks = self._masks
        view = array("l", (p for p in base if masks[p] & bit))
        if len(view) == len(base):
            view = base  # every record has the format: share, do not copy
        with self._views_lock:
            return self._views.setdefault(key, view)

    # -- requests --

    def respond(self, args: list[tuple[str, str]], base_url: str | None = None) -> bytes:
        """The complete response document (UTF-8 XML) for one request's arguments. base_url:
        where this request came (a value per request, e.g. from the Host; never cached), else
        the configured one."""
        base = _uri(base_url) if base_url else self.info.base_url
        if urlsplit(base).scheme not in ("http", "https"):
            base = self.info.base_url
        root, request = self._envelope(base)
        try:
            verb, params = _parse_request(args)
        except _Failure as failure:  # badVerb/badArgument: nothing valid to echo
            _add_errors(root, failure)
            return _serialize(root)
        _echo(request, verb, params)
        try:
            root.append(self._dispatch(verb, params, base))
        except _Failure as failure:
            _add_errors(root, failure)
        return _serialize(root)

    def _envelope(self, base: str) -> tuple[etree._Element, etree._Element]:
        root = etree.Element(_oai("OAI-PMH"), nsmap={None: OAI_NS, "xsi": XSI_NS})
        root.set(f"{{{XSI_NS}}}schemaLocation", f"{OAI_NS} {OAI_SCHEMA}")
        _sub(root, "responseDate", _format_datetime(self._now()))
        request = _sub(root, "request", base)
        return root, request

    def _dispatch(self, verb: str, params: dict[str, str], base: str) -> etree._Element:
        if verb == "Identify":
            return self._identify(base)
        if verb == "ListMetadataFormats":
            return self._list_metadata_formats(params.get("identifier"), base)
        if verb == "GetRecord":
            return self._get_record(params["identifier"], params["metadataPrefix"], base)
        if verb == "ListSets":
            return self._list_sets(params.get("resumptionToken"))
        return self._list_records(verb, params, base)

    def _schema(self, fmt: MetadataFormat, base: str) -> str:
        """A format's schema URL as seen from this request's base URL."""
        return (rdf_wrapper_schema_url(base, self.info.rdf_schema_path) if fmt.prefix == "rdf"
                else fmt.schema)

    def _identify(self, base: str) -> etree._Element:
        info = self.info
        body = etree.Element(_oai("Identify"))
        _sub(body, "repositoryName", _clean(info.name))
        _sub(body, "baseURL", base)
        _sub(body, "protocolVersion", "2.0")
        for email in info.admin_emails:
            _sub(body, "adminEmail", email)
        _sub(body, "earliestDatestamp", self._earliest)
        _sub(body, "deletedRecord", "persistent")
        _sub(body, "granularity", GRANULARITY)
        _sub(body, "description").append(self._oai_identifier())
        return body

    def _oai_identifier(self) -> etree._Element:
        element = etree.Element(f"{{{OAI_ID_NS}}}oai-identifier",
                                nsmap={None: OAI_ID_NS, "xsi": XSI_NS})
        element.set(f"{{{XSI_NS}}}schemaLocation", f"{OAI_ID_NS} {OAI_ID_SCHEMA}")
        for name, text in (("scheme", "oai"), ("repositoryIdentifier", self.info.repository_id),
                           ("delimiter", ":"),
                           ("sampleIdentifier", self._prefix + self.info.sample_local_id)):
            etree.SubElement(element, f"{{{OAI_ID_NS}}}{name}").text = text
        return element

    def _list_metadata_formats(self, identifier: str | None, base: str) -> etree._Element:
        formats: Iterable[MetadataFormat] = self.formats
        if identifier is not None:
            mask = self._masks[self._position(identifier)]
            formats = [f for f in self.formats if mask & f.bit]
            if not formats:
                raise _fail("noMetadataFormats", "The item has no metadata in any format.")
        body = etree.Element(_oai("ListMetadataFormats"))
        for f in formats:
            element = _sub(body, "metadataFormat")
            _sub(element, "metadataPrefix", f.prefix)
            _sub(element, "schema", self._schema(f, base))
            _sub(element, "metadataNamespace", f.namespace)
        return body

    def _lookup(self, identifier: str) -> int | None:
        if not identifier.startswith(self._prefix):
            return None
        return self._by_id.get(identifier[len(self._prefix):])

    def _position(self, identifier: str) -> int:
        position = self._lookup(identifier)
        if position is None:
            raise _fail("idDoesNotExist", f"No item has the identifier {_show(identifier)}.")
        return position

    def _get_record(self, identifier: str, prefix: str, base: str) -> etree._Element:
        errors = []
        position = self._lookup(identifier)
        if position is None:
            errors.append(("idDoesNotExist", f"No item has the identifier {_show(identifier)}."))
        fmt = self._format_by_prefix.get(prefix)
        if fmt is None or (position is not None and not self._masks[position] & fmt.bit):
            errors.append(("cannotDisseminateFormat",
                           f"The metadata format {prefix!r} is not available for this item."))
        if errors:
            raise _Failure(errors)
        assert fmt is not None and position is not None
        body = etree.Element(_oai("GetRecord"))
        body.append(self._record(self._records[position], fmt, base))
        return body

    def _list_sets(self, token: str | None) -> etree._Element:
        if not self.sets:
            raise _fail("noSetHierarchy", "This repository does not support sets.")
        query = (self._tokens.read(token, "ListSets") if token
                 else _ListQuery("ListSets", None, None, None, None, 0))
        page, size = self._page(self.sets, query)
        body = etree.Element(_oai("ListSets"))
        for s in page:
            body.append(_set_element(s))
        self._resumption(body, query, len(page), size)
        return body

    def _list_records(self, verb: str, params: dict[str, str], base: str) -> etree._Element:
        token = params.get("resumptionToken")
        query = (self._tokens.read(token, verb) if token else
                 _ListQuery(verb, params["metadataPrefix"], params.get("set"),
                            params.get("from"), params.get("until"), 0))
        self._check_list_query(query)
        assert query.prefix is not None
        fmt = self._format_by_prefix[query.prefix]
        view = self._view(fmt.prefix, query.set_spec)
        lo, hi = self._bounds(view, _date_range(query.from_, query.until))
        if lo >= hi:
            raise _fail("noRecordsMatch", "No records match the request's arguments.")
        positions, size = self._page(range(lo, hi), query)
        body = etree.Element(_oai(verb))
        for index in positions:
            record = self._records[view[index]]
            body.append(self._header(record) if verb == "ListIdentifiers"
                        else self._record(record, fmt, base))
        self._resumption(body, query, len(positions), size)
        return body

    def _check_list_query(self, query: _ListQuery) -> None:
        errors = []
        if query.prefix not in self._format_by_prefix:
            errors.append(("cannotDisseminateFormat",
                           f"The metadata format {query.prefix!r} is not supported here."))
        if query.set_spec is not None and not self.sets:
            errors.append(("noSetHierarchy", "This repository does not support sets."))
        if errors:
            raise _Failure(errors)

    def _bounds(self, view: Sequence[int], dates: _Range) -> tuple[int, int]:
        key = self._datestamps.__getitem__
        lo = bisect_left(view, dates.lower, key=key) if dates.lower else 0
        hi = bisect_right(view, dates.upper, key=key) if dates.upper else len(view)
        return lo, hi

    def _page(self, items: Sequence, query: _ListQuery) -> tuple[Sequence, int]:
        size = len(items)
        if query.offset >= size:  # only a signed token has an offset, so data must have shrunk
            raise _fail("badResumptionToken", "The resumptionToken points past the list's end.")
        return items[query.offset:query.offset + self.info.page_size], size

    def _resumption(self, body: etree._Element, query: _ListQuery, count: int, size: int) -> None:
        """A token on every incomplete page; an empty one ends a list that took several pages.
        cursor is the number of list items sent before this page."""
        following = query.offset + count
        if following < size:
            token = self._tokens.make(_ListQuery(query.verb, query.prefix, query.set_spec,
                                                 query.from_, query.until, following))
        elif query.offset > 0:
            token = ""
        else:
            return
        element = _sub(body, "resumptionToken", token)
        element.set("completeListSize", str(size))
        element.set("cursor", str(query.offset))

    # -- records --

    def _header(self, record: OaiRecord) -> etree._Element:
        header = etree.Element(_oai("header"))
        if record.deleted:
            header.set("status", "deleted")
        _sub(header, "identifier", self._prefix + record.local_id)
        _sub(header, "datestamp", record.datestamp)
        for spec in record.sets:
            _sub(header, "setSpec", spec)
        return header

    def _record(self, record: OaiRecord, fmt: MetadataFormat, base: str) -> etree._Element:
        element = etree.Element(_oai("record"))
        element.append(self._header(record))
        if not record.deleted:  # a deleted record is its header alone
            metadata = _sub(element, "metadata")
            if fmt.prefix == "oai_dc":
                metadata.append(oai_dc_element(record.dc))
            else:
                metadata.append(rdf_element(record, self._schema(fmt, base)))
        return element


# ---- metadata -----------------------------------------------------------------------------------


def oai_dc_element(dc: Iterable[tuple[str, str, str | None]]) -> etree._Element:
    """An oai_dc:dc container of simple Dublin Core elements, in the given order."""
    root = etree.Element(f"{{{OAI_DC_NS}}}dc",
                         nsmap={"oai_dc": OAI_DC_NS, "dc": DC_NS, "xsi": XSI_NS})
    root.set(f"{{{XSI_NS}}}schemaLocation", f"{OAI_DC_NS} {OAI_DC_SCHEMA}")
    for name, value, lang in dc:
        element = etree.SubElement(root, f"{{{DC_NS}}}{name}")
        element.text = _clean(value)
        if lang:
            element.set(f"{{{XML_NS}}}lang", lang)
    return root


def rdf_element(record: OaiRecord, schema_url: str) -> etree._Element:
    """The record's RDF/XML document as an rdf:RDF element (its XML declaration and any DOCTYPE
    dropped), parsed without entity expansion or network access. A document that is not
    well-formed only because it carries characters XML 1.0 forbids (written by a kgpub that let
    them through) is read with each of them replaced by U+FFFD, as oai_dc values are."""
    if record.rdf_xml is None:
        raise ValueError(f"OAI record {record.local_id!r} has no RDF/XML")
    try:
        root = etree.fromstring(record.rdf_xml, _RDF_PARSER.parser)
    except etree.XMLSyntaxError as exc:
        root = None
        sanitized = _sanitized_rdf(record.rdf_xml)
        if sanitized is not None:
            with contextlib.suppress(etree.XMLSyntaxError):
                root = etree.fromstring(sanitized, _RDF_PARSER.parser)
        if root is None:
            raise ValueError(f"OAI record {record.local_id!r}: RDF/XML does not parse: "
                             f"{exc}") from exc
    if root.tag != f"{{{RDF_NS}}}RDF":
        raise ValueError(f"OAI record {record.local_id!r}: RDF/XML root is {root.tag}, not rdf:RDF")
    if next(root.iter(etree.Entity), None) is not None:
        # unexpanded entity references would dangle without the document's DTD
        raise ValueError(f"OAI record {record.local_id!r}: RDF/XML uses entity references")
    root.set(f"{{{XSI_NS}}}schemaLocation", f"{RDF_NS} {schema_url}")
    return root


def _sanitized_rdf(data: bytes) -> bytes | None:
    """The document with the characters XML 1.0 forbids replaced by U+FFFD, or None if it has
    none (or is not UTF-8, which our writers never produce)."""
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if _NOT_XML_UTF8.search(data) is None:
        return None
    return _NOT_XML_UTF8.sub("\ufffd".encode(), data)


def _set_element(s: OaiSet) -> etree._Element:
    element = etree.Element(_oai("set"))
    _sub(element, "setSpec", s.spec)
    _sub(element, "setName", _clean(s.name))
    if s.description:
        _sub(element, "setDescription").append(oai_dc_element([("description", s.description, None)]))
    return element


# ---- helpers ------------------------------------------------------------------------------------


def _oai(name: str) -> str:
    return f"{{{OAI_NS}}}{name}"


def _sub(parent: etree._Element, name: str, text: str | None = None) -> etree._Element:
    element = etree.SubElement(parent, _oai(name))
    if text is not None:
        element.text = text
    return element


def _clean(text: str) -> str:
    """Data text as XML can carry it: characters XML 1.0 forbids become U+FFFD."""
    return _NOT_XML_CHAR.sub("\ufffd", text)


def _add_errors(root: etree._Element, failure: _Failure) -> None:
    for code, message in failure.errors:
        _sub(root, "error", message).set("code", code)


def _serialize(root: etree._Element) -> bytes:
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + etree.tostring(root, encoding="UTF-8")


def _echo(request: etree._Element, verb: str, params: dict[str, str]) -> None:
    attributes = {"verb": verb, **params}
    for key in _ECHO_ORDER:
        if key in attributes:
            request.set(key, attributes[key])


def _format_datetime(moment: datetime) -> str:
    if moment.tzinfo is None:  # a naive clock is taken to be UTC
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _seconds(datestamp: str) -> str:
    """A datestamp in the repository's (seconds) granularity."""
    parsed = parse_utc(datestamp)
    if parsed is None:
        raise ValueError(f"{datestamp!r} is not a UTC datestamp")
    return parsed[0]


# ---- input checks: a bad build must fail loudly here, not produce schema-invalid responses ------


def _uri(url: str) -> str:
    """A URL as a URI: characters a URI cannot hold (spaces, non-ASCII, a '%' that starts no
    escape) percent-encoded, so that baseURL and the request element stay valid anyURIs."""
    if _URI_RE.fullmatch(url):
        return url
    escaped = re.sub(r"%(?![0-9A-Fa-f]{2})", "%25", _NOT_XML_CHAR.sub("", url))
    return quote(escaped, safe="-._~:/?#[]@!$&'()*+,;=%")


def _check_info(info: RepositoryInfo) -> None:
    if not _REPO_ID_RE.fullmatch(info.repository_id):
        raise ValueError(f"repository_id {info.repository_id!r} is not a domain-like name")
    if not _LOCAL_ID_RE.fullmatch(info.sample_local_id):
        raise ValueError(f"sample_local_id {info.sample_local_id!r} is not a legal local id")
    if not info.admin_emails or not all(_EMAIL_RE.fullmatch(e) and not _NOT_XML_CHAR.search(e)
                                        for e in info.admin_emails):
        raise ValueError(f"admin_emails {info.admin_emails!r}: at least one address is needed")
    if not _URI_RE.fullmatch(info.base_url) or urlsplit(info.base_url).scheme not in (
            "http", "https"):
        raise ValueError(f"base_url {info.base_url!r} is not an http(s) URL")
    if info.page_size < 1:
        raise ValueError("page_size must be positive")
    _seconds(info.earliest_datestamp)


def _check_sets(sets: Sequence[OaiSet]) -> None:
    seen: set[str] = set()
    for s in sets:
        if not _SETSPEC_RE.fullmatch(s.spec) or s.spec in seen:
            raise ValueError(f"setSpec {s.spec!r} is illegal or listed twice")
        seen.add(s.spec)


def _check_record(record: OaiRecord, checked: set[str | None]) -> None:
    """`checked` caches datestamps and language tags found valid: most repeat, regexes cost."""
    if not _LOCAL_ID_RE.fullmatch(record.local_id):
        raise ValueError(f"OAI record id {record.local_id!r} has characters an OAI identifier "
                         "cannot carry (percent-encode them)")
    if record.datestamp not in checked:
        match = _SECONDS_RE.fullmatch(record.datestamp)
        if not match or not _valid_datetime(*(int(g) for g in match.groups())):
            raise ValueError(f"OAI record {record.local_id!r}: datestamp {record.datestamp!r} "
                             f"is not {GRANULARITY}")
        checked.add(record.datestamp)
    for name, _value, lang in record.dc:
        if name not in DC_ELEMENTS:
            raise ValueError(f"OAI record {record.local_id!r}: {name!r} is no DC element")
        if lang not in checked:
            if not _LANG_RE.fullmatch(lang):  # type: ignore[arg-type]
                raise ValueError(f"OAI record {record.local_id!r}: bad language tag {lang!r}")
            checked.add(lang)
