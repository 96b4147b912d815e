"""Browsing by facet: the browse index, each facet's page of values, and the topics A-Z."""

from __future__ import annotations

import unicodedata

from ...index import Label
from ...layout import AZ, BROWSE_INDEX, facet_page
from ..templates import rel
from .head import page_context
from .navigation import crumbs, topic_index_key, topics_link
from .view import N_, Context, Page, Value, View

# Each facet's title and the name of its page of values (browse/<name>.html); the topics' page
# is the topic scheme's.
FACET_TITLES = {
    "topic": (N_("Topics"), "topics"),
    "type": (N_("Resource types"), "types"),
    "place": (N_("Places and regions"), "places"),
    "organisation": (N_("Organisations"), "organisations"),
    "year": (N_("Years"), "years"),
}
# The facets that have a page of values (and a summary on the browse index and home page).
FACETS = ("type", "place", "organisation", "year")


def title(v: View, facet: str) -> str:
    return v._(FACET_TITLES[facet][0])


def key(v: View, facet: str) -> str:
    """The page of a facet's values (without the language prefix)."""
    if facet == "topic":
        return topic_index_key(v)
    return facet_page(FACET_TITLES[facet][1])


def values(v: View, page: str, facet: str) -> list[Context]:
    """The facet's values, each linked to its listing, with its number of entries."""
    rows = [
        {
            "link": Value(x.key.rsplit("/", 1)[-1], rel(page, v.here(x.page_path(1))))
            if x.iri is None
            else Value(v.label(x.iri).text, rel(page, v.here(x.page_path(1))),
                       v.other(v.label(x.iri).lang)),
            "count": len(x.entries),
        }
        for x in v.browse.listings.get(facet, [])
    ]
    if facet == "year":
        return sorted(rows, key=lambda r: r["link"].text, reverse=True)
    return sorted(rows, key=lambda r: (r["link"].text.casefold(), r["link"].href))


def summaries(v: View, page: str, limit: int) -> list[Context]:
    """Each facet with its values (the `limit` largest, or newest years; 0: all)."""
    out = []
    for facet in FACETS:
        found = values(v, page, facet)
        if not found:
            continue
        if limit:
            found = sorted(found, key=lambda r: -r["count"])[:limit] if facet != "year" \
                else found[:limit]
        out.append({"facet": facet, "title": title(v, facet),
                    "href": rel(page, v.here(key(v, facet))), "values": found})
    return out


def browse_index(v: View) -> Page:
    path = v.here(BROWSE_INDEX)
    ctx = page_context(v, path, BROWSE_INDEX, None)
    ctx.update(kind="browse", title=Label(v._("Browse"), v.lang),
               breadcrumbs=crumbs(v, path, Value(v._("Browse"))),
               facets=summaries(v, path, limit=8),
               az_count=len(v.index.of_kind("topic")))
    return Page(path, "browse.html", ctx)


def facet(v: View, facet: str) -> Page:
    page_key = key(v, facet)
    path = v.here(page_key)
    ctx = page_context(v, path, page_key, None)
    name = title(v, facet)
    ctx.update(kind="facet", title=Label(name, v.lang),
               breadcrumbs=crumbs(v, path, v.page_link(path, BROWSE_INDEX, v._("Browse")),
                                  Value(name)),
               values=values(v, path, facet))
    return Page(path, "facet.html", ctx)


def az(v: View) -> Page:
    path = v.here(AZ)
    ctx = page_context(v, path, AZ, None)
    groups: dict[str, list[Context]] = {}
    for t in v.by_label(v.index.of_kind("topic")):
        link = v.link(path, t)
        groups.setdefault(initial(link.text), []).append({"link": link,
                                                           "count": v.browse.count(t)})
    ctx.update(kind="az", title=Label(v._("Topics A–Z"), v.lang),
               breadcrumbs=crumbs(v, path, topics_link(v, path), Value(v._("A–Z"))),
               groups=sorted(groups.items()))
    return Page(path, "az.html", ctx)


def initial(text: str) -> str:
    """The A–Z letter of a label: its first letter without accents, upper case."""
    for ch in unicodedata.normalize("NFKD", text):
        if ch.isalnum():
            return ch.upper() if ch.isalpha() else "0–9"
    return "#"
