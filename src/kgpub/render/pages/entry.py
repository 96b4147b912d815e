"""A resource entry's page: summary, topics, metadata, "More in this topic", "Cite this" and
"Query this"."""

from __future__ import annotations

from urllib.parse import quote

import pyoxigraph as ox

from ...index import DCT, RDF_TYPE
from ...layout import BIBTEX, RIS, SPARQL
from .. import cite
from ..templates import rel
from .navigation import crumbs, topic_chain
from .opengraph import clip
from .search import filters
from .view import Context, Value, View

MORE = 5  # entries of "More in this topic"
TRAIL_CHARS = 60  # of the entry's title in the breadcrumbs


def context(v: View, path: str, iri: str) -> Context:
    ix = v.index
    topics = v.by_label(o.value for o in ix.values(iri, DCT + "subject")
                        if isinstance(o, ox.NamedNode))
    first = topics[0] if topics else None
    trail = topic_chain(v, path, first, link_last=True) if first else []
    more, more_listing = [], None
    if first:
        more_listing, head = v.browse.head(first)
        more = v.cards.of(path, [e for e in head if e != iri][:MORE])
    work = cite.work_from_index(ix, iri, v.lang)
    doc = ix.path(iri)
    title = v.label(iri)
    return {
        "abstract": ix.text(iri, DCT + "abstract", v.lang),
        "breadcrumbs": crumbs(v, path, *trail,
                              Value(clip(title.text, TRAIL_CHARS), None, v.other(title.lang))),
        "topics": [v.link(path, t) for t in topics],
        "properties": v.properties(path, iri, skip=frozenset({RDF_TYPE})),
        "more": more,
        "more_topic": v.link(path, first) if first else None,
        "more_href": rel(path, v.here(more_listing.page_path(1))) if more_listing else None,
        "reference": cite.reference(work, v.lang),
        "bibtex_href": rel(path, doc + BIBTEX),
        "ris_href": rel(path, doc + RIS),
        "query_href": rel(path, SPARQL) + "?query=" + quote(describe_query(iri), safe=""),
        "search_filters": filters(v, iri) if v.indexed else [],
        "searchable": v.indexed,
    }


def describe_query(iri: str) -> str:
    """The "Query this" query: the entity's statements, with labels for what they link to."""
    return (
        "PREFIX skos: <http://www.w3.org/2004/02/skos/core#>\n"
        "PREFIX dcterms: <http://purl.org/dc/terms/>\n"
        "SELECT ?property ?value ?label WHERE {\n"
        f"  <{iri}> ?property ?value .\n"
        "  OPTIONAL { ?value skos:prefLabel|dcterms:title|<http://www.w3.org/2000/01/rdf-schema#label> ?label }\n"
        "}\nORDER BY ?property ?value"
    )
