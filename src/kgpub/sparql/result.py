"""A query's answer as the caller holds it: spooled (a little in memory, the rest in a temporary
file), so the caller's memory does not grow with a result and a worker is free again as soon as
its answer is spooled, whatever the speed of the client that reads it."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from typing import IO

from .limits import MiB

# The caller keeps this much of a result in memory before spooling the rest to a temporary file.
SPOOL_MEMORY_BYTES = 1 * MiB


def new_spool() -> IO[bytes]:
    return tempfile.SpooledTemporaryFile(max_size=SPOOL_MEMORY_BYTES, prefix="kgpub-sparql-")


class QueryResult:
    """A query's answer. The body is bytes (a small answer, as the worker sent it in one
    message) or spooled (SpooledTemporaryFile: SPOOL_MEMORY_BYTES in memory, the rest on
    disk): read it with chunks() to stream it, or .body to have it all in memory (QueryPool.run
    does that). close() frees the spool.

    format is the short name of the result format ("json", "ttl"...) or "html", for which
    the body is the worker's excerpt of the result for the page, also as .view."""

    def __init__(self, media_type: str, body: bytes | None = None, truncated: bool = False,
                 rows: int | None = None, elapsed: float = 0.0, *, spool=None, size: int = 0,
                 form: str | None = None, format: str | None = None,  # noqa: A002
                 truncated_reason: str | None = None, view: dict | None = None):
        self.media_type = media_type
        self.truncated = truncated  # cut at max_rows or max_result_bytes
        self.truncated_reason = truncated_reason  # "rows" or "bytes"
        self.rows = rows  # solutions or triples returned; None for ASK
        self.elapsed = elapsed  # seconds, from dispatch to the answer spooled
        self.form = form
        self.format = format
        self.view = view
        self._body = body
        self._spool = spool
        self.size = len(body) if body is not None else size

    @property
    def spooled(self) -> bool:
        """Whether the body waits in a spool (stream it) rather than in memory as bytes."""
        return self._spool is not None

    @property
    def body(self) -> bytes:
        if self._body is None:
            if self._spool is None:
                self._body = b""
            else:
                self._spool.seek(0)
                self._body = self._spool.read()
                self._spool.close()
                self._spool = None
        return self._body

    def chunks(self, size: int = 256 * 1024) -> Iterator[bytes]:
        """The body in pieces (from the spool: memory stays flat); closes the spool at the end."""
        if self._body is not None or self._spool is None:
            body = self.body
            for i in range(0, len(body), size):
                yield body[i:i + size]
            return
        spool, self._spool = self._spool, None
        try:
            spool.seek(0)
            while chunk := spool.read(size):
                yield chunk
        finally:
            spool.close()

    def close(self) -> None:
        if self._spool is not None:
            self._spool.close()
            self._spool = None

    def __repr__(self) -> str:
        return (f"QueryResult({self.media_type!r}, {self.size} bytes, rows={self.rows}, "
                f"truncated={self.truncated_reason or False})")
