"""Executor: renders units of work and writes their files, here or in forked workers.

Each unit is rendered inside a recording of the index (what it read is kept for incremental
builds) and its files are written at once (a site's worth of pages is never held in memory).
From PARALLEL_MIN_ENTITIES entities on, chunks of units go to forked workers, which share the
index and the navigation with this process copy-on-write instead of receiving them pickled:
the pool's initializer hands each worker the build's Context, the only state a worker reads.
"""

from __future__ import annotations

import gc
import multiprocessing as mp
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from ..index import Index
from ..render.html import HtmlRenderer
from ..render.pieces import piece
from ..render.templates import compile_all
from ..search import is_searchable
from .contents import unit_files
from .transaction import Writer
from .units import Done, EntityWork, ListingWork, Work

Progress = Callable[[int, int], None]

# Below this many entities forking costs more than it saves.
PARALLEL_MIN_ENTITIES = 2000
CHUNK = 500  # entities a task
LISTING_CHUNK = 200  # listing pages a task


@dataclass
class Written:
    paths: list[str]  # every file given
    searchable: list[str]  # those the search index holds
    changed: list[str]  # those written because their bytes are new


@dataclass
class Context:
    """What rendering needs: the recording view of the graph, the renderers, the writer."""

    index: Index
    html: list[HtmlRenderer]
    writer: Writer
    warnings: list[str] = field(default_factory=list)  # one line each, for the command

    def render(self, chunk: list[Work]) -> list[Done]:
        """Render and write units, recording what each read."""
        done = []
        for work in chunk:
            with self.index.recording() as read:
                files = list(unit_files(self.index, self.html, work))
                # Read inside the unit's recording: a rebuild makes it again with the unit.
                made = piece(self.index, work.iri) if isinstance(work, EntityWork) else None
            written = self.write(files)
            done.append(Done(work.name, written.paths, written.searchable, sorted(read),
                             written.changed, made))
        return done

    def write(self, files: Iterable[tuple[str, bytes]]) -> Written:
        """Write (path, bytes) pairs into the new generation."""
        written = Written([], [], [])
        for path, data in files:
            if self.writer.write(path, data):
                written.changed.append(path)
            written.paths.append(path)
            if is_searchable(path, data):
                written.searchable.append(path)
        return written


def render_all(
    context: Context, works: list[Work], workers: int, progress: Progress | None,
    site: Callable[[], Done | None], take: Callable[[Done], None],
) -> Done | None:
    """Render the units (in forked workers when there are many), handing each result to take()
    as it comes (a site's worth of results would hold every path and key at once), and
    meanwhile, in this process, the site-wide files: site()'s result is returned."""
    chunks = _chunks(works)
    total, done = len(works) + 1, 0
    entities = sum(1 for w in works if isinstance(w, EntityWork))
    if workers <= 1 or entities < PARALLEL_MIN_ENTITIES or "fork" not in mp.get_all_start_methods():
        for chunk in chunks:
            for result in context.render(chunk):
                take(result)
            done += len(chunk)
            if progress:
                progress(done, total)
        site_done = site()
        if progress:
            progress(total, total)
        return site_done
    for renderer in context.html:
        compile_all(renderer.env)
    # Objects that exist now are never collected in the workers: the garbage collector does
    # not touch (and copy) the pages they share with this process.
    gc.freeze()
    try:
        # Forked: the initializer's argument is inherited, not pickled.
        with mp.get_context("fork").Pool(workers, initializer=_start_worker,
                                         initargs=(context,)) as pool:
            pending = pool.imap_unordered(_render_in_worker, chunks)
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


def _chunks(works: list[Work]) -> list[list[Work]]:
    entities: list[Work] = [w for w in works if isinstance(w, EntityWork)]
    listings: list[Work] = [w for w in works if isinstance(w, ListingWork)]
    return ([entities[i : i + CHUNK] for i in range(0, len(entities), CHUNK)]
            + [listings[i : i + LISTING_CHUNK] for i in range(0, len(listings), LISTING_CHUNK)])


# A worker's context, set by the pool's initializer in each forked worker (never in this
# process: the serial path calls Context.render directly).
_worker_context: Context | None = None


def _start_worker(context: Context) -> None:
    global _worker_context
    _worker_context = context


def _render_in_worker(chunk: list[Work]) -> list[Done]:
    if _worker_context is None:
        raise RuntimeError("a render worker started without its context")
    return _worker_context.render(chunk)
