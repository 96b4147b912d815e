"""kgpub.formats: each document format declared once (name and suffix, media type, serializer),
what we write parses back to the same graph, byte for byte the same whatever the input order."""

from __future__ import annotations

import random

import pyoxigraph as ox
import pytest
import rdflib
from rdflib.compare import isomorphic

from kgpub import formats
from kgpub.formats import (
    BY_NAME,
    DOCUMENT_FORMATS,
    DUMP_FORMATS,
    HTML,
    RDF_FORMATS,
    RDFXML,
    TURTLE,
    serialize,
    serialize_all,
    used_prefixes,
)

EX = "https://example.org/kg/"
DCT = "http://purl.org/dc/terms/"
XSD = "http://www.w3.org/2001/XMLSchema#"


def _triples() -> list[ox.Triple]:
    s, o, b = ox.NamedNode(EX + "topic/a"), ox.NamedNode(EX + "topic/b"), ox.BlankNode("n0")
    title = ox.NamedNode(DCT + "title")
    return [
        ox.Triple(s, title, ox.Literal("Gouvernance & « coordination »", language="fr")),
        ox.Triple(s, title, ox.Literal('Quotes " and \\ and\nnew lines')),
        ox.Triple(s, ox.NamedNode(DCT + "date"), ox.Literal("2021", datatype=ox.NamedNode(XSD + "gYear"))),
        ox.Triple(s, ox.NamedNode(DCT + "relation"), o),
        ox.Triple(s, ox.NamedNode(DCT + "subject"), b),
        ox.Triple(b, title, ox.Literal("nested 日本語 𝄞")),
    ]


def test_each_format_is_declared_once():
    every = [f for f in vars(formats).values() if isinstance(f, formats.Format)]
    assert set(every) == set(DOCUMENT_FORMATS)  # no format outside the one list
    for attribute in ("name", "suffix", "media_type", "label"):
        values = [getattr(f, attribute) for f in DOCUMENT_FORMATS]
        assert len(set(values)) == len(values), attribute
    serializers = [f.rdf for f in RDF_FORMATS]
    assert len(set(serializers)) == len(serializers) and HTML.rdf is None
    assert BY_NAME == {f.name: f for f in DOCUMENT_FORMATS}
    assert all(f.suffix == "." + f.name for f in DOCUMENT_FORMATS)
    assert set(DUMP_FORMATS) <= set(RDF_FORMATS)
    # the serializer writes what the media type says
    assert all(f.rdf.media_type == f.media_type for f in RDF_FORMATS)
    assert TURTLE.content_type == "text/turtle; charset=utf-8"
    assert RDFXML.content_type == "application/rdf+xml"


@pytest.mark.parametrize("fmt", RDF_FORMATS, ids=lambda f: f.name)
def test_what_we_write_parses_back_to_the_same_graph(fmt):
    triples = _triples()
    body = serialize(triples, fmt, {"dcterms": DCT, "ex": EX, "unused": "urn:x:"})
    back = rdflib.Graph().parse(data=body, format=fmt.media_type)
    expected = rdflib.Graph().parse(data=ox.serialize(triples, format=ox.RdfFormat.N_TRIPLES),
                                    format="nt")
    assert len(back) == len(triples) and isomorphic(back, expected)
    if fmt in (TURTLE, RDFXML):  # prefixed: only the namespaces used
        assert b"urn:x:" not in body and DCT.encode() in body


@pytest.mark.parametrize("fmt", RDF_FORMATS, ids=lambda f: f.name)
def test_output_does_not_depend_on_input_order(fmt):
    triples = _triples()
    shuffled = triples[:]
    random.Random(7).shuffle(shuffled)
    assert shuffled != triples
    prefixes = {"dcterms": DCT}
    assert serialize(shuffled, fmt, prefixes) == serialize(triples, fmt, prefixes)
    assert serialize_all(shuffled, RDF_FORMATS, prefixes) == [
        serialize(triples, f, prefixes) for f in RDF_FORMATS]


def test_used_prefixes_are_those_the_triples_use():
    prefixes = {"dcterms": DCT, "xsd": XSD, "ex": EX + "topic/", "owl": "http://www.w3.org/2002/07/owl#"}
    assert used_prefixes(_triples(), prefixes) == {"dcterms": DCT, "ex": EX + "topic/", "xsd": XSD}


def test_rdf_xml_stays_well_formed_and_the_others_keep_the_value():
    bad = [ox.Triple(ox.NamedNode(EX + "a"), ox.NamedNode(DCT + "title"), ox.Literal("NUL\x00 US\x1f"))]
    xml, nt = serialize_all(bad, (RDFXML, formats.NTRIPLES))
    read = rdflib.Graph().parse(data=xml, format="xml")
    assert list(read.objects(None, rdflib.URIRef(DCT + "title"))) == [
        rdflib.Literal("NUL\ufffd US\ufffd")]
    assert next(ox.parse(nt, format=ox.RdfFormat.N_TRIPLES)).object.value == "NUL\x00 US\x1f"
