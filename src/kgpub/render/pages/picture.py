"""A picture with its credit (title, creator, licence, source), as topic and image pages show it."""

from __future__ import annotations

import pyoxigraph as ox

from ...index import DCT, FOAF
from .view import Context, Value, View


def picture(v: View, page: str, topic: str) -> Context | None:
    """The picture of a topic (foaf:depiction), if it has one."""
    pic = v.index.value(topic, FOAF + "depiction")
    return picture_of(v, page, pic.value) if isinstance(pic, ox.NamedNode) else None


def picture_of(v: View, page: str, image: str) -> Context:
    def first(prop: str) -> Value | None:
        value = v.index.value(image, prop)
        return v.value(page, value) if value is not None else None

    return {
        "link": v.link(page, image),
        "title": v.label(image),
        "creator": first(DCT + "creator"),
        "license": first(DCT + "license"),
        "source": first(DCT + "source"),
    }
