"""The engine's errors: a query refused, failed, timed out, or turned away by a busy pool."""

from __future__ import annotations

from ..errors import KgpubError

# status (and retry_after) is the HTTP mapping used by server/sparql.py and the CLI.


class QueryError(KgpubError):
    """A query that could not be answered."""


class QueryRefused(QueryError):
    """Refused or failed, with the HTTP status that says why (400 malformed or not allowed, 406
    no such result format, 413 too large, 503 the engine is unavailable or the worker died).
    retry_after (seconds) is set where trying again later can succeed."""

    def __init__(self, status: int, message: str, retry_after: int | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.retry_after = retry_after


class FormatNotAvailable(QueryRefused):
    """The requested result format cannot carry this kind of result (CSV for CONSTRUCT)."""

    def __init__(self, message: str):
        super().__init__(406, message)


class WorkerCrashed(QueryRefused):
    """The worker died during the query (killed, out of memory, a crash in the engine); it is
    replaced (HTTP 503 with Retry-After)."""

    def __init__(self, message: str, retry_after: int = 1):
        super().__init__(503, message, retry_after)


class QueryTimeout(QueryError):
    """The query ran past the time limit; its worker was killed (HTTP 503 with Retry-After)."""

    def __init__(self, timeout: float, retry_after: int = 1):
        super().__init__(
            f"The query ran longer than the limit of {timeout:g} s and was stopped. Narrow it "
            "(more specific patterns, a LIMIT) or load the data dumps into your own store."
        )
        self.timeout = timeout
        self.retry_after = retry_after


class PoolBusy(QueryError):
    """The queue is full, or the query waited for a worker as long as it may (HTTP 503 with
    Retry-After)."""

    def __init__(self, retry_after: int, message: str | None = None):
        super().__init__(
            message or f"All query workers are busy; retry in {retry_after} s."
        )
        self.retry_after = retry_after
