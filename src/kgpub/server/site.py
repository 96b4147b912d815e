"""The built site over HTTP: every IRI under the base dereferenced by content negotiation (303
See Other to a document), documents served with validators and compression, withdrawn entities
answered 410 or 301, and 404 pages in the reader's language."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, PlainTextResponse, RedirectResponse, Response

from ..config import Project
from ..formats import BY_NAME, DOCUMENT_FORMATS, HTML, Format
from ..layout import ASSETS, HOME, NOT_FOUND, TOMBSTONES, read_tombstones
from .conneg import negotiate, negotiate_language
from .static import SiteFiles, StaticFile, accepts_gzip, not_modified

# Media types that also name a document format (aliases clients send).
ALIASES = {
    "html": ("text/html",),
    "jsonld": ("application/ld+json", "application/json"),
    "ttl": ("text/turtle", "application/x-turtle"),
    # rdflib asks for N-Triples as "text/plain, */*;q=0.1" (N-Triples was text/plain once).
    "nt": ("application/n-triples", "text/plain"),
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


def normalize_path(path: str) -> str:
    """One slash between segments: `//topic/x` is `/topic/x` (a Location built from it must
    never start with `//`, which a browser reads as another host)."""
    if "//" not in path:
        return path
    parts = [p for p in path.split("/") if p]
    return "/" + "/".join(parts) + ("/" if path.endswith("/") and parts else "")


class SiteHandler:
    """The built site over HTTP: files, 303s to documents, tombstones, 404 pages."""

    def __init__(self, project: Project, files: SiteFiles, settings: ServerSettings):
        self.project = project
        self.files = files
        self.settings = settings
        # Withdrawn entities: path -> path of the successor, or None (410 Gone).
        tombstones = files.root / TOMBSTONES
        self.tombstones: dict[str, str | None] = {
            t.path: t.successor for t in read_tombstones(tombstones.read_bytes())
        } if tombstones.is_file() else {}

    async def handle(self, request: Request) -> Response:
        # The decoded path from the scope (request.url would parse the Host header).
        path = normalize_path(request.scope["path"])
        if path == "/":
            return self.serve(request, self.files.resolve(HOME), None)
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
            response = self.serve(request, page, None, status=410)
        else:
            response = PlainTextResponse(
                f"410 Gone: {self.project.base}{thing.lstrip('/')} has been withdrawn.\n",
                status_code=410,
            )
        if fmt is None:  # the body depends on Accept
            response.headers["Vary"] = "Accept"
        return response

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
            "Cache-Control": self._cache_control(request.scope["path"]),
        }
        if doc is not None:
            fmt = DOC_SUFFIXES[path.suffix]
            headers["Link"] = self._links(doc, self.available(doc), exclude=fmt)
        body = item.body
        ranged = status == 200 and "range" in request.headers
        if status == 200:
            headers["Accept-Ranges"] = "bytes"
        if item.compressible:
            headers["Vary"] = "Accept-Encoding"
            # A byte range is of the file itself, never of a compressed copy.
            if not ranged and accepts_gzip(request.headers.get("accept-encoding")):
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
        if body is None or ranged:  # large, or a byte range: from disk (Range, If-Range)
            return FileResponse(path, status_code=status, headers=headers,
                                media_type=item.media_type)
        if request.method == "HEAD":
            headers["Content-Length"] = str(len(body))
            return Response(b"", status_code=status, headers=headers, media_type=item.media_type)
        return Response(body, status_code=status, headers=headers, media_type=item.media_type)

    def _cache_control(self, url_path: str) -> str:
        if url_path.startswith(f"/{ASSETS}/"):
            return f"public, max-age={self.settings.asset_max_age}"
        return f"public, max-age={self.settings.doc_max_age}"

    def not_found(self, request: Request) -> Response:
        lang, _ = self._language_of(normalize_path(request.scope["path"]))
        page = self.files.resolve(lang + NOT_FOUND) or self.files.resolve(NOT_FOUND)
        wants_html = negotiate(request.headers.get("accept"), [("text/html",), ("text/plain",)]) == 0
        if wants_html and page is not None:
            item = self.files.get(page)
            body = b"" if request.method == "HEAD" else item.body
            return Response(body, status_code=404, media_type=item.media_type,
                            headers={"Cache-Control": "no-cache", "Vary": "Accept"})
        return PlainTextResponse(
            f"404 Not Found: nothing is published at {request.scope['path']}\n",
            status_code=404,
            headers={"Cache-Control": "no-cache", "Vary": "Accept"},
        )
