"""Render RDF documents: one per entity and format, and gzipped whole-graph dumps.

A dump is a gzip file of several members (a valid gzip stream: gunzip, zcat, Python's gzip,
rdflib and pyoxigraph read it whole): a head (Turtle's prefixes, JSON-LD's "["), one member per
chunk of the graph, a tail (JSON-LD's "]"). Chunks are runs of the graph's statements in parse
order, cut before a subject whose CRC-32 is 0 modulo CHUNK_SUBJECTS (content-defined: an edit
changes its own chunk, never where the others start). `.kgpub/dump-members.json` keeps each
chunk's digest (of its N-Triples) and its members' sizes, so a rebuild compresses only the
chunks whose statements changed and copies the others' members from the last build's dumps.
A full build writes the same members, so the files are the same either way.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pyoxigraph as ox

from ..formats import DUMP_FORMATS, RDF_FORMATS, serialize_all, used_prefixes
from ..index import VOID, Index
from ..layout import DUMP_MEMBERS, dump_path
from ..layout import VOID as VOID_DOC

CHUNK_SUBJECTS = 64  # subjects a chunk on average: ~1,000 statements, a member of ~20 KB
CACHE_FORMAT = 2
_PROBE = ox.Triple(ox.NamedNode("urn:kgpub:s"), ox.NamedNode("urn:kgpub:p"),
                   ox.NamedNode("urn:kgpub:o"))


def entity_documents(index: Index, iri: str) -> list[tuple[str, bytes]]:
    """(file path, bytes) of the entity's description in every RDF format."""
    triples = index.description(iri)
    # Every document points back to the dataset it belongs to (VoID).
    dataset = ox.NamedNode(index.base + VOID_DOC + "#dataset")
    triples.append(ox.Triple(ox.NamedNode(iri), ox.NamedNode(VOID + "inDataset"), dataset))
    doc = index.path(iri)
    bodies = serialize_all(triples, RDF_FORMATS, index.prefixes)
    return [(doc + f.suffix, body) for f, body in zip(RDF_FORMATS, bodies, strict=True)]


@dataclass(frozen=True)
class Chunk:
    """One chunk's members as the last build wrote them."""

    digest: str  # of its N-Triples
    prefixes: tuple[str, ...]  # the prefix names its Turtle uses
    sizes: tuple[int, ...]  # of its member in each dump, in DUMP_FORMATS order
    first: bool  # its JSON-LD member has no leading comma
    check: str  # digest of its members' compressed bytes: a damaged dump is not trusted


@dataclass
class DumpCache:
    """The last build's chunks, and its dumps' bytes (members are sliced out of them)."""

    chunks: dict[tuple[str, bool], tuple[Chunk, list[bytes]]]  # (digest, first) -> members


def compress(data: bytes) -> bytes:
    # Level 6 (zlib's default) compresses twice as fast as gzip's 9, a few % larger; no time
    # stamp, so builds are identical.
    return gzip.compress(data, compresslevel=6, mtime=0)


def chunks(triples: Sequence[ox.Triple]) -> list[list[ox.Triple]]:
    """The graph's statements in parse order, cut before subjects that start a chunk."""
    out: list[list[ox.Triple]] = []
    current: list[ox.Triple] = []
    last = None
    for t in triples:
        subject = t.subject.value  # type: ignore[union-attr]
        if subject != last:
            last = subject
            if current and zlib.crc32(subject.encode()) % CHUNK_SUBJECTS == 0:
                out.append(current)
                current = []
        current.append(t)
    if current:
        out.append(current)
    return out


def dumps(index: Index, previous: DumpCache | None = None,
          warn: Callable[[str], None] | None = None) -> list[tuple[str, bytes]]:
    """The whole graph (vocabulary + data) in each dump format, gzipped, and the chunk record
    (DUMP_MEMBERS). previous: the last build's chunks, whose members are reused; warn: told
    once when one of them is not what the record says (it is compressed again)."""
    parts = chunks(index.triples)
    mismatched = 0
    records: list[Chunk] = []
    members: list[list[bytes]] = [[] for _ in DUMP_FORMATS]
    for n, part in enumerate(parts):
        nt = ox.serialize(part, format=ox.RdfFormat.N_TRIPLES)
        digest = hashlib.blake2b(nt, digest_size=16).hexdigest()
        kept = previous.chunks.get((digest, n == 0)) if previous else None
        if kept is not None and _check(kept[1]) != kept[0].check:
            mismatched += 1
            kept = None
        if kept is None:
            kept = _members(part, nt, digest, n == 0, index.prefixes)
        records.append(kept[0])
        for i, member in enumerate(kept[1]):
            members[i].append(member)
    if mismatched and warn:
        warn(f"{mismatched} member(s) of the last build's dumps do not hold what "
             f"{DUMP_MEMBERS} says (edited by hand?): compressed them again")
    names = sorted({p for r in records for p in r.prefixes})
    heads, tails = _frame({p: index.prefixes[p] for p in names})
    files = [(dump_path(fmt), b"".join([head, *body, tail]))
             for fmt, head, body, tail in zip(DUMP_FORMATS, heads, members, tails, strict=True)]
    record = {"format": CACHE_FORMAT, "heads": [len(h) for h in heads],
              "tails": [len(t) for t in tails],
              "chunks": [[r.digest, list(r.prefixes), list(r.sizes), r.first, r.check]
                         for r in records]}
    return files + [(DUMP_MEMBERS, json.dumps(record, separators=(",", ":")).encode() + b"\n")]


def _check(members: list[bytes]) -> str:
    h = hashlib.blake2b(digest_size=12)
    for member in members:
        h.update(member)
    return h.hexdigest()


def _members(part: list[ox.Triple], nt: bytes, digest: str, first: bool,
             prefixes: dict[str, str]) -> tuple[Chunk, list[bytes]]:
    """A chunk's member in each dump format, compressed."""
    used = used_prefixes(part, prefixes)
    out = []
    for fmt in DUMP_FORMATS:
        if fmt.rdf == ox.RdfFormat.N_TRIPLES:
            data = nt
        elif fmt.rdf == ox.RdfFormat.TURTLE:
            data = _without_head(ox.serialize(part, format=fmt.rdf, prefixes=used), used)
        else:  # JSON-LD: the chunk's node objects, between the dump's "[" and "]"
            body = ox.serialize(part, format=fmt.rdf)
            data = (b"" if first else b",") + body[1:-1]
        out.append(compress(data))
    return Chunk(digest, tuple(used), tuple(len(m) for m in out), first, _check(out)), out


def _turtle_head(prefixes: dict[str, str]) -> bytes:
    """The @prefix lines the Turtle serializer writes for these prefixes."""
    if not prefixes:
        return b""
    probe = ox.serialize([_PROBE], format=ox.RdfFormat.TURTLE, prefixes=prefixes)
    line = ox.serialize([_PROBE], format=ox.RdfFormat.TURTLE)
    assert probe.endswith(line)
    return probe[: len(probe) - len(line)]


def _without_head(turtle: bytes, prefixes: dict[str, str]) -> bytes:
    head = _turtle_head(prefixes)
    if not turtle.startswith(head):
        raise ValueError("the Turtle serializer wrote its prefixes in an unexpected form")
    return turtle[len(head):]


def _frame(prefixes: dict[str, str]) -> tuple[list[bytes], list[bytes]]:
    """Each dump's head and tail members (empty bytes: none)."""
    heads, tails = [], []
    for fmt in DUMP_FORMATS:
        head, tail = b"", b""
        if fmt.rdf == ox.RdfFormat.TURTLE:
            head = _turtle_head(prefixes)
        elif fmt.rdf == ox.RdfFormat.JSON_LD:
            head, tail = b"[", b"]"
        heads.append(compress(head) if head else b"")
        tails.append(compress(tail) if tail else b"")
    return heads, tails


def read_dump_cache(site: Path) -> DumpCache | None:
    """The chunks of the dumps in `site` as DUMP_MEMBERS records them, or None when the record
    or a dump is missing or does not match (then every chunk is compressed again)."""
    try:
        record = json.loads((site / DUMP_MEMBERS).read_bytes())
        if record.get("format") != CACHE_FORMAT:
            return None
        data = [(site / dump_path(fmt)).read_bytes() for fmt in DUMP_FORMATS]
        offsets = list(record["heads"])
        found: dict[tuple[str, bool], tuple[Chunk, list[bytes]]] = {}
        for digest, names, sizes, first, check in record["chunks"]:
            chunk = Chunk(str(digest), tuple(names), tuple(int(s) for s in sizes), bool(first),
                          str(check))
            if len(chunk.sizes) != len(DUMP_FORMATS):
                return None
            slices = [d[o : o + s] for d, o, s in zip(data, offsets, chunk.sizes, strict=True)]
            offsets = [o + s for o, s in zip(offsets, chunk.sizes, strict=True)]
            found[(chunk.digest, chunk.first)] = (chunk, slices)
        ends = [o + t for o, t in zip(offsets, record["tails"], strict=True)]
        if ends != [len(d) for d in data]:
            return None
        return DumpCache(found)
    except (OSError, ValueError, KeyError, TypeError):
        return None


