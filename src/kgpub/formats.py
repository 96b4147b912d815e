"""Each document format, declared once: read by the static writer and by content negotiation."""

from __future__ import annotations

import re
from dataclasses import dataclass

import pyoxigraph as ox


@dataclass(frozen=True)
class Format:
    name: str  # the ?format= value and the file suffix without the dot
    media_type: str
    label: str
    rdf: ox.RdfFormat | None = None  # None: rendered by the HTML templates

    @property
    def suffix(self) -> str:
        return "." + self.name

    @property
    def content_type(self) -> str:
        """The Content-Type header: text types say their charset."""
        if self.media_type.startswith("text/") or self.media_type == "application/ld+json":
            return f"{self.media_type}; charset=utf-8"
        return self.media_type


HTML = Format("html", "text/html", "HTML")
TURTLE = Format("ttl", "text/turtle", "Turtle", ox.RdfFormat.TURTLE)
JSONLD = Format("jsonld", "application/ld+json", "JSON-LD", ox.RdfFormat.JSON_LD)
NTRIPLES = Format("nt", "application/n-triples", "N-Triples", ox.RdfFormat.N_TRIPLES)
RDFXML = Format("rdf", "application/rdf+xml", "RDF/XML", ox.RdfFormat.RDF_XML)

# Order matters: it is the order of alternates in pages and of preference on equal q-values.
DOCUMENT_FORMATS: tuple[Format, ...] = (HTML, TURTLE, JSONLD, NTRIPLES, RDFXML)
RDF_FORMATS: tuple[Format, ...] = tuple(f for f in DOCUMENT_FORMATS if f.rdf is not None)
# Whole-graph dumps: gzipped, one per format that streams well.
DUMP_FORMATS: tuple[Format, ...] = (TURTLE, NTRIPLES, JSONLD)

BY_NAME = {f.name: f for f in DOCUMENT_FORMATS}


def serialize(triples, fmt: Format, prefixes: dict[str, str] | None = None) -> bytes:
    """Serialize triples deterministically: sorted input gives byte-identical output."""
    return serialize_all(triples, (fmt,), prefixes)[0]


def serialize_all(triples, formats, prefixes: dict[str, str] | None = None) -> list[bytes]:
    """The same triples in several formats: sorted and scanned for prefixes once. RDF/XML is
    made well-formed whatever the data (see xml_safe_bytes); the other formats escape what
    they cannot carry raw, so they keep every value exactly."""
    ordered = sorted(triples, key=_triple_key)
    used = used_prefixes(ordered, prefixes) if prefixes else None
    out = []
    for fmt in formats:
        if fmt.rdf in (ox.RdfFormat.TURTLE, ox.RdfFormat.RDF_XML) and used:
            body = ox.serialize(ordered, format=fmt.rdf, prefixes=used)
        else:
            body = ox.serialize(ordered, format=fmt.rdf)
        out.append(xml_safe_bytes(body) if fmt.rdf == ox.RdfFormat.RDF_XML else body)
    return out


# ---- characters XML 1.0 cannot carry ----------------------------------------------------------
#
# XML 1.0 allows TAB, LF, CR, U+0020-U+D7FF, U+E000-U+FFFD and U+10000-U+10FFFF: not the other
# C0 controls (NUL included), lone surrogates, U+FFFE or U+FFFF - not even as &#0; references.
# Validation refuses such text (kgpub.validate); should any still reach an XML writer (data
# validated by an older kgpub, a future code path), the writer replaces each such character with
# U+FFFD REPLACEMENT CHARACTER: the document stays well-formed and a reader sees that something
# was there, where dropping it silently could join two words or change a name.

XML_FORBIDDEN = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
# The same in UTF-8 bytes: C0 bytes never occur inside a multi-byte sequence; U+FFFE/U+FFFF are
# EF BF BE/BF; surrogates cannot be in UTF-8 that a serializer wrote.
_XML_FORBIDDEN_UTF8 = re.compile(b"[\x00-\x08\x0b\x0c\x0e-\x1f]|\xef\xbf[\xbe\xbf]")
REPLACEMENT = "\ufffd"


def xml_safe(text: str) -> str:
    """Text with every character XML 1.0 forbids replaced by U+FFFD."""
    return XML_FORBIDDEN.sub(REPLACEMENT, text)


def xml_safe_bytes(data: bytes) -> bytes:
    """A UTF-8 XML document with every character XML 1.0 forbids replaced by U+FFFD (one
    search when there is none: the usual case costs a scan)."""
    if _XML_FORBIDDEN_UTF8.search(data) is None:
        return data
    return _XML_FORBIDDEN_UTF8.sub(REPLACEMENT.encode(), data)


def _triple_key(t: ox.Triple) -> tuple[str, str, str]:
    return (str(t.subject), str(t.predicate), str(t.object))


def used_prefixes(triples, prefixes: dict[str, str]) -> dict[str, str]:
    """Only the prefixes the triples use, so documents declare no noise."""
    iris = set()
    for t in triples:
        for term in (t.subject, t.predicate, t.object):
            if isinstance(term, ox.NamedNode):
                iris.add(term.value)
            elif isinstance(term, ox.Literal) and term.datatype is not None:
                iris.add(term.datatype.value)
    namespaces = {
        iri.rsplit("#", 1)[0] + "#" if "#" in iri else iri.rsplit("/", 1)[0] + "/" for iri in iris
    }
    return {p: ns for p, ns in sorted(prefixes.items()) if ns in namespaces}
