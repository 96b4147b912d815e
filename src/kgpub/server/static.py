"""Serve files of a built site safely, with validators and compression.

Paths are resolved inside the site root only (no '..', no encoded tricks, no symlinks that lead
out, no directory listings). Each file gets a strong ETag from its content, Last-Modified,
304 on conditional requests, and gzip when the client asks."""

from __future__ import annotations

import gzip
import hashlib
import threading
from dataclasses import dataclass
from email.utils import formatdate, parsedate_to_datetime
from pathlib import Path

from ..formats import DOCUMENT_FORMATS
from ..layout import WELL_KNOWN

# Media types by suffix: the document formats come from the one registry.
MEDIA_TYPES = {f.suffix: f.content_type for f in DOCUMENT_FORMATS}
MEDIA_TYPES.update(
    {
        ".css": "text/css; charset=utf-8",
        ".js": "text/javascript; charset=utf-8",
        ".json": "application/json",
        ".xml": "application/xml; charset=utf-8",
        ".txt": "text/plain; charset=utf-8",
        ".atom": "application/atom+xml; charset=utf-8",
        ".gz": "application/gzip",
        ".png": "image/png",
        ".jpg": "image/jpeg",
        ".svg": "image/svg+xml",
        ".ico": "image/x-icon",
        ".wasm": "application/wasm",
        # Pagefind's index files are binary (gzip-framed); served as they are.
        ".pf_meta": "application/octet-stream",
        ".pf_index": "application/octet-stream",
        ".pf_fragment": "application/octet-stream",
        ".pf_filter": "application/octet-stream",
        ".bib": "application/x-bibtex; charset=utf-8",
        ".ris": "application/x-research-info-systems; charset=utf-8",
    }
)
COMPRESSIBLE = ("text/", "application/ld+json", "application/n-triples", "application/rdf+xml",
                "application/json", "application/xml", "application/atom+xml", "image/svg+xml")
GZIP_MIN_SIZE = 512
# Files from this size on (dumps) are streamed from disk, never read whole into memory; their
# ETag is from size and mtime (a build never changes a published file in place).
STREAM_MIN_SIZE = 1024 * 1024


@dataclass(frozen=True)
class StaticFile:
    path: Path
    body: bytes | None  # None: large, streamed from disk
    etag: str  # strong, quoted
    last_modified: str
    media_type: str
    mtime_ns: int
    size: int

    @property
    def compressible(self) -> bool:
        return (self.body is not None and self.media_type.startswith(COMPRESSIBLE)
                and self.size >= GZIP_MIN_SIZE)


class SiteFiles:
    """Read-only access to a site directory, with a small content cache."""

    def __init__(self, root: Path, cache_bytes: int = 256 * 1024 * 1024):
        self.root = Path(root).resolve()
        self._cache: dict[str, StaticFile] = {}
        self._gzipped: dict[str, bytes] = {}
        self._cached_bytes = 0
        self._cache_limit = cache_bytes
        self._lock = threading.Lock()

    def resolve(self, url_path: str) -> Path | None:
        """The file a decoded URL path names, or None if it is outside the site, hidden,
        a directory, or missing."""
        if "\x00" in url_path or "\\" in url_path:
            return None
        parts = [p for p in url_path.split("/") if p]
        # No dot-segments, no hidden files (the build keeps its own facts in .kgpub/), except
        # the standard /.well-known/ directory (RFC 8615).
        if any(p in (".", "..") or (p.startswith(".") and (i, p) != (0, WELL_KNOWN))
               for i, p in enumerate(parts)):
            return None
        candidate = self.root.joinpath(*parts) if parts else self.root
        try:
            real = candidate.resolve(strict=True)
        except (OSError, RuntimeError):
            return None
        if real != self.root and self.root not in real.parents:
            return None  # a symlink that leads out of the site
        return real if real.is_file() else None

    def exists(self, rel: str) -> bool:
        return self.resolve(rel) is not None

    def get(self, path: Path) -> StaticFile:
        st = path.stat()
        key = str(path)
        with self._lock:
            cached = self._cache.get(key)
        if cached and cached.mtime_ns == st.st_mtime_ns and cached.size == st.st_size:
            return cached
        if st.st_size >= STREAM_MIN_SIZE:
            return StaticFile(
                path=path, body=None, etag=f'"{st.st_size:x}-{st.st_mtime_ns:x}"',
                last_modified=formatdate(st.st_mtime, usegmt=True),
                media_type=MEDIA_TYPES.get(path.suffix, "application/octet-stream"),
                mtime_ns=st.st_mtime_ns, size=st.st_size)
        body = path.read_bytes()
        digest = hashlib.sha256(body).hexdigest()[:32]
        item = StaticFile(
            path=path,
            body=body,
            etag=f'"{digest}"',
            last_modified=formatdate(st.st_mtime, usegmt=True),
            media_type=MEDIA_TYPES.get(path.suffix, "application/octet-stream"),
            mtime_ns=st.st_mtime_ns,
            size=len(body),
        )
        with self._lock:
            if self._cached_bytes + item.size <= self._cache_limit:
                old = self._cache.get(key)
                self._cached_bytes += item.size - (old.size if old else 0)
                self._cache[key] = item
                self._gzipped.pop(key, None)
        return item

    def gzipped(self, item: StaticFile) -> bytes:
        key = str(item.path)
        with self._lock:
            data = self._gzipped.get(key)
        if data is None:
            data = gzip.compress(item.body, compresslevel=6, mtime=0)
            with self._lock:
                if key in self._cache:
                    self._gzipped[key] = data
        return data


def accepts_gzip(header: str | None) -> bool:
    if not header:
        return False
    for part in header.split(","):
        coding, _, params = part.strip().partition(";")
        if coding.strip().lower() in ("gzip", "x-gzip", "*"):
            q = params.strip()
            if q.startswith("q="):
                try:
                    return float(q[2:]) > 0
                except ValueError:
                    return False
            return True
    return False


def not_modified(if_none_match: str | None, if_modified_since: str | None,
                 etag: str, last_modified: str) -> bool:
    """RFC 9110 13.1: If-None-Match wins over If-Modified-Since (weak comparison)."""
    if if_none_match is not None:
        tags = [t.strip().removeprefix("W/") for t in if_none_match.split(",")]
        return "*" in tags or etag in tags
    if if_modified_since:
        try:
            return parsedate_to_datetime(last_modified) <= parsedate_to_datetime(if_modified_since)
        except (TypeError, ValueError):
            return False
    return False
