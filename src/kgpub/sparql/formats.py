"""Result formats: which media types carry the result of each query form, and the choice of one
for a query form and a requested media type or short name."""

from __future__ import annotations

from dataclasses import dataclass

import pyoxigraph as ox

from ..formats import RDF_FORMATS
from .errors import FormatNotAvailable

QUERY_FORMS = ("SELECT", "ASK", "CONSTRUCT", "DESCRIBE")
GRAPH_FORMS = ("CONSTRUCT", "DESCRIBE")


@dataclass(frozen=True)
class ResultFormat:
    name: str  # short name: json, xml, csv, tsv, ttl, jsonld, nt, rdf
    media_type: str
    results: ox.QueryResultsFormat | None = None  # for SELECT and ASK
    rdf: ox.RdfFormat | None = None  # for CONSTRUCT and DESCRIBE
    aliases: tuple[str, ...] = ()


SOLUTION_FORMATS: tuple[ResultFormat, ...] = (
    ResultFormat("json", "application/sparql-results+json", ox.QueryResultsFormat.JSON,
                 aliases=("application/json",)),
    ResultFormat("xml", "application/sparql-results+xml", ox.QueryResultsFormat.XML,
                 aliases=("application/xml", "text/xml")),
    ResultFormat("csv", "text/csv", ox.QueryResultsFormat.CSV),
    ResultFormat("tsv", "text/tab-separated-values", ox.QueryResultsFormat.TSV),
)
_GRAPH_ALIASES = {"ttl": ("application/x-turtle",), "jsonld": ("application/json",)}
GRAPH_FORMATS: tuple[ResultFormat, ...] = tuple(
    ResultFormat(f.name, f.media_type, rdf=f.rdf, aliases=_GRAPH_ALIASES.get(f.name, ()))
    for f in RDF_FORMATS  # ttl, jsonld, nt, rdf: the site's own document formats
)
# In order of preference: the first is the default.
SOLUTION_MEDIA_TYPES: tuple[str, ...] = tuple(f.media_type for f in SOLUTION_FORMATS)
GRAPH_MEDIA_TYPES: tuple[str, ...] = tuple(f.media_type for f in GRAPH_FORMATS)
_FORMATS_BY_NAME = {f.name: f for f in SOLUTION_FORMATS + GRAPH_FORMATS}


def choose_format(form: str, requested: str | None = None) -> ResultFormat:
    """The result format for a query form and a requested media type or short name; JSON for
    SELECT/ASK and Turtle for graphs by default. FormatNotAvailable (406) on a mismatch."""
    offered = GRAPH_FORMATS if form in GRAPH_FORMS else SOLUTION_FORMATS
    if not requested or not requested.strip():
        return offered[0]
    key = requested.split(";")[0].strip().lower()
    if key == "xml" and form in GRAPH_FORMS:  # "xml" names the XML of each kind: RDF/XML here
        key = "rdf"
    for fmt in offered:
        if key in (fmt.name, fmt.media_type) or key in fmt.aliases:
            return fmt
    names = ", ".join(f"{f.name} ({f.media_type})" for f in offered)
    known = any(key in (f.name, f.media_type) for f in SOLUTION_FORMATS + GRAPH_FORMATS)
    why = f"cannot carry the result of a {form} query" if known else "is not a result format"
    raise FormatNotAvailable(f"{requested} {why}; use one of: {names}")
