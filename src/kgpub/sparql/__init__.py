"""The SPARQL engine behind /sparql and `kgpub query`: read-only, no federation, a time limit that
really stops a query, a cap on the size of a result (rows and bytes), and a fair queue.

  errors    what goes wrong: refused, timed out, busy (each with its HTTP status)
  limits    QueryLimits, the [sparql] table of kgpub.toml
  formats   result formats and the choice of one for a query form
  check     what is refused before anything runs (read-only, no SERVICE, well-formed)
  pool      QueryPool: worker processes, the queue in front of them, QueryResult
  worker    what runs inside a worker process: checking, evaluation, capped serialization,
            the HTML page's excerpt of a result
  table     a result as plain-text columns, for the terminal
  examples  example queries, shown on the endpoint's page and used by the benchmark
"""

from __future__ import annotations

from .check import MAX_NESTING, PARSE_IN_PROCESS_BYTES, ParsedInfo, check_query, check_text
from .errors import (
    FormatNotAvailable,
    PoolBusy,
    QueryError,
    QueryRefused,
    QueryTimeout,
    WorkerCrashed,
)
from .examples import Example, example_queries
from .formats import (
    GRAPH_FORMATS,
    GRAPH_FORMS,
    GRAPH_MEDIA_TYPES,
    QUERY_FORMS,
    SOLUTION_FORMATS,
    SOLUTION_MEDIA_TYPES,
    ResultFormat,
    choose_format,
)
from .limits import MAX_QUERY_BYTES, QueryLimits
from .pool import QueryPool, QueryResult
from .table import table
from .worker import HTML_CELL_CHARS, HTML_ROWS, HTML_TEXT_CHARS

__all__ = [
    "GRAPH_FORMATS",
    "GRAPH_FORMS",
    "GRAPH_MEDIA_TYPES",
    "HTML_CELL_CHARS",
    "HTML_ROWS",
    "HTML_TEXT_CHARS",
    "MAX_NESTING",
    "MAX_QUERY_BYTES",
    "PARSE_IN_PROCESS_BYTES",
    "QUERY_FORMS",
    "SOLUTION_FORMATS",
    "SOLUTION_MEDIA_TYPES",
    "Example",
    "FormatNotAvailable",
    "ParsedInfo",
    "PoolBusy",
    "QueryError",
    "QueryLimits",
    "QueryPool",
    "QueryRefused",
    "QueryResult",
    "QueryTimeout",
    "ResultFormat",
    "WorkerCrashed",
    "check_query",
    "check_text",
    "choose_format",
    "example_queries",
    "table",
]
