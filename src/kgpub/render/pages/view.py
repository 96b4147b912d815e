"""The site in one language: how pages link, name and show what the graph says.

A View holds the index, the navigation (kgpub.browse) and the language; page builders take one
and read the graph only through it. Page paths carry the language's prefix ('fr/...'); the `key`
of a page is its path without it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import pyoxigraph as ox

from ...browse import Browse
from ...formats import HTML
from ...index import DCT, FOAF, ORG, RDF_TYPE, SKOS, XSD, Index, Label
from ...layout import ONTOLOGY, html_page, language_prefix
from ..i18n import translations
from ..templates import chrome, chrome_links, environment, esc, rel, safe_url
from .cards import Cards
from .dates import format_date

CHROME_DIRS = 4096  # page directories whose chrome links a View keeps (a site has few)

# Besides the label properties, what the page header shows (not repeated in the metadata table).
HEADER_TEXT = frozenset({DCT + "abstract", SKOS + "definition", DCT + "description"})
# Order of the metadata table; other properties follow, by label.
PROP_ORDER = [
    RDF_TYPE,
    DCT + "type",
    DCT + "subject",
    DCT + "creator",
    DCT + "contributor",
    DCT + "publisher",
    DCT + "date",
    DCT + "spatial",
    "concerns",
    DCT + "isPartOf",
    ORG + "subOrganizationOf",
    SKOS + "altLabel",
    SKOS + "notation",
    SKOS + "broader",
    SKOS + "inScheme",
    SKOS + "topConceptOf",
    FOAF + "depiction",
    DCT + "license",
    DCT + "source",
    FOAF + "page",
    DCT + "modified",
    DCT + "isReplacedBy",
]


def N_(message: str) -> str:
    """Marks a UI string for the catalogues; it is translated where it is used."""
    return message


Context = dict[str, Any]  # a template's context, or a part of one


@dataclass
class Value:
    """A value as shown: a link (href) or text. lang is set only when it differs from the
    page's language. Renders itself (escaped): templates write {{ value }}, which is much
    cheaper than a macro call on pages with hundreds of values."""

    text: str
    href: str | None = None
    lang: str | None = None
    external: bool = False

    def __html__(self) -> str:
        lang = f' lang="{esc(self.lang)}"' if self.lang else ""
        if self.href:
            rel_attr = ' rel="external"' if self.external else ""
            return f'<a href="{esc(self.href)}"{lang}{rel_attr}>{esc(self.text)}</a>'
        return f"<span{lang}>{esc(self.text)}</span>"


@dataclass
class Page:
    """A page to render: its path in the site (with the language prefix), template, context."""

    path: str
    template: str
    context: Context = field(default_factory=dict)


class View:
    def __init__(self, index: Index, lang: str | None = None, browse: Browse | None = None):
        self.index = index
        self.project = index.project
        self.lang = lang or self.project.default_language
        self.prefix = language_prefix(self.lang, self.project.languages)
        self.browse = browse or Browse(index)
        self.env = environment(self.lang)
        self._ = translations(self.lang).gettext
        self._labels: dict[str, Label] = {}
        self._chrome: dict[str, Context] = {}
        self.header_props = frozenset(self.project.label_properties) | HEADER_TEXT
        self.cards = Cards(self)
        # Search indexes each page once, in the default language (data is mostly written in one
        # language; three copies would triple the index). The other languages' search pages
        # use that index and link to their own pages (static/search.js).
        self.indexed = self.lang == self.project.default_language

    def render(self, page: Page) -> tuple[str, str]:
        """(file path in the site, HTML)."""
        return page.path, self.env.get_template(page.template).render(page.context)

    def here(self, key: str) -> str:
        """This language's path of a page."""
        return self.prefix + key

    def chrome(self, path: str, key: str | None) -> Context:
        """The chrome of the page at path (key: without the language prefix); its links are
        the same for every page of a directory, and made once."""
        page_dir = path.rpartition("/")[0]
        links = self._chrome.get(page_dir)
        if links is None:
            if len(self._chrome) >= CHROME_DIRS:
                self._chrome.clear()
            links = self._chrome[page_dir] = chrome_links(self.project, path, self.lang)
        return chrome(self.project, path, self.lang, page_key=key, links=links)

    def href(self, page: str, iri: str) -> str | None:
        ix = self.index
        if iri.startswith(ix.vocab):
            return rel(page, self.here(html_page(ONTOLOGY))) + "#" + iri[len(ix.vocab) :]
        if ix.is_published(iri):
            return rel(page, self.here(ix.path(iri) + HTML.suffix))
        return None

    def label(self, iri: str) -> Label:
        # Cached: the same topics, types and agents are named on thousands of pages.
        self.index.note(iri)
        found = self._labels.get(iri)
        if found is None:
            found = self._labels[iri] = self.index.label(iri, self.lang)
        return found

    def link(self, page: str, iri: str) -> Value:
        return self.value(page, ox.NamedNode(iri))

    def page_link(self, page: str, key: str, text: str) -> Value:
        return Value(text, rel(page, self.here(key)))

    def name(self, iri: str) -> Value:
        """An entity's name as unlinked text (the current page's, in a trail)."""
        lab = self.label(iri)
        return Value(lab.text, None, self.other(lab.lang))

    def value(self, page: str, term: ox.NamedNode | ox.BlankNode | ox.Literal) -> Value:
        if isinstance(term, ox.Literal):
            if (
                term.datatype
                and term.datatype.value.startswith(XSD + "g")
                or (term.datatype and term.datatype.value == XSD + "date")
            ):
                return Value(format_date(term, self.lang))
            return Value(term.value, lang=self.other(term.language))
        if isinstance(term, ox.BlankNode):
            return Value(self._("(unnamed node)"))
        iri = term.value
        internal = self.href(page, iri)
        if internal:
            lab = self.label(iri)
            return Value(lab.text, internal, self.other(lab.lang))
        if self.index.has_label(iri):
            lab = self.label(iri)
            return Value(lab.text, safe_url(iri), self.other(lab.lang), external=True)
        return Value(iri, safe_url(iri), external=True)

    def other(self, lang: str | None) -> str | None:
        """A value's language, when it is not the page's (it then needs its own lang)."""
        return lang if lang and lang != self.lang else None

    def lang_attr(self, label: Label | None) -> str:
        return f' lang="{esc(label.lang)}"' if label and label.lang and label.lang != self.lang \
            else ""

    def by_label(self, iris: Iterable[str]) -> list[str]:
        return sorted(set(iris), key=lambda i: (self.label(i).text.casefold(), i))

    def properties(
        self, page: str, iri: str, skip: frozenset[str] = frozenset()
    ) -> list[tuple[Label, list[Value]]]:
        """The metadata table: each property's label and values, in PROP_ORDER, then by label."""
        ix = self.index
        preds = [p for p in ix.predicates(iri) if p not in self.header_props and p not in skip]
        order = {p: i for i, p in enumerate(PROP_ORDER)}
        order[ix.vocab + "concerns"] = order["concerns"]

        def key(p: str) -> tuple[int, str, str]:
            return (order.get(p, len(order)), self.label(p).text.lower(), p)

        rows = []
        for p in sorted(preds, key=key):
            values = [self.value(page, o) for o in ix.values(iri, p)]
            rows.append((self.label(p),
                         sorted(values, key=lambda v: (v.text.lower(), v.text, v.href or ""))))
        return rows
