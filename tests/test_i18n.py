"""The UI string catalogues (src/kgpub/locale): every string of the templates is in kgpub.pot,
every language's .po translates all of it with the same placeholders, and the catalogues are
loaded by kgpub.render.i18n."""

from __future__ import annotations

import re
import string
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

from kgpub.errors import ConfigError
from kgpub.render.i18n import DOMAIN, check_languages, translations

REPO = Path(__file__).resolve().parents[1]
LOCALE = REPO / "src" / "kgpub" / "locale"
POT = LOCALE / f"{DOMAIN}.pot"
LANGS = ("fr", "es")

HOW_TO_UPDATE = (
    "Update the catalogues (see the README, 'Languages'), from the repository root:\n"
    "  pybabel extract -F babel.cfg --no-location --sort-output --omit-header -k N_ "
    f"-o src/kgpub/locale/{DOMAIN}.pot .\n"
    f"  pybabel update -D {DOMAIN} -i src/kgpub/locale/{DOMAIN}.pot -d src/kgpub/locale\n"
    "then translate the new or changed msgids in every "
    f"src/kgpub/locale/<lang>/LC_MESSAGES/{DOMAIN}.po (and clear their '#, fuzzy' flags)."
)

PERCENT_PLACEHOLDER = re.compile(r"%\((\w+)\)[sdifr]")


def _read(path: Path, locale: str | None = None) -> Catalog:
    with path.open("rb") as f:
        return read_po(f, locale=locale, domain=DOMAIN)


def _key(message) -> tuple[str | None, str | tuple[str, ...]]:
    msgid = message.id if isinstance(message.id, str) else tuple(message.id)
    return (message.context, msgid)


def _keys(catalog: Catalog) -> set:
    return {_key(m) for m in catalog if m.id}


def _show(keys) -> str:
    return "\n".join(
        f"  {msgid!r}" + (f" (context {ctx!r})" if ctx else "")
        for ctx, msgid in sorted(keys, key=repr)
    )


def _strings(value) -> tuple[str, ...]:
    return (value,) if isinstance(value, str) else tuple(value)


def _placeholders(text: str) -> tuple[list[str], list[str]]:
    """The `%(name)s` names and the `{name}` names of a string, each sorted."""
    percent = sorted(PERCENT_PLACEHOLDER.findall(text))
    try:
        brace = sorted(
            field for _, field, _, _ in string.Formatter().parse(text) if field is not None
        )
    except ValueError:  # unbalanced braces: reported by the comparison
        brace = ["<unbalanced braces>"]
    return percent, brace


@pytest.fixture(scope="module")
def pot() -> Catalog:
    return _read(POT)


@pytest.fixture(scope="module", params=LANGS)
def po(request) -> tuple[str, Catalog]:
    lang = request.param
    return lang, _read(LOCALE / lang / "LC_MESSAGES" / f"{DOMAIN}.po", locale=lang)


def test_pot_is_in_sync_with_the_templates(pot):
    """Re-extracting the UI strings (as `pybabel extract -F babel.cfg` does) gives kgpub.pot."""
    with (REPO / "babel.cfg").open(encoding="utf-8") as f:
        method_map, options_map = parse_mapping_cfg(f, "babel.cfg")
    src = REPO / "src"

    def only_src(path: str) -> bool:  # the patterns of babel.cfg are all under src/
        p = Path(path).resolve()
        return p == src or src in p.parents

    extracted = set()
    for _, _, message, _, context in extract_from_dir(
        REPO, method_map, options_map, keywords=DEFAULT_KEYWORDS, directory_filter=only_src
    ):
        msgid = message if isinstance(message, str) else tuple(message)
        if msgid:
            extracted.add((context, msgid))
    assert extracted, "no UI string extracted: is babel.cfg right?"
    in_pot = _keys(pot)
    new, gone = extracted - in_pot, in_pot - extracted
    assert not new and not gone, (
        f"{POT.relative_to(REPO)} is out of date with the templates and code.\n"
        + (f"UI strings missing from it:\n{_show(new)}\n" if new else "")
        + (f"Strings in it that are no longer used:\n{_show(gone)}\n" if gone else "")
        + HOW_TO_UPDATE
    )


def test_po_has_every_msgid_of_the_pot(po, pot):
    lang, catalog = po
    missing, extra = _keys(pot) - _keys(catalog), _keys(catalog) - _keys(pot)
    assert not missing and not extra, (
        f"{lang}/LC_MESSAGES/{DOMAIN}.po is out of sync with {DOMAIN}.pot.\n"
        + (f"Missing:\n{_show(missing)}\n" if missing else "")
        + (f"Not in the .pot:\n{_show(extra)}\n" if extra else "")
        + HOW_TO_UPDATE
    )


def test_po_is_fully_translated(po):
    lang, catalog = po
    untranslated = [
        m.id for m in catalog if m.id and not all(s.strip() for s in _strings(m.string))
    ]
    fuzzy = [m.id for m in catalog if m.id and m.fuzzy]
    assert not untranslated, f"{lang}: untranslated msgids: {untranslated}\n{HOW_TO_UPDATE}"
    assert not fuzzy, (
        f"{lang}: fuzzy msgids (check the translation, then remove '#, fuzzy'): {fuzzy}"
    )


def test_po_header(po):
    lang, catalog = po
    assert not catalog.fuzzy, f"{lang}: the header is marked fuzzy"
    assert str(catalog.locale) == lang
    assert catalog.charset.lower() == "utf-8"
    assert catalog.num_plurals == 2


def test_placeholders_are_kept(po):
    lang, catalog = po
    wrong = []
    for m in catalog:
        if not m.id:
            continue
        # a plural form must match the msgid's singular or plural
        expected = [_placeholders(msgid) for msgid in _strings(m.id)]
        wrong += [(m.id, s) for s in _strings(m.string) if _placeholders(s) not in expected]
    assert not wrong, f"{lang}: placeholders differ from the msgid's: {wrong}"


def test_no_stray_percent_sign(po):
    """The templates %-format every translated string: a lone % breaks the page."""
    lang, catalog = po
    stray = [
        (m.id, s)
        for m in catalog
        if m.id
        for s in _strings(m.string)
        if "%" in PERCENT_PLACEHOLDER.sub("", s)
    ]
    assert not stray, f"{lang}: '%' outside a %(name)s placeholder: {stray}"


def test_translations_are_loaded():
    assert translations("fr").gettext("Search") == "Rechercher"
    assert translations("es").gettext("Search") == "Buscar"
    assert translations("en").gettext("Search") == "Search"


def test_check_languages():
    check_languages(("en", "fr", "es"))
    with pytest.raises(ConfigError, match=r"\bde\b"):
        check_languages(("en", "de"))
