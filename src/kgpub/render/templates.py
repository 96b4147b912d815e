"""The Jinja2 environment and the page chrome every page shares (header, footer, assets)."""

from __future__ import annotations

import json
from functools import cache

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup, escape

from ..layout import (
    ASSETS,
    AZ,
    BROWSE_INDEX,
    FEED,
    HOME,
    ONTOLOGY,
    SEARCH_PAGE,
    SPARQL,
    STYLESHEET,
    entity_path,
    html_page,
)
from .i18n import language_name, prefix, translations


def safe_url(url: str | None) -> str | None:
    """Only http(s) links leave the site (data is validated too; this is defence in depth)."""
    if not url:
        return None
    return url if url.strip().lower().startswith(("http://", "https://")) else None


@cache
def environment(lang: str = "en") -> Environment:
    """The Jinja environment of one language: its gettext catalogue is installed, so the
    templates' {{ _("...") }} strings come out in that language."""
    env = Environment(
        loader=PackageLoader("kgpub", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        extensions=["jinja2.ext.i18n"],
    )
    env.install_gettext_translations(translations(lang), newstyle=True)  # type: ignore[attr-defined]
    env.filters["safe_url"] = safe_url
    env.filters["text"] = lambda label: text_html(label, lang)
    env.globals["language_name"] = language_name
    return env


def text_html(label, page_lang: str) -> Markup:
    """A data value in a span, with its own lang when it is not the page's. A filter, not a
    macro: macro calls are the costliest thing in Jinja, and pages have many values."""
    lang = label.lang
    attr = f' lang="{escape(lang)}"' if lang and lang != page_lang else ""
    return Markup(f"<span{attr}>{escape(label.text)}</span>")


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


def chrome(project, page: str, lang: str | None = None, *, absolute: bool = False,
           page_key: str | None = None) -> dict:
    """Context every template needs. `page` is the file's path in the site (with its language
    prefix), `page_key` the same page without the prefix (to link its other languages; None for
    a page with one language). absolute=True links from the site root, for pages served at any
    path (404, the SPARQL page)."""
    lang = lang or project.default_language
    here = prefix(lang, project.languages)

    def link(target: str) -> str:
        return "/" + target if absolute else rel(page, target)

    versions = []
    if page_key is not None:
        for other in project.languages:
            versions.append({
                "lang": other,
                "name": language_name(other),
                "href": link(prefix(other, project.languages) + page_key),
                "current": other == lang,
            })
    return {
        "lang": lang,
        "site_title": project.title,
        "site_description": project.description,
        "home": link(here + HOME),
        # the topic and type indexes: the schemes' pages ([site] topic_scheme, type_scheme)
        "topics_href": link(here + _scheme_page(project, project.topic_scheme)),
        "az_href": link(here + AZ),
        "browse_href": link(here + BROWSE_INDEX),
        "types_href": link(here + _scheme_page(project, project.type_scheme)),
        "search_href": link(here + SEARCH_PAGE),
        "ontology_href": link(here + html_page(ONTOLOGY)),
        "sparql_href": link(SPARQL),
        "stylesheet": link(STYLESHEET),
        "assets_href": link(ASSETS + "/"),
        "feed_href": link(FEED),
        "versions": versions,
        "alternates": [],
        "kind_label": None,
        "breadcrumbs": [],
        "pager": None,
        "search_filters": [],
    }


def _scheme_page(project, scheme: str) -> str:
    return html_page(entity_path(scheme, project.base, project.vocab))
