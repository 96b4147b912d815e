"""Pipeline: a build's stages, in order. load -> validate -> index -> plan -> stage ->
render -> publish.

Every build writes a new generation (kgpub.build.transaction) and publishes it in one atomic
rename; one build at a time writes an output (a lock). An incremental build validates again
only the focus nodes an edit can change (kgpub.validate.revalidation) and renders only the
units that read an edited statement (kgpub.incremental); a full one does it all. Either way
the result is the same site, byte for byte.
"""

from __future__ import annotations

import gc
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from .. import generation, incremental
from ..config import Project
from ..entail import entailments
from ..errors import InvalidData
from ..graph import Graph
from ..index import Index
from ..layout import VALIDATION
from ..load import Sources, load_sources
from ..render.html import HtmlRenderer
from ..validate import Report, unpublishable_problems, validate_sources
from ..validate import cache as validation_cache
from ..validate.revalidation import Earlier, revalidate
from . import render, transaction
from .contents import renderers
from .executor import Context, Progress
from .output import check_output, output_error
from .timings import Stopwatch
from .units import Work, works


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


@dataclass
class Prepared:
    """What the stages before writing give: the sources, the graph and its recording view, the
    renderers and the units of work."""

    sources: Sources
    graph: Graph  # read unrecorded by the plan only
    index: Index  # the recording view every renderer reads the graph through
    html: list[HtmlRenderer]  # one per language
    works: list[Work]


def build(
    project: Project,
    out: Path | None = None,
    progress: Progress | None = None,
    workers: int | None = None,
    engine: str = "auto",
    full: bool = False,
    search_later: bool = False,
    published: Callable[[], None] | None = None,
) -> BuildResult:
    """Validate and write the site as a new generation, then publish it. When the last build's
    state is there and only data files changed, only the units that read something that
    changed are rendered again (kgpub.incremental); otherwise all are (full=True forces it).
    search_later: an update publishes the edit first and the search shards it changed in a
    second generation (kgpub.build.render.search_generation); published() is called once the
    first is online (only when there is a second). Either way only files whose
    bytes change are written (unchanged files keep their inode
    and mtime, so HTTP validators stay valid), what is no longer produced is deleted, and the
    site is the same as a full build's. Raises OutputError when the output cannot be written
    (the published site is then unchanged) and BuildBusy when another build is writing it."""
    with _rare_collections():
        return _build(project, out, progress, workers, engine, full, search_later, published)


# A build makes hundreds of thousands of containers (the sources, the state, the graph's maps,
# the index, the navigation) that live until it ends. Python's cyclic collector, run every 700
# allocations of one, traversed them again and again, the more the larger the graph: making
# the graph took 50, 85 and 115 µs an entry at 2k, 10k and 20k entries, and 39, 53 and 67 µs
# with the collector run 100x less often, which still collects the cycles a build discards.
COLLECT_EVERY = 70_000


@contextmanager
def _rare_collections() -> Iterator[None]:
    thresholds = gc.get_threshold()
    gc.set_threshold(max(COLLECT_EVERY, thresholds[0]), *thresholds[1:])
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)


def _build(project: Project, out: Path | None, progress: Progress | None, workers: int | None,
           engine: str, full: bool, search_later: bool,
           published: Callable[[], None] | None) -> BuildResult:
    out = Path(out) if out else project.root / "site"
    check_output(project, out)
    lock = generation.BuildLock(out)
    survey: transaction.Survey | None = None
    try:
        if out.parent.is_dir():  # else it is made once the data is known to be valid
            _output_step(lock.acquire, out)
            # Searched while this process loads, validates and indexes (an update only).
            survey = None if full else transaction.Survey(out)
        clock = Stopwatch()
        sources = load_sources(project)
        clock.lap("load")
        earlier = None if full else _earlier(out)
        checked = revalidate(project, sources, engine, earlier, validate_sources)
        report = checked.report
        clock.lap("validate")
        if not report.conforms:
            raise InvalidData(report)
        prepared = _prepare(project, sources, checked.graph)
        clock.lap("index and navigation")
        if not out.parent.is_dir():
            _output_step(lambda: out.parent.mkdir(parents=True, exist_ok=True), out)
            _output_step(lock.acquire, out)
        result = _write(project, prepared, out, clock, progress,
                        workers or os.cpu_count() or 1, full,
                        earlier.state if earlier else None, checked.kept,
                        search_later, published, survey)
    finally:
        if survey is not None:
            survey.close()
        lock.release()
    result.report = report
    result.timings = clock.times
    if checked.warning:
        result.warnings.insert(0, f"{out} {checked.warning}: validated everything")
    return result


def _earlier(out: Path) -> Earlier | None:
    """What the published build kept: its state and its validation cache."""
    published = generation.current(out)
    state = incremental.load(published) if published is not None else None
    if published is None or state is None:
        return None
    try:
        return Earlier(state, validation_cache.load(published))
    except ValueError as exc:
        return Earlier(state, None, f"has a validation cache that is unusable ({exc})")


def _prepare(project: Project, sources: Sources, graph: Graph | None = None) -> Prepared:
    # Validation checked what editors wrote; the published graph adds what clients rely on
    # and editors leave out (a topic is a skos:Concept, skos:narrower...: kgpub.entail).
    if graph is None:
        graph = Graph(project, sources, entailments(sources))
    index = Index.over(graph)  # what every renderer reads the graph through, recording
    # Every entity, derived ones too, must map to files inside the site: refused in the
    # words `kgpub validate` uses (kgpub.index.path_problem).
    unpublishable = unpublishable_problems(sources, index.entities)
    if unpublishable:
        raise InvalidData(Report(unpublishable))
    html = renderers(index)
    return Prepared(sources, graph, index, html, works(index, html[0].browse))


def _output_step(step: Callable[[], object], out: Path) -> object:
    try:
        return step()
    except OSError as exc:
        raise output_error(exc, out) from None


def _write(project: Project, prepared: Prepared, out: Path, clock: Stopwatch,
           progress: Progress | None, workers: int, full: bool,
           known: incremental.State | None, kept: bytes, search_later: bool = False,
           published_first: Callable[[], None] | None = None,
           survey: transaction.Survey | None = None) -> BuildResult:
    """The build's writing half, holding the build lock: plan, stage the new generation,
    render into it, publish it, delete old generations."""
    staged: transaction.Staging | None = None
    nav = prepared.html[0].browse
    try:
        published = generation.current(out)
        recorded = (published is not None and generation.current_number(out) is not None
                    and generation.read_changes(published))
        # Leftovers of failed or killed builds go; the generation the published one was made
        # from stays, to be brought up to date instead of linking the whole tree again.
        generation.collect(out, keep={recorded[0]} if recorded else set())
        if transaction.old_staging_left(out):
            full = True  # an update by an earlier kgpub may have been left half done
        previous = None if full or published is None else known
        step = previous and incremental.plan(previous, project, prepared.sources,
                                             prepared.graph, nav,
                                             [w.name for w in prepared.works])
        state = step.state if step else incremental.new_state(project, prepared.sources,
                                                              prepared.graph, nav)
        clock.lap("plan")
        staged = transaction.stage(out, published, survey, files=step is None)
        skipped = staged.skipped
        clock.lap("new generation")
        context = Context(prepared.index, prepared.html, transaction.Writer(staged.gen))
        # The caches are written first and named in the state like a unit's files.
        cached = context.writer.write(VALIDATION, kept)
        state.add(incremental.CACHES, [VALIDATION], [], [])
        if step:
            done = render.update(context, prepared.works, step, workers, progress, clock,
                                 search_later)
        else:
            done = render.full(context, prepared.works, state, staged.files, workers,
                               progress, clock)
        if cached:
            done.written.append(VALIDATION)
        base = transaction.publish(out, staged, done.written, done.removed, done.files)
        staged = None  # published: never discarded
        if done.later is not None:  # the search shards it left pending, published again
            clock.lap("publish")
            if published_first is not None:
                published_first()
            base = render.search_generation(out, context, state, done.later, clock, done,
                                            survey)
    except OSError as exc:
        if staged is not None:
            generation.discard(staged.gen)
        raise output_error(exc, out) from None
    except BaseException:
        if staged is not None:
            generation.discard(staged.gen)
        raise
    result = BuildResult(out=out, files=done.files, entities=len(prepared.index.entities),
                         report=None, changed=len(done.written), removed=len(done.removed),
                         rendered=done.rendered, incremental=done.incremental,
                         warnings=list(done.warnings))
    if skipped:
        shown = ", ".join(skipped[:3]) + (", ..." if len(skipped) > 3 else "")
        result.warnings.append(
            f"skipped {len(skipped)} symbolic link(s) or special file(s) found in the "
            f"published site ({shown}): a build never follows or copies them")
    try:
        generation.collect(out, keep={base} if base is not None else set())
    except OSError as exc:  # the new site is published: old generations wait for the next build
        result.warnings.append(f"could not delete old generations of {out}: {exc}")
    clock.lap("publish, delete old generations")
    return result
