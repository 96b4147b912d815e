"""Render RDF documents: one per entity and format, and gzipped whole-graph dumps."""

from __future__ import annotations

import gzip
import io
from collections.abc import Iterator

import pyoxigraph as ox

from ..formats import DUMP_FORMATS, RDF_FORMATS, serialize_all, used_prefixes
from ..index import VOID, Index
from ..layout import VOID as VOID_DOC
from ..layout import dump_path


def entity_documents(index: Index, iri: str) -> list[tuple[str, bytes]]:
    """(file path, bytes) of the entity's description in every RDF format."""
    triples = index.description(iri)
    # Every document points back to the dataset it belongs to (VoID).
    dataset = ox.NamedNode(index.base + VOID_DOC + "#dataset")
    triples.append(ox.Triple(ox.NamedNode(iri), ox.NamedNode(VOID + "inDataset"), dataset))
    doc = index.path(iri)
    bodies = serialize_all(triples, RDF_FORMATS, index.prefixes)
    return [(doc + f.suffix, body) for f, body in zip(RDF_FORMATS, bodies, strict=True)]


def dumps(index: Index) -> Iterator[tuple[str, bytes]]:
    """The whole graph (vocabulary + data), gzipped with a fixed mtime so builds are identical.
    Streamed into the compressor in parse order (deterministic: files are read sorted), so no
    uncompressed copy or sort of the whole graph is held in memory."""
    for fmt in DUMP_FORMATS:
        buf = io.BytesIO()
        # Level 6 (zlib's default) compresses twice as fast as gzip's 9, a few % larger.
        with gzip.GzipFile(filename="", mode="wb", fileobj=buf, mtime=0, compresslevel=6) as gz:
            if fmt.rdf == ox.RdfFormat.TURTLE:
                ox.serialize(index.triples, gz, format=fmt.rdf,
                             prefixes=used_prefixes(index.triples, index.prefixes))
            else:
                ox.serialize(index.triples, gz, format=fmt.rdf)
        yield dump_path(fmt), buf.getvalue()
