"""The build a server serves, and the switch to a newer one.

A Snapshot is one published build as the server sees it: its files, tombstones, OAI-PMH records
and SPARQL workers (loaded from that build's dump), read from one generation directory that the
server holds a shared lock on (kgpub.generation), so no build deletes it meanwhile. Every
request is answered from the snapshot that was current when it arrived: no response mixes
two builds.

Publication watches the site's link (one readlink per poll). When `kgpub build` publishes a
new generation, it opens a snapshot of it beside the current one (files, records, and query
workers that load the new dump), and only when that is ready swaps it in; requests keep being
answered by the old one until then. The old snapshot is closed when its last request is done
(its workers stopped, its lock released, so the next build can delete it).
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

from .. import generation
from ..config import Project
from ..layout import HOME
from ..sparql import QueryPool
from .oai import OaiEndpoint
from .site import ServerSettings, SiteHandler
from .sparql import SparqlEndpoint
from .static import SiteFiles

log = logging.getLogger("kgpub.server")

# How often a server looks for a newly published build (seconds).
POLL_SECONDS = 1.0
# How long a retired snapshot waits for its last requests before it is closed anyway.
RETIRE_GRACE_SECONDS = 120.0


@dataclass(eq=False)
class Snapshot:
    root: Path  # the generation directory
    build: str  # its name: the generation number, or the directory's name
    files: SiteFiles
    site: SiteHandler
    oai: OaiEndpoint
    sparql: SparqlEndpoint
    hold: generation.Hold
    active: int = 0  # requests being answered from it
    opened: float = field(default_factory=time.monotonic)

    @classmethod
    def open(cls, project: Project, root: Path, settings: ServerSettings,
             pool: QueryPool | None = None) -> Snapshot:
        """Read a build (blocking: files, tombstones, OAI records). Its query workers start
        with start()."""
        hold = generation.Hold(root)
        try:
            files = SiteFiles(root)
            if files.resolve(HOME) is None:
                raise FileNotFoundError(f"{root} is not a built site (no {HOME}); "
                                        "run kgpub build")
            return cls(
                root=root,
                build=root.name,
                files=files,
                site=SiteHandler(project, files, settings),
                oai=OaiEndpoint(project, files),
                sparql=SparqlEndpoint(project, files, settings.sparql, pool=pool),
                hold=hold,
            )
        except BaseException:
            hold.release()
            raise

    async def start(self) -> None:
        await self.sparql.start()

    async def stop(self) -> None:
        try:
            await self.sparql.stop()
        finally:
            self.hold.release()


class Publication:
    """The current snapshot of a site, switched when a newer build is published."""

    def __init__(self, project: Project, site: Path, settings: ServerSettings,
                 pool: QueryPool | None = None,
                 poll: float = POLL_SECONDS):
        self.project = project
        self.site = Path(site)
        self.settings = settings
        self.poll = poll
        opened = self._open_published(pool)
        if opened is None:
            raise FileNotFoundError(f"{site} is not a built site; run kgpub build")
        self._seen, self.current = opened
        self.switches = 0
        self._watcher: asyncio.Task[None] | None = None
        self._retiring: set[asyncio.Task[None]] = set()
        self._lock = asyncio.Lock()

    async def start(self) -> None:
        await self.current.start()
        self._watcher = asyncio.create_task(self._watch())

    async def stop(self) -> None:
        if self._watcher is not None:
            self._watcher.cancel()
            await asyncio.gather(self._watcher, return_exceptions=True)
        for task in list(self._retiring):
            task.cancel()
        await asyncio.gather(*self._retiring, return_exceptions=True)
        await self.current.stop()

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(self.poll)
            try:
                await self.refresh()
            except Exception as exc:  # noqa: BLE001 - a watcher must outlive a bad build
                log.warning("kgpub: could not switch to the new build of %s: %s", self.site, exc)

    async def refresh(self) -> bool:
        """Switch to the newest published build if it is not the current one. True if it
        switched. A build that cannot be opened leaves the current one in service."""
        async with self._lock:
            target = generation.link_target(self.site)
            if target == self._seen:
                return False
            if generation.current(self.site) == self.current.root:
                self._seen = target
                return False
            started = time.monotonic()
            try:
                opened = await asyncio.to_thread(self._open_published)
            except Exception:
                self._seen = target  # a build that cannot be opened is tried once, not per poll
                raise
            if opened is None:  # nothing there (yet): look again at the next poll
                return False
            self._seen, fresh = opened
            try:
                await fresh.start()
            except BaseException:
                await fresh.stop()
                raise
            old, self.current = self.current, fresh
            self.switches += 1
            log.info("kgpub: now serving build %s (switched in %.1f s)", fresh.build,
                     time.monotonic() - started)
            task = asyncio.create_task(self._retire(old))
            self._retiring.add(task)
            task.add_done_callback(self._retiring.discard)
            return True

    def _open_published(self, pool: QueryPool | None = None
                        ) -> tuple[str | None, Snapshot] | None:
        """The published build, held: (link target, snapshot), or None when there is none.
        Holding comes before trusting: a build deletes or reuses only generations nobody
        holds and that are no longer published, so once held, the generation is ours if the
        link still names it (else a newer one came meanwhile: take that)."""
        for _ in range(10):
            target = generation.link_target(self.site)
            root = generation.current(self.site)
            if root is None:
                return None
            try:
                snapshot = Snapshot.open(self.project, root, self.settings, pool=pool)
            except FileNotFoundError:
                if generation.link_target(self.site) != target:
                    continue  # it went while we looked: the link names a newer one
                raise
            if generation.link_target(self.site) == target and root.is_dir():
                return target, snapshot
            snapshot.hold.release()
        raise RuntimeError(f"{self.site} changes faster than it can be opened")

    async def _retire(self, old: Snapshot) -> None:
        deadline = time.monotonic() + RETIRE_GRACE_SECONDS
        try:
            while old.active and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
        finally:
            await old.stop()

