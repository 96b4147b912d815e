"""Full-text search with facets: a Pagefind index of the built site.

Pagefind (https://pagefind.app) indexes the HTML already written to the build's staging
directory and produces a static bundle (WebAssembly search engine, index chunks, page
fragments and its UI) that the search page loads in the browser: no server is involved.

What is indexed is decided by the templates: a page is searchable when an element (its
``<main>``) has ``data-pagefind-body``; its language is ``<html lang>`` (one index per
language). Facets and the result title are read from metas, whose value is in an attribute,
so Pagefind must be told which one: ``<meta data-pagefind-filter="type[content]"
content="...">`` and ``<meta data-pagefind-meta="title[content]" content="...">`` (without
``[content]`` Pagefind takes the element's text, empty for a meta: no facet at all).

Determinism (the project's builds are byte-identical), checked for Pagefind 1.5.2:

* Page numbers inside the index follow the order in which pages reach Pagefind. Its own
  directory walk (``add_directory``) uses the file system's order, which differs between file
  systems (ext4 hashes names with a per-file-system seed, tmpfs lists newest first): the same
  pages on tmpfs gave other index chunks and metadata. So the pages are sent one by one
  (``add_html_file``) in the order of their sorted site-relative paths; the service handles
  requests strictly in the order received.
* Three things come out of Rust hash maps, whose order is random in each process: the
  languages in ``pagefind-entry.json``, the filters listed in each language's
  ``pagefind.<lang>_<hash>.pf_meta``, and the values inside each ``filter/*.pf_filter``. As
  the file names are content hashes, the filter files, the metadata file and the entry file
  change name or content from one run to the next. ``_canonical`` rewrites them in sorted
  order (values and filters by name, languages by code) and renames them by the hash of the
  new content, as Pagefind names them (a prefix of the SHA-1, in hex without zero padding, of
  the CBOR). They are written uncompressed (``pagefind_dcd`` then CBOR: the framing that
  Pagefind's decompression accepts as is), so that no zlib build can change the bytes; the
  site's server compresses responses anyway. The order carries no meaning for Pagefind (it
  was random), except that where no language matches the page the search falls back to the
  language with most pages, ties now going to the first code alphabetically.
* Everything else is a pure function of the pages: file names are content hashes, Pagefind's
  gzip headers carry no time stamp, the paths given are site-relative (the staging directory's
  location never reaches Pagefind), and Python's hash seed plays no part. The CBOR of the
  rewritten files is decoded and encoded again only after checking that this reproduces
  Pagefind's bytes exactly; another Pagefind version with another layout is an error, not a
  silently different index.

The upstream Python wrapper is used (``PagefindService``/``PagefindIndex``) with its reader
replaced: the upstream one sleeps 0.1 s before reading each response (ten pages a second when
pages are sent one by one), reads at most 2 MiB per response (``get_files`` of a large site
is more, and the reader then dies and the caller waits forever) and merges the binary's
stderr into the protocol stream.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import collections
import concurrent.futures
import gzip
import hashlib
import json
import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from pagefind.index import PagefindIndex
from pagefind.service import PagefindService, get_executable

from kgpub.config import Project
from kgpub.errors import KgpubError
from kgpub.layout import SEARCH_DIR
from kgpub.search_input import searchable_part

log = logging.getLogger(__name__)

ENTRY = "pagefind-entry.json"
SIGNATURE = b"pagefind_dcd"  # starts every index file once decompressed

# Requests in flight at once (pipelined: the service answers in order).
BATCH = 64
# An upper bound for the whole indexing, so that a stuck binary cannot hang a build.
TIMEOUT = 1800.0
# A real data-pagefind-body attribute on an element, not the words in a page's text (where
# "<" is escaped). Pages without one are not sent: when no page has one Pagefind would index
# every page whole.
_BODY = re.compile(rb"<[A-Za-z][^>]*?\sdata-pagefind-body(?=[\s=/>])")
_STDERR_TAIL = 4000


@dataclass
class SearchIndex:
    files: list[tuple[str, bytes]]  # (site-relative path under _pagefind/, content), sorted
    pages: int  # pages indexed
    languages: list[str]  # sorted
    shards: int = 1  # bundles (see shard_of)


# Past this many pages ([search] shard_pages in kgpub.toml) the index is split into bundles ("shards") of about this size, searched
# together by the search page (Pagefind's mergeIndex). Pagefind holds a whole index in memory
# (~80 KB a page: 7 GB for 100,000) and has no incremental mode; a shard caps its memory, and a
# rebuild indexes again only the shards whose pages changed. Each shard costs the search page
# one more bundle to load (~70 KB of WebAssembly), hence shards of thousands of pages.
SHARD_PAGES = Project.shard_pages  # the default ([search] shard_pages; kgpub.config)
SHARDS_FILE = "shards.json"  # the search page's list of the other shards' bundles


def shard_count(pages: int, shard_pages: int = SHARD_PAGES) -> int:
    return max(1, -(-pages // shard_pages))


def shard_of(page: str, shards: int) -> int:
    """A page's shard: stable (a hash of its path), so an edit changes one shard."""
    return int.from_bytes(hashlib.blake2b(page.encode(), digest_size=8).digest()) % shards


def shard_dir(shard: int) -> str:
    """Where a shard's bundle is, under _pagefind/ (the first shard is the bundle itself)."""
    return "" if shard == 0 else f"shard-{shard}/"


def shard_of_file(path: str) -> int | None:
    """The shard a file of the search bundle belongs to (None: the shard list)."""
    rel = path[len(SEARCH_DIR) + 1 :]
    if rel == SHARDS_FILE:
        return None
    head = rel.split("/", 1)[0]
    return int(head[6:]) if head.startswith("shard-") and head[6:].isdigit() else 0


def build_search_index(
    site_dir: Path, pages: list[str] | None = None, overlay: Path | None = None,
    only: set[int] | None = None, shard_pages: int | None = None, whole_pages: bool = False,
) -> SearchIndex:
    """Index the searchable HTML pages under ``site_dir``; return Pagefind's bundles in memory.

    pages: their site-relative paths when the caller knows them (a build does), else found by
    reading every page. overlay: a directory whose files, where it has them, replace the
    site's (the pages a rebuild is about to publish). only: the shards to index (the files of
    the others are not returned). shard_pages: pages per shard (default SHARD_PAGES).
    whole_pages: send Pagefind every page whole instead of the part it reads
    (kgpub.search_input; the index is the same, which the tests check with it). Nothing
    is written to ``site_dir``. Raises ``KgpubError``
    when Pagefind cannot run.
    """
    site_dir = Path(site_dir)
    if not site_dir.is_dir():
        raise KgpubError(f"search index: {site_dir} is not a directory")
    pages = sorted(pages) if pages is not None else _searchable_pages(site_dir)
    roots = [Path(overlay), site_dir] if overlay else [site_dir]
    count = shard_count(len(pages), shard_pages or SHARD_PAGES)
    groups: list[list[str]] = [[] for _ in range(count)]
    for page in pages:
        groups[shard_of(page, count)].append(page)
    # Every shard the search page is to merge, whether indexed now or kept from before.
    others = [shard_dir(i) for i in range(1, count) if groups[i]]
    files = [(f"{SEARCH_DIR}/{SHARDS_FILE}",
              json.dumps({"shards": others}, sort_keys=True).encode() + b"\n")]
    todo = [i for i, group in enumerate(groups)
            if (only is None or i in only) and (group or i == 0)]
    # One Pagefind process per core at a time (each is single-threaded).
    with concurrent.futures.ThreadPoolExecutor(min(len(todo), os.cpu_count() or 1) or 1) as pool:
        bundles = list(pool.map(lambda i: _bundle(roots, groups[i], whole_pages), todo))
    indexed, languages = 0, set()
    for i, shard in zip(todo, bundles, strict=True):
        files += [(f"{SEARCH_DIR}/{shard_dir(i)}{path}", content) for path, content in shard.files]
        indexed += shard.pages
        languages.update(shard.languages)
    return SearchIndex(files=sorted(files), pages=indexed, languages=sorted(languages),
                       shards=count)


def _bundle(roots: list[Path], pages: list[str], whole: bool = False) -> SearchIndex:
    """One Pagefind bundle of these pages (paths relative to its directory)."""
    raw = _run_sync(_index(roots, pages, whole))
    if len({path for path, _ in raw}) != len(raw):
        raise KgpubError("search index: Pagefind produced the same file twice")
    files, entry = _canonical(dict(raw))
    for path in files:
        rel = PurePosixPath(path)
        if rel.is_absolute() or ".." in rel.parts or not rel.parts:
            raise KgpubError(f"search index: Pagefind produced an unexpected file path {path!r}")
    count = sum(int(lang["page_count"]) for lang in entry["languages"].values())
    return SearchIndex(
        files=sorted(files.items()),
        pages=count,
        languages=sorted(entry["languages"]),
    )


def _searchable_pages(site_dir: Path) -> list[str]:
    """Site-relative paths of the pages to send, sorted (this order fixes page numbers).
    Hidden folders and an existing search bundle are skipped."""
    paths = []
    for dirpath, dirnames, filenames in os.walk(site_dir):
        here = Path(dirpath)
        dirnames[:] = [
            d for d in dirnames if not d.startswith(".") and (here / d) != site_dir / SEARCH_DIR
        ]
        for name in filenames:
            if name.endswith(".html") and not name.startswith("."):
                paths.append((here / name).relative_to(site_dir).as_posix())
    return sorted(p for p in paths if _BODY.search((site_dir / p).read_bytes()))


def is_searchable(path: str, page: bytes) -> bool:
    """Whether a file of the site is a page the search index takes."""
    return path.endswith(".html") and _BODY.search(page) is not None


def _canonical(files: dict[str, bytes]) -> tuple[dict[str, bytes], dict]:
    """Pagefind's files with what comes out of its hash maps in sorted order (see the module's
    docstring): the entry file, each language's metadata and its filter files."""
    files = dict(files)
    try:
        entry = json.loads(files.pop(ENTRY))
        languages = entry["languages"]
        for lang, info in sorted(languages.items()):
            meta_path = f"pagefind.{info['hash']}.pf_meta"
            meta = _read_cbor(files.pop(meta_path), meta_path)
            # MetaIndex: version, pages, index chunks, filters [name, hash], sorts [name, pages]
            if not (isinstance(meta, list) and len(meta) >= 5):
                raise ValueError(f"{meta_path}: not the expected metadata layout")
            # All of the language's old files out first: a new name may be an old one's.
            chunks = []
            for name, chunk in sorted(meta[3]):
                path = f"filter/{chunk}.pf_filter"
                chunks.append((name, _read_cbor(files.pop(path), path)))
            filters, used = [], set()
            for name, (filter_name, values) in chunks:
                body = _cbor([filter_name, sorted(values, key=lambda v: v[0])])
                new = _short_name(lang, body, 7, used.__contains__)
                used.add(new)
                files[f"filter/{new}.pf_filter"] = SIGNATURE + body
                filters.append([name, new])
            meta[3] = filters
            meta[4] = sorted(meta[4], key=lambda s: s[0])
            body = _cbor(meta)
            info["hash"] = _short_name(lang, body, len(lang) + 8, lambda n: False)
            files[f"pagefind.{info['hash']}.pf_meta"] = SIGNATURE + body
        entry["languages"] = dict(sorted(languages.items()))
    except KgpubError:
        raise
    except Exception as e:  # a missing file, another layout, corrupt data: all the same
        raise KgpubError(
            f"search index: Pagefind's output is not laid out as kgpub expects ({e}); kgpub"
            " supports pagefind 1.5.2: pip install 'pagefind[bin]==1.5.2'"
        ) from e
    # Pagefind's own compact JSON, UTF-8 unescaped.
    files[ENTRY] = json.dumps(entry, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return files, entry


def _short_name(lang: str, body: bytes, length: int, taken) -> str:
    """``<lang>_<hash prefix>``: Pagefind's names (SHA-1 bytes as unpadded hex), the prefix
    lengthened while it names another file."""
    digest = "".join(f"{b:x}" for b in hashlib.sha1(body).digest())
    while taken(name := f"{lang}_{digest[:length]}") and length < len(digest):
        length += 1
    return name


def _read_cbor(data: bytes, path: str):
    if not data.startswith(SIGNATURE):
        data = gzip.decompress(data)
    if not data.startswith(SIGNATURE):
        raise ValueError(f"{path}: no Pagefind signature")
    body = data[len(SIGNATURE) :]
    value, end = _uncbor(body, 0)
    if end != len(body) or _cbor(value) != body:
        raise ValueError(f"{path}: CBOR that kgpub cannot reproduce")
    return value


# The CBOR subset Pagefind's index files use (minicbor: definite lengths, shortest heads).
def _cbor(value) -> bytes:
    if isinstance(value, bool) or value is None:
        raise ValueError(f"unexpected CBOR value {value!r}")
    if isinstance(value, int):
        return _head(0, value) if value >= 0 else _head(1, -1 - value)
    if isinstance(value, bytes):
        return _head(2, len(value)) + value
    if isinstance(value, str):
        data = value.encode("utf-8")
        return _head(3, len(data)) + data
    if isinstance(value, list):
        return _head(4, len(value)) + b"".join(_cbor(v) for v in value)
    if isinstance(value, dict):
        return _head(5, len(value)) + b"".join(_cbor(k) + _cbor(v) for k, v in value.items())
    raise ValueError(f"unexpected CBOR value {value!r}")


def _head(major: int, arg: int) -> bytes:
    if arg < 24:
        return bytes([major << 5 | arg])
    for info, size in ((24, 1), (25, 2), (26, 4), (27, 8)):
        if arg < 1 << (8 * size):
            return bytes([major << 5 | info]) + arg.to_bytes(size, "big")
    raise ValueError(f"CBOR argument too large: {arg}")


def _uncbor(data: bytes, i: int):
    major, info = data[i] >> 5, data[i] & 31
    i += 1
    if info < 24:
        arg = info
    elif info <= 27:
        size = 1 << (info - 24)
        if i + size > len(data):
            raise ValueError("truncated CBOR")
        arg, i = int.from_bytes(data[i : i + size], "big"), i + size
    else:
        raise ValueError(f"unsupported CBOR head {data[i - 1]:#x}")
    if major == 0:
        return arg, i
    if major == 1:
        return -1 - arg, i
    if major in (2, 3):
        if i + arg > len(data):
            raise ValueError("truncated CBOR")
        chunk = data[i : i + arg]
        return (chunk if major == 2 else chunk.decode("utf-8")), i + arg
    if major == 4:
        items = []
        for _ in range(arg):
            item, i = _uncbor(data, i)
            items.append(item)
        return items, i
    if major == 5:
        mapping = {}
        for _ in range(arg):
            key, i = _uncbor(data, i)
            mapping[key], i = _uncbor(data, i)
        return mapping, i
    raise ValueError(f"unsupported CBOR major type {major}")


def _run_sync(coro):
    """Run ``coro`` to completion for a synchronous caller, also from inside an event loop
    (a server handler): then in a thread of its own."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


async def _index(roots: list[Path], pages: list[str], whole: bool) -> list[tuple[str, bytes]]:
    binary = get_executable()
    if binary is None or not Path(binary).is_file():
        raise KgpubError(
            "search index: the Pagefind binary was not found"
            + (f" at {binary}" if binary else "")
            + ". Install it with pip install 'pagefind[bin]==1.5.2' (the pagefind_bin"
            " package), or set PAGEFIND_BINARY_PATH to a pagefind executable"
        )
    service = _Service()
    try:
        await service.launch()
    except OSError as e:
        raise KgpubError(
            f"search index: cannot start the Pagefind binary {binary}: {e}. Reinstall it with"
            " pip install --force-reinstall 'pagefind[bin]==1.5.2'"
        ) from e
    try:
        return await asyncio.wait_for(_feed(service, roots, pages, whole), TIMEOUT)
    except KgpubError:
        raise
    except TimeoutError as e:
        raise KgpubError(
            f"search index: Pagefind did not finish indexing {roots[-1]} in {TIMEOUT:.0f} s"
            f"{service.stderr_note()}"
        ) from e
    except Exception as e:  # the service's errors are plain Exceptions
        raise KgpubError(
            f"search index: Pagefind failed while indexing {roots[-1]}: {e}"
            f"{service.stderr_note()}. Check that pagefind and pagefind_bin are both version"
            " 1.5.2"
        ) from e
    finally:
        await service.close()


async def _feed(service: _Service, roots: list[Path], pages: list[str],
                whole: bool) -> list[tuple[str, bytes]]:
    index: PagefindIndex = await service.create_index(None)
    # Only what Pagefind reads of each page: a third of the bytes to parse, the same index.
    part = (lambda page: page) if whole else searchable_part
    # A window of BATCH requests in flight: the next page is read while Pagefind works on the
    # ones before it. Tasks start in the order they are made and each writes its request
    # before its first suspension, so the requests (and page numbers) follow the sorted order.
    window: collections.deque[asyncio.Task] = collections.deque()
    try:
        for page in pages:
            content = part(_read(roots, page)).decode("utf-8", "replace")
            # source_path relative: Pagefind makes the URL /p (dir/ for index.html)
            window.append(asyncio.ensure_future(
                index.add_html_file(content=content, source_path=page)))
            if len(window) >= BATCH:
                await window.popleft()
        await asyncio.gather(*window)
    finally:
        for task in window:
            task.cancel()
    return [(f["path"], f["content"]) for f in await index.get_files()]


def _read(roots: list[Path], page: str) -> bytes:
    for root in roots[:-1]:
        try:
            return (root / page).read_bytes()
        except FileNotFoundError:
            pass
    return (roots[-1] / page).read_bytes()


class _Service(PagefindService):
    """The upstream service with a reader that neither sleeps nor caps a response's size,
    stderr kept apart (and quoted in errors), and a close that does not hang."""

    async def launch(self) -> _Service:
        self._stderr = bytearray()
        self._backend = await asyncio.create_subprocess_exec(
            self._bin,
            "--service",
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        self._poll_task = self._loop.create_task(self._wait_for_responses())
        self._stderr_task = self._loop.create_task(self._drain_stderr())
        return self

    async def _drain_stderr(self) -> None:
        assert self._backend.stderr is not None
        while chunk := await self._backend.stderr.read(65536):
            self._stderr += chunk
            del self._stderr[:-_STDERR_TAIL]

    def stderr_note(self) -> str:
        text = bytes(getattr(self, "_stderr", b"")).decode("utf-8", "replace").strip()
        return f" (Pagefind said: {text})" if text else ""

    def _fail_all(self, error: Exception) -> None:
        for future in self._responses.values():
            if not future.done():
                future.set_exception(error)
        self._responses.clear()

    async def send(self, payload):
        # As upstream's, less its eager debug f-strings of every request (whole pages), and
        # failing at once, not after TIMEOUT, when the process is already gone.
        if self._poll_task.done():
            raise RuntimeError("the Pagefind process exited unexpectedly")
        self._message_id += 1
        future = self._loop.create_future()
        self._responses[self._message_id] = future
        request = {"message_id": self._message_id, "payload": payload}
        assert self._backend.stdin is not None
        self._backend.stdin.write(base64.b64encode(json.dumps(request).encode("utf-8")) + b",")
        await self._backend.stdin.drain()
        return await future

    async def _wait_for_responses(self) -> None:
        # Responses are base64 JSON, each followed by a comma (never in base64).
        assert self._backend.stdout is not None
        pending = bytearray()
        try:
            while chunk := await self._backend.stdout.read(1 << 20):
                start = 0
                while (end := chunk.find(b",", start)) != -1:
                    pending += chunk[start:end]
                    self._dispatch(bytes(pending))
                    pending.clear()
                    start = end + 1
                pending += chunk[start:]
        except Exception as e:  # a reader that dies silently would leave callers waiting
            self._fail_all(RuntimeError(f"reading Pagefind's responses failed: {e}"))
            return
        await asyncio.sleep(0.05)  # let stderr be read for the error message
        self._fail_all(RuntimeError("the Pagefind process exited unexpectedly"))

    def _dispatch(self, message: bytes) -> None:
        try:
            response = json.loads(base64.b64decode(message, validate=True))
        except (ValueError, binascii.Error):
            log.warning("pagefind: unreadable response %r", message[:200])
            return
        message_id = response.get("message_id")
        payload = response.get("payload") or {}
        if message_id is None and (original := payload.get("original_message")):
            try:
                message_id = json.loads(original).get("message_id")
            except ValueError:
                pass
        future = self._responses.pop(message_id, None)
        if future is None or future.done():
            log.warning("pagefind: response to no request: %.200r", payload)
        elif payload.get("type") == "Error":
            future.set_exception(RuntimeError(payload.get("message", "unknown error")))
        else:
            future.set_result(payload)

    async def close(self) -> None:
        backend = getattr(self, "_backend", None)
        if backend is None:
            return
        if backend.stdin is not None and not backend.stdin.is_closing():
            backend.stdin.close()  # the service exits at the end of its input
        try:
            await asyncio.wait_for(backend.wait(), 5)
        except TimeoutError:
            backend.kill()
            await backend.wait()
        for task in (self._poll_task, self._stderr_task):
            task.cancel()
        await asyncio.gather(self._poll_task, self._stderr_task, return_exceptions=True)
