"""What every page carries besides its content: the chrome, its title, canonical IRI, alternate
documents, the kind of its entity, and structured data (schema.org JSON-LD, Open Graph)."""

from __future__ import annotations

from ...formats import RDF_FORMATS
from ...index import Label
from ..templates import json_for_script, rel
from . import schema_org
from .opengraph import open_graph
from .view import Context, View


def page_context(v: View, path: str, key: str, iri: str | None) -> Context:
    """The context of the page at path (key: without the language prefix), about iri or None."""
    doc = v.index.path(iri) if iri else None
    ctx = v.chrome(path, key)
    title = v.label(iri) if iri else Label(v.project.title, None)
    ctx.update(
        title=title,
        canonical=iri or None,
        alternates=[
            {"href": rel(path, doc + f.suffix), "type": f.media_type, "label": f.label}
            for f in RDF_FORMATS
        ]
        if doc
        else [],
        kind_label=kind_label(v, iri) if iri else None,
        jsonld=json_for_script(schema_org.describe(v, iri) if iri
                               else schema_org.website(v.project)),
        og=open_graph(v, iri, title, path),
        searchable=False,
    )
    return ctx


def kind_label(v: View, iri: str) -> str | None:
    """The name of the entity's most specific class: one that is not a superclass of another of
    its types."""
    ix = v.index
    types = ix.types(iri)
    if not types:
        return v._("Vocabulary") if iri == ix.ontology_iri else None
    specific = [t for t in types if not any(o != t and ix.is_subclass(o, t) for o in types)]
    return v.label(sorted(specific)[0]).text
