"""The one ASGI application behind `kgpub serve`, `kgpub serve --get` and the tests.

Routes: /sparql (SPARQL 1.1 Protocol), /oai (OAI-PMH), and every other path: the built site's
files, with IRIs under the base dereferenced by content negotiation (303 See Other to a
document). An application-only app (`kgpub serve --app-only`, replicas behind a web server that
serves the files) answers 404 there."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import TYPE_CHECKING

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

from ..config import Project
from ..layout import OAI, SPARQL
from ..sparql import QueryLimits
from .limits import DEFAULT_MAX_BODY, BodyLimit, sparql_body_limit
from .site import ServerSettings
from .snapshot import POLL_SECONDS, Publication

if TYPE_CHECKING:
    from .preview import Preview

CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self' https: data:; "
    # Search (Pagefind) compiles WebAssembly and runs a worker, both from the site's own files.
    "script-src 'self' 'wasm-unsafe-eval'; worker-src 'self'; "
    "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
BUILD_HEADER = "Kgpub-Build"  # which published build answered (one per response)
# What a browser-based client may read of a response besides the simple headers.
CORS_EXPOSE = b"Link, ETag, Content-Range, Accept-Ranges, Retry-After, Kgpub-Build"


def create_app(
    project: Project,
    site_dir: Path,
    *,
    settings: ServerSettings | None = None,
    query_pool=None,
    poll: float = POLL_SECONDS,
    app_only: bool = False,
    preview: Preview | None = None,
) -> Starlette:
    """Build the application over the site at site_dir (the link `kgpub build` publishes, or
    a plain built directory). Its current build's SPARQL workers start with the app
    (lifespan), and a newer build published meanwhile is switched to (kgpub.server.snapshot);
    a query_pool passed in (tests share one) serves the first build. app_only: no files,
    only /sparql and /oai. With a preview (`kgpub serve --watch` only), its routes and the
    middleware adding its script to pages."""
    settings = settings or ServerSettings(sparql=dict(project.sparql))
    limits = QueryLimits.from_config(settings.sparql)
    publication = Publication(project, Path(site_dir), settings, pool=query_pool, poll=poll)

    @contextlib.asynccontextmanager
    async def lifespan(app):
        await publication.start()
        if preview is not None:
            await preview.start(publication)
        try:
            yield
        finally:
            if preview is not None:
                await preview.stop()
            await publication.stop()

    def current(request: Request):
        return request.scope["kgpub.snapshot"]

    async def sparql(request: Request) -> Response:
        return await current(request).sparql.handle(request)

    async def oai(request: Request) -> Response:
        return await current(request).oai.handle(request)

    async def site(request: Request) -> Response:
        return await current(request).site.handle(request)

    async def not_served(request: Request) -> Response:
        return PlainTextResponse(
            f"404 Not Found: this application server answers /{SPARQL} and /{OAI} only; the "
            "site's files are served by the web server in front of it.\n", status_code=404)

    async def sparql_slash(request: Request) -> Response:
        query = request.scope.get("query_string", b"").decode("latin-1")
        # 308 keeps a POST a POST (with its body); 301 is what GET clients know best.
        return RedirectResponse(f"/{SPARQL}" + (f"?{query}" if query else ""),
                                status_code=308 if request.method == "POST" else 301)

    sparql_body = sparql_body_limit(limits)

    def body_limit(path: str) -> int:
        return sparql_body if path == f"/{SPARQL}" else DEFAULT_MAX_BODY

    app = Starlette(
        routes=[
            Route(f"/{SPARQL}", sparql, methods=["GET", "HEAD", "POST", "OPTIONS"]),
            Route(f"/{SPARQL}/", sparql_slash, methods=["GET", "HEAD", "POST", "OPTIONS"]),
            Route(f"/{OAI}", oai, methods=["GET", "HEAD", "POST"]),
            *(preview.routes() if preview is not None else []),
            Route("/{path:path}", not_served if app_only else site, methods=["GET", "HEAD"]),
        ],
        lifespan=lifespan,
    )
    if preview is not None:  # innermost: it reads which build answered (UseSnapshot)
        from .preview import PreviewPages

        app.add_middleware(PreviewPages, preview=preview)
    # Outermost first: headers on every response, bodies bounded before any route reads.
    app.add_middleware(UseSnapshot, publication=publication)
    app.add_middleware(BodyLimit, limit_for=body_limit)
    app.add_middleware(SecurityHeaders)
    app.state.project = project
    app.state.publication = publication
    return app


class UseSnapshot:
    """Each request is answered from the build that is current when it arrives, start to end
    (the snapshot counts it, so a retired build is closed only after its last response)."""

    def __init__(self, app, publication: Publication):
        self.app = app
        self.publication = publication

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        snapshot = self.publication.current
        snapshot.active += 1
        scope["kgpub.snapshot"] = snapshot
        build = snapshot.build.encode()

        async def send_with_build(message):
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []),
                                      (BUILD_HEADER.lower().encode(), build)]
            await send(message)

        try:
            await self.app(scope, receive, send_with_build)
        finally:
            snapshot.active -= 1


class SecurityHeaders:
    """nosniff everywhere; a strict Content-Security-Policy on HTML (pure ASGI: no overhead
    of a request/response wrapper)."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                names = {k.lower() for k, _ in headers}
                ctype = next((v for k, v in headers if k.lower() == b"content-type"), b"")
                headers = [(k, _safe_location(v) if k.lower() == b"location" else v)
                           for k, v in headers]
                headers.append((b"x-content-type-options", b"nosniff"))
                headers.append((b"referrer-policy", b"strict-origin-when-cross-origin"))
                if ctype.startswith(b"text/html") and b"content-security-policy" not in names:
                    headers.append((b"content-security-policy", CSP.encode()))
                if b"access-control-allow-origin" not in names:  # all of it is public data
                    headers.append((b"access-control-allow-origin", b"*"))
                    headers.append((b"access-control-expose-headers", CORS_EXPOSE))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _safe_location(value: bytes) -> bytes:
    """A Location never names another host by accident: `//x` and `/\\x` are
    protocol-relative to a browser, so leading slashes and backslashes collapse to one."""
    if value.startswith((b"//", b"/\\")):
        return b"/" + value.lstrip(b"/\\")
    return value


def serve_forever(project: Project, site_dir: Path, *, host: str, port: int, workers: int,
                  forwarded_allow_ips: str = "127.0.0.1", app_only: bool = False) -> None:
    """Run the app on uvicorn with the strict HTTP/1.1 parser (kgpub.server.http). Several
    workers need an import string: the factory below reads the project and site from the
    environment. X-Forwarded-For/-Proto are honoured only from forwarded_allow_ips."""
    import os

    import uvicorn

    os.environ["KGPUB_PROJECT"] = os.path.abspath(project.root)
    # Not resolved: the site is a link that each new build moves to its new generation.
    os.environ["KGPUB_SITE"] = os.path.abspath(site_dir)
    # What the command line may override in kgpub.toml, for the factory in each worker.
    os.environ["KGPUB_STORE"] = project.store or ""
    os.environ["KGPUB_APP_ONLY"] = "1" if app_only else ""
    uvicorn.run("kgpub.server.app:app_from_environment", factory=True, host=host, port=port,
                workers=workers, **uvicorn_options(forwarded_allow_ips))


def uvicorn_options(forwarded_allow_ips: str) -> dict:
    """How kgpub runs uvicorn (`kgpub serve`, and `kgpub serve --watch`: kgpub.server.preview)."""
    from .http import BoundedHttpToolsProtocol

    # No access log: at level warning its lines (info) were dropped anyway, after being
    # formatted for every request (the client address, the quoted path and query). The event
    # loop is uvloop's (a dependency; "auto" falls back to asyncio's where it cannot be
    # installed): a sub-millisecond SPARQL query answered 10-30% sooner over HTTP.
    return {"http": BoundedHttpToolsProtocol, "loop": "auto", "log_level": "warning",
            "access_log": False, "proxy_headers": True,
            "forwarded_allow_ips": forwarded_allow_ips, "server_header": False}


def app_from_environment() -> Starlette:
    import dataclasses
    import os

    from ..config import load_project

    project = load_project(os.environ.get("KGPUB_PROJECT", "."))
    if os.environ.get("KGPUB_STORE"):
        project = dataclasses.replace(project, store=os.environ["KGPUB_STORE"])
    return create_app(project, Path(os.environ.get("KGPUB_SITE", "site")),
                      app_only=bool(os.environ.get("KGPUB_APP_ONLY")))
