"""The command line: parse options, call one library function, map errors to exit codes.

Exit codes (pySHACL's convention): 0 ok, 1 invalid data, 2 usage or unreadable input.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import click

from . import __version__
from .config import Project, load_project
from .errors import EXIT_INVALID, EXIT_OK, EXIT_USAGE, InvalidData, KgpubError

PROJECT_HELP = "The project directory (holding kgpub.toml, ontology/, data/, shapes/)."
# --project works before the command (kgpub --project P build) and after it (kgpub build
# --project P); after wins.
project_option = click.option(
    "--project",
    "project_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help=PROJECT_HELP + "  [default: the one given before the command, else .]",
)

engine_option = click.option(
    "--engine",
    type=click.Choice(["auto", "fast", "pyshacl"]),
    default="auto",
    show_default=True,
    help="SHACL engine: fast (the shacl package), pyshacl (the reference), or auto (fast "
    "when installed and working, else pyshacl).",
)


def _project(project_dir: Path | None) -> Project:
    if project_dir is None:
        project_dir = click.get_current_context().find_root().params.get("project_dir")
    return load_project(project_dir or ".")


def _fail(exc: KgpubError) -> None:
    click.echo(f"error: {exc}", err=True)
    sys.exit(exc.exit_code)


@click.group()
@click.version_option(__version__, prog_name="kgpub")
@click.option("--project", "project_dir", type=click.Path(file_okay=False, path_type=Path),
              default=None, help=PROJECT_HELP + "  [default: .]")
def main(project_dir: Path | None) -> None:
    """Publish a knowledge graph as validated linked data, a site, and web services."""


@main.command()
@project_option
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="Report format: text for people, json for machines.",
)
@engine_option
def validate(project_dir: Path, fmt: str, engine: str) -> None:
    """Validate ontology + data against the SHACL shapes.

    Exit 0 if the data conforms (warnings allowed), 1 on violations, 2 on unreadable input."""
    from .load import load_sources
    from .validate import validate_sources

    try:
        project = _project(project_dir)
        sources = load_sources(project)
        report = validate_sources(sources, engine=engine)
    except KgpubError as exc:
        if fmt == "json":
            import json

            click.echo(json.dumps({"conforms": False, "error": str(exc)}))
        _fail(exc)
        return
    click.echo(report.to_json() if fmt == "json" else report.to_text())
    sys.exit(EXIT_OK if report.conforms else EXIT_INVALID)


@main.command()
@project_option
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Output directory [default: site/ in the project].",
)
@engine_option
@click.option("--full", is_flag=True, default=False,
              help="Render every page, even when only some read data that changed.")
@click.option("--timings", is_flag=True, default=False,
              help="Print the wall time of each stage of the build.")
@click.option("--search-now", is_flag=True, default=False,
              help="In a rebuild, publish the edit only with its search index (by default the "
                   "edit is published first and the search index follows).")
def build(project_dir: Path, out: Path | None, engine: str, full: bool, timings: bool,
          search_now: bool) -> None:
    """Validate, then write the site: HTML, RDF per entity, dumps. Nothing is written on
    violations; the site is written as a new generation and published in one atomic step, so
    the previous one stays until the new one is complete. A rebuild after data edits renders
    only the pages that show something edited."""
    from .build import build as build_site

    started = time.perf_counter()

    def published() -> None:
        click.echo(f"Published the edit in {time.perf_counter() - started:.1f} s; the search "
                   "index follows")

    try:
        project = _project(project_dir)
        progress = _progress_bar() if sys.stderr.isatty() else None
        result = build_site(project, out, progress, engine=engine, full=full,
                            search_later=not search_now, published=published)
    except InvalidData as exc:
        click.echo(exc.report.to_text(), err=True)
        click.echo(
            "error: the data does not conform; nothing was published "
            "(the previous site is untouched).",
            err=True,
        )
        sys.exit(EXIT_INVALID)
    except KgpubError as exc:
        _fail(exc)
        return
    if result.report.warnings:
        click.echo(
            f"{len(result.report.warnings)} warning(s); run `kgpub validate` to see them.", err=True
        )
    for warning in result.warnings:
        click.echo(f"warning: {warning}", err=True)
    if timings:
        click.echo("timings: " + ", ".join(f"{stage} {secs:.2f} s"
                                           for stage, secs in result.timings.items()), err=True)
    how = (f"; incremental: {result.rendered} entities and listing pages rendered again"
           if result.incremental else "")
    click.echo(f"Built {result.entities} entities, {result.files} files into {result.out} "
               f"({result.changed} written, {result.removed} removed, the rest unchanged{how})")


def _progress_bar():
    state: dict = {}

    def update(done: int, total: int) -> None:
        bar = state.get("bar")
        if bar is None:
            bar = state["bar"] = click.progressbar(length=total, label="Rendering", file=sys.stderr)
            bar.__enter__()
        bar.update(done - bar.pos)
        if done >= total:
            bar.__exit__(None, None, None)

    return update


@main.command()
@project_option
@click.option("--site", "site_dir", type=click.Path(file_okay=False, path_type=Path),
              default=None, help="Serve an existing build instead of validating and building first.")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64),
              help="Server processes (each runs its own SPARQL query workers).")
@click.option("--get", "get_path", default=None, metavar="PATH",
              help="Answer one GET request for PATH (e.g. /topic/x), print it and exit.")
@click.option("--accept", default=None, help="With --get: the Accept header to send.")
@click.option("--forwarded-allow-ips", default="127.0.0.1", show_default=True,
              help="Proxies whose X-Forwarded-For/-Proto headers are trusted (comma-separated "
              "addresses, or '*' behind a proxy that always sets them).")
@click.option("--store", default=None, metavar="QUERY_URL",
              help="Answer /sparql with this SPARQL 1.1 store (after the same checks and "
              "limits) instead of the embedded engine  [default: [sparql] store].")
@click.option("--app-only", is_flag=True, default=False,
              help="Serve /sparql and /oai only, not the site's files (replicas behind a web "
              "server).")
@click.option("--watch", is_flag=True, default=False,
              help="Preview for editors: build into --site (default site/), rebuild when data/, "
              "ontology/, shapes/ or kgpub.toml change, and reload the pages open in a browser; "
              "problems show in the terminal and on the pages. Not for production.")
def serve(project_dir: Path, site_dir: Path | None, host: str, port: int, workers: int,
          get_path: str | None, accept: str | None, forwarded_allow_ips: str,
          store: str | None, app_only: bool, watch: bool) -> None:
    """Serve the site with content negotiation, the SPARQL endpoint and the harvesting
    interfaces, on a production ASGI server (uvicorn)."""
    from .build import build as build_site
    from .layout import HOME

    if watch and (get_path is not None or workers != 1 or app_only):
        raise click.UsageError("--watch runs one server process with the site: it takes "
                               "neither --get, --workers nor --app-only")
    try:
        project = _project(project_dir)
        if store:
            project = _with_store(project, store)
        if watch:
            from .server.preview import serve_preview

            sys.exit(serve_preview(project, site_dir, host=host, port=port,
                                   forwarded_allow_ips=forwarded_allow_ips))
        if site_dir is None:
            site_dir = build_site(project).out
        elif not (site_dir / HOME).is_file():
            raise KgpubError(f"{site_dir} is not a built site (no {HOME}); run kgpub build")
    except InvalidData as exc:
        click.echo(exc.report.to_text(), err=True)
        sys.exit(EXIT_INVALID)
    except KgpubError as exc:
        _fail(exc)
        return
    if get_path is not None:
        sys.exit(_get_once(project, site_dir, get_path, accept))
    from .server.app import serve_forever

    what = "/sparql and /oai of " if app_only else ""
    via = f", SPARQL by {project.store}" if project.store else ""
    click.echo(f"Serving {what}{site_dir} at http://{host}:{port}/ (SPARQL at /sparql{via}; "
               "Ctrl-C stops)")
    serve_forever(project, site_dir, host=host, port=port, workers=workers,
                  forwarded_allow_ips=forwarded_allow_ips, app_only=app_only)


def _with_store(project: Project, store: str) -> Project:
    import dataclasses

    from .config import SCHEMA
    from .errors import ConfigError

    problem = SCHEMA["sparql"]["store"](store)
    if problem:
        raise ConfigError(f"--store {store!r}: {problem}")
    return dataclasses.replace(project, store=store)


@main.command()
@click.option("--site", "site_dir", type=click.Path(file_okay=False, path_type=Path),
              required=True, help="The build to publish (the directory kgpub build wrote).")
@click.option("--store", required=True, metavar="QUERY_URL",
              help="The store's SPARQL 1.1 query endpoint.")
@click.option("--graph-store", required=True, metavar="GSP_URL",
              help="The store's SPARQL 1.1 Graph Store HTTP Protocol endpoint.")
def publish(site_dir: Path, store: str, graph_store: str) -> None:
    """Load a build's graph into a SPARQL 1.1 store as a new named graph, then switch the
    store to it atomically (kgpub serve --store reads the switch); older build graphs but the
    previous one are deleted."""
    from .config import SCHEMA
    from .publish import publish as publish_build

    try:
        for option, url in (("--store", store), ("--graph-store", graph_store)):
            if problem := SCHEMA["sparql"]["store"](url):
                raise KgpubError(f"{option} {url!r}: {problem}")
        done = publish_build(site_dir, store, graph_store)
    except KgpubError as exc:
        _fail(exc)
        return
    if not done.loaded:
        click.echo(f"{done.graph} ({done.triples} triples) is already the current build; "
                   "nothing sent")
        return
    deleted = f"; deleted {len(done.deleted)} older build graph(s)" if done.deleted else ""
    click.echo(f"Published {done.triples} triples as {done.graph}, now current{deleted}")


def _get_once(project: Project, site_dir: Path, path: str, accept: str | None) -> int:
    """One request through the real application, printed like `curl -i`."""
    from starlette.testclient import TestClient

    from .server.app import create_app

    headers = {"accept": accept} if accept else {}
    with TestClient(create_app(project, site_dir), base_url="http://localhost") as client:
        response = client.get(path, headers=headers, follow_redirects=False)
    click.echo(f"HTTP/1.1 {response.status_code} {response.reason_phrase}")
    for key, value in response.headers.items():
        click.echo(f"{key}: {value}")
    click.echo("")
    click.echo(response.text, nl=False)
    return 0 if response.status_code < 400 else 1


@main.command()
@project_option
@click.argument("query")
@click.option("--format", "fmt", default="table", show_default=True,
              type=click.Choice(["table", "json", "xml", "csv", "tsv", "ttl", "jsonld", "nt",
                                 "rdf"]),
              help="table for people; a SPARQL results format (json, xml, csv, tsv) or an RDF "
              "format (ttl, jsonld, nt, rdf: RDF/XML) for programs.")
def query(project_dir: Path, query: str, fmt: str) -> None:
    """Run a SPARQL query over the local project (ontology + data), offline, with the
    endpoint's engine and limits. QUERY is the query text, @FILE to read it from a file, or -
    to read it from standard input."""
    import tempfile

    from .entail import published
    from .formats import NTRIPLES, serialize
    from .load import load_sources
    from .sparql import QueryError, QueryLimits, QueryPool, table

    try:
        project = _project(project_dir)
        if query == "-":
            query = sys.stdin.read()
        elif query.startswith("@"):
            query = Path(query[1:]).read_text(encoding="utf-8")
        sources = load_sources(project, with_shapes=False)
        limits = QueryLimits.from_config({**project.sparql, "workers": 1})
        with tempfile.TemporaryDirectory() as tmp:
            graph = Path(tmp) / "graph.nt"
            # the graph as published: with what the build derives (kgpub.entail)
            graph.write_bytes(serialize(published(sources), NTRIPLES))
            with QueryPool(graph, limits) as pool:
                pool.wait_ready(120)
                result = pool.run(query, None if fmt == "table" else fmt)
    except QueryError as exc:
        click.echo(f"error: {exc.message}", err=True)
        sys.exit(EXIT_QUERY)
    except OSError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_USAGE)
    except KgpubError as exc:
        _fail(exc)
        return
    if fmt == "table" and result.media_type == "application/sparql-results+json":
        click.echo(table(result))
    else:
        body = result.body
        sys.stdout.buffer.write(body if body.endswith(b"\n") or not body else body + b"\n")
        sys.stdout.flush()
        if result.truncated:
            click.echo(f"warning: result cut at {limits.max_rows} rows", err=True)


@main.group()
def deploy() -> None:
    """Configurations for the web servers a published site runs on (see the README,
    "Deploying")."""


@deploy.command("nginx")
@project_option
@click.option("--site", "site_dir", type=click.Path(file_okay=False, path_type=Path),
              default=Path("site"), show_default=True, help="The built site nginx serves.")
@click.option("--listen", default="8080", show_default=True, help="PORT or ADDRESS:PORT.")
@click.option("--server-name", default="_", show_default=True, help="nginx server_name.")
@click.option("--app", default=None, metavar="URL",
              help="The application /sparql and /oai are proxied to, e.g. http://127.0.0.1:8000.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the configuration to FILE instead of printing it.")
def deploy_nginx(project_dir: Path, site_dir: Path, listen: str, server_name: str,
                 app: str | None, out: Path | None) -> None:
    """Print an nginx configuration (maps and a server block, for nginx's http context) that
    serves the site as kgpub serve does: negotiation, headers, tombstones, 404 pages."""
    from .deploy.nginx import NginxOptions, generate

    try:
        text = generate(_project(project_dir), NginxOptions(site_dir, listen, server_name, app))
    except KgpubError as exc:
        _fail(exc)
        return
    _emit(text, out)


@deploy.command("w3id")
@project_option
@click.option("--target", required=True, metavar="URL",
              help="Where the site is served, e.g. https://example.org/sphr/.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the .htaccess to FILE instead of printing it.")
def deploy_w3id(project_dir: Path, target: str, out: Path | None) -> None:
    """Print the .htaccess the w3id.org registry needs for the base IRI: redirects to TARGET
    keeping the path, with content negotiation to each IRI's documents."""
    from .deploy.w3id import generate

    try:
        text = generate(_project(project_dir), target)
    except KgpubError as exc:
        _fail(exc)
        return
    _emit(text, out)


def _emit(text: str, out: Path | None) -> None:
    if out is None:
        click.echo(text, nl=False)
        return
    try:
        out.write_text(text, encoding="utf-8")
    except OSError as exc:
        _fail(KgpubError(f"cannot write {out}: {exc.strerror}"))


# Every kind of query error (kgpub.sparql.errors: refused, timed out, busy, the engine
# unavailable) is the query's or the machine's, never the data's: a usage error, not 1.
EXIT_QUERY = EXIT_USAGE


if __name__ == "__main__":
    main()
