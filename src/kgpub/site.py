"""Site: the build pipeline. load -> validate -> index -> render -> write, then an atomic swap.

Everything is rendered into a fresh directory beside the output; only a complete build replaces
the previous site, in one atomic rename, so a failed or killed build leaves the old site intact.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import multiprocessing as mp
import os
import shutil
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path

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
from .search import SEARCH_DIR, build_search_index
from .validate import Report, validate_sources

Progress = Callable[[int, int], None]


@dataclass
class BuildResult:
    out: Path
    files: int
    entities: int
    report: Report
    changed: int = 0  # files written because their content is new or changed
    removed: int = 0  # files of the previous site no longer produced


def load_index(project: Project, engine: str = "auto") -> tuple[Index, Report]:
    """Load and validate the project; refuse on violations. The one entry point to a graph.
    engine: the SHACL engine (kgpub.validate.validate_sources)."""
    sources = load_sources(project)
    report = validate_sources(sources, engine=engine)
    if not report.conforms:
        raise InvalidData(report)
    return Index(project, sources), report


def render_site(index: Index) -> Iterator[tuple[str, bytes]]:
    """Every file of the site as (relative path, bytes), in a deterministic order."""
    html = renderers(index)
    yield from render_entities(index, index.entities, html)
    yield from listing_pages(html, 0, len(html[0].browse.pages()))
    yield from site_files(index, html)


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


def listing_pages(html: list[HtmlRenderer], lo: int, hi: int) -> Iterator[tuple[str, bytes]]:
    """Listing pages lo..hi-1 (of Browse.pages()), in every language."""
    pages = html[0].browse.pages()[lo:hi]
    for r in html:
        for listing, n in pages:
            path, page = r.render_listing(listing, n)
            yield path, page.encode("utf-8")


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


def _render_chunk(unit: tuple[str, int, int]) -> tuple[list[str], int, int]:
    """Render and write one unit of work: ("entities" | "listings", lo, hi)."""
    index, staging, html = _shared["index"], _shared["staging"], _shared["html"]
    kind, lo, hi = unit
    files = (render_entities(index, index.entities[lo:hi], html) if kind == "entities"
             else listing_pages(html, lo, hi))
    paths, changed = _write_files(staging, files)
    return paths, changed, hi - lo if kind == "entities" else 0


def _write_files(staging: Path, files: Iterator[tuple[str, bytes]]) -> tuple[list[str], int]:
    paths, changed = [], 0
    for path, data in files:
        changed += _write(staging, path, data)
        paths.append(path)
    return paths, changed


def _write_all(
    index: Index, staging: Path, workers: int, progress: Progress | None
) -> tuple[list[str], int]:
    """Write every file of the site: (the paths written, how many changed). With several
    workers, forked processes render entities and listing pages while this one writes the
    site-wide files."""
    html = renderers(index)
    n = len(index.entities)
    units = [("entities", i, min(i + CHUNK, n)) for i in range(0, n, CHUNK)]
    pages = len(html[0].browse.pages())
    units += [("listings", i, min(i + LISTING_CHUNK, pages)) for i in range(0, pages, LISTING_CHUNK)]
    _shared.update(index=index, staging=staging, html=html)
    done = 0
    try:
        if workers <= 1 or n < PARALLEL_MIN_ENTITIES or "fork" not in mp.get_all_start_methods():
            paths, changed = [], 0
            for unit in units:
                more, more_changed, entities = _render_chunk(unit)
                paths += more
                changed += more_changed
                done += entities
                if progress and entities:
                    progress(done, n + 1)
            more, more_changed = _write_files(staging, site_files(index, html))
            return paths + more, changed + more_changed
        # Objects that exist now are never collected in the workers: the garbage collector does
        # not touch (and copy) the pages they share with this process.
        gc.freeze()
        with mp.get_context("fork").Pool(workers) as pool:
            results = pool.imap_unordered(_render_chunk, units)
            paths, changed = _write_files(staging, site_files(index, html))
            for chunk_paths, chunk_changed, entities in results:
                paths += chunk_paths
                changed += chunk_changed
                done += entities
                if progress and entities:
                    progress(done, n + 1)
    finally:
        gc.unfreeze()
        _shared.clear()
    return paths, changed


def build(
    project: Project,
    out: Path | None = None,
    progress: Progress | None = None,
    workers: int | None = None,
    engine: str = "auto",
) -> BuildResult:
    """Validate and write the site. A rebuild starts from hard links to the previous site and
    rewrites only the files whose bytes change (unchanged files keep their mtime, so HTTP
    validators stay valid), then deletes what is no longer produced."""
    out = Path(out) if out else project.root / "site"
    check_output(project, out)
    index, report = load_index(project, engine=engine)
    total = len(index.entities) + 1
    staging = _staging_dir(out)
    _made_dirs.clear()  # the staging path may repeat (same pid): nothing is known to exist
    try:
        previous = _link_tree(out, staging) if out.is_dir() else set()
        written, changed = _write_all(index, staging, workers or os.cpu_count() or 1, progress)
        # What the previous site had and this one does not make goes first: search then
        # indexes exactly the pages of this build, and runs last, over the staging directory.
        stale = previous - set(written)
        for path in stale:
            if not path.startswith(SEARCH_DIR + "/"):
                (staging / path).unlink()
        search = build_search_index(staging)
        more, more_changed = _write_files(staging, iter(search.files))
        written += more
        changed += more_changed
        removed = previous - set(written)
        for path in removed:
            if path.startswith(SEARCH_DIR + "/"):
                (staging / path).unlink()
        _prune_empty_dirs(staging)
        if progress:
            progress(total, total)
        _swap_into_place(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return BuildResult(out=out, files=len(written), entities=len(index.entities), report=report,
                       changed=changed, removed=len(removed))


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


def _write(root: Path, rel: str, data: bytes) -> bool:
    """Write a file unless it already holds these bytes; True if it was (re)written. A changed
    file is replaced, never written in place: it may be a hard link into the previous site."""
    if ".." in rel.split("/") or rel.startswith("/"):
        raise KgpubError(f"refusing to write outside the site: {rel}")
    target = os.path.join(root, rel)
    try:
        if os.stat(target).st_size == len(data):
            with open(target, "rb") as f:
                if f.read() == data:
                    return False
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
