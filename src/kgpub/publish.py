"""`kgpub publish`: a build's graph into a SPARQL 1.1 store, switched to atomically.

With the Graph Store HTTP Protocol, the build's N-Triples dump is loaded into a new named graph
named after its content (BUILD_PREFIX + digest), checked complete, and only then made current by
one PUT of the small pointer graph (POINTER) that names it. kgpub's SPARQL front
(kgpub.server.store) reads the pointer and sends `default-graph-uri` of the graph it names, so
a query sees one whole build, never a half-loaded one. Older build graphs are deleted last,
except the previous one: a front may still use it until its cached pointer expires.

One store dataset per site: the graph names below are the whole contract between the two."""

from __future__ import annotations

import gzip
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

from . import generation, layout
from .errors import KgpubError
from .formats import NTRIPLES

BUILD_PREFIX = "urn:kgpub:build:"  # + the first 32 hex digits of the dump's SHA-256
POINTER = "urn:kgpub:current"  # the graph (and subject) naming the current build graph
CURRENT = "urn:kgpub:graph"  # POINTER CURRENT <build graph>
PREVIOUS = "urn:kgpub:previous"  # POINTER PREVIOUS <the build graph before>
POINTER_QUERY = (
    f"SELECT ?p ?g WHERE {{ GRAPH <{POINTER}> {{ <{POINTER}> ?p ?g }} }}"
)
CHUNK = 1024 * 1024
TIMEOUT = httpx.Timeout(600.0, connect=10.0)  # loading 100k entries takes a while


class PublishError(KgpubError):
    """The store refused or could not be reached; what is published stays as it was."""


@dataclass(frozen=True)
class Published:
    graph: str
    triples: int
    loaded: bool  # False: the build was already current, nothing sent
    deleted: tuple[str, ...]


def publish(site: Path, query_url: str, graph_store_url: str) -> Published:
    dump = _dump(site)
    graph = BUILD_PREFIX + _digest(dump)
    with httpx.Client(timeout=TIMEOUT) as client:
        current, _ = read_pointer(client, query_url)
        if current == graph:
            return Published(graph, _count(client, query_url, graph), False, ())
        sent = _load(client, graph_store_url, graph, dump)
        stored = _count(client, query_url, graph)
        if stored != sent:  # never switch to a graph that is not whole
            _delete(client, graph_store_url, graph)
            raise PublishError(f"the store holds {stored} of the {sent} triples sent to "
                               f"{graph}; nothing was switched")
        _put(client, graph_store_url, POINTER, _pointer(graph, current))
        deleted = tuple(_delete(client, graph_store_url, g)
                        for g in _build_graphs(client, query_url) if g not in (graph, current))
    return Published(graph, sent, True, deleted)


def read_pointer(client: httpx.Client, query_url: str) -> tuple[str | None, str | None]:
    """(current, previous) build graphs named by the pointer graph; None where none."""
    found = {p: g for p, g in _select(client, query_url, POINTER_QUERY, ("p", "g"))}
    return found.get(CURRENT), found.get(PREVIOUS)


def _dump(site: Path) -> Path:
    root = generation.current(site) or site
    dump = root / layout.dump_path(NTRIPLES)
    if not dump.is_file():
        raise PublishError(f"{site} has no {layout.dump_path(NTRIPLES)}; run kgpub build")
    return dump


def _digest(dump: Path) -> str:
    sha = hashlib.sha256()
    for chunk in _lines(dump):
        sha.update(chunk)
    return sha.hexdigest()[:32]


def _lines(dump: Path) -> Iterator[bytes]:
    """The dump's N-Triples, decompressed, in pieces (never whole in memory)."""
    with gzip.open(dump, "rb") as f:
        while chunk := f.read(CHUNK):
            yield chunk


def _load(client: httpx.Client, gsp: str, graph: str, dump: Path) -> int:
    triples = 0

    def body() -> Iterator[bytes]:
        nonlocal triples
        for chunk in _lines(dump):
            triples += chunk.count(b"\n")  # the dump writes one triple a line
            yield chunk

    _put(client, gsp, graph, body())
    return triples


def _pointer(graph: str, previous: str | None) -> bytes:
    lines = [f"<{POINTER}> <{CURRENT}> <{graph}> .\n"]
    if previous:
        lines.append(f"<{POINTER}> <{PREVIOUS}> <{previous}> .\n")
    return "".join(lines).encode()


def _put(client: httpx.Client, gsp: str, graph: str, body: bytes | Iterator[bytes]) -> None:
    response = _call(client, "PUT", gsp, params={"graph": graph}, content=body,
                     headers={"Content-Type": NTRIPLES.media_type})
    if response.status_code not in (200, 201, 204):
        raise PublishError(f"{gsp}: PUT of {graph} answered {_status(response)}")


def _delete(client: httpx.Client, gsp: str, graph: str) -> str:
    response = _call(client, "DELETE", gsp, params={"graph": graph})
    if response.status_code not in (200, 202, 204, 404):
        raise PublishError(f"{gsp}: DELETE of {graph} answered {_status(response)}")
    return graph


def _count(client: httpx.Client, query_url: str, graph: str) -> int:
    query = f"SELECT (COUNT(*) AS ?n) WHERE {{ GRAPH <{graph}> {{ ?s ?p ?o }} }}"
    return int(next(iter(_select(client, query_url, query, ("n",))), ("0",))[0])


def _build_graphs(client: httpx.Client, query_url: str) -> list[str]:
    query = ("SELECT DISTINCT ?g WHERE { GRAPH ?g { ?s ?p ?o } "
             f'FILTER(STRSTARTS(STR(?g), "{BUILD_PREFIX}")) }}')
    return sorted(row[0] for row in _select(client, query_url, query, ("g",)))


def _select(client: httpx.Client, query_url: str, query: str,
            names: tuple[str, ...]) -> list[tuple[str, ...]]:
    response = _call(client, "POST", query_url, data={"query": query},
                     headers={"Accept": "application/sparql-results+json"})
    if response.status_code != 200:
        raise PublishError(f"{query_url}: the query answered {_status(response)}")
    try:
        rows = response.json()["results"]["bindings"]
        return [tuple(row[n]["value"] for n in names) for row in rows]
    except (ValueError, KeyError, TypeError) as exc:
        raise PublishError(f"{query_url}: not a SPARQL JSON result ({exc})") from None


def _call(client: httpx.Client, method: str, url: str, **kwargs: object) -> httpx.Response:
    try:
        return client.request(method, url, **kwargs)  # type: ignore[arg-type]
    except httpx.HTTPError as exc:
        raise PublishError(f"{url}: {type(exc).__name__}: {exc or 'no answer'}") from None


def _status(response: httpx.Response) -> str:
    line = response.text.strip().splitlines()[0][:200] if response.text.strip() else ""
    return f"{response.status_code}" + (f": {line}" if line else "")
