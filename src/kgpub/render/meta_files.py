"""The build's meta files: what the server needs and does not serve (OAI records and sets,
tombstones, build facts), written with kgpub.layout's writers, read back with its readers."""

from __future__ import annotations

from ..index import Index
from ..layout import (
    BUILD_FACTS,
    OAI_RECORDS,
    OAI_SETS,
    TOMBSTONES,
    BuildFacts,
    Tombstone,
    write_build_facts,
    write_oai_sets,
    write_tombstones,
)
from .datestamps import datestamp, default_datestamp
from .oai_records import oai_records, oai_sets
from .pieces import Piece, oai_records_file
from .void import statistics


def meta_files(index: Index, pieces: list[Piece] | None = None) -> list[tuple[str, bytes]]:
    """Build facts the server needs and does not serve: OAI records and sets, tombstones.
    pieces: every entity's (kgpub.render.pieces), when known: the records are in them."""
    tombstones = [
        Tombstone("/" + index.path(e), "/" + index.path(r) if (r := index.replacement(e)) and
                  index.is_published(r) else None)
        for e in index.entities
        if index.is_tombstone(e)
    ]
    if pieces is None:
        stamps = [datestamp(index, e) for e in index.entities if index.kind(e) == "entry"]
        records = oai_records(index)
    else:
        stamps = [p.datestamp for p in pieces if p.entry]
        records = oai_records_file(pieces)
    earliest = min(stamps or [default_datestamp(index)])
    return [
        (OAI_RECORDS, records),
        (OAI_SETS, write_oai_sets(oai_sets(index))),
        (TOMBSTONES, write_tombstones(tombstones)),
        (BUILD_FACTS, write_build_facts(BuildFacts(index.base, earliest, statistics(index)))),
    ]

