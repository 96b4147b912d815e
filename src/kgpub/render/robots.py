"""robots.txt: crawl everything but the SPARQL endpoint; where the sitemap is."""

from __future__ import annotations

from ..index import Index
from ..layout import SITEMAP, SPARQL


def robots_txt(index: Index) -> bytes:
    return (
        "# kgpub: every page is listed in the sitemap. The SPARQL endpoint is for people and\n"
        "# programs asking questions, not for crawling.\n"
        "User-agent: *\n"
        f"Disallow: /{SPARQL}\n"
        "Allow: /\n"
        f"Sitemap: {index.base}{SITEMAP}\n"
    ).encode()

