"""The HTML page's excerpt of a result, built in the worker (bounded work, under the time limit)
and rendered by the HTTP layer: at most HTML_ROWS rows (or triples), each cell cut at
HTML_CELL_CHARS characters, HTML_TEXT_CHARS characters of text in all."""

from __future__ import annotations

import json
from itertools import islice

import pyoxigraph as ox

from ..formats import used_prefixes
from .capped import collect

HTML_ROWS = 500
HTML_CELL_CHARS = 2000
HTML_TEXT_CHARS = 512 * 1024


def view(result, form: str, max_rows: int, max_bytes: int, prefixes: dict,
          out) -> tuple[int | None, str | None]:
    """A bounded excerpt for the HTML page, as JSON: a table of at most HTML_ROWS rows (cells
    cut at HTML_CELL_CHARS, HTML_TEXT_CHARS in all), or the Turtle of at most HTML_ROWS
    triples (cut at HTML_TEXT_CHARS). "cut": None, "rows" (the endpoint's max_rows) or
    "page" (the page shows less than the whole result)."""
    shown = min(max_rows, HTML_ROWS)
    if isinstance(result, ox.QueryBoolean):
        view = {"kind": "boolean", "value": bool(result)}
        out.write(json.dumps(view).encode("utf-8"))
        return None, None
    if isinstance(result, ox.QuerySolutions):
        header, lines, reason = collect(result, shown, max_bytes)
        solutions = ox.parse_query_results(header + b"".join(lines), ox.QueryResultsFormat.TSV)
        head = [v.value for v in solutions.variables]
        rows, chars = [], 0
        for solution in solutions:
            row = [view_cell(solution[i]) for i in range(len(head))]
            chars += sum(len(c[1]) for c in row)
            if chars > HTML_TEXT_CHARS:
                reason = "bytes"
                break
            rows.append(row)
        view = {"kind": "table", "head": head, "rows": rows}
        count = len(rows)
    else:
        triples = list(islice(result, shown + 1))
        reason = "rows" if len(triples) > shown else None
        triples = triples[:shown]
        if prefixes:
            text = ox.serialize(triples, format=ox.RdfFormat.TURTLE,
                                prefixes=used_prefixes(triples, prefixes))
        else:
            text = ox.serialize(triples, format=ox.RdfFormat.TURTLE)
        text = text.decode("utf-8")
        if len(text) > HTML_TEXT_CHARS:
            text = text[:HTML_TEXT_CHARS].rsplit("\n", 1)[0] + "\n…\n"
            reason = "bytes"
        view = {"kind": "graph", "text": text}
        count = len(triples)
    # Cut where the endpoint itself would have cut, or only for the page?
    view["cut"] = None if reason is None else (
        "rows" if reason == "rows" and max_rows <= HTML_ROWS else "page")
    view["shown"] = count
    out.write(json.dumps(view, ensure_ascii=False).encode("utf-8"))
    return count, None if view["cut"] is None else ("rows" if view["cut"] == "rows" else "page")


def view_cell(term) -> list:
    """[type, text, language] of a term for a table cell; long text is cut."""
    if term is None:
        return ["", "", None]
    if isinstance(term, ox.NamedNode):
        kind, text, lang = "uri", term.value, None
    elif isinstance(term, ox.BlankNode):
        kind, text, lang = "bnode", term.value, None
    elif isinstance(term, ox.Literal):
        kind, text, lang = "literal", term.value, term.language
    else:  # a quoted triple (RDF-star)
        kind, text, lang = "triple", str(term), None
    if len(text) > HTML_CELL_CHARS:
        text = text[:HTML_CELL_CHARS] + "…"
    return [kind, text, lang]
