"""Watching a project and rebuilding it, for `kgpub serve --watch` (kgpub.server.preview).

`rebuild` is the one place the preview calls the build: the library function `kgpub build`
uses, with its outcome as data (what is wrong, file:line and message, or that a new build is
published). It runs in a builder process of its own (`python -m kgpub.server.watch PROJECT
SITE`, driven by Builder): the build's parsing and validation would hold the server's GIL, and
its render workers are forked, which a process running an event loop and query pools must not
do. The builder stays up between builds, so a rebuild pays for no interpreter start or imports.

`changes` yields the sets of paths changed under data/, ontology/, shapes/ and kgpub.toml,
debounced (watchfiles: inotify on Linux). Not the whole project: a build writes thousands of
files beside it, which would wake the watcher for nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import sys
import time
import traceback
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..errors import EXIT_USAGE, InvalidData, KgpubError, LoadError

SOURCES = ("data", "ontology", "shapes")  # the project's folders a build reads
CONFIG = "kgpub.toml"
# Events are grouped until none came for QUIET_MS (an editor's save is several events), but
# for at most GROUP_MS (a script touching files all the time still gets builds).
QUIET_MS = 150
GROUP_MS = 1600
# What the pages and the terminal show of a failed build: the first problems, each cut short
# (a report of thousands of violations stays a few kilobytes on the wire).
MAX_ISSUES = 20
MAX_MESSAGE_CHARS = 600
# The builder answers in one JSON line, bounded by the caps above; this bounds the read.
MAX_ANSWER_BYTES = 1 << 20
# The line a builder writes, before its answer, when the edit is published and its search
# index follows in a second generation (then the seconds so far). An answer is JSON: "{".
PUBLISHED = b"published "
STOP_GRACE_SECONDS = 5.0  # for a build under way when the server stops; then it is killed


@dataclass(frozen=True)
class Issue:
    """One reason a build was refused: where (file:line, or "" when no file is at fault)."""

    where: str
    message: str
    fix: str = ""

    def line(self) -> str:
        text = f"{self.where}: {self.message}" if self.where else self.message
        return text + (f" (fix: {self.fix})" if self.fix else "")


@dataclass(frozen=True)
class Outcome:
    """What a rebuild did: published (ok) or refused, with the first MAX_ISSUES issues of
    `total`, and the build's summary line or warnings."""

    ok: bool
    seconds: float
    summary: str = ""
    issues: tuple[Issue, ...] = ()
    total: int = 0
    warnings: tuple[str, ...] = field(default=())
    exit_code: int = 0  # what `kgpub build` exits with on the same failure

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str | bytes) -> Outcome:
        doc = json.loads(text)
        return cls(ok=bool(doc["ok"]), seconds=float(doc["seconds"]), summary=str(doc["summary"]),
                   issues=tuple(Issue(**i) for i in doc["issues"]), total=int(doc["total"]),
                   warnings=tuple(doc["warnings"]), exit_code=int(doc["exit_code"]))

    @classmethod
    def failed(cls, issues: list[Issue], seconds: float, exit_code: int = EXIT_USAGE) -> Outcome:
        return cls(ok=False, seconds=seconds, issues=tuple(_short(i) for i in issues[:MAX_ISSUES]),
                   total=len(issues), exit_code=exit_code)

    def report(self) -> str:
        """For the terminal: one line per issue (file:line: message), then what it means."""
        if self.ok:
            return f"{self.summary} in {self.seconds:.1f} s."
        lines = [i.line() for i in self.issues]
        if self.total > len(self.issues):
            lines.append(f"... and {self.total - len(self.issues)} more (kgpub validate lists all)")
        lines.append(f"The change was not published ({self.total} problem(s)); the last good "
                     "build stays online.")
        return "\n".join(lines)


def _short(issue: Issue) -> Issue:
    def cut(text: str) -> str:
        return text if len(text) <= MAX_MESSAGE_CHARS else text[:MAX_MESSAGE_CHARS - 1] + "…"

    return Issue(issue.where, cut(issue.message), cut(issue.fix))


def output_dir(project_root: Path, site: Path | None) -> Path:
    """The build's output: `site`, else kgpub.build's default (site/ in the project)."""
    return Path(site) if site is not None else Path(project_root) / "site"


def rebuild(project_dir: Path, site: Path,
            published: Callable[[float], None] | None = None) -> Outcome:
    """Validate and build the project into `site` the way `kgpub build` does (incremental when
    only data changed; an edit is published before its search index, published(seconds) is
    then called), publishing a new generation on success; on any failure the published
    build is untouched and the outcome says why, file:line where there is one."""
    from ..build import build
    from ..config import load_project

    started = time.monotonic()

    def first() -> None:
        if published is not None:
            published(time.monotonic() - started)

    try:
        result = build(load_project(project_dir), site, search_later=True, published=first)
    except InvalidData as exc:
        return Outcome.failed([Issue(p.where, _with_value(p.message, p.value), p.hint)
                               for p in exc.report.violations],
                              time.monotonic() - started, exc.exit_code)
    except LoadError as exc:
        where = f"{exc.file}:{exc.line}" if exc.file and exc.line else (exc.file or "")
        return Outcome.failed([Issue(where, str(exc).removeprefix(f"{where}: "))],
                              time.monotonic() - started)
    except KgpubError as exc:
        return Outcome.failed([Issue("", str(exc))], time.monotonic() - started)
    except Exception as exc:  # noqa: BLE001 - a bug must not stop the preview; its trace is printed
        traceback.print_exc()
        return Outcome.failed([Issue("", f"the build failed: {type(exc).__name__}: {exc}")],
                              time.monotonic() - started)
    how = f", {result.rendered} rendered again" if result.incremental else ""
    return Outcome(ok=True, seconds=time.monotonic() - started,
                   summary=f"Built {result.entities} entities ({result.changed} files written, "
                           f"{result.removed} removed{how})",
                   warnings=tuple(result.warnings))


def _with_value(message: str, value: str | None) -> str:
    return message if value is None or value in message else f"{message} (value: {value})"


def build_once(project_dir: Path, site: Path) -> Outcome:
    """One build in a builder process, waited for (the preview's first build: the server that
    starts afterwards does not keep the build's memory)."""
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "kgpub.server.watch", str(project_dir),
                           str(site)], input=b"build\n", stdout=subprocess.PIPE, check=False)
    if done.returncode != 0 or not done.stdout.strip():
        return Outcome.failed([Issue("", f"the build process stopped (exit code "
                                         f"{done.returncode})")], time.monotonic() - started)
    return Outcome.from_json(done.stdout)


class Builder:
    """The builder process: started at the first build, kept for the next ones, started again
    if it stopped. One build at a time (the caller awaits each)."""

    def __init__(self, project_dir: Path, site: Path):
        self.project_dir = Path(project_dir)
        self.site = Path(site)
        self._proc: asyncio.subprocess.Process | None = None

    async def build(self, published: Callable[[float], Awaitable[None]] | None = None
                    ) -> Outcome:
        """One build. A builder that stopped (killed while idle, or during the build: a build
        killed before publishing changes nothing) is replaced and the build tried once more.
        published(seconds) is awaited when an edit is online before its search index."""
        started = time.monotonic()
        for _ in range(2):
            proc = await self._process()
            answer = await self._ask(proc, published)
            if answer:
                return Outcome.from_json(answer)
            code = await self._end(proc)
        return Outcome.failed([Issue("", f"the build process stopped (exit code {code}); the "
                                         "next change starts a new one")],
                              time.monotonic() - started)

    async def _ask(self, proc: asyncio.subprocess.Process,
                   published: Callable[[float], Awaitable[None]] | None = None) -> bytes:
        assert proc.stdin is not None and proc.stdout is not None
        try:
            proc.stdin.write(b"build\n")
            await proc.stdin.drain()
            while (line := await proc.stdout.readline()).startswith(PUBLISHED):
                if published is not None:  # the edit is online, its search index follows
                    await published(float(line[len(PUBLISHED):]))
            return line
        except (OSError, ValueError, asyncio.LimitOverrunError):
            return b""

    async def start(self) -> None:
        """Start the builder ahead of the first change, so that it finds the imports done."""
        await self._process()

    async def _process(self) -> asyncio.subprocess.Process:
        if self._proc is None or self._proc.returncode is not None:
            self._proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "kgpub.server.watch", str(self.project_dir), str(self.site),
                stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
                limit=MAX_ANSWER_BYTES,
                # Ctrl-C is for the server, which then ends the builder (end of its input).
                start_new_session=True)
        return self._proc

    async def _end(self, proc: asyncio.subprocess.Process) -> int | None:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        return await proc.wait()

    async def close(self) -> None:
        """Stop the builder: at once when idle (end of its input); a build under way gets
        STOP_GRACE_SECONDS, then is killed (a build killed before publishing changes nothing)."""
        proc, self._proc = self._proc, None
        if proc is None or proc.returncode is not None:
            return
        assert proc.stdin is not None
        with contextlib.suppress(OSError):
            proc.stdin.close()
        try:
            await asyncio.wait_for(proc.wait(), STOP_GRACE_SECONDS)
        except TimeoutError:
            await self._end(proc)


async def changes(project_dir: Path, stop: asyncio.Event | None = None
                  ) -> AsyncIterator[set[str]]:
    """The paths (relative to the project) changed under the source folders and kgpub.toml,
    one debounced set at a time."""
    from watchfiles import DefaultFilter, awatch

    root = Path(project_dir).resolve()
    queue: asyncio.Queue[set[str]] = asyncio.Queue()
    sources = [root / name for name in SOURCES if (root / name).is_dir()]

    def is_config(_change: object, path: str) -> bool:
        return Path(path).name == CONFIG

    async def pump(paths: list[Path], recursive: bool,
                   keep: Callable[[Any, str], bool]) -> None:
        async for batch in awatch(*paths, watch_filter=keep, recursive=recursive,
                                  step=QUIET_MS, debounce=GROUP_MS, stop_event=stop):
            await queue.put({os.path.relpath(p, root) for _, p in batch if _shown(p)})

    # kgpub.toml through its folder, not on its own: an editor that saves by renaming a new
    # file over it would leave a watch on the old file behind.
    tasks = [asyncio.create_task(pump([root], False, is_config))]
    if sources:
        tasks.append(asyncio.create_task(pump(sources, True, DefaultFilter())))
    try:
        while True:
            yield await queue.get()
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def _shown(path: str) -> bool:
    """Not an editor's or a tool's temporary file (sed's `sedX1y2z3`, gone at once): a file
    there now, or one with a suffix (a data file deleted)."""
    return os.path.exists(path) or "." in Path(path).name


def main(argv: list[str]) -> int:
    """The builder process: one build per line read, one JSON answer line per build, until its
    input ends. The answers go to the original stdout; anything a build prints goes to stderr,
    so it cannot garble them."""
    from .. import build as preloaded  # noqa: F401 - imported once, before the first change

    project_dir, site = Path(argv[0]), Path(argv[1])
    answers = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)
    def published(seconds: float) -> None:
        answers.write(f"{PUBLISHED.decode()}{seconds:.3f}\n")
        answers.flush()

    for _ in sys.stdin:
        answers.write(rebuild(project_dir, site, published).to_json() + "\n")
        answers.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
