"""The messages between the pool and its worker processes: a JSON header line, then raw bytes.

Not pickle: a worker runs untrusted queries, and unpickling what it sends could run code in the
parent. The pool sends a query request (query_request) or {"kind": "exit"}; a worker answers
{"kind": "ready"|"failed"} once loaded, then per query chunks of the result ({"kind": "chunk"})
and a last message: {"kind": "ok", ...} or {"kind": "refused", "error": kind, "message": ...}
(kgpub.sparql.errors.refusal)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

import pyoxigraph as ox

from .errors import QueryInvalid
from .formats import GRAPH_FORMS, QUERY_FORMS
from .limits import MiB, QueryLimits

# A result travels from a worker in messages of this size.
CHUNK_BYTES = 1 * MiB


def send(conn, head: dict, body: bytes = b"") -> None:
    conn.send_bytes(json.dumps(head).encode("utf-8") + b"\n" + body)


def recv(conn) -> tuple[dict, bytes]:
    head, _, body = conn.recv_bytes().partition(b"\n")
    return json.loads(head), body


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
