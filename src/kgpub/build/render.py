"""Render: the stage that fills the new generation, from every unit (a full build) or from
the units an incremental plan names, then the site-wide files, the search index and, last,
the state (a generation with it is complete)."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from pathlib import Path

from .. import generation, incremental
from ..layout import BUILD_STATE, SEARCH_DIR, SEARCH_PENDING
from ..render.pieces import Piece, piece, read_pieces
from ..search import SearchIndex, build_search_index, shard_count, shard_of, shard_of_file
from . import transaction
from .contents import common_files, harvest_files
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
    warnings: list[str] = field(default_factory=list)  # one line each, for the command
    later: LaterSearch | None = None  # search shards for a second generation


class SiteWide:
    """The site-wide files, written by every build: first those no entity's piece is part of
    (while the units render: none of them is a searchable page, which lets an update index
    search meanwhile), then, from every entity's piece, the harvesting files."""

    def __init__(self, context: Context, update: bool = False):
        """update: the generation holds the last build's files, whose records are reused (a
        full build makes everything anew)."""
        self.context = context
        self.update = update
        self.nav_paths: list[str] = []
        self.common: Done | None = None

    def write_common(self) -> Done:
        c = self.context
        previous = c.writer.root if self.update else None
        written = c.write(common_files(c.index, c.html, self.nav_paths, previous,
                                       c.warnings.append))
        self.common = Done(incremental.SITE, written.paths, [], [], written.changed)
        return self.common

    def write_harvest(self, made: dict[str, Piece]) -> Done:
        """The harvesting files from the pieces of the units rendered (made) and, in an
        update, those the last build kept for the others. Returns the site-wide files' Done."""
        c = self.context
        entities = c.index.entities
        kept = read_pieces(c.writer.root) if self.update else None
        if self.update and kept is None:
            c.warnings.append("the site-wide pieces record (.kgpub/site-pieces.tsv) is missing "
                              "or unreadable: made every entity's piece again")
        kept = kept or {}
        pieces = [made.get(iri) or kept.get(iri) or piece(c.index, iri) for iri in entities]
        written = c.write(harvest_files(c.index, c.html, self.nav_paths, pieces))
        common = self.common or Done(incremental.SITE, [], [], [], [])
        return Done(incremental.SITE, common.files + written.paths, [], [],
                    common.changed + written.changed)


class _Taken:
    """What the rendered units gave, as they come: their files and reads into the state, the
    files whose bytes changed, and each entity's piece of the site-wide files."""

    def __init__(self, state: incremental.State):
        self.state = state
        self.written: list[str] = []
        self.made: dict[str, Piece] = {}

    def take(self, result: Done) -> None:
        self.state.add(result.name, result.files, result.searchable, result.read)
        self.written.extend(result.changed)
        if result.piece is not None:
            self.made[result.piece.iri] = result.piece


def full(context: Context, works: list[Work], state: incremental.State, previous: set[str],
         workers: int, progress: Progress | None, clock: Stopwatch) -> Rendered:
    """Every unit, into the new generation (which holds the previous site's files)."""
    taken = _Taken(state)
    written, made, take = taken.written, taken.made, taken.take
    site = SiteWide(context)
    render_all(context, works, workers, progress, site.write_common, take)
    clock.lap("render (pages, and the site-wide files meanwhile)")
    take(site.write_harvest(made))
    clock.lap("harvesting files")
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
    return Rendered(len(produced), written, removed, len(works), warnings=context.warnings)


@dataclass
class LaterSearch:
    """Search shards an update leaves to a second generation: the first one is published with
    the last build's index of them (and SEARCH_PENDING naming them)."""

    pages: list[str]  # every searchable page of the site, sorted
    only: set[int] | None  # the shards to index again (None: all, their number changed)
    kept: list[str]  # the search files of the published generation


def update(context: Context, works: list[Work], step: incremental.Plan, workers: int,
           progress: Progress | None, clock: Stopwatch, defer: bool = False) -> Rendered:
    """Render the units the plan names and the site-wide files into the new generation (which
    holds the published site's files), replacing the files whose bytes differ; delete the
    files no longer produced. The search shards whose pages changed are indexed again; with
    defer, they are left as they were, named in SEARCH_PENDING, and Rendered.later indexes
    them for a second generation (see search_generation), so an edit is published without
    waiting for Pagefind (when they hold [search] publish_first_pages pages or more)."""
    state, had = step.state, step.had
    wanted = set(step.render)
    todo = [w for w in works if w.name in wanted]
    taken = _Taken(state)
    written, made, take = taken.written, taken.made, taken.take
    render_all(context, todo, workers, progress, lambda: None, take)
    clock.lap("render")
    # The searchable pages are all written now (no site-wide file is one): the shards to index
    # again are known, and Pagefind (a process of its own) indexes them while this process
    # writes the site-wide files.
    searchable = sorted(p for name, unit in state.units.items() if name != incremental.SEARCH
                        for p in unit.searchable)
    later = _later_search(context, searchable, step, written)
    defer = defer and later is not None and _pages_to_index(
        later, context.index.project.shard_pages) >= context.index.project.publish_first_pages
    found: list[SearchIndex | BaseException] = []
    indexer = None
    if later is not None and not defer:
        indexer = threading.Thread(target=_find_into, args=(
            found, context.writer.root, context.index.project.shard_pages, later))
        indexer.start()
    try:
        site_wide = SiteWide(context, update=True)
        site_wide.write_common()
        site = site_wide.write_harvest(made)
        clock.lap("site-wide files (search meanwhile)" if indexer else "site-wide files")
    finally:
        if indexer is not None:
            indexer.join()
    state.add(site.name, site.files, [], site.read)
    written += site.changed
    if indexer is not None and later is not None:
        if isinstance(found[0], BaseException):
            raise found[0]
        written += _record(context.writer, state, later, found[0])
        clock.lap("search (waited for)")
        later = None
    produced = {p for unit in state.units.values() for p in unit.files} | {BUILD_STATE}
    removed = sorted(had - produced - {SEARCH_PENDING})
    if later is None and (context.writer.root / SEARCH_PENDING).is_file():
        removed.append(SEARCH_PENDING)  # left by a build whose second generation never came
    context.writer.remove(removed)
    if later is not None:
        pending = _pending(later.only)
        if context.writer.write(SEARCH_PENDING, pending):
            written.append(SEARCH_PENDING)
        produced.add(SEARCH_PENDING)
    # The state goes last: a generation with it is complete.
    if context.writer.write(BUILD_STATE, incremental.dump(state)):
        written.append(BUILD_STATE)
    clock.lap("write state")
    return Rendered(len(produced), written, removed, len(todo), incremental=True,
                    warnings=context.warnings, later=later)


def _later_search(context: Context, searchable: list[str], step: incremental.Plan,
                  written: list[str]) -> LaterSearch | None:
    """The shards to index again (those with a page added, removed or changed, and those the
    published generation left pending), or None when the index is up to date."""
    kept = step.state.units.get(incremental.SEARCH)
    only = _dirty_shards(searchable, step.searchable, written,
                         context.index.project.shard_pages)
    pending = read_pending(context.writer.root)
    if kept is None or only is None or not isinstance(pending, set):
        only = None
    else:
        only |= pending
    if only is not None and not only:
        return None
    return LaterSearch(searchable, only, list(kept.files) if kept else [])


def _pages_to_index(later: LaterSearch, shard_pages: int) -> int:
    """The pages in the shards `later` names."""
    if later.only is None:
        return len(later.pages)
    count = shard_count(len(later.pages), shard_pages)
    return sum(1 for p in later.pages if shard_of(p, count) in later.only)


def search_generation(out: Path, context: Context, state: incremental.State,
                      later: LaterSearch, clock: Stopwatch, done: Rendered,
                      survey: transaction.Survey | None = None) -> int | None:
    """Index the shards an update left pending into a new generation of `out` (the published
    one brought up to date) and publish it; `done` (the first generation's) then counts both.
    Returns the generation its journal applies to."""
    staged = transaction.stage(out, generation.current(out), survey, files=False)
    try:
        writer = transaction.Writer(staged.gen)
        written = _index(writer, context.index.project.shard_pages, state, later)
        clock.lap("search (then published again)")
        paths = state.units[incremental.SEARCH].files
        removed = sorted((set(later.kept) - set(paths)) | {SEARCH_PENDING})
        writer.remove(removed)
        if writer.write(BUILD_STATE, incremental.dump(state)):
            written.append(BUILD_STATE)
        files = len({p for unit in state.units.values() for p in unit.files} | {BUILD_STATE})
        base = transaction.publish(out, staged, written, removed, files)
    except BaseException:
        generation.discard(staged.gen)
        raise
    # What the two generations changed of the site published before them.
    done.written = sorted((set(done.written) | set(written)) - {SEARCH_PENDING})
    done.removed = sorted(set(done.removed) | (set(removed) - {SEARCH_PENDING}))
    done.files = files
    return base


def _index(writer: transaction.Writer, shard_pages: int, state: incremental.State,
           later: LaterSearch) -> list[str]:
    """Index the shards `later` names into the generation `writer` writes (the other shards'
    files stay as they are) and record the search files in the state. Returns the files
    written because their bytes changed."""
    return _record(writer, state, later, _find(writer.root, shard_pages, later))


def _find(root: Path, shard_pages: int, later: LaterSearch) -> SearchIndex:
    return build_search_index(root, later.pages, only=later.only, shard_pages=shard_pages)


def _find_into(found: list[SearchIndex | BaseException], root: Path, shard_pages: int,
               later: LaterSearch) -> None:
    """_find in a thread: its result, or the exception it raised, goes into `found`."""
    try:
        found.append(_find(root, shard_pages, later))
    except BaseException as exc:  # re-raised by the caller, in its thread
        found.append(exc)


def _record(writer: transaction.Writer, state: incremental.State, later: LaterSearch,
            found: SearchIndex) -> list[str]:
    """Write the search files whose bytes changed and record the search unit in the state."""
    written = [p for p, data in found.files if writer.write(p, data)]
    paths = [p for p, _ in found.files]
    if later.only is not None:
        paths += [p for p in later.kept if shard_of_file(p) not in later.only | {None}]
    state.add(incremental.SEARCH, sorted(paths), [], [])
    return written


def _pending(only: set[int] | None) -> bytes:
    return json.dumps({"shards": "all" if only is None else sorted(only)}).encode() + b"\n"


def read_pending(site: Path) -> set[int] | str | None:
    """The shards the published generation left pending: a set (empty when none), "all", or
    None when the record is unreadable (all are indexed again)."""
    try:
        shards = json.loads((site / SEARCH_PENDING).read_bytes())["shards"]
    except FileNotFoundError:
        return set()
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if shards == "all":
        return "all"
    if isinstance(shards, list) and all(isinstance(n, int) for n in shards):
        return set(shards)
    return None


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
