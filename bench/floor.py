"""The floor of a full build: the same libraries doing the unavoidable part of the work.

    python bench/floor.py --project DIR --entry-pages N --other-pages M

1. pyoxigraph parses every source file of the project (ontology/, data/, shapes/; .ttl and .nt,
   relative IRIs resolved against [site] base of kgpub.toml) into an in-memory pyoxigraph Store;
2. Jinja2 renders N entry pages and M other pages with kgpub's own templates and environment
   (`kgpub.render.templates.environment()`), from real template contexts: kgpub's HtmlRenderer
   renders a small project made by bench/generate.py (200 entries) while the contexts it passes to
   the templates are recorded (not timed); the timed loop then renders the recorded entry
   contexts N times and the other contexts M times, round-robin. Nothing is written to disk and
   no RDF document (Turtle, JSON-LD, ...) or dump is serialized: the floor is parse + HTML.

If the contexts cannot be recorded (the renderer changed), the fallback times HtmlRenderer itself
on the sample and scales the mean per page to N + M pages ("method": "scaled").

Prints one JSON object: parse_s, triples, files, render_s, pages, method, sample_pages.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import tomllib
from pathlib import Path

import pyoxigraph as ox

HERE = Path(__file__).resolve().parent
FORMATS = {".ttl": ox.RdfFormat.TURTLE, ".nt": ox.RdfFormat.N_TRIPLES}


def source_files(root: Path) -> list[Path]:
    files: list[Path] = []
    for sub in ("ontology", "data", "shapes"):
        d = root / sub
        if d.is_dir():
            files += sorted(p for p in d.rglob("*") if p.suffix in FORMATS and p.is_file())
    return files


def parse(root: Path) -> tuple[ox.Store, int, int, float]:
    config = tomllib.loads((root / "kgpub.toml").read_text(encoding="utf-8"))
    base = config.get("site", {}).get("base", "https://w3id.org/sphr/")
    files = source_files(root)
    started = time.perf_counter()
    store = ox.Store()
    for f in files:
        store.extend(ox.parse(path=f, format=FORMATS[f.suffix], base_iri=base))
    seconds = time.perf_counter() - started
    return store, len(store), len(files), seconds


def record_contexts(sample: Path):
    """Render every entity of the sample project with kgpub's HtmlRenderer, recording the
    (template name, context) of each page. Returns (entry contexts, other contexts, renderer,
    entity IRIs, index)."""
    from kgpub.config import load_project
    from kgpub.index import Index
    from kgpub.load import load_sources
    from kgpub.render.html import HtmlRenderer
    from kgpub.render.templates import environment

    project = load_project(sample)
    index = Index(project, load_sources(project))
    env = environment()
    recorded: list[tuple[str, dict]] = []
    original = env.get_template

    class Recorder:
        def __init__(self, template):
            self._template = template

        def render(self, *args, **kwargs):
            ctx = dict(*args, **kwargs)
            recorded.append((self._template.name, ctx))
            return self._template.render(ctx)

        def __getattr__(self, name):
            return getattr(self._template, name)

    env.get_template = lambda name, *a, **k: Recorder(original(name, *a, **k))
    entries: list[tuple[str, dict]] = []
    others: list[tuple[str, dict]] = []
    try:
        renderer = HtmlRenderer(index)
        for iri in index.entities:
            before = len(recorded)
            path, _ = renderer.render_entity(iri)
            new = recorded[before:]
            (entries if path.startswith("resource/") else others).extend(new[-1:])
    finally:
        env.get_template = original
    return entries, others, renderer, list(index.entities)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--project", type=Path, required=True)
    parser.add_argument("--entry-pages", type=int, required=True)
    parser.add_argument("--other-pages", type=int, required=True)
    parser.add_argument("--sample", type=int, default=200, help="entries of the sample project")
    args = parser.parse_args(argv)

    # Setup (not timed): a small project of the same shape, and its recorded template contexts.
    sys.path.insert(0, str(HERE))
    import generate  # bench/generate.py

    from kgpub.render.templates import environment

    with tempfile.TemporaryDirectory() as tmp:
        generate.generate(args.sample, Path(tmp) / "sample", seed=1)
        entries, others, renderer, iris = record_contexts(Path(tmp) / "sample")

        # Timed: parse the real project.
        store, triples, nfiles, parse_s = parse(args.project)

        pages = args.entry_pages + args.other_pages
        env = environment()
        if entries and others:
            method = "recorded-contexts"
            started = time.perf_counter()
            for group, count in ((entries, args.entry_pages), (others, args.other_pages)):
                templates = [(env.get_template(name), ctx) for name, ctx in group]
                for i in range(count):
                    template, ctx = templates[i % len(templates)]
                    template.render(ctx)
            render_s = time.perf_counter() - started
        else:
            method = "scaled"
            started = time.perf_counter()
            for iri in iris:
                renderer.render_entity(iri)
            render_s = (time.perf_counter() - started) / max(1, len(iris)) * pages
    print(json.dumps({
        "parse_s": parse_s, "triples": triples, "files": nfiles, "render_s": render_s,
        "pages": pages, "entry_pages": args.entry_pages, "other_pages": args.other_pages,
        "method": method, "sample_pages": len(entries) + len(others), "store_len": len(store),
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
