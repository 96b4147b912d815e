"""A topic's page: its definition, narrower and related topics, and the entries filed under it
(those of the commentary type, [site] commentary_type, in a section of their own)."""

from __future__ import annotations

from ...index import DCT, SKOS
from ..templates import rel
from .navigation import crumbs, narrower, topic_chain
from .picture import picture
from .view import Context, View


def context(v: View, path: str, iri: str) -> Context:
    ix = v.index
    size = v.browse.page_size
    listing = v.browse.listing_of(iri)
    entries = listing.entries if listing else ()
    direct = set(v.cards.entries_linking(iri, DCT + "subject"))
    mine = [e for e in entries if e in direct]
    ec = [e for e in mine if is_commentary(v, e)]
    rest = [e for e in mine if e not in set(ec)]
    return {
        "definition": ix.text(iri, SKOS + "definition", v.lang),
        "breadcrumbs": crumbs(v, path, *topic_chain(v, path, iri, link_last=False)),
        "narrower": [{"link": v.link(path, n), "count": v.browse.count(n)}
                     for n in narrower(v, iri)],
        "related": [v.link(path, t) for t in v.browse.related_of(iri)],
        "picture": picture(v, path, iri),
        "commentaries": v.cards.of(path, ec[:size]),
        "commentary_count": len(ec),
        "commentary_heading": v.project.commentary_heading,
        "resources": v.cards.of(path, rest[:size]),
        "resource_count": len(rest),
        "total": len(entries),
        "listing_href": rel(path, v.here(listing.page_path(1))) if listing else None,
        "searchable": v.indexed,
    }


def is_commentary(v: View, entry: str) -> bool:
    commentary = v.project.commentary_type
    return commentary is not None and any(
        o.value == commentary for o in v.index.values(entry, DCT + "type"))
