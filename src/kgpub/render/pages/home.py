"""The home page: the topic tree (two levels), the newest entries, the facets, the dumps."""

from __future__ import annotations

from ...formats import DUMP_FORMATS, RDF_FORMATS
from ...layout import HOME, dump_path, void_path
from ..templates import rel
from .facets import summaries
from .head import page_context
from .navigation import top_topics, tree
from .view import Page, Value, View

NEWEST = 10  # entries shown


def page(v: View) -> Page:
    key = HOME
    path = v.here(key)
    ix = v.index
    ctx = page_context(v, path, key, None)
    size = v.browse.page_size
    ctx.update(
        kind="home",
        tree=[{**n, "children": [{**c, "children": []} for c in n["children"]]}
              for n in tree(v, path, top_topics(v))],
        newest=v.cards.of(path, v.browse.newest[:NEWEST]),
        entry_count=len(ix.live_entries),
        topic_count=len(ix.of_kind("topic")),
        facets=summaries(v, path, limit=size // 2),
        dumps=dumps(path),
        # The home page stands for the dataset: its data is the VoID/DCAT description.
        alternates=[
            {"href": rel(path, void_path(f)), "type": f.media_type, "label": f.label}
            for f in RDF_FORMATS
        ],
    )
    return Page(path, "home.html", ctx)


def dumps(page: str) -> list[Value]:
    """Links to the whole graph, one per dump format."""
    return [Value(f"{f.label} (gzip)", rel(page, dump_path(f))) for f in DUMP_FORMATS]
