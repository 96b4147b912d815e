"""Search: the search page, and the filters (Pagefind facets) an entry's page carries."""

from __future__ import annotations

import pyoxigraph as ox

from ...index import DCT, Label
from ...layout import SEARCH_DIR, SEARCH_PAGE
from ..templates import rel
from .facets import summaries
from .head import page_context
from .navigation import crumbs
from .view import Page, Value, View

# The filters of an entry, and the property each is read from.
FILTER_PROPERTIES = (("type", DCT + "type"), ("topic", DCT + "subject"), ("region", DCT + "spatial"))
AGENT_PROPERTIES = (DCT + "creator", DCT + "publisher", DCT + "contributor")


def page(v: View) -> Page:
    key = SEARCH_PAGE
    path = v.here(key)
    ctx = page_context(v, path, key, None)
    ctx.update(
        kind="search",
        title=Label(v._("Search"), v.lang),
        breadcrumbs=crumbs(v, path, Value(v._("Search"))),
        bundle_href=rel(path, SEARCH_DIR + "/"),
        result_prefix=v.prefix,
        facets=summaries(v, path, limit=0),
    )
    return Page(path, "search.html", ctx)


def filters(v: View, iri: str) -> list[tuple[str, str]]:
    """Pagefind facets of an entry: (filter, value) in the page's language."""
    ix = v.index
    out = []
    names = {"type": v._("Resource type"), "topic": v._("Topic"),
             "region": v._("Region"), "organisation": v._("Organisation"),
             "year": v._("Year")}
    for name, prop in FILTER_PROPERTIES:
        for o in ix.values(iri, prop):
            if isinstance(o, ox.NamedNode):
                out.append((names[name], v.label(o.value).text))
    for prop in AGENT_PROPERTIES:
        for o in ix.values(iri, prop):
            if isinstance(o, ox.NamedNode) and v.browse.is_org(o.value):
                out.append((names["organisation"], v.label(o.value).text))
    d = ix.value(iri, DCT + "date")
    if isinstance(d, ox.Literal):
        out.append((names["year"], d.value[:4]))
    return sorted(set(out))
