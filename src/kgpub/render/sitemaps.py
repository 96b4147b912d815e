"""Sitemaps: sitemap.xml for every HTML page, past 50,000 URLs a sitemap index over numbered
files. Well-formed whatever the data (kgpub.formats.xml_safe)."""

from __future__ import annotations

from collections.abc import Sequence
from xml.sax.saxutils import escape

from ..formats import HTML, xml_safe
from ..index import Index
from ..layout import SITEMAP, document, sitemap_part
from .datestamps import datestamp, default_datestamp

SITEMAP_LIMIT = 50_000


def page_lastmod(index: Index, iri: str, known: dict[str, str] | None = None) -> str:
    """A page changes when its entity or an entry shown on it changes. known: datestamps
    already computed (an entry is shown on many pages)."""
    known = {} if known is None else known

    def stamp(node: str) -> str:
        found = known.get(node)
        if found is None:
            found = known[node] = datestamp(index, node)
        return found

    return max([stamp(iri)] + [stamp(s) for s in index.incoming(iri)
                               if index.kind(s) == "entry"])



def sitemaps(
    index: Index, extra_pages: list[str], prefixes: Sequence[str] = ("",),
    pages_lastmod: dict[str, str] | None = None,
) -> list[tuple[str, bytes]]:
    """sitemap.xml for every HTML page (each language's: prefixes '', 'fr/'...); past 50,000
    URLs a sitemap index over numbered files. pages_lastmod: each published entity's page_lastmod,
    in entity order, when known (kgpub.render.pieces)."""
    base = index.base
    default = default_datestamp(index)
    entries = [(base + p, default) for p in extra_pages]
    known: dict[str, str] = {}
    lastmod = pages_lastmod if pages_lastmod is not None else {
        iri: page_lastmod(index, iri, known) for iri in index.entities
        if not index.is_tombstone(iri)}
    entries += [
        (base + lang + document(index.path(iri), HTML), stamp)
        for lang in prefixes
        for iri, stamp in lastmod.items()
    ]
    chunks = [entries[i : i + SITEMAP_LIMIT] for i in range(0, len(entries), SITEMAP_LIMIT)]
    if len(chunks) <= 1:
        return [(SITEMAP, _urlset(entries))]
    files = [(sitemap_part(n), _urlset(chunk)) for n, chunk in enumerate(chunks, 1)]
    lastmods = [max(stamp for _, stamp in chunk) for chunk in chunks]
    index_xml = ['<?xml version="1.0" encoding="UTF-8"?>',
                 '<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">']
    for (name, _), last in zip(files, lastmods, strict=True):
        index_xml.append(
            f"<sitemap><loc>{escape(base + name)}</loc><lastmod>{last}</lastmod></sitemap>"
        )
    index_xml.append("</sitemapindex>\n")
    return [(SITEMAP, xml_safe("\n".join(index_xml)).encode("utf-8"))] + files


def _urlset(entries: list[tuple[str, str]]) -> bytes:
    lines = ['<?xml version="1.0" encoding="UTF-8"?>',
             '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">']
    lines += [f"<url><loc>{escape(loc)}</loc><lastmod>{lastmod}</lastmod></url>"
              for loc, lastmod in entries]
    lines.append("</urlset>\n")
    return xml_safe("\n".join(lines)).encode("utf-8")

