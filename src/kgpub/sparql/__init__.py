"""The SPARQL engine behind /sparql and `kgpub query`: read-only, no federation, a time limit that
really stops a query, a cap on the size of a result (rows and bytes), and a fair queue.

  errors    what goes wrong, by kind: refused (invalid, too large, no such format), the engine
            unavailable, timed out, busy (the server maps kinds to HTTP statuses, the CLI to
            exit codes)
  limits    QueryLimits, the [sparql] table of kgpub.toml
  formats   result formats and the choice of one for a query form
  check     what is refused before anything runs (read-only, no SERVICE, well-formed)
  pool      QueryPool: the worker processes and who gets one (admission, Retry-After)
  queue     the fair queue in front of the workers (round-robin between clients)
  processes a worker process as the pool sees it: start, kill, exit reason, memory
  messages  what the pool and a worker send each other
  result    QueryResult: an answer, spooled and streamed
  worker    what runs inside a worker process: loading, checking, evaluation
  capped    a result serialized and cut at the row and byte caps
  view      the HTML page's excerpt of a result
  table     a result as plain-text columns, for the terminal
  examples  example queries, shown on the endpoint's page and used by the benchmark
"""

from __future__ import annotations

from .check import MAX_NESTING, PARSE_IN_PROCESS_BYTES, ParsedInfo, check_query, check_text
from .errors import (
    EngineFault,
    EngineUnavailable,
    FormatNotAvailable,
    PoolBusy,
    QueryError,
    QueryInvalid,
    QueryRefused,
    QueryTimeout,
    QueryTooLarge,
    StoreFailed,
    StoreTimeout,
    UnsupportedContentType,
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
from .pool import QueryPool
from .result import QueryResult
from .table import table
from .view import HTML_CELL_CHARS, HTML_ROWS, HTML_TEXT_CHARS

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
    "EngineFault",
    "EngineUnavailable",
    "Example",
    "FormatNotAvailable",
    "ParsedInfo",
    "PoolBusy",
    "QueryError",
    "QueryInvalid",
    "QueryLimits",
    "QueryPool",
    "QueryRefused",
    "QueryResult",
    "QueryTimeout",
    "StoreFailed",
    "StoreTimeout",
    "QueryTooLarge",
    "ResultFormat",
    "UnsupportedContentType",
    "WorkerCrashed",
    "check_query",
    "check_text",
    "choose_format",
    "example_queries",
    "table",
]
