"""The Jinja2 environment and the page chrome every page shares (header, footer, assets)."""

from __future__ import annotations

import json
from functools import cache

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

ASSETS = "_assets"
STYLESHEET = f"{ASSETS}/style.css"


def safe_url(url: str | None) -> str | None:
    """Only http(s) links leave the site (data is validated too; this is defence in depth)."""
    if not url:
        return None
    return url if url.strip().lower().startswith(("http://", "https://")) else None


@cache
def environment() -> Environment:
    env = Environment(
        loader=PackageLoader("kgpub", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["safe_url"] = safe_url
    return env


def rel(page: str, target: str) -> str:
    """Relative link from a page (a file path in the site) to another file path. Site paths are
    clean ('a/b.html': no '.', '..' or empty segments), so this is posixpath.relpath, faster."""
    page_dir = page.rpartition("/")[0]
    if not page_dir:
        return target
    here, there = page_dir.split("/"), target.split("/")
    common = 0
    while common < len(here) and common < len(there) - 1 and here[common] == there[common]:
        common += 1
    return "../" * (len(here) - common) + "/".join(there[common:])


def json_for_script(data) -> Markup:
    """JSON safe inside <script>: no '<', '>' or '&' can end the element early."""
    text = json.dumps(data, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return Markup(text)


def chrome(project, page: str, *, absolute: bool = False) -> dict:
    """Context every template needs. absolute=True links from the site root, for pages served
    at any path (404, the SPARQL page)."""

    def link(target: str) -> str:
        return "/" + target if absolute else rel(page, target)

    return {
        "lang": project.default_language,
        "site_title": project.title,
        "site_description": project.description,
        "home": link("index.html"),
        "topics_href": link("topics.html"),
        "types_href": link("types.html"),
        "ontology_href": link("ontology.html"),
        "sparql_href": "/sparql" if absolute else None,
        "stylesheet": link(STYLESHEET),
        "feed_href": link("feed.atom"),
        "alternates": [],
        "kind_label": None,
    }
