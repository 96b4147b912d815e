"""The command line: parse options, call one library function, map errors to exit codes.

Exit codes (pySHACL's convention): 0 ok, 1 invalid data, 2 usage or unreadable input.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from . import __version__
from .config import Project, load_project
from .errors import EXIT_INVALID, EXIT_OK, InvalidData, KgpubError

project_option = click.option(
    "--project",
    "project_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=".",
    show_default=True,
    help="The project directory (holding kgpub.toml, ontology/, data/, shapes/).",
)


def _project(project_dir: Path) -> Project:
    return load_project(project_dir)


def _fail(exc: KgpubError) -> None:
    click.echo(f"error: {exc}", err=True)
    sys.exit(exc.exit_code)


@click.group()
@click.version_option(__version__, prog_name="kgpub")
def main() -> None:
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
def validate(project_dir: Path, fmt: str) -> None:
    """Validate ontology + data against the SHACL shapes.

    Exit 0 if the data conforms (warnings allowed), 1 on violations, 2 on unreadable input."""
    from .load import load_sources
    from .validate import validate_sources

    try:
        project = _project(project_dir)
        sources = load_sources(project)
        report = validate_sources(sources)
    except KgpubError as exc:
        if fmt == "json":
            import json

            click.echo(json.dumps({"conforms": False, "error": str(exc)}))
        _fail(exc)
        return
    click.echo(report.to_json() if fmt == "json" else report.to_text(sources.prefixes))
    sys.exit(EXIT_OK if report.conforms else EXIT_INVALID)


@main.command()
@project_option
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Output directory [default: site/ in the project].",
)
def build(project_dir: Path, out: Path | None) -> None:
    """Validate, then write the site: HTML, RDF per entity, dumps. Nothing is written on
    violations, and the previous site stays until the new one is complete."""
    from .site import build as build_site

    try:
        project = _project(project_dir)
        progress = _progress_bar() if sys.stderr.isatty() else None
        result = build_site(project, out, progress)
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
    click.echo(f"Built {result.entities} entities, {result.files} files into {result.out}")


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
@click.option(
    "--site",
    "site_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Serve an existing build instead of building first.",
)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
def serve(project_dir: Path, site_dir: Path | None, host: str, port: int) -> None:
    """Serve the site locally (a plain static server)."""
    import functools
    import http.server

    from .site import build as build_site

    try:
        project = _project(project_dir)
        if site_dir is None:
            site_dir = build_site(project).out
    except InvalidData as exc:
        click.echo(exc.report.to_text(), err=True)
        sys.exit(EXIT_INVALID)
    except KgpubError as exc:
        _fail(exc)
        return
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(site_dir))
    with http.server.ThreadingHTTPServer((host, port), handler) as httpd:
        click.echo(f"Serving {site_dir} at http://{host}:{port}/ (Ctrl-C to stop)")
        try:
            httpd.serve_forever()
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
