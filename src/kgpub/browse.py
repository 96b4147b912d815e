"""Browse: the site's navigation structure, computed once from the index.

Listings of live entries by topic (narrower topics included), resource type, place (places that
are part of it included), organisation and year; each sorted newest first, then by title in the
default language, then by IRI, so every language and every build lists them in one order.
"""

from __future__ import annotations

import hashlib
import math
from collections import defaultdict
from dataclasses import dataclass
from functools import cached_property, lru_cache

import pyoxigraph as ox

from .config import Project
from .index import DCT, FOAF, SKOS, Index
from .layout import listing_page

DEFAULT_PAGE_SIZE = Project.page_size  # [site] page_size (kgpub.config)
HEAD = 6  # entries of a listing shown beside an entry ("More in this topic"), itself included
# Facets of the browse pages; people and instruments have listings too (linked from their pages).
FACETS = ("topic", "type", "place", "organisation", "year", "person", "instrument")


@dataclass(frozen=True)
class Listing:
    facet: str
    key: str  # the value's path under browse/ without suffix: "topic/x", "year/2016"
    iri: str | None  # the entity listed by (None for a year)
    entries: tuple[str, ...]

    def pages(self, size: int) -> int:
        return max(1, math.ceil(len(self.entries) / size))

    def page(self, n: int, size: int) -> tuple[str, ...]:
        """The entries on page n."""
        return self.entries[(n - 1) * size : n * size]

    def page_path(self, n: int) -> str:
        """browse/type/report.html, then browse/type/report/2.html..."""
        return listing_page(self.key, n)


class Browse:
    def __init__(self, index: Index, page_size: int = DEFAULT_PAGE_SIZE):
        self.index = index
        self.page_size = page_size
        self._orgs: dict[str, bool] = {}
        default = index.project.default_language
        live = index.live_entries
        self._date = {e: _date(index, e) for e in live}
        title = {e: index.label(e, default).text.casefold() for e in live}
        # Newest first (undated last), then title, then IRI: one total order.
        self.order = {
            e: i
            for i, e in enumerate(
                sorted(live, key=lambda e: (self._date[e] is None,
                                            _negated(self._date[e] or ""), title[e], e))
            )
        }
        self.newest = sorted(live, key=self.order.__getitem__)

    def prepare(self) -> None:
        """Compute everything now (before rendering workers fork and share it)."""
        _ = self.listings, self.by_iri, self.related, self.all_pages

    # ---- listings -------------------------------------------------------------------------------

    @cached_property
    def listings(self) -> dict[str, list[Listing]]:
        ix = self.index
        by: dict[str, dict[str, set[str]]] = {f: defaultdict(set) for f in FACETS}
        # Thousands of entries share a few hundred topics and places: each one's ancestors
        # are found once (computed before any page records what it reads).
        above: dict[tuple[str, str], list[str]] = {}

        def ancestors(iri: str, prop: str) -> list[str]:
            found = above.get((iri, prop))
            if found is None:
                found = above[iri, prop] = self.ancestors(iri, prop)
            return found

        for e in self.newest:
            for t in self._iris(e, DCT + "subject"):
                for topic in ancestors(t, SKOS + "broader"):
                    by["topic"][topic].add(e)
            for t in self._iris(e, DCT + "type"):
                by["type"][t].add(e)
            for p in self._iris(e, DCT + "spatial"):
                for place in ancestors(p, DCT + "isPartOf"):
                    by["place"][place].add(e)
            for prop in (DCT + "creator", DCT + "publisher", DCT + "contributor"):
                for a in self._iris(e, prop):
                    by["organisation" if self.is_org(a) else "person"][a].add(e)
            for i in self._iris(e, ix.vocab + "concerns"):
                by["instrument"][i].add(e)
            if self._date[e]:
                by["year"][self._date[e][:4]].add(e)
        out: dict[str, list[Listing]] = {}
        for facet, groups in by.items():
            listings = []
            for value, entries in groups.items():
                ordered = tuple(sorted(entries, key=self.order.__getitem__))
                if facet == "year":
                    listings.append(Listing(facet, f"year/{value}", None, ordered))
                elif ix.is_published(value):
                    listings.append(Listing(facet, ix.path(value), value, ordered))
            out[facet] = sorted(listings, key=lambda x: x.key)
        return out

    @cached_property
    def by_iri(self) -> dict[str, Listing]:
        return {x.iri: x for group in self.listings.values() for x in group if x.iri}

    # What a page reads of the navigation is noted under a key (see Index.note) whose
    # fingerprint (below) tells an incremental build whether that part changed.

    def listing_of(self, iri: str) -> Listing | None:
        """iri's listing, all of it (see head() for its first entries only)."""
        self.index.note(nav_key("L", iri))
        return self.by_iri.get(iri)

    def head(self, iri: str) -> tuple[Listing | None, tuple[str, ...]]:
        """iri's listing and its first HEAD entries."""
        self.index.note(nav_key("H", iri))
        x = self.by_iri.get(iri)
        return x, x.entries[:HEAD] if x else ()

    def count(self, iri: str) -> int:
        self.index.note(nav_key("C", iri))
        x = self.by_iri.get(iri)
        return len(x.entries) if x else 0

    def related_of(self, topic: str) -> list[str]:
        self.index.note(nav_key("R", topic))
        return self.related.get(topic, [])

    def page_entries(self, listing: Listing, n: int) -> tuple[str, ...]:
        """The entries on page n of a listing."""
        self.index.note(nav_key("P", listing.key, str(n)))
        return listing.page(n, self.page_size)

    def fingerprints(self) -> dict[str, str]:
        """A digest of each navigation key's value: what listing_of, head, count, related_of
        and page_entries return (a page's digest covers the listing's size: its pager and
        "n of N" show it)."""
        out: dict[str, str] = {}
        for x in (x for group in self.listings.values() for x in group):
            if x.iri:
                out[nav_key("L", x.iri)] = _digest(x.entries)
                out[nav_key("H", x.iri)] = _digest(x.entries[:HEAD])
                out[nav_key("C", x.iri)] = str(len(x.entries))
            pages = x.pages(self.page_size)
            for n in range(1, pages + 1):
                page = x.page(n, self.page_size)
                out[nav_key("P", x.key, str(n))] = _digest((str(len(x.entries)), *page))
        for topic, related in self.related.items():
            out[nav_key("R", topic)] = _digest(related)
        return out

    def pages(self) -> list[tuple[Listing, int]]:
        """Every listing page to write: (listing, page number)."""
        return self.all_pages

    @cached_property
    def all_pages(self) -> list[tuple[Listing, int]]:
        return [(x, n) for group in self.listings.values() for x in group
                for n in range(1, x.pages(self.page_size) + 1)]

    # ---- topics ---------------------------------------------------------------------------------

    def ancestors(self, iri: str, prop: str) -> list[str]:
        """iri and everything above it along prop (cycles are cut)."""
        seen, stack = [], [iri]
        while stack:
            node = stack.pop()
            if node in seen:
                continue
            seen.append(node)
            stack.extend(o.value for o in self.index.values(node, prop)
                         if isinstance(o, ox.NamedNode))
        return seen

    @cached_property
    def related(self) -> dict[str, list[str]]:
        """Each topic's related topics: skos:related first, then the topics most often filed
        with it on the same entries (at most 5 in all)."""
        ix = self.index
        together: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        for e in self.newest:
            topics = sorted(set(self._iris(e, DCT + "subject")))
            for a in topics:
                for b in topics:
                    if a != b:
                        together[a][b] += 1
        out = {}
        for t in ix.of_kind("topic"):
            chosen = sorted(r for r in set(self._iris(t, SKOS + "related")) if ix.is_published(r))
            near = set(self.ancestors(t, SKOS + "broader"))
            for other, _n in sorted(together[t].items(), key=lambda kv: (-kv[1], kv[0])):
                if len(chosen) >= 5:
                    break
                if other not in chosen and other not in near and ix.is_published(other):
                    chosen.append(other)
            out[t] = chosen[:5]
        return out

    def is_org(self, agent: str) -> bool:
        self.index.note(agent)
        if agent not in self._orgs:
            self._orgs[agent] = self.index.has_type(agent, FOAF + "Organization")
        return self._orgs[agent]

    def _iris(self, iri: str, prop: str) -> list[str]:
        return [o.value for o in self.index.values(iri, prop) if isinstance(o, ox.NamedNode)]


def nav_key(kind: str, *parts: str) -> str:
    """A navigation key: its kind and parts joined by tabs, which no IRI contains, so it
    never equals an IRI noted beside it."""
    return "\t".join((kind, *parts))


def _digest(values) -> str:
    return hashlib.blake2b("\n".join(values).encode(), digest_size=12).hexdigest()


def _date(index: Index, entry: str) -> str | None:
    v = index.value(entry, DCT + "date")
    return v.value if isinstance(v, ox.Literal) else None


@lru_cache(maxsize=4096)  # entries share dates
def _negated(value: str) -> str:
    """A sort key that orders ISO dates (and years) newest first."""
    return "".join(chr(0x10FFFF - ord(c)) for c in value.ljust(10, "0"))
