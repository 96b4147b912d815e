"""The one ASGI application behind `kgpub serve`, `kgpub serve --get` and the tests.

Routes: /sparql (SPARQL 1.1 Protocol), and every other path: the built site's files, with
IRIs under the base dereferenced by content negotiation (303 See Other to a document)."""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass, field
from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

from ..config import Project
from ..formats import BY_NAME, DOCUMENT_FORMATS, HTML, Format
from .conneg import negotiate, negotiate_language
from .static import SiteFiles, StaticFile, accepts_gzip, not_modified

CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self' https: data:; "
    # Search (Pagefind) compiles WebAssembly and runs a worker, both from the site's own files.
    "script-src 'self' 'wasm-unsafe-eval'; worker-src 'self'; "
    "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
# Media types that also name a document format (aliases clients send).
ALIASES = {
    "html": ("text/html",),
    "jsonld": ("application/ld+json", "application/json"),
    "ttl": ("text/turtle", "application/x-turtle"),
    "nt": ("application/n-triples",),
    "rdf": ("application/rdf+xml",),
}
OFFERS = {f: ALIASES.get(f.name, (f.media_type,)) for f in DOCUMENT_FORMATS}
DOC_SUFFIXES = {f.suffix: f for f in DOCUMENT_FORMATS}


@dataclass
class ServerSettings:
    doc_max_age: int = 300
    asset_max_age: int = 86400
    redirect_max_age: int = 3600
    sparql: dict = field(default_factory=dict)


def create_app(
    project: Project,
    site_dir: Path,
    *,
    settings: ServerSettings | None = None,
    query_pool=None,
) -> Starlette:
    """Build the application. The SPARQL pool is started with the app (lifespan) unless one is
    passed in (tests share one)."""
    settings = settings or ServerSettings(sparql=dict(project.sparql))
    files = SiteFiles(site_dir)
    if files.resolve("index.html") is None:
        raise FileNotFoundError(f"{site_dir} is not a built site (no index.html); run kgpub build")
    from .oai import OaiEndpoint
    from .sparql import SparqlEndpoint

    sparql = SparqlEndpoint(project, files, settings.sparql, pool=query_pool)
    oai = OaiEndpoint(project, files)
    site = _Site(project, files, settings)

    @contextlib.asynccontextmanager
    async def lifespan(app):
        await sparql.start()
        try:
            yield
        finally:
            await sparql.stop()

    app = Starlette(
        routes=[
            Route("/sparql", sparql.handle, methods=["GET", "HEAD", "POST", "OPTIONS"]),
            Route("/oai", oai.handle, methods=["GET", "HEAD", "POST"]),
            Route("/{path:path}", site.handle, methods=["GET", "HEAD"]),
        ],
        lifespan=lifespan,
    )
    app.add_middleware(SecurityHeaders)
    app.state.project = project
    app.state.files = files
    app.state.sparql = sparql
    return app


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
                headers.append((b"x-content-type-options", b"nosniff"))
                headers.append((b"referrer-policy", b"strict-origin-when-cross-origin"))
                if ctype.startswith(b"text/html") and b"content-security-policy" not in names:
                    headers.append((b"content-security-policy", CSP.encode()))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


class _Site:
    def __init__(self, project: Project, files: SiteFiles, settings: ServerSettings):
        self.project = project
        self.files = files
        self.settings = settings
        # Withdrawn entities: path -> path of the successor, or None (410 Gone).
        tombstones = files.root / ".kgpub" / "tombstones.json"
        self.tombstones: dict[str, str | None] = (
            json.loads(tombstones.read_text("utf-8")) if tombstones.is_file() else {}
        )

    async def handle(self, request: Request) -> Response:
        path = request.url.path
        if path == "/":
            return self.serve(request, self.files.resolve("index.html"), None)
        fmt = DOC_SUFFIXES.get(Path(path).suffix)
        thing = path[: -len(fmt.suffix)] if fmt else path
        lang, neutral = self._language_of(thing)
        if neutral in self.tombstones and (fmt is None or fmt is HTML):
            return self.gone(request, neutral, fmt, lang)
        found = self.files.resolve(path)
        if found is not None:
            is_doc = fmt is not None and bool(self.available(thing))
            return self.serve(request, found, thing if is_doc else None)
        if not path.endswith("/"):
            formats = self.available(path)
            if formats:
                return self.see_other(request, path, formats)
        return self.not_found(request)

    def available(self, doc: str) -> list[Format]:
        """The document formats built for a thing (none: it is not a published IRI)."""
        return [f for f in DOCUMENT_FORMATS if self.files.resolve(doc + f.suffix) is not None]

    def _language_of(self, path: str) -> tuple[str, str]:
        """('fr/', '/topic/x') for '/fr/topic/x'; ('', path) for the default language."""
        for lang in self.project.languages[1:]:
            if path.startswith(f"/{lang}/"):
                return f"{lang}/", path[len(lang) + 1 :]
        return "", path

    def gone(self, request: Request, thing: str, fmt: Format | None, lang: str = "") -> Response:
        successor = self.tombstones[thing]
        if successor:
            if lang and fmt is HTML:  # the successor's page in the same language
                return RedirectResponse(f"/{lang}{successor.lstrip('/')}{fmt.suffix}",
                                        status_code=301)
            return RedirectResponse(successor + (fmt.suffix if fmt else ""), status_code=301)
        page = self.files.resolve(f"/{lang}{thing.lstrip('/')}" + HTML.suffix)
        wants_html = negotiate(request.headers.get("accept"), [("text/html",), ("text/plain",)]) == 0
        if page is not None and (wants_html or fmt is HTML):
            return self.serve(request, page, None, status=410)
        return PlainTextResponse(
            f"410 Gone: {self.project.base}{thing.lstrip('/')} has been withdrawn.\n",
            status_code=410,
        )

    # ---- 303 See Other ----------------------------------------------------------------------

    def see_other(self, request: Request, doc: str, formats: list[Format]) -> Response:
        headers = {"Vary": "Accept, Accept-Language",
                   "Cache-Control": f"public, max-age={self.settings.redirect_max_age}"}
        requested = request.query_params.get("format")
        if requested is not None:
            fmt = BY_NAME.get(requested)
            if fmt not in formats:
                names = ", ".join(f.name for f in formats)
                return PlainTextResponse(
                    f"Unknown format {requested!r}. Use one of: {names}.\n", status_code=400
                )
        else:
            chosen = negotiate(request.headers.get("accept"), [OFFERS[f] for f in formats])
            if chosen is None:
                return self.not_acceptable(doc, formats)
            fmt = formats[chosen]
        headers["Link"] = self._links(doc, formats, exclude=None)
        target = doc + fmt.suffix
        if fmt is HTML:  # the page in the reader's language, when the site has it
            lang = negotiate_language(request.headers.get("accept-language"),
                                      self.project.languages)
            if lang != self.project.default_language:
                target = f"/{lang}{target}"
        return RedirectResponse(target, status_code=303, headers=headers)

    def not_acceptable(self, doc: str, formats: list[Format]) -> Response:
        listing = "\n".join(f"  {f.media_type}  ->  {doc}{f.suffix}" for f in formats)
        return PlainTextResponse(
            f"406 Not Acceptable: this resource is available as\n{listing}\n",
            status_code=406,
            headers={"Vary": "Accept", "Link": self._links(doc, formats, exclude=None)},
        )

    def _links(self, doc: str, formats: list[Format], exclude: Format | None) -> str:
        links = [
            f'<{doc}{f.suffix}>; rel="alternate"; type="{f.media_type}"'
            for f in formats
            if f is not exclude
        ]
        links.append(f'<{self.project.base}{doc.lstrip("/")}>; rel="canonical"')
        return ", ".join(links)

    # ---- files --------------------------------------------------------------------------------

    def serve(self, request: Request, path: Path | None, doc: str | None,
              status: int = 200) -> Response:
        if path is None:
            return self.not_found(request)
        item: StaticFile = self.files.get(path)
        headers = {
            "ETag": item.etag,
            "Last-Modified": item.last_modified,
            "Cache-Control": self._cache_control(request.url.path),
        }
        if doc is not None:
            fmt = DOC_SUFFIXES[path.suffix]
            headers["Link"] = self._links(doc, self.available(doc), exclude=fmt)
        body = item.body
        if item.compressible:
            headers["Vary"] = "Accept-Encoding"
            if accepts_gzip(request.headers.get("accept-encoding")):
                body = self.files.gzipped(item)
                headers["Content-Encoding"] = "gzip"
                headers["ETag"] = item.etag[:-1] + '-gzip"'
        if status == 200 and not_modified(
            request.headers.get("if-none-match"),
            request.headers.get("if-modified-since"),
            headers["ETag"],
            item.last_modified,
        ):
            headers.pop("Content-Encoding", None)
            return Response(status_code=304, headers=headers)
        if request.method == "HEAD":
            headers["Content-Length"] = str(len(body))
            return Response(b"", status_code=status, headers=headers, media_type=item.media_type)
        return Response(body, status_code=status, headers=headers, media_type=item.media_type)

    def _cache_control(self, url_path: str) -> str:
        if url_path.startswith("/_assets/"):
            return f"public, max-age={self.settings.asset_max_age}"
        return f"public, max-age={self.settings.doc_max_age}"

    def not_found(self, request: Request) -> Response:
        lang, _ = self._language_of(request.url.path)
        page = self.files.resolve(f"{lang}404.html") or self.files.resolve("404.html")
        wants_html = negotiate(request.headers.get("accept"), [("text/html",), ("text/plain",)]) == 0
        if wants_html and page is not None:
            item = self.files.get(page)
            body = b"" if request.method == "HEAD" else item.body
            return Response(body, status_code=404, media_type=item.media_type,
                            headers={"Cache-Control": "no-cache"})
        return PlainTextResponse(
            f"404 Not Found: nothing is published at {request.url.path}\n",
            status_code=404,
            headers={"Cache-Control": "no-cache"},
        )


def serve_forever(project: Project, site_dir: Path, *, host: str, port: int, workers: int) -> None:
    """Run the app on uvicorn. Several workers need an import string: the factory below reads
    the project and site from the environment."""
    import os

    import uvicorn

    os.environ["KGPUB_PROJECT"] = str(Path(project.root).resolve())
    os.environ["KGPUB_SITE"] = str(Path(site_dir).resolve())
    uvicorn.run(
        "kgpub.server.app:app_from_environment",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="warning",
        proxy_headers=True,
        server_header=False,
    )


def app_from_environment() -> Starlette:
    import os

    from ..config import load_project

    project = load_project(os.environ.get("KGPUB_PROJECT", "."))
    return create_app(project, Path(os.environ.get("KGPUB_SITE", "site")))
