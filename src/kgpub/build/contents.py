"""Contents: the files each unit of work is made of, and the site-wide files.

Everything here reads the graph through the recording view (kgpub.index.Index) it is given.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from importlib.resources import files
from pathlib import Path

from ..browse import Browse
from ..index import Index
from ..layout import (
    BIBTEX,
    FEED,
    NOT_FOUND,
    RIS,
    ROBOTS,
    SITE_PIECES,
    asset_path,
    language_prefix,
)
from ..render import cite
from ..render.datestamps import default_datestamp
from ..render.feed import atom_feed
from ..render.html import HtmlRenderer
from ..render.i18n import check_languages
from ..render.meta_files import meta_files
from ..render.pieces import Piece, piece, write_pieces
from ..render.rdf import dumps, entity_documents, read_dump_cache
from ..render.robots import robots_txt
from ..render.sitemaps import sitemaps
from ..render.void import void_documents
from .units import EntityWork, Work

FACET_PAGES = ("type", "place", "organisation", "year")  # facets with a page of their own


def renderers(index: Index) -> list[HtmlRenderer]:
    """One HTML renderer per site language (the default first), sharing one navigation."""
    check_languages(index.project.languages)
    nav = Browse(index, index.project.page_size)
    nav.prepare()  # computed once here, before workers fork, and shared by them
    return [HtmlRenderer(index, lang, nav) for lang in index.project.languages]


def render_entities(
    index: Index, iris: list[str], html: list[HtmlRenderer] | None = None
) -> Iterator[tuple[str, bytes]]:
    """Each entity's pages (one per language), RDF documents and, for entries, citations."""
    html = html or renderers(index)
    for iri in iris:
        for renderer in html:
            path, page = renderer.render_entity(iri)
            yield path, page.encode("utf-8")
        yield from entity_documents(index, iri)
        if index.kind(iri) == "entry" and not index.is_tombstone(iri):
            work = cite.work_from_index(index, iri, index.project.default_language)
            doc = index.path(iri)
            yield doc + BIBTEX, cite.bibtex(work).encode("utf-8")
            yield doc + RIS, cite.ris(work).encode("utf-8")


def unit_files(index: Index, html: list[HtmlRenderer], work: Work) -> Iterator[tuple[str, bytes]]:
    """The files of one unit of work."""
    if isinstance(work, EntityWork):
        yield from render_entities(index, [work.iri], html)
        return
    for r in html:
        path, page = r.render_listing(work.listing, work.n)
        yield path, page.encode("utf-8")


def navigation_pages(html: list[HtmlRenderer]) -> Iterator[tuple[str, str]]:
    """The browsing pages that are not listings, in every language: home, search, A-Z, facets."""
    for r in html:
        yield r.render_home()
        yield r.render_not_found()
        yield r.render_search()
        yield r.render_browse_index()
        yield r.render_az()
        for facet in FACET_PAGES:
            yield r.render_facet(facet)


def site_files(index: Index, html: list[HtmlRenderer] | None = None,
               previous: Path | None = None,
               warn: Callable[[str], None] | None = None) -> Iterator[tuple[str, bytes]]:
    """The files that are neither an entity's nor a listing page: navigation pages, dumps,
    harvesting files, assets (common_files, then harvest_files, computing every piece)."""
    html = html or renderers(index)
    nav_paths: list[str] = []
    yield from common_files(index, html, nav_paths, previous, warn)
    yield from harvest_files(index, html, nav_paths)


def common_files(index: Index, html: list[HtmlRenderer], nav_paths: list[str],
                 previous: Path | None = None,
                 warn: Callable[[str], None] | None = None) -> Iterator[tuple[str, bytes]]:
    """The site-wide files no entity's piece is part of: navigation pages (their paths are
    added to nav_paths), dumps, robots.txt, assets. previous: the last build's site, whose
    record of the dumps' members (kgpub.render.rdf) lets only the changed chunks be
    compressed again; warn: told when that record is missing or does not match (every chunk
    is then compressed)."""
    cache = read_dump_cache(previous) if previous is not None else None
    if previous is not None and cache is None and warn:
        warn("the dumps' member record (.kgpub/dump-members.json) is missing or does not "
             "match the dumps: compressed them whole again")
    for path, page in navigation_pages(html):
        nav_paths.append(path)
        yield path, page.encode("utf-8")
    yield from dumps(index, cache, warn)
    yield ROBOTS, robots_txt(index)
    for asset in sorted(files("kgpub").joinpath("static").iterdir(), key=lambda a: a.name):
        if asset.is_file():
            yield asset_path(asset.name), asset.read_bytes()


def harvest_files(index: Index, html: list[HtmlRenderer], nav_paths: list[str],
                  pieces: list[Piece] | None = None) -> list[tuple[str, bytes]]:
    """Sitemaps, VoID, the feed, the meta files and the pieces' record, from every entity's
    piece in entity order (kgpub.render.pieces; computed here when not given)."""
    if pieces is None:
        pieces = [piece(index, iri) for iri in index.entities]
    prefixes = [language_prefix(lang, index.project.languages) for lang in index.project.languages]
    pages = nav_paths + [r.here(listing.page_path(n)) for r in html
                         for listing, n in r.browse.pages()]
    entries = [p for p in pieces if p.entry]
    newest = max([p.datestamp for p in entries] or [default_datestamp(index)])
    out = sitemaps(index, [p for p in pages if not p.endswith(NOT_FOUND)], prefixes,
                   {p.iri: p.lastmod for p in pieces if p.lastmod})
    out += void_documents(index, newest)
    out.append((FEED, atom_feed(index, {p.iri: (p.datestamp, p.date) for p in entries})))
    out += meta_files(index, pieces)
    out.append((SITE_PIECES, write_pieces(pieces)))
    return out
