"""Dates as people write them in a page's language."""

from __future__ import annotations

from datetime import date

import pyoxigraph as ox
from babel.dates import format_date as babel_format_date
from babel.dates import format_skeleton

from ...index import XSD


def format_date(lit: ox.Literal, lang: str = "en") -> str:
    """A date as people write it in the page's language: 3 March 2016, 3 mars 2016."""
    dt = lit.datatype.value if lit.datatype else ""
    # International English writes day month year, as the platform does.
    locale = "en_GB" if lang == "en" else lang
    try:
        if dt == XSD + "date":
            return babel_format_date(date.fromisoformat(lit.value), "long", locale=locale)
        if dt == XSD + "gYearMonth":
            year, month = lit.value.split("-")[:2]
            return format_skeleton("yMMMM", date(int(year), int(month), 1), locale=locale)
    except (ValueError, IndexError):
        pass
    return lit.value
