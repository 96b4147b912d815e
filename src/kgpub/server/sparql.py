"""The SPARQL 1.1 Protocol at /sparql: query by GET, form POST or direct POST; results by Accept;
a service description; CORS; and an HTML page with example queries for people.

Queries run in the engine's worker processes (kgpub.query), which enforce read-only access, no
federation, a time limit that really stops a query, and a row cap."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from urllib.parse import parse_qsl

import pyoxigraph as ox
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from ..config import Project
from ..examples import example_queries
from ..formats import RDF_FORMATS, serialize
from ..query import (
    GRAPH_FORMATS,
    SOLUTION_FORMATS,
    FormatNotAvailable,
    PoolBusy,
    QueryLimits,
    QueryPool,
    QueryRefused,
    QueryTimeout,
    check_query,
    choose_format,
)
from ..render.templates import chrome, environment
from .conneg import negotiate
from .static import SiteFiles

MAX_BODY = 1024 * 1024
CORS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": "GET, POST, OPTIONS",
    "Access-Control-Allow-Headers": "Content-Type, Accept",
    "Access-Control-Expose-Headers": "X-SPARQL-Truncated, X-SPARQL-Max-Rows, Retry-After",
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


class SparqlEndpoint:
    def __init__(self, project: Project, files: SiteFiles, config: dict, pool=None):
        self.project = project
        self.files = files
        self.limits = QueryLimits.from_config(config)
        self.pool = pool
        self._own_pool = pool is None

    # ---- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        if self.pool is None:
            dump = self.files.resolve("dumps/dataset.nt.gz")
            if dump is None:
                raise FileNotFoundError("the site has no dumps/dataset.nt.gz; rebuild it")
            self.pool = QueryPool(Path(dump), self.limits)
        # Start answering once the graph is loaded (a query before that would get 503).
        await asyncio.to_thread(self.pool.wait_ready, 120)

    async def stop(self) -> None:
        if self._own_pool and self.pool is not None:
            await asyncio.to_thread(self.pool.close)

    # ---- protocol ----------------------------------------------------------------------------

    async def handle(self, request: Request) -> Response:
        if request.method == "OPTIONS":
            return Response(status_code=204, headers=CORS)
        try:
            params = await self._params(request)
        except QueryRefused as exc:
            return self._error(exc.status, exc.message)
        if "update" in params:
            return self._error(400, "This endpoint is read-only: SPARQL Update is not accepted.")
        queries = params.get("query", [])
        if len(queries) > 1:
            return self._error(400, "Exactly one query parameter is allowed.")
        if not queries:
            return self._describe_or_page(request)
        return await self._run(request, queries[0], params)

    async def _params(self, request: Request) -> dict[str, list[str]]:
        params: dict[str, list[str]] = {}
        for key, value in request.query_params.multi_items():
            params.setdefault(key, []).append(value)
        if request.method != "POST":
            return params
        ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
        body = await _read_body(request)
        if ctype == "application/x-www-form-urlencoded":
            try:
                text = body.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise QueryRefused(400, "The form body is not UTF-8.") from exc
            for key, value in parse_qsl(text, keep_blank_values=True):
                params.setdefault(key, []).append(value)
        elif ctype == "application/sparql-query":
            if "query" in params:
                raise QueryRefused(400, "Send the query in the body or in the URL, not both.")
            try:
                params["query"] = [body.decode("utf-8")]
            except UnicodeDecodeError as exc:
                raise QueryRefused(400, "The query is not UTF-8.") from exc
        elif ctype == "application/sparql-update":
            params["update"] = [""]
        else:
            raise QueryRefused(
                415 if ctype else 400,
                "POST a form (application/x-www-form-urlencoded) or a query "
                "(application/sparql-query).",
            )
        return params

    async def _run(self, request: Request, query: str, params: dict[str, list[str]]) -> Response:
        try:
            # Checking parses the query: off the event loop when it is big.
            info = check_query(query) if len(query) < 4096 else await asyncio.to_thread(
                check_query, query)
        except QueryRefused as exc:
            return self._error(exc.status, exc.message, request, query)
        accept = request.headers.get("accept")
        graph = info.returns_graph
        formats = GRAPH_FORMATS if graph else SOLUTION_FORMATS
        offered = [f.media_type for f in formats]
        # Result types (with the aliases the engine declares) first, so */* (curl) gets JSON or
        # Turtle; browsers name text/html.
        names = [(f.media_type, *f.aliases) for f in formats] + [("text/html",)]
        fmt_param = params.get("format", [None])[0] or params.get("output", [None])[0]
        if fmt_param:
            try:
                choice = offered.index(choose_format(info.form, _format_name(fmt_param, graph)).media_type)
            except FormatNotAvailable as exc:
                return self._error(406, exc.message)
        else:
            choice = negotiate(accept, names)
            if choice is None:
                return self._error(406, "None of the accepted types can carry this result. "
                                        f"Available: {', '.join(offered)}")
        as_html = choice == len(offered)
        media_type = offered[0] if as_html else offered[choice]
        try:
            result = await self.pool.arun(
                query,
                media_type,
                default_graph_uris=tuple(params.get("default-graph-uri", [])),
                named_graph_uris=tuple(params.get("named-graph-uri", [])),
            )
        except QueryRefused as exc:
            return self._error(exc.status, exc.message, request, query)
        except QueryTimeout as exc:
            return self._error(503, str(exc), request, query)
        except PoolBusy as exc:
            resp = self._error(503, str(exc), request, query)
            resp.headers["Retry-After"] = str(exc.retry_after)
            return resp
        headers = dict(CORS)
        headers["X-SPARQL-Max-Rows"] = str(self.limits.max_rows)
        headers["Cache-Control"] = "no-store"
        headers["Vary"] = "Accept"
        if result.truncated:
            headers["X-SPARQL-Truncated"] = "true"
        if as_html:
            return self._page(request, query, result=result, form=info.form, headers=headers)
        return Response(result.body, media_type=result.media_type, headers=headers)

    def _error(self, status: int, message: str, request: Request | None = None,
               query: str | None = None) -> Response:
        headers = dict(CORS)
        if request is not None and negotiate(
            request.headers.get("accept"), [("text/html",), ("text/plain",)]
        ) == 0 and query is not None:
            return self._page(request, query, error=message, status=status, headers=headers)
        return PlainTextResponse(f"{status} {message}\n", status_code=status, headers=headers)

    # ---- service description and the page -----------------------------------------------------

    def _describe_or_page(self, request: Request) -> Response:
        rdf = [(f.media_type,) for f in RDF_FORMATS]
        choice = negotiate(request.headers.get("accept"), [("text/html",)] + rdf)
        if choice is None:
            return self._error(406, "Ask for text/html or an RDF type for the service description.")
        if choice == 0:
            return self._page(request, None)
        fmt = RDF_FORMATS[choice - 1]
        body = serialize(self._service_description(request), fmt, {"sd": SD})
        headers = dict(CORS)
        headers["Vary"] = "Accept"
        return Response(body, media_type=fmt.content_type, headers=headers)

    def _service_description(self, request: Request) -> list[ox.Triple]:
        endpoint = ox.NamedNode(str(request.url.replace(query="", fragment="")))
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

    def _page(self, request: Request, query: str | None, *, result=None, form: str | None = None,
              error: str | None = None, status: int = 200, headers: dict | None = None) -> Response:
        examples = example_queries(self.project.base)
        ctx = chrome(self.project, "sparql.html", absolute=True)
        table = None
        graph_text = None
        if result is not None:
            if form in ("CONSTRUCT", "DESCRIBE"):
                graph_text = result.body.decode("utf-8")
            else:
                table = _table(json.loads(result.body), self.project.base)
        ctx.update(
            title_text="SPARQL endpoint",
            query=query if query is not None else examples[0].query,
            examples=examples,
            error=error,
            table=table,
            graph_text=graph_text,
            truncated=bool(result and result.truncated),
            limits=self.limits,
            jsonld="{}",
        )
        html = environment().get_template("sparql.html").render(ctx)
        return Response(html, status_code=status, media_type="text/html; charset=utf-8",
                        headers=headers or {})


# Names clients put in ?format= / ?output= (SPARQLWrapper sends some of these).
FORMAT_NAMES = {"turtle": "ttl", "json-ld": "jsonld", "n-triples": "nt", "ntriples": "nt",
                "rdf+xml": "rdf", "rdfxml": "rdf", "rdf/xml": "rdf"}


def _format_name(name: str, graph: bool) -> str:
    name = name.strip().lower()
    if graph and name == "xml":
        return "rdf"
    return FORMAT_NAMES.get(name, name)


def _table(results: dict, base: str) -> dict:
    """SPARQL JSON results as rows of cells for the HTML page (IRIs under the base link to
    their local pages; everything is escaped by the template)."""
    if "boolean" in results:
        return {"head": ["result"], "rows": [[{"text": str(results["boolean"]).lower()}]]}
    head = results.get("head", {}).get("vars", [])
    rows = []
    for binding in results.get("results", {}).get("bindings", []):
        row = []
        for var in head:
            cell = binding.get(var)
            if cell is None:
                row.append({"text": ""})
            elif cell["type"] == "uri":
                value = cell["value"]
                href = "/" + value[len(base):] if value.startswith(base) else (
                    value if value.startswith(("http://", "https://")) else None)
                row.append({"text": value, "href": href})
            else:
                lang = cell.get("xml:lang")
                row.append({"text": cell["value"], "lang": lang})
        rows.append(row)
    return {"head": head, "rows": rows}


async def _read_body(request: Request) -> bytes:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > MAX_BODY:
        raise QueryRefused(413, f"Request body over {MAX_BODY} bytes.")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY:
            raise QueryRefused(413, f"Request body over {MAX_BODY} bytes.")
        chunks.append(chunk)
    return b"".join(chunks)
