"""A listing's pages (the entries of a topic, type, place, organisation, person, instrument or
year), with the pager."""

from __future__ import annotations

from ...browse import Listing
from ...index import Label
from ...layout import BROWSE_INDEX
from ..templates import rel
from . import facets
from .head import page_context
from .navigation import crumbs
from .view import Context, Page, Value, View

PAGER_SPREAD = 2  # pages linked on each side of the current one (and the first and last)


def page(v: View, listing: Listing, n: int) -> Page:
    key = listing.page_path(n)
    path = v.here(key)
    ctx = page_context(v, path, key, None)
    size = v.browse.page_size
    total = len(listing.entries)
    name = listing.key.rsplit("/", 1)[-1] if listing.iri is None else None
    subject = Value(name, None) if name else v.link(path, listing.iri or "")
    title = heading(v, listing.facet, subject.text)
    trail = [v.page_link(path, BROWSE_INDEX, v._("Browse"))]
    if listing.facet in facets.FACET_TITLES:
        trail.append(v.page_link(path, facets.key(v, listing.facet),
                                 facets.title(v, listing.facet)))
    trail.append(Value(subject.text, None, subject.lang))
    first = (n - 1) * size
    on_page = v.browse.page_entries(listing, n)
    ctx.update(
        kind="listing",
        title=Label(title if n == 1 else v._("{title} (page {n})").format(title=title, n=n),
                    v.lang),
        heading=title,
        subject=subject,
        breadcrumbs=crumbs(v, path, *trail),
        # Not through the card cache: on listing pages each card appears once per directory,
        # and caching them all held every entry's card in memory (GBs at 100k entries).
        entries=[v.cards.fresh(path, e) for e in on_page],
        first=first + 1 if total else 0,
        last=min(first + size, total),
        total=total,
        pager=pager(v, path, listing, n, listing.pages(size)),
    )
    return Page(path, "listing.html", ctx)


def heading(v: View, facet: str, name: str) -> str:
    titles = {
        "topic": v._("Resources on {name}"),
        "type": v._("{name}: all resources of this type"),
        "place": v._("Resources about {name}"),
        "organisation": v._("Resources by {name}"),
        "year": v._("Resources from {name}"),
        "person": v._("Resources by {name}"),
        "instrument": v._("Resources concerning {name}"),
    }
    return titles.get(facet, v._("Resources linked to {name}")).format(name=name)


def pager(v: View, path: str, listing: Listing, n: int, pages: int) -> Context | None:
    """Links to the first, last and nearby pages, with gaps (None) between."""
    if pages <= 1:
        return None

    def href(k: int) -> str:
        return rel(path, v.here(listing.page_path(k)))

    shown = sorted({1, pages, *range(max(1, n - PAGER_SPREAD), min(pages, n + PAGER_SPREAD) + 1)})
    items: list[Context | None] = []
    last = 0
    for k in shown:
        if k - last > 1:
            items.append(None)  # a gap
        items.append({"n": k, "href": href(k), "current": k == n})
        last = k
    return {"n": n, "pages": pages, "items": items,
            "prev": href(n - 1) if n > 1 else None,
            "next": href(n + 1) if n < pages else None}
