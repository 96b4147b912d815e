"""Units of work: what a build renders as one piece, and what rendering one gave back.

A unit is an entity's files (its pages in every language, its RDF documents, its citations)
or one listing page in every language. Its name is the key an incremental build keeps what it
read under (kgpub.incremental); besides the units, every build writes the site-wide files and
the search index (incremental.SITE, incremental.SEARCH).
"""

from __future__ import annotations

from dataclasses import dataclass

from .. import incremental
from ..browse import Browse, Listing
from ..index import Index
from ..render.pieces import Piece


@dataclass(frozen=True)
class EntityWork:
    """An entity's files."""

    iri: str

    @property
    def name(self) -> str:
        return incremental.entity_unit(self.iri)


@dataclass(frozen=True)
class ListingWork:
    """Page n of a listing, in every language."""

    listing: Listing
    n: int

    @property
    def name(self) -> str:
        return incremental.listing_unit(self.listing.key, self.n)


Work = EntityWork | ListingWork


@dataclass(frozen=True)
class Done:
    """What rendering a unit (or the site-wide files, or the search index) gave."""

    name: str  # the unit's name (kgpub.incremental)
    files: list[str]  # the site-relative paths it has
    searchable: list[str]  # those of them the search index holds
    read: list[str]  # the keys of what it read, sorted
    changed: list[str]  # the files written because their bytes are new
    piece: Piece | None = None  # an entity's part of the site-wide files (kgpub.render.pieces)


def works(index: Index, nav: Browse) -> list[Work]:
    """Every unit of the site: the entities, then the listing pages."""
    return ([EntityWork(iri) for iri in index.entities]
            + [ListingWork(listing, n) for listing, n in nav.pages()])
