"""Site: the build pipeline. load -> validate -> index -> render -> write -> publish.

Every build writes a new generation (kgpub.generation): a directory beside the output that
starts as the published site's files, hard-linked (or an older generation brought up to date),
where changed files are replaced (never written in place: they are shared with the published
site), files no longer produced are deleted and the state is written last; then `out`, a link,
is pointed at it in one atomic rename. A published generation is never modified, so a failed or
killed build leaves the site as it was, and its unpublished generation is deleted by the next
build. An incremental build (kgpub.incremental) renders only the units that read an edited
statement; a full one renders them all. One build at a time writes an output (a lock).
"""

from __future__ import annotations

import contextlib
import errno
import gc
import multiprocessing as mp
import os
import stat
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path

from . import generation, incremental
from .browse import Browse
from .config import Project
from .entail import entailments
from .errors import InvalidData, KgpubError, OutputError
from .index import Index
from .layout import (
    BIBTEX,
    BUILD_FACTS,
    BUILD_STATE,
    FEED,
    HOME,
    NOT_FOUND,
    OLD_JOURNAL,
    RIS,
    ROBOTS,
    SEARCH_DIR,
    STYLESHEET,
    asset_path,
)
from .load import Sources, load_sources
from .render import cite
from .render.harvest import (
    atom_feed,
    meta_files,
    robots_txt,
    sitemaps,
    void_documents,
)
from .render.html import HtmlRenderer
from .render.i18n import check_languages, prefix
from .render.rdf import dumps, entity_documents
from .search import (
    build_search_index,
    is_searchable,
    shard_count,
    shard_of,
    shard_of_file,
)
from .validate import Report, unpublishable_problems, validate_sources

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
    warnings: list[str] = field(default_factory=list)  # one line each, for the command to print


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
            yield doc + BIBTEX, cite.bibtex(work).encode("utf-8")
            yield doc + RIS, cite.ris(work).encode("utf-8")


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
    yield from sitemaps(index, [p for p in nav_paths if not p.endswith(NOT_FOUND)], prefixes)
    yield ROBOTS, robots_txt(index)
    yield from void_documents(index)
    yield FEED, atom_feed(index)
    yield from meta_files(index)
    for asset in sorted(files("kgpub").joinpath("static").iterdir(), key=lambda a: a.name):
        if asset.is_file():
            yield asset_path(asset.name), asset.read_bytes()


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
    """Write (path, bytes) pairs into the new generation: (paths, the searchable ones, the
    ones written because their bytes are new)."""
    gen = _shared["gen"]
    paths, searchable, changed = [], [], []
    for path, data in files:
        if _write(gen, path, data):
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
    """Validate and write the site as a new generation, then publish it. When the last build's
    state is there and only data files changed, only the units that read something that
    changed are rendered again (kgpub.incremental); otherwise all are (full=True forces it).
    Either way only files whose bytes change are written (unchanged files keep their inode
    and mtime, so HTTP validators stay valid), what is no longer produced is deleted, and the
    site is the same as a full build's. Raises OutputError when the output cannot be written
    (the published site is then unchanged) and BuildBusy when another build is writing it."""
    out = Path(out) if out else project.root / "site"
    check_output(project, out)
    lock = generation.BuildLock(out)
    try:
        if out.parent.is_dir():  # else it is made once the data is known to be valid
            _output_step(lock.acquire, out)
        clock = Stopwatch()
        sources = load_sources(project)
        clock.lap("load")
        report = validate_sources(sources, engine=engine)
        clock.lap("validate")
        if not report.conforms:
            raise InvalidData(report)
        # Validation checked what editors wrote; the published graph adds what clients rely on
        # and editors leave out (a topic is a skos:Concept, skos:narrower...: kgpub.entail).
        index = Index(project, sources, entailments(sources))
        # Every entity, derived ones too, must map to files inside the site: refused in the
        # words `kgpub validate` uses (kgpub.index.path_problem).
        unpublishable = unpublishable_problems(sources, index.entities)
        if unpublishable:
            raise InvalidData(Report(unpublishable))
        html = renderers(index)
        works = _works(index, html)
        clock.lap("index and navigation")
        if not out.parent.is_dir():
            _output_step(lambda: out.parent.mkdir(parents=True, exist_ok=True), out)
            _output_step(lock.acquire, out)
        result = _build_generation(project, sources, out, index, html, works, clock, progress,
                                   workers or os.cpu_count() or 1, full)
    finally:
        lock.release()
    result.report = report
    result.timings = clock.times
    return result


def _output_step(step: Callable[[], object], out: Path) -> object:
    try:
        return step()
    except OSError as exc:
        raise output_error(exc, out) from None


def _build_generation(project: Project, sources: Sources, out: Path, index: Index,
                      html: list[HtmlRenderer], works: list[Work], clock: Stopwatch,
                      progress: Progress | None, workers: int, full: bool) -> BuildResult:
    """The build's writing half, holding the build lock: plan, make the new generation, render
    into it, publish it, delete old generations."""
    gen: Path | None = None
    _made_dirs.clear()  # a generation's path may repeat (a failed one's): nothing is known
    try:
        published = generation.current(out)
        recorded = (generation.current_number(out) is not None
                    and generation.read_changes(published))
        # Leftovers of failed or killed builds go; the generation the published one was made
        # from stays, to be brought up to date instead of linking the whole tree again.
        generation.collect(out, keep={recorded[0]} if recorded else set())
        if _old_staging_left(out):
            full = True  # an update by an earlier kgpub may have been left half done
        previous = None if full or published is None else incremental.load(published)
        step = previous and incremental.plan(previous, project, sources, index, html[0].browse,
                                             [_unit_name(w) for w in works])
        state = step.state if step else incremental.new_state(project, sources, html[0].browse)
        clock.lap("plan")
        gen, had, base, skipped = _new_generation(out, published)
        clock.lap("new generation")
        _shared.update(index=index, html=html, gen=gen)
        site = _site(index, html)
        if step:
            result, written, removed = _update(index, works, step, gen, workers, progress, site,
                                               clock)
        else:
            result, written, removed = _full(index, works, state, gen, had, workers, progress,
                                             site, clock)
        if base is not None and len(written) + len(removed) <= max(1000, result.files // 4):
            generation.write_changes(gen, base, written, removed)
        else:
            base = None  # the next build links the whole tree rather than apply so much
        generation.publish(out, gen)
    except OSError as exc:
        if gen is not None:
            generation.discard(gen)
        raise output_error(exc, out) from None
    except BaseException:
        if gen is not None:
            generation.discard(gen)
        raise
    finally:
        _shared.clear()
    result.out = out
    if skipped:
        shown = ", ".join(skipped[:3]) + (", ..." if len(skipped) > 3 else "")
        result.warnings.append(
            f"skipped {len(skipped)} symbolic link(s) or special file(s) found in the published "
            f"site ({shown}): a build never follows or copies them")
    try:
        generation.collect(out, keep={base} if base is not None else set())
    except OSError as exc:  # the new site is published: old generations wait for the next build
        result.warnings.append(f"could not delete old generations of {out}: {exc}")
    clock.lap("publish, delete old generations")
    return result


def _full(index: Index, works: list[Work], state: incremental.State, gen: Path, previous: set[str],
          workers: int, progress: Progress | None, site: Callable[[], Done],
          clock: Stopwatch) -> tuple[BuildResult, list[str], list[str]]:
    """Every unit, into the new generation (which holds the previous site's files)."""
    written: list[str] = []

    def take(result: Done) -> None:
        name, paths, searchable, read, changed = result
        state.add(name, paths, searchable, read)
        written.extend(changed)

    take(_render_all(works, workers, progress, site, take))
    clock.lap("render (pages, and the site-wide files meanwhile)")
    produced = {p for unit in state.units.values() for p in unit.files}
    # What the previous site had and this one does not make goes first: search then indexes
    # exactly the pages of this build.
    for path in previous - produced:
        if not path.startswith(SEARCH_DIR + "/"):
            (gen / path).unlink()
    searchable = sorted(p for unit in state.units.values() for p in unit.searchable)
    search = build_search_index(gen, searchable, shard_pages=index.project.shard_pages)
    paths, _, changed = _write_files(search.files)
    clock.lap("search")
    state.add(incremental.SEARCH, paths, [], [])
    written += changed
    if _write(gen, BUILD_STATE, incremental.dump(state)):
        written.append(BUILD_STATE)
    produced |= set(paths) | {BUILD_STATE}
    removed = sorted(previous - produced)
    for path in removed:
        if path.startswith(SEARCH_DIR + "/"):
            (gen / path).unlink()
    _prune_empty_dirs(gen)
    clock.lap("write state")
    return (BuildResult(out=gen, files=len(produced), entities=len(index.entities), report=None,
                        changed=len(written), removed=len(removed), rendered=len(works)),
            written, removed)


def _update(index: Index, works: list[Work], step: incremental.Plan, gen: Path, workers: int,
            progress: Progress | None, site: Callable[[], Done],
            clock: Stopwatch) -> tuple[BuildResult, list[str], list[str]]:
    """Render the units the plan names and the site-wide files into the new generation (which
    holds the published site's files), replacing the files whose bytes differ; delete the
    files no longer produced."""
    state, had = step.state, step.had
    wanted = set(step.render)
    todo = [w for w in works if _unit_name(w) in wanted]
    written: list[str] = []

    def take(result: Done) -> None:
        name, paths, searchable, read, changed = result
        state.add(name, paths, searchable, read)
        written.extend(changed)

    _render_all(todo, workers, progress, lambda: None, take)
    clock.lap("render")
    searchable = sorted(p for name, unit in state.units.items() if name != incremental.SEARCH
                        for p in unit.searchable)
    # Pagefind (its own process) indexes the shards whose pages changed while this one
    # writes the site-wide files (none of which is a searchable page).
    shard_pages = index.project.shard_pages
    only = _dirty_shards(searchable, step.searchable, written, shard_pages)
    kept = state.units.get(incremental.SEARCH)
    if kept is None:
        only = None
    search: list = []
    indexer = None
    if only is None or only:
        def index_search() -> None:
            start = time.perf_counter()
            search.append(_catch(build_search_index, gen, searchable, only=only,
                                 shard_pages=shard_pages))
            clock.times["(search, meanwhile)"] = time.perf_counter() - start

        indexer = threading.Thread(target=index_search)
        indexer.start()
    try:
        name, paths, _, read, changed = site()
        clock.lap("site-wide files")
    finally:
        if indexer:
            indexer.join()
    state.add(name, paths, [], read)
    written += changed
    if indexer:
        found = search[0]
        if isinstance(found, BaseException):
            raise found
        paths, _, changed = _write_files(found.files)
        if only is not None:  # the other shards' files stay as they are
            paths = sorted(paths + [p for p in kept.files if shard_of_file(p) not in only | {None}])
        state.add(incremental.SEARCH, paths, [], [])
        written += changed
    clock.lap("search (waited for)")
    produced = {p for unit in state.units.values() for p in unit.files} | {BUILD_STATE}
    removed = sorted(had - produced)
    _remove(gen, removed)
    # The state goes last: a generation with it is complete.
    if _write(gen, BUILD_STATE, incremental.dump(state)):
        written.append(BUILD_STATE)
    clock.lap("write state")
    return (BuildResult(out=gen, files=len(produced), entities=len(index.entities), report=None,
                        changed=len(written), removed=len(removed), rendered=len(todo),
                        incremental=True),
            written, removed)


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


# ---- the new generation ---------------------------------------------------------------------


def _new_generation(out: Path, published: Path | None) -> tuple[Path, set[str], int | None,
                                                                list[str]]:
    """The directory of the next generation, holding the published site's files: the
    generation the published one was made from, brought up to date with the differences its
    build recorded, when no server holds it any more; else hard links to every file of the
    published site. Returns (the directory, its files, the number of the generation it
    equals (None for a site built before generations), the paths of the published site that
    were skipped: symbolic links and other things that are neither files nor directories)."""
    number = generation.current_number(out)
    if published is not None and number is not None:
        reused = _reuse(out, published, number)
        if reused:
            return reused
    gen = generation.new_generation(out)
    if published is None:
        return gen, set(), None, []
    try:
        files, skipped = _link_tree(published, gen)
    except BaseException:
        generation.discard(gen)
        raise
    return gen, files, number, skipped


def _reuse(out: Path, published: Path, number: int
           ) -> tuple[Path, set[str], int, list[str]] | None:
    """Take the generation the published one was made from (unless a server holds it, or it
    holds anything but files and directories) and apply the published build's changes."""
    recorded = generation.read_changes(published)
    if recorded is None:
        return None
    base, written, removed = recorded
    old = generation.generations_dir(out) / str(base)
    if base == number or old.is_symlink() or not old.is_dir():
        return None
    fd = generation.try_lock_exclusive(old)
    if fd is None:
        return None
    try:
        files, odd = _walk(old)
        if odd:
            return None  # collected later, like any old generation
        gen = generation.next_generation(out)
        os.rename(old, gen)
        generation.changes_path(old).unlink(missing_ok=True)
        generation.lock_path(old).unlink(missing_ok=True)
    finally:
        os.close(fd)
    try:
        skipped = []
        _remove(gen, removed)
        files.difference_update(removed)
        made: set[str] = set()
        for rel in written:
            target = os.path.join(gen, rel)
            with contextlib.suppress(FileNotFoundError):
                os.unlink(target)
            files.discard(rel)
            if not _regular_file(published, rel):  # edited by hand: a link, or gone
                skipped.append(rel)
                continue
            folder = os.path.dirname(target)
            if folder not in made:
                os.makedirs(folder, exist_ok=True)
                made.add(folder)
            os.link(os.path.join(published, rel), target, follow_symlinks=False)
            files.add(rel)
    except BaseException:
        generation.discard(gen)
        raise
    return gen, files, number, skipped


def _regular_file(root: Path, rel: str) -> bool:
    """Whether root/rel is a regular file reached through directories only (no link)."""
    path = str(root)
    parts = rel.split("/")
    try:
        for i, part in enumerate(parts):
            if part in ("", ".", ".."):
                return False
            path = os.path.join(path, part)
            mode = os.lstat(path).st_mode
            if not (stat.S_ISREG(mode) if i == len(parts) - 1 else stat.S_ISDIR(mode)):
                return False
    except OSError:
        return False
    return True


def _walk(root: Path) -> tuple[set[str], list[str]]:
    """The files under root (relative paths) and what is neither a file nor a directory
    (symbolic links, ...). Links are never followed."""
    files, odd = set(), []
    stack = [(os.fspath(root), "")]
    while stack:
        folder, rel = stack.pop()
        with os.scandir(folder) as entries:
            for entry in entries:
                if entry.is_dir(follow_symlinks=False):
                    stack.append((entry.path, rel + entry.name + "/"))
                elif entry.is_file(follow_symlinks=False):
                    files.add(rel + entry.name)
                else:
                    odd.append(rel + entry.name)
    return files, odd


def _link_tree(src: Path, dest: Path) -> tuple[set[str], list[str]]:
    """Hard-link every file of the published site into the new generation. Symbolic links
    (and anything else that is neither a file nor a directory) are skipped, never followed:
    returns (the files linked, the paths skipped)."""
    found, skipped = set(), []
    stack = [(os.fspath(src), os.fspath(dest), "")]
    while stack:
        folder, target, rel = stack.pop()
        with os.scandir(folder) as entries:
            for entry in entries:
                name = rel + entry.name
                if entry.is_dir(follow_symlinks=False):
                    os.mkdir(os.path.join(target, entry.name))
                    stack.append((entry.path, os.path.join(target, entry.name), name + "/"))
                elif entry.is_file(follow_symlinks=False):
                    os.link(entry.path, os.path.join(target, entry.name), follow_symlinks=False)
                    found.add(name)
                else:
                    skipped.append(name)
    return found, sorted(skipped)


def _remove(root: Path, paths: list[str]) -> None:
    """Delete these files, then the directories that leaves empty."""
    folders = set()
    for rel in paths:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(os.path.join(root, rel))
        folders.add(os.path.dirname(rel))
    for folder in sorted(folders, key=lambda f: -f.count("/")):
        while folder:
            try:
                os.rmdir(os.path.join(root, folder))
            except OSError:  # not empty (or gone)
                break
            folder = os.path.dirname(folder)
    _made_dirs.clear()


def _prune_empty_dirs(root: Path) -> None:
    """Directories emptied by removed files go too (bottom-up, so parents see the result)."""
    for dirpath, _dirs, _names in os.walk(root, topdown=False):
        if Path(dirpath) != root and not os.listdir(dirpath):
            os.rmdir(dirpath)
    _made_dirs.clear()


def _old_staging_left(out: Path) -> bool:
    """Staging directories of kgpub before generations (`.site.building-<pid>`) are deleted;
    True when one held a journal, i.e. an update left half done (a full build repairs it)."""
    journal = False
    for stale in out.parent.glob(f".{out.name}.building-*"):
        journal |= (stale / OLD_JOURNAL).is_file()
        generation.remove(stale)
    return journal


# ---- the output ---------------------------------------------------------------------------


def check_output(project: Project, out: Path) -> None:
    """Never replace the project, its sources, a directory that is not an earlier build, or a
    link kgpub did not make. The output's own path is compared, not where a link leads."""
    target = _absolute(out)
    root = project.root.resolve()
    sources = [d.resolve() for d in (project.ontology_dir, project.data_dir, project.shapes_dir)]
    if target == root or target in root.parents or any(
            target == d or d in target.parents for d in sources):
        raise KgpubError(f"--out {out} would replace the project or its sources; "
                         "choose a directory of its own, e.g. site/")
    if any(generation.is_generation_dir(d) for d in target.parents):
        raise KgpubError(f"--out {out} is inside a published site; choose a directory of its "
                         "own, e.g. site/")
    if generation.is_generation_link(out):
        return
    if out.is_symlink():
        raise KgpubError(f"{out} is a symbolic link (to {os.readlink(out)}) that kgpub did not "
                         "make; refusing to replace it. Remove the link or choose another --out.")
    if out.exists() and not out.is_dir():
        raise KgpubError(f"{out} exists and is not a directory; choose another --out")
    if out.is_dir() and any(out.iterdir()) and not _is_built_site(out):
        raise KgpubError(f"{out} is not empty and is not a site built by kgpub; refusing to "
                         "replace it. Choose another --out or empty it first.")


def _absolute(path: Path) -> Path:
    """The absolute path, its directories resolved but not its last part (a link stays one)."""
    path = Path(os.path.abspath(path))
    return path.parent.resolve() / path.name if path.name else path


def _is_built_site(path: Path) -> bool:
    return (path / BUILD_FACTS).is_file() or (
        (path / HOME).is_file() and (path / STYLESHEET).is_file()
    )


_FIXES = {
    errno.ENOSPC: "Free space and build again.",
    errno.EDQUOT: "Free space (the disk quota is used up) and build again.",
    errno.EROFS: "The file system is read-only: choose another --out, or make it writable.",
    errno.EACCES: "kgpub may not write there: give it write permission or choose another --out.",
    errno.EPERM: "kgpub may not write there: give it write permission or choose another --out.",
    errno.ENAMETOOLONG: "The path is too long for the file system: shorten the slug of the IRI "
                        "it is made from, or choose a shorter --out.",
    errno.EXDEV: "The output is on another file system than its directory (a mount point?): "
                 "choose an --out inside the mounted file system.",
    errno.EMFILE: "Too many open files: raise the limit (ulimit -n) and build again.",
}


def output_error(exc: OSError, out: Path) -> OutputError:
    """One line for an output that cannot be written: which path, why, and the fix."""
    where = exc.filename if exc.filename is not None else out
    where = os.fsdecode(where)
    cwd = os.getcwd() + os.sep
    if where.startswith(cwd):
        where = where[len(cwd):]
    reason = exc.strerror or str(exc)
    fix = _FIXES.get(exc.errno, "Fix the cause and build again.")
    return OutputError(f"cannot write {where}: {reason}; the published site is unchanged. {fix}")


def _write(root: Path, rel: str, data: bytes) -> bool:
    """Write a file unless it already holds these bytes; True if it was (re)written. A changed
    file is replaced by a new one, never written in place: it may be a hard link shared with
    the published site. Links are never followed (the new generation has none: see
    _link_tree)."""
    if ".." in rel.split("/") or rel.startswith("/"):
        raise KgpubError(f"refusing to write outside the site: {rel}")
    target = os.path.join(root, rel)
    try:
        st = os.lstat(target)
    except FileNotFoundError:
        folder = os.path.dirname(target)
        if folder not in _made_dirs:
            os.makedirs(folder, exist_ok=True)
            _made_dirs.add(folder)
    else:
        if stat.S_ISREG(st.st_mode) and st.st_size == len(data):
            with open(os.open(target, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC), "rb") as f:
                if f.read() == data:
                    return False
        os.unlink(target)
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
                 0o666)
    with open(fd, "wb") as f:
        f.write(data)
    return True


_made_dirs: set[str] = set()  # per process: directories known to exist
