"""Datestamps: when an entity last changed, as harvesters (sitemaps, the feed, OAI-PMH, DCAT)
want it: UTC, to the second."""

from __future__ import annotations

from datetime import UTC, datetime

from ..index import DCT, Index

DEFAULT_DATESTAMP = "2026-11-27T00:00:00Z"


def utc_datestamp(value: str) -> str | None:
    """An xsd:dateTime as UTC 'YYYY-MM-DDThh:mm:ssZ' (no fractions), or None if unreadable."""
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def default_datestamp(index: Index) -> str:
    configured = index.project.repository.get("default_datestamp", DEFAULT_DATESTAMP)
    return utc_datestamp(configured) or DEFAULT_DATESTAMP


def datestamp(index: Index, iri: str) -> str:
    """Last modification of an entity: its dcterms:modified, else the project's stable default."""
    stamps = [s for v in index.values(iri, DCT + "modified") if (s := utc_datestamp(v.value))]
    return max(stamps) if stamps else default_datestamp(index)

