"""The messages between the pool and its worker processes: a JSON header line, then raw bytes.

Not pickle: a worker runs untrusted queries, and unpickling what it sends could run code in the
parent. The pool sends a query request (query_request) or {"kind": "exit"}; a worker answers
{"kind": "ready"|"failed"} once loaded, then per query chunks of the result ({"kind": "chunk"},
CHUNK_BYTES each) and a last message: {"kind": "ok", ...} with the rest of the result as its
body (all of a result under CHUNK_BYTES: one message per query), or {"kind": "refused",
"error": kind, "message": ...} (kgpub.sparql.errors.refusal)."""

from __future__ import annotations

import json
import os
import struct
from collections.abc import Iterable, Mapping
from typing import Any

import pyoxigraph as ox

from .errors import QueryInvalid
from .formats import GRAPH_FORMS, QUERY_FORMS
from .limits import MiB, QueryLimits

# A result travels from a worker in messages of this size.
CHUNK_BYTES = 1 * MiB
# What FrameReader asks the descriptor for at a time (a socket buffer's worth, not a chunk's).
READ_BYTES = 64 * 1024


def send(conn, head: dict, body: bytes = b"") -> None:
    conn.send_bytes(encode(head, body))


def recv(conn) -> tuple[dict, bytes]:
    return decode(conn.recv_bytes())


def encode(head: dict, body: bytes = b"") -> bytes:
    return json.dumps(head).encode("utf-8") + b"\n" + body


def decode(message: bytes) -> tuple[dict, bytes]:
    head, _, body = message.partition(b"\n")
    return json.loads(head), body


class FrameReader:
    """Messages of a multiprocessing Connection read from its non-blocking descriptor, as the
    bytes arrive: lets an event loop take a worker's answer without a thread. A frame is a
    4-byte big-endian length (or -1 and an 8-byte length) and the message; a frame longer than
    max_bytes is refused (ValueError) before it is read, so memory stays bounded."""

    def __init__(self, fd: int, max_bytes: int):
        self.fd = fd
        self.max_bytes = max_bytes
        self.buf = bytearray()

    def read(self) -> bool:
        """Take in what the descriptor holds; False at end of file (the writer has gone)."""
        while True:
            try:
                data = os.read(self.fd, READ_BYTES)
            except BlockingIOError:
                return True
            if not data:
                return False
            self.buf += data
            if len(data) < READ_BYTES:
                return True

    def message(self) -> bytes | None:
        """The next whole message, or None until it has all arrived."""
        if len(self.buf) < 4:
            return None
        (size,) = struct.unpack_from("!i", self.buf)
        start = 4
        if size == -1:
            if len(self.buf) < 12:
                return None
            (size,) = struct.unpack_from("!Q", self.buf, 4)
            start = 12
        if size < 0 or size > self.max_bytes:
            raise ValueError(f"a message of {size} bytes")
        if len(self.buf) < start + size:
            return None
        message = bytes(self.buf[start:start + size])
        del self.buf[:start + size]
        return message


def query_request(query: str, result_format, limits: QueryLimits,
                  default_graph_uris: Iterable[str] = (), named_graph_uris: Iterable[str] = (),
                  base_iri: str | None = None) -> dict[str, Any]:
    """What a worker needs to answer a query (checked there: the caller only checks its size
    and encoding)."""
    return {
        "kind": "query",
        "query": query,
        "format": format_plan(result_format),
        "default_graphs": _graph_iris(default_graph_uris, "default-graph-uri"),
        "named_graphs": _graph_iris(named_graph_uris, "named-graph-uri"),
        "base_iri": _graph_iris([base_iri], "base IRI")[0] if base_iri else None,
        "max_rows": limits.max_rows,
        "max_bytes": limits.max_result_bytes,
        "max_query_bytes": limits.max_query_bytes,
        "timeout": limits.timeout,
        "check": True,
    }


def format_plan(result_format) -> dict:
    """The format to use for each query form, decided by the worker once it knows the form:
    {"requested": name or media type or None}, "html", or {"error": message} (406)."""
    if result_format is None or isinstance(result_format, str):
        return {form: {"requested": result_format} for form in QUERY_FORMS}
    plan: dict = {}
    for form in QUERY_FORMS:
        choice = result_format.get(form, result_format.get(
            "graph" if form in GRAPH_FORMS else "solutions"))
        if choice == "html":
            plan[form] = "html"
        elif isinstance(choice, Mapping) and "error" in choice:
            plan[form] = {"error": str(choice["error"])}
        else:
            plan[form] = {"requested": choice}
    return plan


def _graph_iris(iris: Iterable[str], param: str) -> list[str]:
    out = []
    for iri in iris:
        try:
            out.append(ox.NamedNode(iri).value)
        except (ValueError, TypeError) as exc:
            raise QueryInvalid(f"{param}: {iri!r} is not an IRI ({exc})") from None
    return out
