"""Site: the build pipeline. load -> validate -> index -> render -> write.

Everything is written into a staging directory beside the output, so a failed or killed build
leaves the old site intact. A full build's staging directory becomes the site in one atomic
rename. An incremental one (kgpub.incremental: only the units that read an edited statement
are rendered again) stages only the files whose bytes changed and moves them in from a journal
written first, which the next build completes if this one is killed while moving.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import json
import multiprocessing as mp
import os
import shutil
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path

from . import incremental
from .browse import Browse
from .config import Project
from .errors import InvalidData, KgpubError
from .index import Index
from .load import load_sources
from .render import cite
from .render.harvest import (
    FEED_PATH,
    atom_feed,
    meta_files,
    robots_txt,
    sitemaps,
    void_documents,
)
from .render.html import HtmlRenderer
from .render.i18n import check_languages, prefix
from .render.rdf import dumps, entity_documents
from .render.templates import ASSETS
from .search import (
    SEARCH_DIR,
    build_search_index,
    is_searchable,
    shard_count,
    shard_of,
    shard_of_file,
)
from .validate import Report, validate_sources

Progress = Callable[[int, int], None]


@dataclass
class BuildResult:
    out: Path
    files: int
    entities: int
    report: Report | None
    changed: int = 0  # files written because their content is new or changed
    removed: int = 0  # files of the previous site no longer produced
    rendered: int = 0  # units rendered: entities and listing pages (kgpub.incremental)
    incremental: bool = False  # only the units that read something changed were rendered
    timings: dict[str, float] = field(default_factory=dict)  # stage -> wall seconds


class Stopwatch:
    """Wall time per stage of a build (kgpub build --timings)."""

    def __init__(self) -> None:
        self.times: dict[str, float] = {}
        self._last = time.perf_counter()

    def lap(self, stage: str) -> None:
        now = time.perf_counter()
        self.times[stage] = self.times.get(stage, 0.0) + now - self._last
        self._last = now



def renderers(index: Index) -> list[HtmlRenderer]:
    """One HTML renderer per site language (the default first), sharing one navigation."""
    check_languages(index.project.languages)
    nav = Browse(index, index.project.page_size)
    nav.prepare()  # computed once here, before workers fork, and shared by them
    return [HtmlRenderer(index, lang, nav) for lang in index.project.languages]


def render_entities(
    index: Index, iris: list[str], html: list[HtmlRenderer] | None = None
) -> Iterator[tuple[str, bytes]]:
    """Each entity's pages (one per language), RDF documents and, for entries, citations."""
    html = html or renderers(index)
    for iri in iris:
        for renderer in html:
            path, page = renderer.render_entity(iri)
            yield path, page.encode("utf-8")
        yield from entity_documents(index, iri)
        if index.kind(iri) == "entry" and not index.is_tombstone(iri):
            work = cite.work_from_index(index, iri, index.project.default_language)
            doc = index.path(iri)
            yield doc + ".bib", cite.bibtex(work).encode("utf-8")
            yield doc + ".ris", cite.ris(work).encode("utf-8")


def navigation_pages(html: list[HtmlRenderer]) -> Iterator[tuple[str, str]]:
    """The browsing pages that are not listings, in every language: home, search, A-Z, facets."""
    for r in html:
        yield r.render_home()
        yield r.render_not_found()
        yield r.render_search()
        yield r.render_browse_index()
        yield r.render_az()
        for facet in ("type", "place", "organisation", "year"):
            yield r.render_facet(facet)



def site_files(index: Index, html: list[HtmlRenderer] | None = None) -> Iterator[tuple[str, bytes]]:
    """The files that are neither an entity's nor a listing page: navigation pages, dumps,
    harvesting files, assets."""
    html = html or renderers(index)
    nav_paths = []
    for path, page in navigation_pages(html):
        nav_paths.append(path)
        yield path, page.encode("utf-8")
    yield from dumps(index)
    prefixes = [prefix(lang, index.project.languages) for lang in index.project.languages]
    nav_paths += [r.here(listing.page_path(n)) for r in html for listing, n in r.browse.pages()]
    yield from sitemaps(index, [p for p in nav_paths if not p.endswith("404.html")], prefixes)
    yield "robots.txt", robots_txt(index)
    yield from void_documents(index)
    yield FEED_PATH, atom_feed(index)
    yield from meta_files(index)
    for asset in sorted(files("kgpub").joinpath("static").iterdir(), key=lambda a: a.name):
        if asset.is_file():
            yield f"{ASSETS}/{asset.name}", asset.read_bytes()


# Pages are rendered in forked workers that share the index copy-on-write; below this many
# entities forking costs more than it saves.
PARALLEL_MIN_ENTITIES = 2000
CHUNK = 500
LISTING_CHUNK = 200
_shared: dict = {}

Work = tuple  # ("e", iri) | ("l", listing, n): a unit of work (kgpub.incremental)
# (unit name, files it has, those that search indexes, keys read, files written (changed))
Done = tuple[str, list[str], list[str], list[str], list[str]]


def _unit_files(index: Index, html: list[HtmlRenderer], work: Work) -> Iterator[tuple[str, bytes]]:
    if work[0] == "e":
        yield from render_entities(index, [work[1]], html)
    else:
        for r in html:
            path, page = r.render_listing(work[1], work[2])
            yield path, page.encode("utf-8")


def _unit_name(work: Work) -> str:
    return (incremental.entity_unit(work[1]) if work[0] == "e"
            else incremental.listing_unit(work[1].key, work[2]))


def _render_chunk(chunk: list[Work]) -> list[Done]:
    """Render and write units, recording what each read."""
    index, html = _shared["index"], _shared["html"]
    done = []
    for work in chunk:
        with index.recording() as read:
            files = list(_unit_files(index, html, work))
        paths, searchable, changed = _write_files(files)
        done.append((_unit_name(work), paths, searchable, sorted(read), changed))
    return done


def _write_files(files) -> tuple[list[str], list[str], list[str]]:
    """Write (path, bytes) pairs into the staging directory: (paths, the searchable ones, the
    ones written because their bytes are new)."""
    staging, against = _shared["staging"], _shared["against"]
    paths, searchable, changed = [], [], []
    for path, data in files:
        if _write(staging, path, data, against):
            changed.append(path)
        paths.append(path)
        if is_searchable(path, data):
            searchable.append(path)
    return paths, searchable, changed


def _chunks(works: list[Work]) -> list[list[Work]]:
    entities = [w for w in works if w[0] == "e"]
    listings = [w for w in works if w[0] == "l"]
    return ([entities[i : i + CHUNK] for i in range(0, len(entities), CHUNK)]
            + [listings[i : i + LISTING_CHUNK] for i in range(0, len(listings), LISTING_CHUNK)])


def _render_all(
    works: list[Work], workers: int, progress: Progress | None, site: Callable[[], Done | None],
    take: Callable[[Done], None],
) -> Done | None:
    """Render the units (in forked workers when there are many), handing each result to take()
    as it comes (a site's worth of results would hold every path and key at once), and
    meanwhile, in this process, the site-wide files: site()'s result is returned."""
    chunks = _chunks(works)
    total, done = len(works) + 1, 0
    entities = sum(1 for w in works if w[0] == "e")
    if workers <= 1 or entities < PARALLEL_MIN_ENTITIES or "fork" not in mp.get_all_start_methods():
        for chunk in chunks:
            for result in _render_chunk(chunk):
                take(result)
            done += len(chunk)
            if progress:
                progress(done, total)
        site_done = site()
        if progress:
            progress(total, total)
        return site_done
    # Objects that exist now are never collected in the workers: the garbage collector does
    # not touch (and copy) the pages they share with this process.
    gc.freeze()
    try:
        with mp.get_context("fork").Pool(workers) as pool:
            pending = pool.imap_unordered(_render_chunk, chunks)
            site_done = site()
            for chunk_done in pending:
                for result in chunk_done:
                    take(result)
                done += len(chunk_done)
                if progress:
                    progress(done, total)
    finally:
        gc.unfreeze()
    if progress:
        progress(total, total)
    return site_done


def _works(index: Index, html: list[HtmlRenderer]) -> list[Work]:
    return ([("e", iri) for iri in index.entities]
            + [("l", listing, n) for listing, n in html[0].browse.pages()])


def _site(index: Index, html: list[HtmlRenderer]) -> Callable[[], Done]:
    """The site-wide files, written by every build. None of them is a searchable page (only
    entities' pages are), which lets an update index search while they are written."""
    def write() -> Done:
        paths, _, changed = _write_files(site_files(index, html))
        return incremental.SITE, paths, [], [], changed
    return write


def build(
    project: Project,
    out: Path | None = None,
    progress: Progress | None = None,
    workers: int | None = None,
    engine: str = "auto",
    full: bool = False,
) -> BuildResult:
    """Validate and write the site. When the last build's state is there and only data files
    changed, only the units that read something that changed are rendered again
    (kgpub.incremental); otherwise all are (full=True forces it). Either way only files whose
    bytes change are written (unchanged files keep their mtime, so HTTP validators stay
    valid), what is no longer produced is deleted, and the site is the same as a full
    build's."""
    out = Path(out) if out else project.root / "site"
    check_output(project, out)
    clock = Stopwatch()
    sources = load_sources(project)
    clock.lap("load")
    report = validate_sources(sources, engine=engine)
    clock.lap("validate")
    if not report.conforms:
        raise InvalidData(report)
    index = Index(project, sources)
    html = renderers(index)
    works = _works(index, html)
    clock.lap("index and navigation")
    staging = _staging_dir(out)  # (first: it completes an interrupted update)
    _made_dirs.clear()  # the staging path may repeat (same pid): nothing is known to exist
    _shared.update(index=index, html=html, staging=staging)
    n = workers or os.cpu_count() or 1
    try:
        previous = None if full or not out.is_dir() else incremental.load(out)
        step = previous and incremental.plan(previous, project, sources, index, html[0].browse,
                                             [_unit_name(w) for w in works])
        if step:
            clock.lap("plan")
            result = _update(index, works, step, staging, out, n, progress, _site(index, html),
                             clock)
        else:
            state = incremental.new_state(project, sources, html[0].browse)
            clock.lap("plan")
            result = _full(index, works, state, staging, out, n, progress, _site(index, html),
                           clock)
    except BaseException:
        if not (staging / JOURNAL).exists():  # else the next build finishes the job
            shutil.rmtree(staging, ignore_errors=True)
        raise
    finally:
        _shared.clear()
    result.report = report
    result.timings = clock.times
    return result


def _full(index: Index, works: list[Work], state: incremental.State, staging: Path, out: Path,
          workers: int, progress: Progress | None, site: Callable[[], Done],
          clock: Stopwatch) -> BuildResult:
    """Every unit, into a staging directory that starts as hard links to the previous site
    and then replaces it in one atomic swap."""
    previous = _link_tree(out, staging) if out.is_dir() else set()
    _shared["against"] = None
    changed = 0

    def take(result: Done) -> None:
        nonlocal changed
        name, paths, searchable, read, written = result
        state.add(name, paths, searchable, read)
        changed += len(written)

    take(_render_all(works, workers, progress, site, take))
    clock.lap("render (pages, and the site-wide files meanwhile)")
    produced = {p for unit in state.units.values() for p in unit.files}
    # What the previous site had and this one does not make goes first: search then indexes
    # exactly the pages of this build.
    for path in previous - produced:
        if not path.startswith(SEARCH_DIR + "/"):
            (staging / path).unlink()
    searchable = sorted(p for unit in state.units.values() for p in unit.searchable)
    search = build_search_index(staging, searchable, shard_pages=index.project.shard_pages)
    paths, _, written = _write_files(search.files)
    clock.lap("search")
    state.add(incremental.SEARCH, paths, [], [])
    changed += len(written)
    changed += _write(staging, incremental.STATE, incremental.dump(state))
    produced |= set(paths) | {incremental.STATE}
    removed = previous - produced
    for path in removed:
        if path.startswith(SEARCH_DIR + "/"):
            (staging / path).unlink()
    _prune_empty_dirs(staging)
    _swap_into_place(staging, out)
    clock.lap("write state, swap in")
    return BuildResult(out=out, files=len(produced), entities=len(index.entities), report=None,
                       changed=changed, removed=len(removed), rendered=len(works))


def _update(index: Index, works: list[Work], step: incremental.Plan, staging: Path, out: Path,
            workers: int, progress: Progress | None, site: Callable[[], Done],
            clock: Stopwatch) -> BuildResult:
    """Render the units the plan names and the site-wide files into an empty staging
    directory, keeping there only files whose bytes differ from the published ones; then move
    them into the site. The moves are journalled: an interrupted update is completed by the
    next build."""
    state, had = step.state, step.had
    wanted = set(step.render)
    todo = [w for w in works if _unit_name(w) in wanted]
    _shared["against"] = out
    moved: list[str] = []

    def take(result: Done) -> None:
        name, paths, searchable, read, written = result
        state.add(name, paths, searchable, read)
        moved.extend(written)

    _render_all(todo, workers, progress, lambda: None, take)
    clock.lap("render")
    searchable = sorted(p for name, unit in state.units.items() if name != incremental.SEARCH
                        for p in unit.searchable)
    # Pagefind (its own process) indexes the shards whose pages changed while this one
    # writes the site-wide files.
    shard_pages = index.project.shard_pages
    only = _dirty_shards(searchable, step.searchable, moved, shard_pages)
    kept = state.units.get(incremental.SEARCH)
    if kept is None:
        only = None
    search: list = []
    indexer = None
    if only is None or only:
        def index_search() -> None:
            start = time.perf_counter()
            search.append(_catch(build_search_index, out, searchable, overlay=staging,
                                 only=only, shard_pages=shard_pages))
            clock.times["(search, meanwhile)"] = time.perf_counter() - start

        indexer = threading.Thread(target=index_search)
        indexer.start()
    try:
        name, paths, _, read, written = site()
        clock.lap("site-wide files")
    finally:
        if indexer:
            indexer.join()
    state.add(name, paths, [], read)
    moved += written
    if indexer:
        found = search[0]
        if isinstance(found, BaseException):
            raise found
        paths, _, written = _write_files(found.files)
        if only is not None:  # the other shards' files stay as they are
            paths = sorted(paths + [p for p in kept.files if shard_of_file(p) not in only | {None}])
        state.add(incremental.SEARCH, paths, [], [])
        moved += written
    clock.lap("search (waited for)")
    produced = {p for unit in state.units.values() for p in unit.files} | {incremental.STATE}
    removed = sorted(had - produced)
    moved.sort()
    # The state goes last: until it is in, the next build compares with the last one's.
    if _write(staging, incremental.STATE, incremental.dump(state), out):
        moved.append(incremental.STATE)
    _commit(staging, out, moved, removed)
    clock.lap("write state, move in")
    return BuildResult(out=out, files=len(produced), entities=len(index.entities), report=None,
                       changed=len(moved), removed=len(removed), rendered=len(todo),
                       incremental=True)


def _dirty_shards(
    pages: list[str], before: list[str], written: list[str], shard_pages: int
) -> set[int] | None:
    """The search shards to index again: those with a page added, removed or changed (None:
    all, the number of shards changed)."""
    count = shard_count(len(pages), shard_pages)
    if count != shard_count(len(before), shard_pages):
        return None
    now = set(pages)
    touched = (now ^ set(before)) | (now & set(written))
    return {shard_of(p, count) for p in touched}


def _catch(fn, *args, **kwargs):
    """fn's result, or the exception it raised (to be raised again by another thread)."""
    try:
        return fn(*args, **kwargs)
    except BaseException as exc:  # noqa: BLE001 - handed back to the caller
        return exc


JOURNAL = ".kgpub-journal.json"


def _commit(staging: Path, out: Path, moved: list[str], removed: list[str]) -> None:
    """Move the staged files into the site and delete the removed ones. The list is written
    first, so that a build finding a staging directory with a journal can finish the job."""
    journal = staging / JOURNAL
    journal.with_suffix(".tmp").write_text(json.dumps({"moved": moved, "removed": removed}))
    journal.with_suffix(".tmp").rename(journal)
    _apply_journal(staging, out)


def _apply_journal(staging: Path, out: Path) -> None:
    job = json.loads((staging / JOURNAL).read_text())
    made: set[Path] = set()
    for rel in job["moved"]:
        target = out / rel
        if target.parent not in made:
            target.parent.mkdir(parents=True, exist_ok=True)
            made.add(target.parent)
        if (staging / rel).exists():  # not moved yet (the job may be resumed)
            os.replace(staging / rel, target)
    folders = set()
    for rel in job["removed"]:
        (out / rel).unlink(missing_ok=True)
        folders.add((out / rel).parent)
    for folder in sorted(folders, key=lambda f: -len(f.parts)):
        while folder != out and folder.is_dir() and not any(folder.iterdir()):
            folder.rmdir()
            folder = folder.parent
    shutil.rmtree(staging, ignore_errors=True)


def _link_tree(src: Path, dest: Path) -> set[str]:
    """Hard-link every file of the previous site into the staging directory."""
    found = set()
    for dirpath, _dirs, names in os.walk(src):
        rel_dir = os.path.relpath(dirpath, src)
        target_dir = dest if rel_dir == "." else dest / rel_dir
        target_dir.mkdir(parents=True, exist_ok=True)
        for name in names:
            os.link(os.path.join(dirpath, name), target_dir / name)
            found.add(name if rel_dir == "." else f"{rel_dir}/{name}")
    return found


def _prune_empty_dirs(root: Path) -> None:
    """Directories emptied by removed files go too (bottom-up, so parents see the result)."""
    for dirpath, _dirs, _names in os.walk(root, topdown=False):
        if Path(dirpath) != root and not os.listdir(dirpath):
            os.rmdir(dirpath)


def check_output(project: Project, out: Path) -> None:
    """Never replace the project, its sources, or a directory that is not an earlier build."""
    target = out.resolve()
    root = project.root.resolve()
    sources = [root] + [d.resolve() for d in (project.ontology_dir, project.data_dir,
                                                project.shapes_dir)]
    if target in root.parents or any(target == d or d in target.parents for d in sources[1:]) \
            or target == root:
        raise KgpubError(f"--out {out} would replace the project or its sources; "
                         "choose a directory of its own, e.g. site/")
    if target.is_dir() and any(target.iterdir()) and not _is_built_site(target):
        raise KgpubError(f"{out} is not empty and is not a site built by kgpub; refusing to "
                         "replace it. Choose another --out or empty it first.")


def _is_built_site(path: Path) -> bool:
    return (path / ".kgpub" / "site.json").is_file() or (
        (path / "index.html").is_file() and (path / ASSETS / "style.css").is_file()
    )


def _staging_dir(out: Path) -> Path:
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.exists() and not out.is_dir():
        raise KgpubError(f"{out} exists and is not a directory; choose another --out")
    # Leftovers of killed builds are removed; their pids are gone.
    for stale in out.parent.glob(f".{out.name}.building-*"):
        pid = stale.name.rsplit("-", 1)[-1]
        if not (pid.isdigit() and _alive(int(pid))):
            if (stale / JOURNAL).is_file() and out.is_dir():
                _apply_journal(stale, out)  # an update killed while moving its files in
            shutil.rmtree(stale, ignore_errors=True)
    staging = out.parent / f".{out.name}.building-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    return staging


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _write(root: Path, rel: str, data: bytes, against: Path | None = None) -> bool:
    """Write a file unless it already holds these bytes; True if it was (re)written. A changed
    file is replaced, never written in place: it may be a hard link into the previous site.
    With against, the bytes are compared with that directory's file and written under root
    only when they differ."""
    if ".." in rel.split("/") or rel.startswith("/"):
        raise KgpubError(f"refusing to write outside the site: {rel}")
    target = os.path.join(root, rel)
    current = os.path.join(against, rel) if against else target
    try:
        if os.stat(current).st_size == len(data):
            with open(current, "rb") as f:
                if f.read() == data:
                    return False
        if against:
            raise FileNotFoundError  # the staging directory starts empty
        tmp = target + ".kgpub-tmp"
        with open(tmp, "wb") as f:
            f.write(data)
        os.replace(tmp, target)
    except FileNotFoundError:
        folder = os.path.dirname(target)
        if folder not in _made_dirs:
            os.makedirs(folder, exist_ok=True)
            _made_dirs.add(folder)
        with open(target, "wb") as f:
            f.write(data)
    return True


_made_dirs: set[str] = set()  # per process: directories known to exist


_RENAME_EXCHANGE = 2


def _swap_into_place(staging: Path, out: Path) -> None:
    """Replace out by staging atomically: renameat2(RENAME_EXCHANGE) swaps two directories in
    one step on Linux; elsewhere two renames leave only a brief window without a site."""
    if not out.exists():
        os.rename(staging, out)
        return
    if _exchange(staging, out):
        shutil.rmtree(staging)  # staging now holds the previous site
        return
    old = out.parent / f".{out.name}.old-{os.getpid()}"
    os.rename(out, old)
    os.rename(staging, out)
    shutil.rmtree(old, ignore_errors=True)


def _exchange(a: Path, b: Path) -> bool:
    if not sys.platform.startswith("linux"):
        return False
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    renameat2 = getattr(libc, "renameat2", None)
    if renameat2 is None:
        return False
    at_fdcwd = -100
    rc = renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), _RENAME_EXCHANGE)
    return rc == 0
