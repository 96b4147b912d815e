"""Pieces: what one entity contributes to the site-wide files (its pages' lastmod in the
sitemaps; for an entry, its OAI-PMH record and the keys the feed and the catalogue sort by).

A piece is made while the entity's unit of work is rendered, inside its recording, so an
incremental build makes it again exactly when something it read changed (kgpub.incremental),
and in the render workers of a full build. The pieces are kept in `.kgpub/site-pieces.tsv`
(one line per entity, in entity order: a pure function of the graph), from which a rebuild
takes those of the entities it did not render again, instead of computing every entity's.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from ..index import DCT, Index
from ..layout import SITE_PIECES, write_oai_records
from .oai_records import oai_record
from .sitemaps import page_lastmod

FORMAT = "kgpub site pieces 1"
_PLAIN = re.compile(r'"([^"\\\x00-\x1f]*)"')  # a JSON string with nothing escaped


@dataclass(frozen=True)
class Piece:
    iri: str
    lastmod: str  # its pages' lastmod in the sitemaps ("": withdrawn, none listed)
    datestamp: str  # entries: when it last changed (else "")
    local_id: str  # entries: the OAI-PMH identifier's local part (else "")
    date: str  # entries: its dcterms:date, the feed's second key ("" when none)
    record: str  # entries: its OAI-PMH record, one JSON line (else "")

    @property
    def entry(self) -> bool:
        return bool(self.record)


def piece(index: Index, iri: str) -> Piece:
    """The entity's piece, read through the (recording) index."""
    lastmod = "" if index.is_tombstone(iri) else page_lastmod(index, iri)
    if index.kind(iri) != "entry":
        return Piece(iri, lastmod, "", "", "", "")
    record = oai_record(index, iri)
    date = index.value(iri, DCT + "date")
    line = write_oai_records([record]).decode("utf-8")[:-1]
    return Piece(iri, lastmod, record.datestamp, record.local_id,
                 date.value if date is not None else "", line)


def oai_records_file(pieces: list[Piece]) -> bytes:
    """The OAI records, as kgpub.layout.write_oai_records writes them: sorted (datestamp, id)."""
    lines = [p.record for p in sorted((p for p in pieces if p.entry),
                                      key=lambda p: (p.datestamp, p.local_id))]
    return ("\n".join(lines) + "\n").encode("utf-8")


# ---- the record between builds ------------------------------------------------------------------

def write_pieces(pieces: list[Piece]) -> bytes:
    """One line per piece, tab-separated. IRIs, datestamps and paths hold no white space and a
    record is one JSON line (control characters escaped); a date is any literal's text, hence
    JSON-quoted."""
    rows = [FORMAT] + [f"{p.iri}\t{p.lastmod}\t{p.datestamp}\t{p.local_id}\t"
                       f"{_quoted(p.date)}\t{p.record}" for p in pieces]
    return ("\n".join(rows) + "\n").encode("utf-8")


def _quoted(date: str) -> str:
    """json.dumps(date, ensure_ascii=False), without the encoder for the plain dates most are."""
    quoted = f'"{date}"'
    return quoted if _PLAIN.fullmatch(quoted) else json.dumps(date, ensure_ascii=False)


def read_pieces(site: Path) -> dict[str, Piece] | None:
    """The pieces the last build kept in `site`, by IRI; None when missing or unreadable."""
    try:
        rows = (site / SITE_PIECES).read_bytes().decode("utf-8").split("\n")
        if rows[0] != FORMAT or rows[-1] != "":
            return None
        found = {}
        for row in rows[1:-1]:
            iri, lastmod, stamp, local_id, date, record = row.split("\t")
            plain = _PLAIN.fullmatch(date)  # a date needs no JSON decoder (10,000 calls)
            found[iri] = Piece(iri, lastmod, stamp, local_id,
                               plain.group(1) if plain else json.loads(date), record)
        return found
    except (OSError, ValueError):
        return None
