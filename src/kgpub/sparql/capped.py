"""A result serialized and cut where the endpoint's caps say: after max_rows solutions or
triples, or at the last whole solution or triple that fits in max_bytes, in every format.

Solutions are first written as TSV (one solution a line, terms in N-Triples syntax: lossless),
which pyoxigraph stops writing as soon as a cap is reached, then written again in the requested
format; triples are cut by searching for the most that fit."""

from __future__ import annotations

import pyoxigraph as ox

from ..formats import used_prefixes
from .errors import FormatNotAvailable, QueryError
from .formats import ResultFormat
from .messages import CHUNK_BYTES


class Collect:
    """A sink that keeps everything (tests, tools): what a worker's chunked sink is otherwise."""

    def __init__(self) -> None:
        self.data = bytearray()

    def write(self, data) -> None:
        self.data += data

    def flush(self) -> None:
        pass


def boolean(result: ox.QueryBoolean, fmt: ResultFormat) -> bytes:
    if fmt.results is None:
        raise FormatNotAvailable(f"{fmt.media_type} cannot carry the result of an ASK query")
    return result.serialize(format=fmt.results)


class _Full(Exception):
    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class _TsvCap:
    """A binary sink for pyoxigraph's TSV serializer (one solution a line, terms in N-Triples
    syntax: lossless) that stops it, without evaluating the rest, after `lines` lines ("rows")
    or `max_bytes` bytes ("bytes")."""

    def __init__(self, lines: int, max_bytes: int):
        self.lines = lines
        self.max_bytes = max_bytes
        self.data = bytearray()
        self.ends: list[int] = []  # offset just past each complete line

    def write(self, chunk) -> int:
        start = len(self.data)
        self.data += chunk
        find = self.data.find
        pos = find(b"\n", start)
        while pos != -1:
            self.ends.append(pos + 1)
            if len(self.ends) > self.lines:
                raise _Full("rows")
            pos = find(b"\n", pos + 1)
        if len(self.data) > self.max_bytes:
            raise _Full("bytes")
        return len(chunk)

    def flush(self) -> None:
        pass

    def split(self) -> tuple[bytes, list[bytes]]:
        """The header line and the complete solution lines, at most lines - 1 of them."""
        ends = self.ends[: self.lines]
        if not ends:
            return bytes(self.data), []
        data = bytes(self.data)
        rows = [data[a:b] for a, b in zip(ends, ends[1:], strict=False)]
        return data[: ends[0]], rows


def collect(result: ox.QuerySolutions, rows: int, max_bytes: int) -> tuple[bytes, list, str | None]:
    sink = _TsvCap(rows + 1, max_bytes)  # the header line, then a line per solution
    reason = None
    try:
        result.serialize(sink, ox.QueryResultsFormat.TSV)
    except _Full as full:
        reason = full.reason
    header, lines = sink.split()
    return header, lines, reason


def solutions(result: ox.QuerySolutions, fmt: ResultFormat, max_rows: int, max_bytes: int,
              out) -> tuple[int, str | None]:
    """SELECT results, at most max_rows solutions and max_bytes bytes (cut at the last whole
    solution): evaluated into a capped TSV, then written in the requested format."""
    if fmt.results is None:
        raise FormatNotAvailable(f"{fmt.media_type} cannot carry the result of a SELECT query")
    # CSV drops datatypes and brackets, so it can hold more solutions than the same bytes of TSV.
    budget = max_bytes * (2 if fmt.results == ox.QueryResultsFormat.CSV else 1) + 64 * 1024
    header, rows, reason = collect(result, max_rows, budget)
    count, cut = _write_solutions(header, rows, fmt.results, max_bytes, out)
    return count, "bytes" if cut else reason


def _reserialize(tsv: bytes, fmt: ox.QueryResultsFormat) -> bytes:
    return ox.parse_query_results(tsv, ox.QueryResultsFormat.TSV).serialize(format=fmt)


def _frame(empty: bytes, fmt: ox.QueryResultsFormat) -> tuple[bytes, bytes, bytes]:
    """(prefix, suffix, separator) of a serialized result: a document with solutions is the
    prefix, the solutions joined by the separator, the suffix."""
    if fmt == ox.QueryResultsFormat.JSON:
        at = empty.rfind(b"[]")
        return empty[: at + 1], empty[at + 1:], b","
    if fmt == ox.QueryResultsFormat.XML:
        at = empty.rfind(b"<results></results>")
        return empty[: at + 9], empty[at + 9:], b""
    return empty, b"", b""  # CSV, TSV: a header line, then a line per solution


def _write_solutions(header: bytes, rows: list[bytes], fmt: ox.QueryResultsFormat,
                     max_bytes: int, out) -> tuple[int, bool]:
    """Write header + rows in fmt, in batches, stopping before the solution that would take the
    document past max_bytes. Returns (solutions written, whether any was left out)."""
    if fmt == ox.QueryResultsFormat.TSV:
        size = len(header)
        out.write(header)
        for i, row in enumerate(rows):
            if size + len(row) > max_bytes:
                return i, True
            out.write(row)
            size += len(row)
        return len(rows), False
    if sum(map(len, rows)) <= max_bytes // 4 and len(rows) <= 2000:
        # Small (the usual case): the whole document at once, if it fits as it should.
        doc = _reserialize(header + b"".join(rows), fmt)
        if len(doc) <= max_bytes:
            out.write(doc)
            return len(rows), False
    prefix, suffix, sep = _frame(_reserialize(header, fmt), fmt)

    def inner(lines: list[bytes]) -> bytes:
        doc = _reserialize(header + b"".join(lines), fmt)
        if not (doc.startswith(prefix) and doc.endswith(suffix)):
            raise QueryError("this result format cannot be cut at a solution")
        return doc[len(prefix): len(doc) - len(suffix)]

    budget = max_bytes - len(prefix) - len(suffix)
    out.write(prefix)
    used = written = i = 0
    while i < len(rows):
        j, batch_bytes = i, 0
        while j < len(rows) and j - i < 2000 and batch_bytes < CHUNK_BYTES:
            batch_bytes += len(rows[j])
            j += 1
        body = inner(rows[i:j])
        extra = len(body) + (len(sep) if written else 0)
        if used + extra > budget:  # this batch does not fit whole: one solution at a time
            for row in rows[i:j]:
                body = inner([row])
                extra = len(body) + (len(sep) if written else 0)
                if used + extra > budget:
                    out.write(suffix)
                    return written, True
                out.write(sep if written else b"")
                out.write(body)
                used += extra
                written += 1
            i = j
            continue
        out.write(sep if written else b"")
        out.write(body)
        used += extra
        written += j - i
        i = j
    out.write(suffix)
    return written, False


def triples(result: ox.QueryTriples, fmt: ResultFormat, max_rows: int, max_bytes: int,
           prefixes: dict, out) -> tuple[int, str | None]:
    """CONSTRUCT/DESCRIBE results, at most max_rows triples and max_bytes bytes (the most
    triples whose document fits)."""
    if fmt.rdf is None:
        raise FormatNotAvailable(f"{fmt.media_type} cannot carry the result of a graph query")
    triples: list[ox.Triple] = []
    sizes: list[int] = []  # running size in N-Triples, to estimate where to cut
    total, reason = 0, None
    for triple in result:
        if len(triples) == max_rows:
            reason = "rows"
            break
        total += len(str(triple)) + 3
        triples.append(triple)
        sizes.append(total)
        if total > 2 * max_bytes + 64 * 1024:
            reason = "bytes"
            break

    def ser(ts: list[ox.Triple]) -> bytes:
        if fmt.rdf in (ox.RdfFormat.TURTLE, ox.RdfFormat.RDF_XML) and prefixes:
            return ox.serialize(ts, format=fmt.rdf, prefixes=used_prefixes(ts, prefixes))
        return ox.serialize(ts, format=fmt.rdf)

    body = ser(triples)
    if len(body) > max_bytes:  # the most triples that fit: guess from the sizes, then bisect
        reason = "bytes"
        lo, hi, best = 0, len(triples), ser([])
        scale = len(body) / max(total, 1)
        k = next((i for i, s in enumerate(sizes) if s * scale > max_bytes), len(triples))
        for step in range(64):
            if hi - lo <= 1:
                break
            k = k if lo < k < hi else (lo + hi) // 2
            candidate = ser(triples[:k])
            if len(candidate) <= max_bytes:
                lo, best = k, candidate
            else:
                hi = k
            guess = int(k * max_bytes / max(len(candidate), 1))
            k = guess if step % 2 == 0 else (lo + hi) // 2
        body, count = best, lo
    else:
        count = len(triples)
    out.write(body)
    return count, reason
