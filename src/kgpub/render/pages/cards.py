"""Entry cards (title, type, date, summary) and the site's one order of entries.

A card is the same on every page of a directory, and entries appear on many pages: cards are
cached per directory, each with what it read, which a page that reuses it reads too (the keys
are noted again, so incremental builds see the dependency: kgpub.incremental).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pyoxigraph as ox
from markupsafe import Markup

from ...index import DCT, Label
from ..templates import esc
from .dates import format_date

if TYPE_CHECKING:
    from .view import View


@dataclass
class EntryCard:
    iri: str
    href: str
    title: Label
    abstract: Label | None
    type_label: str | None
    date: str | None
    html: Markup = Markup("")  # the rendered card (cached: entries appear on many pages)


class Cards:
    def __init__(self, view: View):
        self.view = view
        self._cache: dict[tuple[str, str], tuple[EntryCard, frozenset[object] | None]] = {}

    def card(self, page: str, iri: str) -> EntryCard:
        """The entry's card, from the cache of the page's directory."""
        index = self.view.index
        key = (iri, page.rpartition("/")[0])
        hit = self._cache.get(key)
        if hit is None or (hit[1] is None and index.seen is not None):
            if index.seen is None:
                hit = (self.fresh(page, iri), None)
            else:
                with index.recording() as read:
                    card = self.fresh(page, iri)
                hit = (card, frozenset(read))
            self._cache[key] = hit
        if hit[1]:
            index.note_all(hit[1])
        return hit[0]

    def fresh(self, page: str, iri: str) -> EntryCard:
        """The card, made now (not cached: for pages that show each card once)."""
        v, ix = self.view, self.view.index
        type_iri = ix.value(iri, DCT + "type")
        date_lit = ix.value(iri, DCT + "date")
        card = EntryCard(
            iri=iri,
            href=v.href(page, iri) or "",
            title=v.label(iri),
            abstract=ix.text(iri, DCT + "abstract", v.lang),
            type_label=v.label(type_iri.value).text
            if isinstance(type_iri, ox.NamedNode)
            else None,
            date=format_date(date_lit, v.lang) if isinstance(date_lit, ox.Literal) else None,
        )
        card.html = self._html(card)
        return card

    def _html(self, c: EntryCard) -> Markup:
        lang_attr = self.view.lang_attr
        meta = " · ".join(x for x in (c.type_label, c.date) if x)
        parts = [
            "<li>\n<article>\n",
            f'<h3><a href="{esc(c.href)}"{lang_attr(c.title)}>{esc(c.title.text)}</a></h3>\n',
            f'<p class="meta">{esc(meta)}</p>\n' if meta else "",
            f"<p><span{lang_attr(c.abstract)}>{esc(c.abstract.text)}</span></p>\n"
            if c.abstract else "",
            "</article>\n</li>\n",
        ]
        return Markup("".join(parts))

    def of(self, page: str, iris: Iterable[str]) -> list[EntryCard]:
        """Entry cards in the site's one order: newest first, then title, then IRI."""
        return [self.card(page, i) for i in self.order(iris)]

    def order(self, iris: Iterable[str]) -> list[str]:
        """The live entries among iris, in the site's one order."""
        order = self.view.browse.order
        return sorted((i for i in set(iris) if i in order), key=order.__getitem__)

    def entries_linking(self, iri: str, prop: str | None = None) -> list[str]:
        """The live entries that link to iri (through prop, or any property)."""
        ix = self.view.index
        return [
            s for s in ix.incoming(iri, prop) if ix.kind(s) == "entry" and not ix.is_tombstone(s)
        ]
