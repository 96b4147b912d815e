"""Open Graph: how a page looks when shared (title, description, type, locale)."""

from __future__ import annotations

from functools import lru_cache

import pyoxigraph as ox

from ...index import DCT, SKOS, Label
from .view import Context, View

DESCRIPTION_CHARS = 200


def open_graph(v: View, iri: str | None, title: Label, path: str) -> Context:
    """The og: properties of the page at path, about iri (None: a page of the site)."""
    ix, project = v.index, v.project
    og = {"title": title.text, "site_name": project.title,
          "locale": og_locale(v.lang),
          "url": project.base + path,  # this page, in its language
          "type": "website", "description": project.description or None}
    if iri:
        kind = ix.kind(iri)
        text = ix.text(iri, DCT + "abstract", v.lang) or \
            ix.text(iri, SKOS + "definition", v.lang)
        if text:
            og["description"] = clip(text.text, DESCRIPTION_CHARS)
        if kind == "entry":
            og["type"] = "article"
            d = ix.value(iri, DCT + "date")
            if isinstance(d, ox.Literal):
                og["published_time"] = d.value
    return og


def clip(text: str, limit: int) -> str:
    """text on one line, cut at a word to at most limit characters (with an ellipsis)."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rsplit(" ", 1)[0] + "…"


@lru_cache(maxsize=64)  # a page's language: one of the site's few
def og_locale(lang: str) -> str:
    """Open Graph's locale form, language_TERRITORY (en -> en_US, pt-BR -> pt_BR), from CLDR's
    likely subtags for a bare language."""
    from babel.core import Locale, UnknownLocaleError, get_global

    tag = lang.replace("-", "_")
    try:
        likely = get_global("likely_subtags").get(tag) if "_" not in tag else None
        locale = Locale.parse(likely or tag)
    except (UnknownLocaleError, ValueError):
        return tag
    return f"{locale.language}_{locale.territory}" if locale.territory else locale.language
