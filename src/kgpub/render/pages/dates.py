"""Dates as people write them in a page's language."""

from __future__ import annotations

from datetime import date
from functools import lru_cache

import pyoxigraph as ox
from babel.dates import format_date as babel_format_date
from babel.dates import format_skeleton

from ...index import XSD


def format_date(lit: ox.Literal, lang: str = "en") -> str:
    """A date as people write it in the page's language: 3 March 2016, 3 mars 2016."""
    return _format(lit.value, lit.datatype.value if lit.datatype else "", lang)


# Babel takes ~0.1 ms a date, and the same few thousand dates are on every card and page.
@lru_cache(maxsize=16384)
def _format(value: str, dt: str, lang: str) -> str:
    # International English writes day month year, as the platform does.
    locale = "en_GB" if lang == "en" else lang
    try:
        if dt == XSD + "date":
            return babel_format_date(date.fromisoformat(value), "long", locale=locale)
        if dt == XSD + "gYearMonth":
            year, month = value.split("-")[:2]
            return format_skeleton("yMMMM", date(int(year), int(month), 1), locale=locale)
    except (ValueError, IndexError):
        pass
    return value
