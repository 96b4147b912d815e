"""The Jinja2 environment and the page chrome every page shares (header, footer, assets)."""

from __future__ import annotations

import json
from functools import cache

from jinja2 import Environment, PackageLoader, StrictUndefined, nodes, select_autoescape
from jinja2.visitor import NodeTransformer
from markupsafe import Markup

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
    templates' {{ _("...") }} strings come out in that language. A template is compiled when
    first rendered, once per process (a rebuild compiles only the page kinds it renders; a
    build that forks renderers compiles them all before: compile_all), and never checked for
    changes on disk: templates are part of the installed package."""
    env = TranslatedEnvironment(
        lang,
        loader=PackageLoader("kgpub", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        extensions=["jinja2.ext.i18n"],
        auto_reload=False,
    )
    env.install_gettext_translations(translations(lang), newstyle=True)  # type: ignore[attr-defined]
    env.filters["safe_url"] = safe_url
    env.filters["text"] = lambda label: text_html(label, lang)
    env.globals["language_name"] = language_name
    return env


def compile_all(env: Environment) -> None:
    """Compile every template now: forked workers then share them instead of each compiling
    its own."""
    for name in env.list_templates(extensions=["html"]):
        env.get_template(name)


class TranslatedEnvironment(Environment):
    """An environment that translates the templates' UI strings when it compiles them: each
    language has its own environment, so _("literal") is a constant of the compiled template
    (calling gettext at render time was ~20 calls a page, the costliest thing on it)."""

    def __init__(self, lang: str, **options) -> None:
        super().__init__(**options)
        self.lang = lang

    def _parse(self, source: str, name: str | None, filename: str | None) -> nodes.Template:
        tree = super()._parse(source, name, filename)
        autoescape = self.autoescape(name) if callable(self.autoescape) else self.autoescape
        if not autoescape:
            return tree  # gettext's result is then not Markup: left to it
        return _UiStrings(translations(self.lang).gettext).visit(tree)


class _UiStrings(NodeTransformer):
    """_("literal", name=value...) -> the translation as Markup, % the variables: what Jinja's
    newstyle gettext returns when the template autoescapes (kgpub's all do), computed once."""

    def __init__(self, gettext) -> None:
        self.gettext = gettext

    def visit_Call(self, call: nodes.Call) -> nodes.Node:
        node = self.generic_visit(call)
        if not isinstance(node, nodes.Call) or len(node.args) != 1:
            return node
        msgid = node.args[0]
        plain = (isinstance(msgid, nodes.Const) and isinstance(msgid.value, str)
                 and isinstance(node.node, nodes.Name) and node.node.name == "_"
                 and node.dyn_args is None and node.dyn_kwargs is None)
        if not plain:
            return node
        text = Markup(self.gettext(msgid.as_const()))
        if not node.kwargs:
            try:
                return nodes.MarkSafe(nodes.Const(text % {}), lineno=node.lineno)
            except (TypeError, ValueError, KeyError):
                return node  # fails as it would have at render time
        variables = nodes.Dict([nodes.Pair(nodes.Const(k.key), k.value, lineno=node.lineno)
                                for k in node.kwargs], lineno=node.lineno)
        return nodes.Mod(nodes.MarkSafe(nodes.Const(text), lineno=node.lineno), variables,
                         lineno=node.lineno)


def esc(text: str) -> str:
    """text escaped for HTML exactly as markupsafe.escape does it, as a plain str: fragments
    built in Python escape many short values, and a Markup object for each costs more than
    the escaping."""
    return (text.replace("&", "&amp;").replace(">", "&gt;").replace("<", "&lt;")
            .replace("'", "&#39;").replace('"', "&#34;"))


def text_html(label, page_lang: str) -> Markup:
    """A data value in a span, with its own lang when it is not the page's. A filter, not a
    macro: macro calls are the costliest thing in Jinja, and pages have many values."""
    lang = label.lang
    attr = f' lang="{esc(lang)}"' if lang and lang != page_lang else ""
    return Markup(f"<span{attr}>{esc(label.text)}</span>")


def rel(page: str, target: str) -> str:
    """Relative link from a page (a file path in the site) to another file path. Site paths are
    clean ('a/b.html': no '.', '..' or empty segments), so this is posixpath.relpath, faster."""
    page_dir = page.rpartition("/")[0]
    if not page_dir:
        return target
    if target.startswith(page_dir) and target[len(page_dir):len(page_dir) + 1] == "/":
        return target[len(page_dir) + 1:]  # below the page's directory (the common case)
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
           page_key: str | None = None, links: dict | None = None) -> dict:
    """Context every template needs. `page` is the file's path in the site (with its language
    prefix), `page_key` the same page without the prefix (to link its other languages; None for
    a page with one language). absolute=True links from the site root, for pages served at any
    path (404, the SPARQL page). links: chrome_links() of the page, if known."""
    lang = lang or project.default_language
    ctx = dict(links) if links is not None else chrome_links(project, page, lang,
                                                              absolute=absolute)
    versions = []
    if page_key is not None:
        for other in project.languages:
            target = prefix(other, project.languages) + page_key
            versions.append({
                "lang": other,
                "name": language_name(other),
                "href": "/" + target if absolute else rel(page, target),
                "current": other == lang,
            })
    ctx.update(versions=versions, alternates=[], kind_label=None, breadcrumbs=[], pager=None,
               search_filters=[])
    return ctx


def chrome_links(project, page: str, lang: str, *, absolute: bool = False) -> dict:
    """The part of the chrome that depends only on the page's directory and language (the same
    for every page in it: kgpub.render.pages.view.View keeps it per directory)."""
    here = prefix(lang, project.languages)

    def link(target: str) -> str:
        return "/" + target if absolute else rel(page, target)

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
    }


def _scheme_page(project, scheme: str) -> str:
    return html_page(entity_path(scheme, project.base, project.vocab))
