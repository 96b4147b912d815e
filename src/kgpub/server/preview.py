"""The preview server for editors: `kgpub serve --watch`.

The production application (kgpub.server.app) plus, only here: a watcher that rebuilds the
project when a source changes (kgpub.server.watch) and publishes through the same generation
switch as `kgpub build` (the Publication is told at once instead of noticing at its next poll);
a server-sent events stream (PREVIEW_EVENTS) telling the open pages which build is published
and what is wrong with the last change; and a middleware that adds a script (and the banner of
problems) to the HTML it serves. Nothing of this is ever written into a site: the built pages
are the same bytes with or without --watch, and a production server has none of these routes.

A page reloads when the published build is not the one it was served from. A change that does
not validate publishes nothing: the last good build stays, and the pages show a banner of the
problems (file:line and message, escaped here, the one place the banner is made) until a change
fixes them.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import html
import json
import sys
import time
from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .. import generation
from ..config import Project, load_project
from ..errors import EXIT_INVALID, KgpubError
from ..layout import HOME, META_DIR, OAI, PREVIEW_EVENTS, PREVIEW_SCRIPT, PREVIEW_STYLE, SPARQL
from .snapshot import Publication
from .watch import Builder, Issue, Outcome, build_once, changes, output_dir

MAX_STREAMS = 32  # event streams open at once (each an open connection); more get 503
WAKE_SECONDS = 0.5  # how often a stream looks at the published build and the server's state
KEEPALIVE_SECONDS = 15.0  # a comment line on a quiet stream, so proxies keep it open
RETRY_MS = 1000  # how soon a browser reconnects a dropped stream
# Request headers the preview drops on pages, so that every answer is the whole, current,
# uncompressed file into which the script can go (and nothing is answered from a stale cache).
NOT_FOR_PREVIEW = {b"accept-encoding", b"range", b"if-range", b"if-none-match",
                   b"if-modified-since"}
# Each new build starts query workers that load its dump, and the switch waits for them (so no
# query is refused): one worker, not [sparql] workers, keeps an editor's wait short.
PREVIEW_QUERY_WORKERS = 1
MAX_PAGE_BYTES = 16 << 20  # an HTML page larger than this is served as it is, without the script

BANNER_ID = "kgpub-preview"
SCRIPT = """\
(function () {
  "use strict";
  // The build this page came from; another one published means: reload.
  var script = document.currentScript;
  var shown = script.dataset.build;
  var source = new EventSource(script.dataset.events);
  source.onmessage = function (event) {
    var state = JSON.parse(event.data);
    if (state.build !== shown) {
      source.close();
      location.reload();
      return;
    }
    var old = document.getElementById("__ID__");
    if (old) old.remove();
    // Markup made and escaped by the server (kgpub.server.preview.banner).
    if (state.banner) document.body.insertAdjacentHTML("beforeend", state.banner);
  };
})();
""".replace("__ID__", BANNER_ID)
STYLE = """\
#__ID__ { position: fixed; top: 0; left: 0; right: 0; z-index: 2147483647; max-height: 50vh;
  overflow: auto; margin: 0; padding: .75rem 1rem; background: #fff1f1; color: #4a0000;
  border-bottom: 3px solid #b00020; box-shadow: 0 2px 8px rgba(0, 0, 0, .3);
  font: 15px/1.45 system-ui, sans-serif; text-align: left; }
#__ID__ p { margin: 0; }
#__ID__ ul { margin: .25rem 0 0; padding-left: 1.25rem; }
#__ID__ code { font-weight: bold; }
#__ID__ .fix { color: #333; }
""".replace("__ID__", BANNER_ID)


def banner(outcome: Outcome) -> str:
    """The banner of a refused build's problems (HTML, every text escaped), or "" when the
    last build was published."""
    if outcome.ok:
        return ""
    items = []
    for issue in outcome.issues:
        where = f"<code>{html.escape(issue.where)}</code> " if issue.where else ""
        fix = f' <span class="fix">fix: {html.escape(issue.fix)}</span>' if issue.fix else ""
        items.append(f"<li>{where}{html.escape(issue.message)}{fix}</li>")
    more = outcome.total - len(outcome.issues)
    tail = f"<p>… and {more} more (<code>kgpub validate</code> lists all)</p>" if more else ""
    return (f'<div id="{BANNER_ID}" role="alert"><p><strong>Not published:</strong> the last '
            "change does not validate, so this is the last good build.</p>"
            f"<ul>{''.join(items)}</ul>{tail}</div>")


def say(text: str) -> None:
    """A line for the editor's terminal."""
    print(text, file=sys.stderr, flush=True)


class Preview:
    """The watch loop and what the pages are told: the published build and the outcome of
    the last build."""

    def __init__(self, project: Project, site: Path, first: Outcome):
        self.root = project.root
        self.site = Path(site)
        self.outcome = first
        self.builder = Builder(self.root, self.site)
        self.publication: Publication | None = None
        self.streams = 0
        self.builds = 0  # rebuilds done since the start
        self.stopping: Callable[[], bool] = lambda: False  # the server is shutting down
        self._changed = asyncio.Event()
        self._dirty = asyncio.Event()
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    # ---- the loop: watch, rebuild, publish --------------------------------------------------

    async def start(self, publication: Publication) -> None:
        self.publication = publication
        self._tasks = [asyncio.create_task(self._watch()), asyncio.create_task(self._rebuild())]
        await self.builder.start()

    async def stop(self) -> None:
        self._stop.set()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.builder.close()

    async def _watch(self) -> None:
        while True:  # a watch that fails (a source folder removed...) is set up again
            try:
                async for paths in changes(self.root, self._stop):
                    if paths:  # else only temporary files came and went
                        say(f"changed: {', '.join(sorted(paths))}; rebuilding")
                        self._dirty.set()
                return  # stopped
            except Exception as exc:  # noqa: BLE001 - the preview must keep watching
                say(f"error: watching {self.root} failed ({exc}); trying again in a second")
                await asyncio.sleep(1.0)

    async def _rebuild(self) -> None:
        # Changes during a build set _dirty again: one more build follows, for all of them.
        while True:
            await self._dirty.wait()
            self._dirty.clear()
            try:
                outcome = await self.builder.build(self.published_first)
            except Exception as exc:  # noqa: BLE001 - no builder process (out of processes...)
                outcome = Outcome.failed([Issue("", f"the build could not start: {exc}")], 0.0)
            await self.publish(outcome)

    async def published_first(self, seconds: float) -> None:
        """The edit is published, its search index not yet: switch to it and reload the open
        pages now; the build's outcome follows with the second generation."""
        await self.publish(Outcome(ok=True, seconds=seconds,
                                   summary="Published the edit (the search index follows)"))

    async def publish(self, outcome: Outcome) -> None:
        """Take a build's outcome: switch to the new build at once when it was published,
        tell the terminal and the open pages."""
        switched, before = "", self.build()
        if outcome.ok and self.publication is not None:
            started = time.monotonic()
            with contextlib.suppress(KgpubError):  # it just built with it: cannot fail but in a race
                # The new build's settings (base, title...), but the server's own: the store
                # it was started with (--store), like [sparql] limits, stays until a restart.
                self.publication.project = dataclasses.replace(
                    load_project(self.root), store=self.publication.project.store)
            try:
                await self.publication.refresh()
            except Exception as exc:  # noqa: BLE001 - the old build stays in service
                say(f"error: could not switch to the new build: {exc}")
            if self.build() != before:  # switched here, or by the publication's own poll
                switched = (f" Serving build {self.build()} (switched in "
                            f"{time.monotonic() - started:.1f} s); the open pages reload.")
        # Only now: a page must not see the banner go before the new build is in service.
        self.outcome = outcome
        self.builds += 1
        say(outcome.report() + switched)
        for warning in outcome.warnings:
            say(f"warning: {warning}")
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    # ---- what the pages are told --------------------------------------------------------------

    def build(self) -> str:
        return self.publication.current.build if self.publication else ""

    def state(self) -> str:
        return json.dumps({"build": self.build(), "banner": banner(self.outcome)},
                          ensure_ascii=False, separators=(",", ":"))

    async def changed(self, timeout: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._changed.wait(), timeout)

    def routes(self) -> list[Route]:
        return [
            Route(f"/{PREVIEW_EVENTS}", EventStream(self), methods=["GET"]),
            Route(f"/{PREVIEW_SCRIPT}", _asset(SCRIPT, "text/javascript"), methods=["GET", "HEAD"]),
            Route(f"/{PREVIEW_STYLE}", _asset(STYLE, "text/css"), methods=["GET", "HEAD"]),
        ]

    def additions(self, build: str) -> bytes:
        """What goes at the end of a page served from `build`: the banner, the script."""
        return (banner(self.outcome)
                + f'<link rel="stylesheet" href="/{PREVIEW_STYLE}">'
                + f'<script src="/{PREVIEW_SCRIPT}" data-build="{html.escape(build)}" '
                  f'data-events="/{PREVIEW_EVENTS}"></script>').encode("utf-8")


def _asset(text: str, media_type: str) -> Callable[[Request], Awaitable[Response]]:
    body = text.encode("utf-8")

    async def endpoint(request: Request) -> Response:
        return Response(body, media_type=media_type, headers={"Cache-Control": "no-store"})

    return endpoint


class EventStream:
    """GET PREVIEW_EVENTS: a `data:` line of the state (the published build, the banner) when
    the stream opens and whenever it changes, until the client leaves or the server stops."""

    def __init__(self, preview: Preview):
        self.preview = preview

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        preview = self.preview
        if preview.streams >= MAX_STREAMS:
            response = PlainTextResponse(f"Too many preview streams (at most {MAX_STREAMS}).",
                                         status_code=503, headers={"Retry-After": "5"})
            await response(scope, receive, send)
            return
        preview.streams += 1
        gone = asyncio.create_task(_disconnect(receive))
        try:
            await send({"type": "http.response.start", "status": 200, "headers": [
                (b"content-type", b"text/event-stream; charset=utf-8"),
                (b"cache-control", b"no-store"),
                (b"x-accel-buffering", b"no"),  # a proxy in front must not hold the events back
            ]})
            await self._events(send, gone)
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        finally:
            gone.cancel()
            preview.streams -= 1

    async def _events(self, send: Send, gone: asyncio.Task[None]) -> None:
        preview = self.preview
        await send({"type": "http.response.body", "body": f"retry: {RETRY_MS}\n\n".encode(),
                    "more_body": True})
        sent, quiet_since = "", time.monotonic()
        while not (gone.done() or preview.stopping()):
            # Read each time: a build published by `kgpub build` is switched to by the poll.
            state = preview.state()
            if state != sent:
                body, sent = f"data: {state}\n\n", state
            elif time.monotonic() - quiet_since > KEEPALIVE_SECONDS:
                body = ": still here\n\n"
            else:
                body = ""
            if body:
                await send({"type": "http.response.body", "body": body.encode(),
                            "more_body": True})
                quiet_since = time.monotonic()
            waiter = asyncio.create_task(preview.changed(WAKE_SECONDS))
            await asyncio.wait({waiter, gone}, return_when=asyncio.FIRST_COMPLETED)
            waiter.cancel()


async def _disconnect(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


class PreviewPages:
    """ASGI middleware: every HTML page gets the preview's additions before its `</body>`
    (responses only: the files stay as built). Pages are answered whole, uncompressed and
    uncached (see NOT_FOR_PREVIEW), so an edit is never hidden by a browser's cache."""

    def __init__(self, app: ASGIApp, preview: Preview):
        self.app = app
        self.preview = preview

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not _is_page_path(scope["path"]):
            await self.app(scope, receive, send)
            return
        scope = {**scope, "headers": [(k, v) for k, v in scope["headers"]
                                      if k not in NOT_FOR_PREVIEW]}
        start: Message | None = None
        chunks: list[bytes] = []
        size = 0

        async def add_preview(message: Message) -> None:
            nonlocal start, size
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", [])
                           if k.lower() not in (b"etag", b"last-modified", b"cache-control")]
                message = {**message, "headers": [*headers, (b"cache-control", b"no-store")]}
                if _is_html(headers):
                    if scope["method"] != "GET":  # HEAD: the length would be the file's
                        message["headers"] = [(k, v) for k, v in message["headers"]
                                              if k.lower() != b"content-length"]
                    else:
                        start = message
                        return
                await send(message)
                return
            if start is None or message["type"] != "http.response.body":
                await send(message)
                return
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if size > MAX_PAGE_BYTES:  # too large to hold: the rest as it comes
                await send(start)
                await send({**message, "body": b"".join(chunks)})
                start = None
                return
            if message.get("more_body", False):
                return
            snapshot = scope.get("kgpub.snapshot")
            body = _insert(b"".join(chunks), self.preview.additions(
                snapshot.build if snapshot else self.preview.build()))
            await send({**start, "headers": [
                *((k, v) for k, v in start["headers"] if k.lower() != b"content-length"),
                (b"content-length", str(len(body)).encode())]})
            await send({"type": "http.response.body", "body": body, "more_body": False})

        await self.app(scope, receive, add_preview)


def _is_page_path(path: str) -> bool:
    """The site's pages and files; not the services (whose forms keep what a user typed) nor
    the preview's own routes."""
    first = path.lstrip("/").split("/", 1)[0]
    return first not in (SPARQL, OAI, META_DIR)


def _is_html(headers: Iterable[tuple[bytes, bytes]]) -> bool:
    ctype = next((v for k, v in headers if k.lower() == b"content-type"), b"")
    return bool(ctype.startswith(b"text/html"))


def _insert(page: bytes, additions: bytes) -> bytes:
    at = page.rfind(b"</body>")
    return page + additions if at < 0 else page[:at] + additions + page[at:]


# ---- the command --------------------------------------------------------------------------------


def serve_preview(project: Project, site_dir: Path | None, *, host: str, port: int,
                  forwarded_allow_ips: str = "127.0.0.1") -> int:
    """`kgpub serve --watch`: build, serve, and rebuild on every change until Ctrl-C. Returns
    the exit code: 0, or the first build's when it failed with no earlier build to serve."""
    import uvicorn

    from .app import create_app, uvicorn_options
    from .site import ServerSettings

    site = output_dir(project.root, site_dir)
    say(f"Building {site} ...")
    first = build_once(project.root, site)
    say(first.report())
    published = generation.current(site)
    if published is None or not (published / HOME).is_file():
        say("error: there is no good build to serve yet; fix the problems above and start "
            "again.")
        return first.exit_code or EXIT_INVALID
    preview = Preview(project, site, first)
    settings = ServerSettings(sparql={**project.sparql, "workers": PREVIEW_QUERY_WORKERS})
    app = create_app(project, site, settings=settings, preview=preview)
    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port,
                                           **uvicorn_options(forwarded_allow_ips)))
    preview.stopping = lambda: bool(server.should_exit)
    say(f"Previewing {site} at http://{host}:{port}/ (rebuilt when data/, ontology/, shapes/ "
        "or kgpub.toml change; Ctrl-C stops)")
    server.run()
    return 0
