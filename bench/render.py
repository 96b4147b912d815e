"""Render micro-benchmark: HTML pages per second, in one process, the build's way.

    python bench/render.py [--entries N | --project DIR] [--runs R] [--limit K]

Generates a project of N entries (bench/generate.py, seed 1; default 10,000) or takes DIR, loads
it and builds the index and the navigation (not timed), then renders every unit a full build
renders, as the build's workers do: each entity's page in every language and each listing page
in every language, each unit inside Index.recording() (incremental builds rely on what it
records). Nothing is written and no RDF document or citation is made: this times the HTML only.
--limit K renders the first K entities and K listing pages (a quick look).

Prints one JSON object per run and a summary: pages, seconds (CPU time of this process, which
other work on a shared machine disturbs less than wall time, and the wall time), pages per CPU
second (all, entity pages, listing pages), and `digest`, a SHA-256 of every (path, HTML) rendered and of the keys each
unit read, so two versions of the renderer can be compared for the same output and the same
recorded dependencies (run this file with each version's `src` first on PYTHONPATH).
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def prepare(project_dir: Path):
    """The index and one renderer per language, as a build makes them (not timed)."""
    from kgpub.browse import Browse
    from kgpub.config import load_project
    from kgpub.entail import entailments
    from kgpub.index import Index
    from kgpub.load import load_sources
    from kgpub.render.html import HtmlRenderer

    project = load_project(project_dir)
    sources = load_sources(project)
    index = Index(project, sources, entailments(sources))
    nav = Browse(index, project.page_size)
    nav.prepare()
    return index, [HtmlRenderer(index, lang, nav) for lang in project.languages]


def render(index, html, entities: list[str], listings: list, digest) -> dict:
    """Render the units; returns the seconds spent on each kind of page and the page counts."""
    spent = {"entity": 0.0, "listing": 0.0}
    pages = {"entity": 0, "listing": 0}
    units = [("entity", iri) for iri in entities] + [("listing", unit) for unit in listings]
    wall = time.perf_counter()
    for kind, unit in units:
        started = time.process_time()
        with index.recording() as read:
            if kind == "entity":
                out = [r.render_entity(unit) for r in html]
            else:
                out = [r.render_listing(unit[0], unit[1]) for r in html]
        spent[kind] += time.process_time() - started
        pages[kind] += len(out)
        for path, page in out:
            digest.update(path.encode() + b"\0" + page.encode() + b"\0")
        digest.update("\0".join(sorted(map(str, read))).encode() + b"\1")
    return {"spent": spent, "pages": pages, "wall": time.perf_counter() - wall}


def run_once(index, html, limit: int | None) -> dict:
    entities = list(index.entities)
    listings = list(html[0].browse.pages())
    if limit:
        entities, listings = entities[:limit], listings[:limit]
    digest = hashlib.sha256()
    result = render(index, html, entities, listings, digest)
    spent, pages = result["spent"], result["pages"]
    seconds = spent["entity"] + spent["listing"]
    total = pages["entity"] + pages["listing"]
    return {
        "pages": total,
        "cpu_s": round(seconds, 3),
        "wall_s": round(result["wall"], 3),
        "pages_per_s": round(total / seconds, 1),
        "entity_pages": pages["entity"],
        "entity_pages_per_s": round(pages["entity"] / spent["entity"], 1) if spent["entity"] else 0,
        "listing_pages": pages["listing"],
        "listing_pages_per_s": round(pages["listing"] / spent["listing"], 1)
        if spent["listing"] else 0,
        "digest": digest.hexdigest(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--entries", type=int, default=10_000, help="entries to generate")
    parser.add_argument("--project", type=Path, help="an existing project instead")
    parser.add_argument("--runs", type=int, default=1, help="runs in this process (fresh renderers)")
    parser.add_argument("--limit", type=int, help="render only the first K entities and listings")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as tmp:
        project = args.project
        if project is None:
            sys.path.insert(0, str(HERE))
            import generate  # bench/generate.py

            project = Path(tmp) / "project"
            generate.generate(args.entries, project, seed=1)
        results = []
        for _ in range(args.runs):
            index, html = prepare(project)
            # As in the build's forked workers: what exists before rendering is never collected.
            gc.collect()
            gc.freeze()
            try:
                result = run_once(index, html, args.limit)
            finally:
                gc.unfreeze()
            print(json.dumps(result), flush=True)
            results.append(result)
            del index, html
    print(json.dumps({
        "runs": len(results),
        "median_pages_per_s": statistics.median(r["pages_per_s"] for r in results),
        "digests_agree": len({r["digest"] for r in results}) == 1,
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
