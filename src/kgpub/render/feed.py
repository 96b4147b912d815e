"""The Atom feed (RFC 4287) of the newest and latest changed entries, withdrawals as RFC 6721
tombstones. Well-formed whatever the data (kgpub.formats.xml_safe)."""

from __future__ import annotations

from xml.sax.saxutils import escape, quoteattr

import pyoxigraph as ox

from ..formats import HTML, RDF_FORMATS, xml_safe
from ..index import DCT, Index
from ..layout import FEED as FEED_PATH
from ..layout import HOME
from .datestamps import datestamp, default_datestamp

FEED_SIZE = 50
TOMBSTONES_NS = "http://purl.org/atompub/tombstones/1.0"  # RFC 6721


def atom_feed(index: Index, keys: dict[str, tuple[str, str]] | None = None) -> bytes:
    """RFC 4287 feed of the newest and latest changed entries (withdrawals included). keys:
    every entry's (datestamp, dcterms:date) when known (kgpub.render.pieces)."""
    if keys is None:
        keys = {e: (datestamp(index, e), _date(index, e))
                for e in index.entities if index.kind(e) == "entry"}
    dated = sorted(keys, key=lambda e: (*keys[e], e), reverse=True)
    newest = dated[:FEED_SIZE]
    project = index.project
    lang = project.default_language
    updated = datestamp(index, newest[0]) if newest else default_datestamp(index)
    out = [
        '<?xml version="1.0" encoding="utf-8"?>',
        f'<feed xmlns="http://www.w3.org/2005/Atom" xmlns:at="{TOMBSTONES_NS}" '
        f"xml:lang={quoteattr(lang)}>",
        f"<id>{escape(index.base + FEED_PATH)}</id>",
        f"<title>{escape(project.title)}: new and changed entries</title>",
        f"<updated>{updated}</updated>",
        f'<link rel="self" type="application/atom+xml" href={quoteattr(index.base + FEED_PATH)}/>',
        f'<link rel="alternate" type="text/html" href={quoteattr(index.base + HOME)}/>',
        f"<author><name>{escape(project.repository.get('publisher', project.title))}</name></author>",
        "<generator>kgpub</generator>",
    ]
    for iri in newest:
        out.append(_deleted_entry(index, iri) if index.is_tombstone(iri)
                   else _feed_entry(index, iri, lang))
    out.append("</feed>\n")
    return xml_safe("\n".join(out)).encode("utf-8")


def _date(index: Index, iri: str) -> str:
    v = index.value(iri, DCT + "date")
    return v.value if v is not None else ""


def _deleted_entry(index: Index, iri: str) -> str:
    """A withdrawn entry as an RFC 6721 tombstone: feed readers drop the entry they had."""
    successor = index.value(iri, DCT + "isReplacedBy")
    parts = [f"<at:deleted-entry ref={quoteattr(iri)} when={quoteattr(datestamp(index, iri))}>"]
    if isinstance(successor, ox.NamedNode):
        parts.append(f"<at:comment>Withdrawn; replaced by {escape(successor.value)}</at:comment>")
        parts.append(f'<link rel="alternate" href={quoteattr(successor.value)}/>')
    else:
        parts.append("<at:comment>Withdrawn</at:comment>")
    parts.append("</at:deleted-entry>")
    return "\n".join(parts)


def _feed_entry(index: Index, iri: str, lang: str) -> str:
    title = index.label(iri, lang)
    page = iri + HTML.suffix
    parts = [
        "<entry>",
        f"<id>{escape(iri)}</id>",
        f"<title>{escape(title.text)}</title>",
        f"<updated>{datestamp(index, iri)}</updated>",
        f'<link rel="alternate" type="text/html" href={quoteattr(page)}/>',
    ]
    for fmt in RDF_FORMATS:
        parts.append(f'<link rel="alternate" type="{fmt.media_type}" '
                     f"href={quoteattr(iri + fmt.suffix)}/>")
    for agent in index.values(iri, DCT + "creator"):
        if isinstance(agent, ox.NamedNode):
            parts.append(f"<author><name>{escape(index.label(agent.value, lang).text)}</name></author>")
    for topic in index.values(iri, DCT + "subject"):
        if isinstance(topic, ox.NamedNode):
            parts.append(f"<category term={quoteattr(topic.value)} "
                         f"label={quoteattr(index.label(topic.value, lang).text)}/>")
    abstract = index.text(iri, DCT + "abstract", lang)
    if abstract:
        parts.append(f"<summary>{escape(abstract.text)}</summary>")
    parts.append("</entry>")
    return "\n".join(parts)

