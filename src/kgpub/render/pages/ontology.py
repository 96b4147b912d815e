"""The vocabulary's page: its classes and properties (the terms under the vocabulary's hash
namespace), each with its definition and statements, and the concept schemes."""

from __future__ import annotations

from ...index import DCT, OWL, SKOS
from .view import Context, View


def context(v: View, page: str) -> Context:
    ix = v.index
    terms = sorted(s for s in ix.subjects() if s.startswith(ix.vocab) and len(s) > len(ix.vocab))

    def term(t: str) -> Context:
        return {
            "id": t[len(ix.vocab) :],
            "iri": t,
            "label": v.label(t),
            "definition": ix.text(t, SKOS + "definition", v.lang),
            "properties": v.properties(page, t),
        }

    owl_class = OWL + "Class"
    return {
        "ontology_title": ix.text(ix.ontology_iri, DCT + "title", v.lang),
        "ontology_description": ix.text(ix.ontology_iri, DCT + "description", v.lang),
        "classes": [term(t) for t in terms if owl_class in ix.types(t)],
        "properties_terms": [term(t) for t in terms if owl_class not in ix.types(t)],
        "schemes": [v.link(page, s) for s in ix.of_kind("scheme")],
    }
