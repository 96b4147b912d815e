"""An entity's page: the builder of its kind (topic, entry, ontology, a withdrawn entry) or the
generic one (agents, places, types, schemes, pictures...: description, metadata, entries)."""

from __future__ import annotations

from ...formats import HTML
from ...index import DCT, RDF_TYPE, SKOS
from ..templates import rel
from . import entry, ontology, topic
from .head import page_context
from .navigation import crumbs, top_topics, tree
from .picture import picture_of
from .view import Context, Page, View

NO_TYPE = frozenset({RDF_TYPE})  # the header shows the kind: not repeated in the table


def page(v: View, iri: str) -> Page:
    """The page of an entity in the view's language."""
    ix = v.index
    key = ix.path(iri) + HTML.suffix
    path = v.here(key)
    kind = ix.kind(iri)
    ctx = page_context(v, path, key, iri)
    ctx.update(kind=kind, iri=iri)
    if kind == "topic":
        ctx.update(topic.context(v, path, iri))
        template = "topic.html"
    elif kind == "entry" and ix.is_tombstone(iri):
        ctx.update(tombstone(v, path, iri))
        template = "tombstone.html"
    elif kind == "entry":
        ctx.update(entry.context(v, path, iri))
        template = "entry.html"
    elif kind == "ontology":
        ctx.update(ontology.context(v, path))
        template = "ontology.html"
    else:
        ctx.update(context(v, path, iri, kind))
        template = "entity.html"
    return Page(path, template, ctx)


def tombstone(v: View, path: str, iri: str) -> Context:
    """A withdrawn entry: what replaces it, and what it was."""
    replacement = v.index.replacement(iri)
    return {
        "replaced_by": v.link(path, replacement) if replacement else None,
        "properties": v.properties(path, iri, skip=NO_TYPE),
    }


def context(v: View, path: str, iri: str, kind: str) -> Context:
    ix = v.index
    size = v.browse.page_size
    listing = v.browse.listing_of(iri)
    related = list(listing.entries) if listing \
        else v.cards.order(v.cards.entries_linking(iri))
    return {
        "description": ix.text(iri, SKOS + "definition", v.lang)
        or ix.text(iri, DCT + "description", v.lang),
        "properties": v.properties(path, iri, skip=NO_TYPE),
        "entries": v.cards.of(path, related[:size]),
        "entry_count": len(related),
        "listing_href": rel(path, v.here(listing.page_path(1)))
        if listing and len(related) > size else None,
        # The topic scheme's page is the topic index: the whole tree.
        "tree": tree(v, path, top_topics(v)) if iri == v.project.topic_scheme else [],
        "members": members(v, path, iri) if kind == "scheme" else [],
        "picture": picture_of(v, path, iri) if kind == "image" else None,
        "breadcrumbs": crumbs(v, path, v.name(iri)),
    }


def members(v: View, page: str, scheme: str) -> list[Context]:
    """A concept scheme's concepts, each with its number of entries."""
    found = v.index.incoming(scheme, SKOS + "inScheme")
    return [
        {"link": v.link(page, m),
         "count": v.browse.count(m) or len(v.cards.entries_linking(m))}
        for m in v.by_label(found)
    ]
