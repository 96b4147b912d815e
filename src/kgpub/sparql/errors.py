"""The engine's errors, by what went wrong: a query refused (malformed or not allowed, too large,
no format for its result), the engine unavailable or faulty, a query timed out, a busy pool.

They carry no protocol codes: the HTTP layer maps each kind to a status (kgpub.server.sparql,
HTTP_STATUS) and the command line to an exit code (kgpub.cli). retry_after (seconds) is set
where trying again later can succeed.
"""

from __future__ import annotations

from ..errors import KgpubError


class QueryError(KgpubError):
    """A query that could not be answered."""

    def __init__(self, message: str, retry_after: int | None = None):
        super().__init__(message)
        self.message = message
        self.retry_after = retry_after


class QueryRefused(QueryError):
    """Refused or failed before an answer: the kinds below say why."""


class QueryInvalid(QueryRefused):
    """Malformed, or not allowed here (an update, SERVICE, a parameter that is not an IRI)."""


class QueryTooLarge(QueryRefused):
    """The query (or the request carrying it) is over the size limit."""


class UnsupportedContentType(QueryRefused):
    """A POST whose body is neither a form nor a query."""


class FormatNotAvailable(QueryRefused):
    """The requested result format cannot carry this kind of result (CSV for CONSTRUCT)."""


class EngineUnavailable(QueryRefused):
    """The engine cannot answer now: shut down, the graph did not load, workers keep failing."""


class WorkerCrashed(EngineUnavailable):
    """The worker died during the query (killed, out of memory, a crash in the engine); it is
    replaced."""

    def __init__(self, message: str, retry_after: int = 1):
        super().__init__(message, retry_after)


class EngineFault(QueryRefused):
    """The engine failed in a way no query should cause (a bug, a broken worker)."""


class StoreFailed(QueryRefused):
    """The upstream SPARQL store (`[sparql] store`) failed, answered an error or too much."""


class StoreTimeout(QueryRefused):
    """The upstream store did not answer within the time limit; the request was aborted."""


class QueryTimeout(QueryError):
    """The query ran past the time limit; its worker was killed."""

    def __init__(self, timeout: float, retry_after: int = 1):
        super().__init__(
            f"The query ran longer than the limit of {timeout:g} s and was stopped. Narrow it "
            "(more specific patterns, a LIMIT) or load the data dumps into your own store.",
            retry_after,
        )
        self.timeout = timeout


class PoolBusy(QueryError):
    """The queue is full, or the query waited for a worker as long as it may."""

    def __init__(self, retry_after: int, message: str | None = None):
        super().__init__(message or f"All query workers are busy; retry in {retry_after} s.",
                         retry_after)


# The refusals a worker process sends back by name (its messages are JSON, never pickles).
REFUSALS: dict[str, type[QueryRefused]] = {cls.__name__: cls for cls in (
    QueryInvalid, QueryTooLarge, FormatNotAvailable, EngineUnavailable, EngineFault)}


def refusal(kind: str, message: str) -> QueryRefused:
    """The error a worker named (EngineFault for a name it should not have sent)."""
    return REFUSALS.get(kind, EngineFault)(message)
