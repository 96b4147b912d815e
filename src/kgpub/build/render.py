"""Render: the stage that fills the new generation, from every unit (a full build) or from
the units an incremental plan names, then the site-wide files, the search index and, last,
the state (a generation with it is complete)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .. import incremental
from ..layout import BUILD_STATE, SEARCH_DIR
from ..search import build_search_index, shard_count, shard_of, shard_of_file
from .contents import site_files
from .executor import Context, Progress, render_all
from .timings import Stopwatch
from .units import Done, Work


@dataclass
class Rendered:
    """What the render stage did to the new generation."""

    files: int  # the files the site has
    written: list[str]  # those written because their bytes are new or changed
    removed: list[str]  # the files of the previous site no longer produced
    rendered: int  # units rendered
    incremental: bool = False


def site_wide(context: Context) -> Callable[[], Done]:
    """The site-wide files, written by every build. None of them is a searchable page (only
    entities' pages are), which lets an update index search while they are written."""
    def write() -> Done:
        written = context.write(site_files(context.index, context.html))
        return Done(incremental.SITE, written.paths, [], [], written.changed)
    return write


def full(context: Context, works: list[Work], state: incremental.State, previous: set[str],
         workers: int, progress: Progress | None, clock: Stopwatch) -> Rendered:
    """Every unit, into the new generation (which holds the previous site's files)."""
    written: list[str] = []

    def take(result: Done) -> None:
        state.add(result.name, result.files, result.searchable, result.read)
        written.extend(result.changed)

    site = render_all(context, works, workers, progress, site_wide(context), take)
    if site is not None:
        take(site)
    clock.lap("render (pages, and the site-wide files meanwhile)")
    gen = context.writer.root
    produced = {p for unit in state.units.values() for p in unit.files}
    # What the previous site had and this one does not make goes first: search then indexes
    # exactly the pages of this build.
    for path in previous - produced:
        if not path.startswith(SEARCH_DIR + "/"):
            (gen / path).unlink()
    searchable = sorted(p for unit in state.units.values() for p in unit.searchable)
    search = build_search_index(gen, searchable,
                                shard_pages=context.index.project.shard_pages)
    index_written = context.write(search.files)
    clock.lap("search")
    state.add(incremental.SEARCH, index_written.paths, [], [])
    written += index_written.changed
    if context.writer.write(BUILD_STATE, incremental.dump(state)):
        written.append(BUILD_STATE)
    produced |= set(index_written.paths) | {BUILD_STATE}
    removed = sorted(previous - produced)
    for path in removed:
        if path.startswith(SEARCH_DIR + "/"):
            (gen / path).unlink()
    context.writer.prune()
    clock.lap("write state")
    return Rendered(len(produced), written, removed, len(works))


def update(context: Context, works: list[Work], step: incremental.Plan, workers: int,
           progress: Progress | None, clock: Stopwatch) -> Rendered:
    """Render the units the plan names and the site-wide files into the new generation (which
    holds the published site's files), replacing the files whose bytes differ; delete the
    files no longer produced."""
    state, had = step.state, step.had
    wanted = set(step.render)
    todo = [w for w in works if w.name in wanted]
    written: list[str] = []

    def take(result: Done) -> None:
        state.add(result.name, result.files, result.searchable, result.read)
        written.extend(result.changed)

    render_all(context, todo, workers, progress, lambda: None, take)
    clock.lap("render")
    searchable = sorted(p for name, unit in state.units.items() if name != incremental.SEARCH
                        for p in unit.searchable)
    # Pagefind (its own process) indexes the shards whose pages changed while this one
    # writes the site-wide files (none of which is a searchable page).
    shard_pages = context.index.project.shard_pages
    only = _dirty_shards(searchable, step.searchable, written, shard_pages)
    kept = state.units.get(incremental.SEARCH)
    if kept is None:
        only = None
    search: list[Any] = []
    indexer = None
    if only is None or only:
        def index_search() -> None:
            start = time.perf_counter()
            search.append(_catch(build_search_index, context.writer.root, searchable,
                                 only=only, shard_pages=shard_pages))
            clock.times["(search, meanwhile)"] = time.perf_counter() - start

        indexer = threading.Thread(target=index_search)
        indexer.start()
    try:
        site = site_wide(context)()
        clock.lap("site-wide files")
    finally:
        if indexer:
            indexer.join()
    state.add(site.name, site.files, [], site.read)
    written += site.changed
    if indexer:
        found = search[0]
        if isinstance(found, BaseException):
            raise found
        index_written = context.write(found.files)
        paths = index_written.paths
        if only is not None:  # the other shards' files stay as they are
            assert kept is not None
            paths = sorted(paths + [p for p in kept.files
                                    if shard_of_file(p) not in only | {None}])
        state.add(incremental.SEARCH, paths, [], [])
        written += index_written.changed
    clock.lap("search (waited for)")
    produced = {p for unit in state.units.values() for p in unit.files} | {BUILD_STATE}
    removed = sorted(had - produced)
    context.writer.remove(removed)
    # The state goes last: a generation with it is complete.
    if context.writer.write(BUILD_STATE, incremental.dump(state)):
        written.append(BUILD_STATE)
    clock.lap("write state")
    return Rendered(len(produced), written, removed, len(todo), incremental=True)


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


def _catch(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """fn's result, or the exception it raised (to be raised again by another thread)."""
    try:
        return fn(*args, **kwargs)
    except BaseException as exc:  # noqa: BLE001 - handed back to the caller
        return exc
