"""The SPARQL 1.1 Protocol at /sparql: query by GET, form POST or direct POST; results by Accept;
a service description; CORS; and an HTML page with example queries for people.

Queries run in the engine's worker processes (kgpub.sparql), which check them (read-only, no
federation, well formed), enforce a time limit that really stops a query, and cap a result in
rows and bytes. This process only checks a query's size and encoding: nothing a client sends is
parsed on the event loop. It negotiates the result format for each query form (the form is known
only once the worker has parsed the query), streams spooled results to the client, and renders
the HTML page (a bounded excerpt of a result) in a thread."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from types import MappingProxyType
from urllib.parse import parse_qsl

import pyoxigraph as ox
from markupsafe import Markup, escape
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse

from ..config import Project
from ..formats import RDF_FORMATS, serialize
from ..render.templates import chrome, environment
from ..sparql import (
    GRAPH_FORMATS,
    HTML_ROWS,
    QUERY_FORMS,
    SOLUTION_FORMATS,
    EngineFault,
    EngineUnavailable,
    FormatNotAvailable,
    PoolBusy,
    QueryError,
    QueryInvalid,
    QueryLimits,
    QueryResult,
    QueryTimeout,
    QueryTooLarge,
    StoreFailed,
    StoreTimeout,
    UnsupportedContentType,
    check_text,
    choose_format,
    example_queries,
)
from .conneg import negotiate
from .limits import BodyTooLarge, read_body, sparql_body_limit
from .static import SiteFiles
from .store import query_backend
from .urls import public_url

CORS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": "GET, POST, OPTIONS",
    "Access-Control-Allow-Headers": "Content-Type, Accept",
    "Access-Control-Expose-Headers": (
        "X-SPARQL-Truncated, X-SPARQL-Truncated-Reason, X-SPARQL-Max-Rows, X-SPARQL-Max-Bytes, "
        "Retry-After"
    ),
    "Access-Control-Max-Age": "86400",
}
SD = "http://www.w3.org/ns/sparql-service-description#"
FORMATS_NS = "http://www.w3.org/ns/formats/"
RESULT_FORMAT_IRIS = {
    "application/sparql-results+json": "SPARQL_Results_JSON",
    "application/sparql-results+xml": "SPARQL_Results_XML",
    "text/csv": "SPARQL_Results_CSV",
    "text/tab-separated-values": "SPARQL_Results_TSV",
    "text/turtle": "Turtle",
    "application/ld+json": "JSON-LD",
    "application/n-triples": "N-Triples",
    "application/rdf+xml": "RDF_XML",
}

# What each kind of error (kgpub.sparql.errors) is in HTTP; a subclass takes its nearest
# ancestor's status (WorkerCrashed is EngineUnavailable's 503).
HTTP_STATUS: dict[type[QueryError], int] = {
    QueryInvalid: 400,
    FormatNotAvailable: 406,
    QueryTooLarge: 413,
    UnsupportedContentType: 415,
    EngineFault: 500,
    EngineUnavailable: 503,
    QueryTimeout: 503,
    PoolBusy: 503,
    StoreFailed: 502,
    StoreTimeout: 504,
}


def http_status(error: QueryError) -> int:
    for kind in type(error).__mro__:
        if kind in HTTP_STATUS:
            return HTTP_STATUS[kind]
    return 500


class SparqlEndpoint:
    def __init__(self, project: Project, files: SiteFiles, config: dict, pool=None):
        self.project = project
        self.files = files
        self.limits = QueryLimits.from_config(config)
        self.pool = pool
        self._own_pool = pool is None
        # Pages are rendered here, off the event loop (bounded work: see kgpub.sparql.view).
        # One thread: pages wait for each other rather than compete with the loop for the GIL.
        self._pages = ThreadPoolExecutor(max_workers=1, thread_name_prefix="kgpub-sparql-page")
        self._stopped = False

    # ---- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        if self.pool is None:  # the build's dump in the engine's workers, or a store
            self.pool = query_backend(self.project.store, self.files, self.limits)
        # Start answering once the graph is loaded (a query before that would get 503).
        await asyncio.to_thread(self.pool.wait_ready, 120)

    async def stop(self) -> None:
        self._stopped = True
        if self._own_pool and self.pool is not None:
            await asyncio.to_thread(self.pool.close)
        self._pages.shutdown(wait=False)

    # ---- protocol ----------------------------------------------------------------------------

    async def handle(self, request: Request) -> Response:
        if request.method == "OPTIONS":
            return Response(status_code=204, headers=CORS)
        try:
            params = await self._params(request)
        except QueryError as exc:
            return await self._error(http_status(exc), exc.message, request)
        if "update" in params:
            return await self._error(
                400, "This endpoint is read-only: SPARQL Update is not accepted.", request)
        queries = params.get("query", [])
        if len(queries) > 1:
            return await self._error(400, "Exactly one query parameter is allowed.", request)
        if not queries:
            return await self._describe_or_page(request)
        return await self._run(request, queries[0], params)

    async def _params(self, request: Request) -> dict[str, list[str]]:
        params: dict[str, list[str]] = {}
        for key, value in _query_string_pairs(request.scope.get("query_string", b"")):
            params.setdefault(key, []).append(value)
        if request.method != "POST":
            return params
        ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
        # A direct query is the query itself; a form may be three times its query (encoding).
        body = await _read_body(request, self.limits.max_query_bytes
                                if ctype == "application/sparql-query"
                                else sparql_body_limit(self.limits))
        if ctype == "application/x-www-form-urlencoded":
            try:
                text = body.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise QueryInvalid("The form body is not UTF-8.") from exc
            # Decoding a form of up to a mebibyte: in a thread, not on the event loop.
            pairs = parse_qsl(text, keep_blank_values=True) if len(text) < 16384 else (
                await asyncio.to_thread(parse_qsl, text, keep_blank_values=True))
            for key, value in pairs:
                params.setdefault(key, []).append(value)
        elif ctype == "application/sparql-query":
            if "query" in params:
                raise QueryInvalid("Send the query in the body or in the URL, not both.")
            try:
                params["query"] = [body.decode("utf-8")]
            except UnicodeDecodeError as exc:
                raise QueryInvalid("The query is not UTF-8.") from exc
        elif ctype == "application/sparql-update":
            params["update"] = [""]
        else:
            # without a Content-Type the request is malformed; with another one, unsupported
            raise (UnsupportedContentType if ctype else QueryInvalid)(
                "POST a form (application/x-www-form-urlencoded) or a query "
                "(application/sparql-query).")
        return params

    def _plan(self, request: Request, params: dict[str, list[str]]) -> Mapping:
        """The result format for each query form, as negotiated: a short name, "html", or
        {"error": message} (406). The worker picks once it has parsed the query."""
        accept = request.headers.get("accept")
        fmt_param = params.get("format", [None])[0] or params.get("output", [None])[0]
        if len(accept or "") + len(fmt_param or "") > PLAN_KEY_CHARS:
            return _negotiate_plan(accept, fmt_param)
        return _cached_plan(accept, fmt_param)

    async def _run(self, request: Request, query: str, params: dict[str, list[str]]) -> Response:
        try:  # only what costs next to nothing here; the worker checks the rest
            check_text(query, self.limits.max_query_bytes)
        except QueryError as exc:
            return await self._error(http_status(exc), exc.message, request, query)
        try:
            result = await self.pool.arun(
                query,
                self._plan(request, params),
                default_graph_uris=tuple(params.get("default-graph-uri", [])),
                named_graph_uris=tuple(params.get("named-graph-uri", [])),
                client=request.client.host if request.client else None,
                # Relative IRIs in the query resolve against the endpoint's URL.
                base_iri=public_url(request.scope, "/sparql"),
            )
        except FormatNotAvailable as exc:  # said as text or JSON: no page has this format
            return await self._error(http_status(exc), exc.message, request)
        except QueryError as exc:
            return await self._error(http_status(exc), exc.message, request, query,
                                     exc.retry_after)
        headers = dict(CORS)
        headers["X-SPARQL-Max-Rows"] = str(self.limits.max_rows)
        headers["X-SPARQL-Max-Bytes"] = str(self.limits.max_result_bytes)
        headers["Cache-Control"] = "no-store"
        headers["Vary"] = "Accept"
        if result.format == "html":
            if (result.view or {}).get("cut") == "rows":  # the endpoint's cap, not the page's
                headers["X-SPARQL-Truncated"] = "true"
                headers["X-SPARQL-Truncated-Reason"] = "rows"
            return await self._in_thread(self._page, request, query, result=result,
                                         headers=headers)
        if result.truncated:
            headers["X-SPARQL-Truncated"] = "true"
            headers["X-SPARQL-Truncated-Reason"] = result.truncated_reason or "rows"
        if not result.spooled:  # a small answer, in memory: one piece, no stream to run
            return Response(result.body, media_type=result.media_type, headers=headers)
        headers["Content-Length"] = str(result.size)
        return StreamingResponse(_stream(result), media_type=result.media_type, headers=headers)

    async def _error(self, status: int, message: str, request: Request | None = None,
                     query: str | None = None, retry_after: int | None = None) -> Response:
        headers = dict(CORS)
        if retry_after is not None:
            headers["Retry-After"] = str(max(1, int(retry_after)))
        kind = _error_kind(request.headers.get("accept")) if request is not None else "text"
        headers["Vary"] = "Accept"
        if kind == "html" and query is not None:
            return await self._in_thread(self._page, request, query, error=message,
                                         status=status, headers=headers)
        if kind == "json":
            return JSONResponse({"error": {"status": status, "message": message}},
                                status_code=status, headers=headers)
        return PlainTextResponse(f"{status} {message}\n", status_code=status, headers=headers)

    async def _in_thread(self, fn, *args, **kwargs) -> Response:
        loop = asyncio.get_running_loop()
        call = functools.partial(fn, *args, **kwargs)
        # A retired build may still answer a late request after stop(): any thread will do.
        return await loop.run_in_executor(None if self._stopped else self._pages, call)

    # ---- service description and the page -----------------------------------------------------

    async def _describe_or_page(self, request: Request) -> Response:
        rdf = [(f.media_type,) for f in RDF_FORMATS]
        choice = negotiate(request.headers.get("accept"), [("text/html",)] + rdf)
        if choice is None:
            return await self._error(
                406, "Ask for text/html or an RDF type for the service description.")
        if choice == 0:
            return await self._in_thread(self._page, request, None)
        fmt = RDF_FORMATS[choice - 1]
        body = serialize(self._service_description(request), fmt, {"sd": SD})
        headers = dict(CORS)
        headers["Vary"] = "Accept"
        return Response(body, media_type=fmt.content_type, headers=headers)

    def _service_description(self, request: Request) -> list[ox.Triple]:
        # The URL it was reached at, from a Host header made safe (kgpub.server.urls).
        endpoint = ox.NamedNode(public_url(request.scope, "/sparql"))
        dataset = ox.NamedNode(f"{endpoint.value}#dataset")
        default_graph = ox.NamedNode(f"{endpoint.value}#default-graph")
        rdf_type = ox.NamedNode("http://www.w3.org/1999/02/22-rdf-syntax-ns#type")

        def sd(name: str) -> ox.NamedNode:
            return ox.NamedNode(SD + name)

        triples = [
            ox.Triple(endpoint, rdf_type, sd("Service")),
            ox.Triple(endpoint, sd("endpoint"), endpoint),
            ox.Triple(endpoint, sd("supportedLanguage"), sd("SPARQL11Query")),
            ox.Triple(endpoint, sd("defaultDataset"), dataset),
            ox.Triple(dataset, rdf_type, sd("Dataset")),
            ox.Triple(dataset, sd("defaultGraph"), default_graph),
            ox.Triple(default_graph, rdf_type, sd("Graph")),
            ox.Triple(dataset, ox.NamedNode("http://purl.org/dc/terms/title"),
                      ox.Literal(self.project.title, language=self.project.default_language)),
        ]
        for name in sorted(RESULT_FORMAT_IRIS.values()):
            triples.append(ox.Triple(endpoint, sd("resultFormat"), ox.NamedNode(FORMATS_NS + name)))
        return triples

    def _page(self, request: Request, query: str | None, *, result: QueryResult | None = None,
              error: str | None = None, status: int = 200, headers: dict | None = None) -> Response:
        """The page (in a thread): the form, examples, and an error or the excerpt of a result
        that the worker made (kgpub.sparql.view: at most HTML_ROWS rows, long cells cut)."""
        examples = example_queries(self.project.base)
        ctx = chrome(self.project, "sparql.html", absolute=True)
        view = (result.view or {}) if result is not None else {}
        table = graph_text = None
        if view.get("kind") == "graph":
            graph_text = view["text"]
        elif view.get("kind") == "boolean":
            table = _table({"head": ["result"], "rows": [
                [["literal", str(view["value"]).lower(), None]]]}, self.project.base)
        elif view.get("kind") == "table":
            table = _table(view, self.project.base)
        ctx.update(
            title_text="SPARQL endpoint",
            query=query if query is not None else examples[0].query,
            examples=examples,
            error=error,
            table=table,
            graph_text=graph_text,
            cut=view.get("cut"),
            shown=view.get("shown"),
            page_rows=HTML_ROWS,
            downloads=view.get("kind") in ("table", "graph") and query is not None,
            graph=view.get("kind") == "graph",
            limits=self.limits,
            jsonld="{}",
        )
        html = environment().get_template("sparql.html").render(ctx)
        return Response(html, status_code=status, media_type="text/html; charset=utf-8",
                        headers=headers or {})


# Names clients put in ?format= / ?output= (SPARQLWrapper sends "json", "xml", "n3", "turtle",
# "json-ld", "csv", "tsv" whatever the query form): each form gets its nearest format.
FORMAT_NAMES = {"turtle": "ttl", "json-ld": "jsonld", "n-triples": "nt", "ntriples": "nt",
                "rdf+xml": "rdf", "rdfxml": "rdf", "rdf/xml": "rdf", "n3": "ttl"}
GRAPH_NEAREST = {"json": "jsonld", "xml": "rdf"}  # JSON of a graph is JSON-LD; XML, RDF/XML
SOLUTION_NEAREST = {"ttl": "json", "jsonld": "json", "nt": "json", "rdf": "xml"}


def _format_name(name: str, graph: bool) -> str:
    name = name.strip().lower()
    name = FORMAT_NAMES.get(name, name)
    return (GRAPH_NEAREST if graph else SOLUTION_NEAREST).get(name, name)


def _table(view: dict, base: str) -> dict:
    """The worker's table excerpt ([kind, text, language] cells) as the rows of the page's
    table, escaped here (a worker's output is data, never markup); IRIs under the base link to
    their local pages. Plain string building: a tenth of the time of a template loop, for the
    event loop's sake (this runs in a thread, but holds the GIL)."""
    out: list[str] = []
    add = out.append
    for cells in view["rows"]:
        add("<tr>")
        for kind, text, lang in cells:
            if kind == "uri":
                href = "/" + text[len(base):] if text.startswith(base) else (
                    text if text.startswith(("http://", "https://")) else None)
                if href:
                    add(f'<td><a href="{escape(href)}">{escape(text)}</a></td>')
                    continue
            elif kind == "bnode":
                text = "_:" + text
            elif lang:
                add(f'<td lang="{escape(lang)}">{escape(text)}</td>')
                continue
            add(f"<td>{escape(text)}</td>")
        add("</tr>\n")
    return {"head": view["head"], "rows_html": Markup("".join(out)), "count": len(view["rows"])}


# Plans are cached by what they depend on (clients send the same few Accept headers), for
# headers up to this long: a longer one is negotiated each time rather than kept.
PLAN_KEY_CHARS = 512


def _negotiate_plan(accept: str | None, fmt_param: str | None) -> Mapping:
    plan: dict = {}
    for form in QUERY_FORMS:
        graph = form in ("CONSTRUCT", "DESCRIBE")
        formats = GRAPH_FORMATS if graph else SOLUTION_FORMATS
        if fmt_param:
            try:
                plan[form] = choose_format(form, _format_name(fmt_param, graph)).name
            except FormatNotAvailable as exc:
                plan[form] = MappingProxyType({"error": exc.message})
            continue
        # Result types (with the aliases the engine declares) first, so */* (curl) gets
        # JSON or Turtle; browsers name text/html.
        names = [(f.media_type, *f.aliases) for f in formats] + [("text/html",)]
        choice = negotiate(accept, names)
        if choice is None:
            offered = ", ".join(f.media_type for f in formats)
            plan[form] = MappingProxyType({
                "error": f"None of the accepted types can carry this result. Available: {offered}"})
        else:
            plan[form] = "html" if choice == len(formats) else formats[choice].name
    return MappingProxyType(plan)  # shared through the cache: read-only


_cached_plan = functools.lru_cache(maxsize=256)(_negotiate_plan)


# A URL-encoded query takes ~50 µs to decode (parse_qsl), a look-up ~1 µs: query strings up to
# this long are decoded once per exact text (clients send the same queries again and again), at
# most QUERY_STRINGS of them kept (a few MiB at most); a longer one is decoded each time.
QUERY_STRING_CACHE_BYTES = 8 * 1024
QUERY_STRINGS = 256


def _query_string_pairs(raw: bytes) -> tuple[tuple[str, str], ...]:
    """The (name, value) pairs of a request's query string, decoded as Starlette's
    request.query_params does (Latin-1 bytes, then UTF-8 percent-decoding, blanks kept)."""
    if len(raw) > QUERY_STRING_CACHE_BYTES:
        return _decode_query_string(raw)
    return _cached_query_string(raw)


def _decode_query_string(raw: bytes) -> tuple[tuple[str, str], ...]:
    return tuple(parse_qsl(raw.decode("latin-1"), keep_blank_values=True))


_cached_query_string = functools.lru_cache(maxsize=QUERY_STRINGS)(_decode_query_string)


async def _stream(result: QueryResult):
    """The spooled body, piece by piece (reads from the spool's memory or its file; the
    spool is closed at the end, or when the client goes away)."""
    try:
        for chunk in result.chunks(256 * 1024):
            yield chunk
    finally:
        result.close()


async def _read_body(request: Request, limit: int) -> bytes:
    try:
        return await read_body(request, limit)
    except BodyTooLarge as exc:
        raise QueryTooLarge(str(exc)) from None


def _error_kind(accept: str | None) -> str:
    """How to say what went wrong: "html" (the page) only to a client that names text/html
    first, "json" to one that asks for JSON (results or JSON-LD), else plain text (also for
    */*: curl)."""
    kinds = [("text/plain",), ("application/json", "application/sparql-results+json",
                               "application/ld+json"), ("text/html",)]
    if not accept or "text/html" not in accept.lower():
        kinds = kinds[:2]  # */* alone is not a browser
    choice = negotiate(accept, kinds)
    return ("text", "json", "html")[choice] if choice is not None else "text"

