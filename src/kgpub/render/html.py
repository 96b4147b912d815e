"""Render HTML pages from the index with Jinja2 (autoescaped). Links between pages are relative,
so the site browses from any host or from disk.

HtmlRenderer is the build's entry: one per site language. Each page kind has its builder in
kgpub.render.pages; this class only holds the language's View and renders what they build.
"""

from __future__ import annotations

from ..browse import Browse, Listing
from ..index import Index
from .pages import entity, facets, home, listing, not_found, search
from .pages.view import View


class HtmlRenderer:
    """Renders the pages of one language. Page paths carry the language's prefix ('fr/...');
    the `key` of a page is its path without it. Each render_* returns (file path, HTML)."""

    FACET_TITLES = facets.FACET_TITLES

    def __init__(self, index: Index, lang: str | None = None, browse: Browse | None = None):
        self.view = View(index, lang, browse)
        self.index = index
        self.project = index.project
        self.lang = self.view.lang
        self.prefix = self.view.prefix
        self.browse = self.view.browse
        self.env = self.view.env
        self.indexed = self.view.indexed

    def here(self, key: str) -> str:
        """This language's path of a page."""
        return self.view.here(key)

    def render_entity(self, iri: str) -> tuple[str, str]:
        return self.view.render(entity.page(self.view, iri))

    def render_home(self) -> tuple[str, str]:
        return self.view.render(home.page(self.view))

    def render_not_found(self) -> tuple[str, str]:
        return self.view.render(not_found.page(self.view))

    def render_search(self) -> tuple[str, str]:
        return self.view.render(search.page(self.view))

    def render_browse_index(self) -> tuple[str, str]:
        return self.view.render(facets.browse_index(self.view))

    def render_facet(self, facet: str) -> tuple[str, str]:
        return self.view.render(facets.facet(self.view, facet))

    def render_az(self) -> tuple[str, str]:
        return self.view.render(facets.az(self.view))

    def render_listing(self, shown: Listing, n: int) -> tuple[str, str]:
        return self.view.render(listing.page(self.view, shown, n))
