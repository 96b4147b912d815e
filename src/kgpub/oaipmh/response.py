"""Writing OAI-PMH responses: the namespaces, elements of the OAI namespace, the error
elements, the request element echoing the arguments, the document's bytes."""

from __future__ import annotations

from lxml import etree

from .arguments import Failure

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


ECHO_ORDER = ("verb", "identifier", "metadataPrefix", "from", "until", "set", "resumptionToken")


def oai(name: str) -> str:
    return f"{{{OAI_NS}}}{name}"


def sub(parent: etree._Element, name: str, text: str | None = None) -> etree._Element:
    element = etree.SubElement(parent, oai(name))
    if text is not None:
        element.text = text
    return element


def add_errors(root: etree._Element, failure: Failure) -> None:
    for code, message in failure.errors:
        sub(root, "error", message).set("code", code)


def serialize(root: etree._Element) -> bytes:
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + etree.tostring(root, encoding="UTF-8")


def echo(request: etree._Element, verb: str, params: dict[str, str]) -> None:
    attributes = {"verb": verb, **params}
    for key in ECHO_ORDER:
        if key in attributes:
            request.set(key, attributes[key])
