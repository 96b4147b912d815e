"""For the terminal (`kgpub query --format table`)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .pool import QueryResult


def table(result: QueryResult, max_width: int = 60) -> str:
    """SPARQL JSON results as plain-text columns (ASK: true or false)."""
    data = json.loads(result.body)
    if "boolean" in data:
        return "true" if data["boolean"] else "false"
    head = data.get("head", {}).get("vars", [])
    rows = [[_cell(b.get(v)) for v in head] for b in data.get("results", {}).get("bindings", [])]
    widths = [
        min(max_width, max([len(h)] + [len(r[i]) for r in rows])) for i, h in enumerate(head)
    ]

    def line(cells: list[str]) -> str:
        return "  ".join(_clip(c, w).ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip()

    out = [line(head), line(["-" * w for w in widths])] + [line(r) for r in rows]
    note = f"{len(rows)} row(s)"
    if result.truncated:
        note += " (cut at the row limit)"
    return "\n".join(out + [note])


def _cell(term: dict | None) -> str:
    if term is None:
        return ""
    value = term["value"].replace("\n", "\\n").replace("\t", "\\t")
    if term["type"] == "bnode":
        return "_:" + value
    if term["type"] == "literal" and "xml:lang" in term:
        return f"{value}@{term['xml:lang']}"
    return value


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"
