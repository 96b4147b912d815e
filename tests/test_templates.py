"""The template environment, made for speed without changing a byte: UI strings translated when
a template compiles give what Jinja's gettext gives at render time, esc() escapes as
markupsafe does, and a View's chrome, kept per directory, is each page's own."""

from __future__ import annotations

import pytest
from jinja2 import Environment, StrictUndefined
from markupsafe import escape

from kgpub.config import load_project
from kgpub.entail import entailments
from kgpub.index import Index
from kgpub.load import load_sources
from kgpub.render.i18n import translations
from kgpub.render.pages.view import CHROME_DIRS, View
from kgpub.render.templates import chrome, environment, esc
from kgtest import REPO

LANGUAGES = ("en", "fr", "es")
VARIABLES = {"n": 3, "what": "<b>Types & \"kinds\"</b>", "heading": "", "name": "Home",
             "title": "x"}
# Constant strings, strings with variables (escaped into the translation), a string as an
# operand, one with a literal percent sign, and a msgid given by a variable (not folded).
CASES = [
    '{{ _("Home") }}',
    '<nav aria-label="{{ _(\'Breadcrumb\') }}">{{ _("Topics A–Z") }}</nav>',
    '{{ _("Page %(n)s", n=n) }}',
    '{{ _("All: %(what)s", what=what) }}',
    '{{ _("Showing %(shown)s of %(total)s.", shown=n, total=what) }}',
    '{{ heading or _("Expert Commentaries") }}',
    '{{ _("100%% done") }}',
    '{{ _(name) }}',
    '{% set t = _("Search") %}[{{ t }}]{{ t | length }}',
]


def gettext_at_render_time(lang: str) -> Environment:
    """Jinja's own i18n, with kgpub's options: the reference the folded templates must equal."""
    env = Environment(autoescape=True, undefined=StrictUndefined, trim_blocks=True,
                      lstrip_blocks=True, extensions=["jinja2.ext.i18n"])
    env.install_gettext_translations(translations(lang), newstyle=True)  # type: ignore[attr-defined]
    return env


@pytest.mark.parametrize("lang", LANGUAGES)
def test_folded_ui_strings_render_as_gettext_does(lang):
    reference = gettext_at_render_time(lang)
    for case in CASES:
        expected = reference.from_string(case).render(VARIABLES)
        assert environment(lang).from_string(case).render(VARIABLES) == expected, case


def test_literal_ui_strings_are_constants_of_the_compiled_template():
    source = '<p>{{ _("Home") }} {{ _("Page %(n)s", n=n) }}</p>'
    folded = environment("fr").compile(source, raw=True)
    assert "Accueil" in folded and "'Home'" not in folded
    assert "resolve('_')" not in folded  # no gettext call left
    assert "resolve('_')" in gettext_at_render_time("fr").compile(source, raw=True)


def test_every_template_is_compiled_once_with_its_strings_translated():
    env = environment("fr")
    assert env.auto_reload is False
    names = env.list_templates(extensions=["html"])
    assert len(names) >= 10
    for name in names:
        template = env.get_template(name)
        assert env.get_template(name) is template  # compiled when the environment was made
        source, _, _ = env.loader.get_source(env, name)
        code = env.compile(source, name, raw=True)
        if '_("' in source or "_('" in source:
            assert "resolve('_')" not in code, name


def test_esc_escapes_as_markupsafe():
    for text in ["", "plain", "<a href=\"x\">it's & that</a>", "&amp;", "'\"<>&" * 3,
                 "Résumé — “quoted”", "a\nb\tc"]:
        assert esc(text) == str(escape(text))


@pytest.fixture(scope="module")
def view():
    project = load_project(REPO)
    sources = load_sources(project)
    return View(Index(project, sources, entailments(sources)), "fr")


def test_chrome_kept_per_directory_is_each_pages_own(view):
    a = view.chrome("fr/resource/a.html", "resource/a.html")
    b = view.chrome("fr/resource/b.html", "resource/b.html")
    assert a == chrome(view.project, "fr/resource/a.html", "fr", page_key="resource/a.html")
    assert b == chrome(view.project, "fr/resource/b.html", "fr", page_key="resource/b.html")
    assert [v["href"] for v in a["versions"]] != [v["href"] for v in b["versions"]]
    a["home"] = "changed by a page"  # page builders update their context
    assert view.chrome("fr/resource/c.html", "resource/c.html")["home"] == b["home"]
    top = view.chrome("fr/index.html", "index.html")
    assert top == chrome(view.project, "fr/index.html", "fr", page_key="index.html")
    assert top["home"] != b["home"]


def test_chrome_cache_is_bounded(view):
    for i in range(CHROME_DIRS + 10):
        view.chrome(f"fr/browse/x/{i}/1.html", "browse/x/1.html")
    assert len(view._chrome) <= CHROME_DIRS


def test_macros_are_imported_without_the_context():
    """With their UI strings constants, the macros need nothing of a page's context: imported
    without it, the macro module is made once, not again for every page rendered."""
    env = environment("en")
    for name in env.list_templates(extensions=["html"]):
        source, _, _ = env.loader.get_source(env, name)
        assert "with context" not in source, name


def test_templates_compile_when_first_rendered_or_all_before_forking():
    """A rebuild renders a few page kinds: a fresh environment compiles none until one is
    asked for; compile_all (before render workers fork) compiles every one."""
    from kgpub.render.templates import compile_all

    environment.cache_clear()
    env = environment("fr")
    assert env.cache is not None and len(env.cache) == 0
    env.get_template("listing.html")
    compiled = {key[1] for key in env.cache}
    assert "listing.html" in compiled and "sparql.html" not in compiled
    compile_all(env)
    assert {key[1] for key in env.cache} == set(env.list_templates(extensions=["html"]))
