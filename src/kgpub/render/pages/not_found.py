"""The page served for any missing path."""

from __future__ import annotations

from ...index import Label
from ...layout import NOT_FOUND
from ..templates import chrome
from .head import page_context
from .view import Page, View


def page(v: View) -> Page:
    # Served at any path, so its links are absolute from the site root.
    key = NOT_FOUND
    path = v.here(key)
    ctx = page_context(v, path, key, None)
    ctx.update(chrome(v.project, path, v.lang, absolute=True, page_key=key),
               kind="notfound", title=Label(v._("Not found"), v.lang))
    return Page(path, "404.html", ctx)
