"""The OAI-PMH 2.0 data provider: request arguments in, response XML bytes out.

Indexes are built once in `OaiProvider.__init__` (records sorted by (datestamp, identifier), a
dict by identifier, per-set and per-format position lists), so a request costs O(log n) to find
its date range plus O(page) to render.
"""

from __future__ import annotations

import hashlib
import threading
from array import array
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from datetime import datetime
from urllib.parse import urlsplit

from lxml import etree

from .arguments import DateRange, Failure, date_range, fail, parse_request
from .metadata import (
    MetadataFormat,
    metadata_formats,
    oai_dc_element,
    rdf_element,
    rdf_wrapper_schema_url,
)
from .records import OaiRecord, OaiSet, RepositoryInfo, check_info, check_record, check_sets
from .response import (
    OAI_ID_NS,
    OAI_ID_SCHEMA,
    OAI_NS,
    OAI_SCHEMA,
    XSI_NS,
    add_errors,
    echo,
    oai,
    serialize,
    sub,
)
from .tokens import ListQuery, Tokens, b64
from .values import GRANULARITY, SETSPEC_RE, as_uri, clean, format_datetime, seconds, show, utc_now


class OaiProvider:
    """Answers OAI-PMH 2.0 requests for a fixed set of records and sets."""

    def __init__(
        self,
        info: RepositoryInfo,
        records: Sequence[OaiRecord],
        sets: Sequence[OaiSet],
        now: Callable[[], datetime] = utc_now,
    ):
        info = replace(info, base_url=as_uri(info.base_url))
        check_info(info)
        self.info = info
        self.formats = metadata_formats(info.base_url, info.rdf_schema_path)
        self._format_by_prefix = {f.prefix: f for f in self.formats}
        self._all_bits = sum(f.bit for f in self.formats)
        self._now = now
        self._prefix = f"oai:{info.repository_id}:"
        self.sets = tuple(sets)
        check_sets(self.sets)
        order = sorted(records, key=lambda r: (r.datestamp, r.local_id))
        self._records: list[OaiRecord] = order
        self._datestamps = [r.datestamp for r in order]
        self._masks = bytearray(self._format_mask(r) for r in order)
        self._by_id: dict[str, int] = {}  # by local id: the identifier prefix is common
        self._by_set: dict[str, array] = {}
        self._index(order)
        self._earliest = min([seconds(info.earliest_datestamp)] + self._datestamps[:1])
        self._views: dict[tuple[str, str | None], Sequence[int]] = {}
        self._views_lock = threading.Lock()
        for f in self.formats:  # the common full-harvest views are ready before any request
            self._view(f.prefix, None)
        self._tokens = Tokens(info.token_secret, self._fingerprint())

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
            check_record(record, checked)
            if record.local_id in self._by_id:
                raise ValueError(f"OAI record {record.local_id!r} is listed twice")
            self._by_id[record.local_id] = position
            for spec in record.sets:
                if spec not in checked_specs:
                    if not SETSPEC_RE.fullmatch(spec):
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
        return b64(digest.digest()[:12])

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
        base = as_uri(base_url) if base_url else self.info.base_url
        if urlsplit(base).scheme not in ("http", "https"):
            base = self.info.base_url
        root, request = self._envelope(base)
        try:
            verb, params = parse_request(args)
        except Failure as failure:  # badVerb/badArgument: nothing valid to echo
            add_errors(root, failure)
            return serialize(root)
        echo(request, verb, params)
        try:
            root.append(self._dispatch(verb, params, base))
        except Failure as failure:
            add_errors(root, failure)
        return serialize(root)

    def _envelope(self, base: str) -> tuple[etree._Element, etree._Element]:
        root = etree.Element(oai("OAI-PMH"), nsmap={None: OAI_NS, "xsi": XSI_NS})
        root.set(f"{{{XSI_NS}}}schemaLocation", f"{OAI_NS} {OAI_SCHEMA}")
        sub(root, "responseDate", format_datetime(self._now()))
        request = sub(root, "request", base)
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
        body = etree.Element(oai("Identify"))
        sub(body, "repositoryName", clean(info.name))
        sub(body, "baseURL", base)
        sub(body, "protocolVersion", "2.0")
        for email in info.admin_emails:
            sub(body, "adminEmail", email)
        sub(body, "earliestDatestamp", self._earliest)
        sub(body, "deletedRecord", "persistent")
        sub(body, "granularity", GRANULARITY)
        sub(body, "description").append(self._oai_identifier())
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
                raise fail("noMetadataFormats", "The item has no metadata in any format.")
        body = etree.Element(oai("ListMetadataFormats"))
        for f in formats:
            element = sub(body, "metadataFormat")
            sub(element, "metadataPrefix", f.prefix)
            sub(element, "schema", self._schema(f, base))
            sub(element, "metadataNamespace", f.namespace)
        return body

    def _lookup(self, identifier: str) -> int | None:
        if not identifier.startswith(self._prefix):
            return None
        return self._by_id.get(identifier[len(self._prefix):])

    def _position(self, identifier: str) -> int:
        position = self._lookup(identifier)
        if position is None:
            raise fail("idDoesNotExist", f"No item has the identifier {show(identifier)}.")
        return position

    def _get_record(self, identifier: str, prefix: str, base: str) -> etree._Element:
        errors = []
        position = self._lookup(identifier)
        if position is None:
            errors.append(("idDoesNotExist", f"No item has the identifier {show(identifier)}."))
        fmt = self._format_by_prefix.get(prefix)
        if fmt is None or (position is not None and not self._masks[position] & fmt.bit):
            errors.append(("cannotDisseminateFormat",
                           f"The metadata format {prefix!r} is not available for this item."))
        if errors:
            raise Failure(errors)
        assert fmt is not None and position is not None
        body = etree.Element(oai("GetRecord"))
        body.append(self._record(self._records[position], fmt, base))
        return body

    def _list_sets(self, token: str | None) -> etree._Element:
        if not self.sets:
            raise fail("noSetHierarchy", "This repository does not support sets.")
        query = (self._tokens.read(token, "ListSets") if token
                 else ListQuery("ListSets", None, None, None, None, 0))
        page, size = self._page(self.sets, query)
        body = etree.Element(oai("ListSets"))
        for s in page:
            body.append(set_element(s))
        self._resumption(body, query, len(page), size)
        return body

    def _list_records(self, verb: str, params: dict[str, str], base: str) -> etree._Element:
        token = params.get("resumptionToken")
        query = (self._tokens.read(token, verb) if token else
                 ListQuery(verb, params["metadataPrefix"], params.get("set"),
                            params.get("from"), params.get("until"), 0))
        self._check_list_query(query)
        assert query.prefix is not None
        fmt = self._format_by_prefix[query.prefix]
        view = self._view(fmt.prefix, query.set_spec)
        lo, hi = self._bounds(view, date_range(query.from_, query.until))
        if lo >= hi:
            raise fail("noRecordsMatch", "No records match the request's arguments.")
        positions, size = self._page(range(lo, hi), query)
        body = etree.Element(oai(verb))
        for index in positions:
            record = self._records[view[index]]
            body.append(self._header(record) if verb == "ListIdentifiers"
                        else self._record(record, fmt, base))
        self._resumption(body, query, len(positions), size)
        return body

    def _check_list_query(self, query: ListQuery) -> None:
        errors = []
        if query.prefix not in self._format_by_prefix:
            errors.append(("cannotDisseminateFormat",
                           f"The metadata format {query.prefix!r} is not supported here."))
        if query.set_spec is not None and not self.sets:
            errors.append(("noSetHierarchy", "This repository does not support sets."))
        if errors:
            raise Failure(errors)

    def _bounds(self, view: Sequence[int], dates: DateRange) -> tuple[int, int]:
        key = self._datestamps.__getitem__
        lo = bisect_left(view, dates.lower, key=key) if dates.lower else 0
        hi = bisect_right(view, dates.upper, key=key) if dates.upper else len(view)
        return lo, hi

    def _page(self, items: Sequence, query: ListQuery) -> tuple[Sequence, int]:
        size = len(items)
        if query.offset >= size:  # only a signed token has an offset, so data must have shrunk
            raise fail("badResumptionToken", "The resumptionToken points past the list's end.")
        return items[query.offset:query.offset + self.info.page_size], size

    def _resumption(self, body: etree._Element, query: ListQuery, count: int, size: int) -> None:
        """A token on every incomplete page; an empty one ends a list that took several pages.
        cursor is the number of list items sent before this page."""
        following = query.offset + count
        if following < size:
            token = self._tokens.make(ListQuery(query.verb, query.prefix, query.set_spec,
                                                 query.from_, query.until, following))
        elif query.offset > 0:
            token = ""
        else:
            return
        element = sub(body, "resumptionToken", token)
        element.set("completeListSize", str(size))
        element.set("cursor", str(query.offset))

    # -- records --

    def _header(self, record: OaiRecord) -> etree._Element:
        header = etree.Element(oai("header"))
        if record.deleted:
            header.set("status", "deleted")
        sub(header, "identifier", self._prefix + record.local_id)
        sub(header, "datestamp", record.datestamp)
        for spec in record.sets:
            sub(header, "setSpec", spec)
        return header

    def _record(self, record: OaiRecord, fmt: MetadataFormat, base: str) -> etree._Element:
        element = etree.Element(oai("record"))
        element.append(self._header(record))
        if not record.deleted:  # a deleted record is its header alone
            metadata = sub(element, "metadata")
            if fmt.prefix == "oai_dc":
                metadata.append(oai_dc_element(record.dc))
            else:
                metadata.append(rdf_element(record, self._schema(fmt, base)))
        return element


def set_element(s: OaiSet) -> etree._Element:
    element = etree.Element(oai("set"))
    sub(element, "setSpec", s.spec)
    sub(element, "setName", clean(s.name))
    if s.description:
        sub(element, "setDescription").append(oai_dc_element([("description", s.description, None)]))
    return element
