"""The site's languages: UI string catalogues (gettext .po files read with Babel), the Jinja
environment of each language, and where each language's pages live.

The first of `[site] languages` is the default: its pages sit at the site root; every other
language mirrors them under its own prefix (`fr/`, `es/`). Data values are chosen per page by
the fallback chain page language -> default language -> untagged -> any other (Index.text).
"""

from __future__ import annotations

import io
from functools import cache
from importlib.resources import files

from babel import Locale
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations

from ..errors import ConfigError
from ..layout import language_prefix as prefix  # noqa: F401 - where a language's pages live

DOMAIN = "kgpub"
SOURCE_LANGUAGE = "en"  # the language of the msgids in the templates


def catalogue_languages() -> list[str]:
    """Languages with a UI catalogue (plus the templates' own language)."""
    root = files("kgpub").joinpath("locale")
    found = {d.name for d in root.iterdir() if d.joinpath("LC_MESSAGES", f"{DOMAIN}.po").is_file()}
    return sorted(found | {SOURCE_LANGUAGE})


def check_languages(languages: tuple[str, ...]) -> None:
    """Refuse a site language without UI strings: its pages would mix two languages."""
    missing = [lang for lang in languages if lang not in catalogue_languages()]
    if missing:
        raise ConfigError(
            f"kgpub.toml: [site] languages lists {', '.join(missing)}, which has no UI translation "
            f"(available: {', '.join(catalogue_languages())}). Remove it, or add "
            f"src/kgpub/locale/<lang>/LC_MESSAGES/{DOMAIN}.po (see the README, 'Languages')."
        )


@cache
def translations(lang: str) -> NullTranslations:
    if lang == SOURCE_LANGUAGE:
        return NullTranslations()
    po = files("kgpub").joinpath("locale", lang, "LC_MESSAGES", f"{DOMAIN}.po")
    with po.open("rb") as f:
        catalog = read_po(f, locale=lang, domain=DOMAIN)
    buf = io.BytesIO()
    write_mo(buf, catalog)  # fuzzy entries are left out, as msgfmt does
    buf.seek(0)
    return Translations(buf, domain=DOMAIN)


@cache
def language_name(lang: str) -> str:
    """A language's name in itself ('Français'), for the language switch."""
    try:
        name = Locale.parse(lang).get_display_name(lang) or lang
    except (ValueError, TypeError):
        return lang
    return name[:1].upper() + name[1:]
