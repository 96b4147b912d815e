"""The metadata formats: oai_dc (simple Dublin Core) and rdf (the record's RDF/XML document,
its schema served by the site at a path the web layer gives: RepositoryInfo.rdf_schema_path)."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

from lxml import etree

from .records import OaiRecord
from .response import DC_NS, OAI_DC_NS, OAI_DC_SCHEMA, RDF_NS, XML_NS, XSI_NS
from .values import NOT_XML_UTF8, clean


@dataclass(frozen=True)
class MetadataFormat:
    prefix: str
    schema: str
    namespace: str
    bit: int  # flag in the per-record availability mask


def rdf_wrapper_schema_url(base_url: str, path: str) -> str:
    """The `rdf` format's schema: the site serves static/rdf-wrapper.xsd at its origin."""
    parts = urlsplit(base_url)
    return f"{parts.scheme}://{parts.netloc}{path}"


def metadata_formats(base_url: str, rdf_schema_path: str) -> tuple[MetadataFormat, ...]:
    return (
        MetadataFormat("oai_dc", OAI_DC_SCHEMA, OAI_DC_NS, 1),
        MetadataFormat("rdf", rdf_wrapper_schema_url(base_url, rdf_schema_path), RDF_NS, 2),
    )


def oai_dc_element(dc: Iterable[tuple[str, str, str | None]]) -> etree._Element:
    """An oai_dc:dc container of simple Dublin Core elements, in the given order."""
    root = etree.Element(f"{{{OAI_DC_NS}}}dc",
                         nsmap={"oai_dc": OAI_DC_NS, "dc": DC_NS, "xsi": XSI_NS})
    root.set(f"{{{XSI_NS}}}schemaLocation", f"{OAI_DC_NS} {OAI_DC_SCHEMA}")
    for name, value, lang in dc:
        element = etree.SubElement(root, f"{{{DC_NS}}}{name}")
        element.text = clean(value)
        if lang:
            element.set(f"{{{XML_NS}}}lang", lang)
    return root


class _RdfParser(threading.local):
    """lxml parsers must not be shared between threads; one per thread, made once."""

    def __init__(self) -> None:
        self.parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False,
                                      load_dtd=False, remove_blank_text=False)


_RDF_PARSER = _RdfParser()


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
    if NOT_XML_UTF8.search(data) is None:
        return None
    return NOT_XML_UTF8.sub("\ufffd".encode(), data)
