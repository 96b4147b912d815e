"""Each document format, declared once: read by the static writer and by content negotiation."""

from __future__ import annotations

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
    """The same triples in several formats: sorted and scanned for prefixes once."""
    ordered = sorted(triples, key=_triple_key)
    used = used_prefixes(ordered, prefixes) if prefixes else None
    out = []
    for fmt in formats:
        if fmt.rdf in (ox.RdfFormat.TURTLE, ox.RdfFormat.RDF_XML) and used:
            out.append(ox.serialize(ordered, format=fmt.rdf, prefixes=used))
        else:
            out.append(ox.serialize(ordered, format=fmt.rdf))
    return out


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
