"""Benchmark: /sparql through a SPARQL store vs the embedded engine, on the example queries.

The site is published (`kgpub publish`) into an Oxigraph server started on 127.0.0.1, and a
second `kgpub serve --store` forwards to it; the same client (bench/sparql_latency.py's
endpoint_latency) times each example against the embedded server and the forwarding one, in
the same run. Reports medians and the ratio store / embedded.

    python bench/store.py --project DIR --site SITE [--runs 20]
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(HERE))

from kgpub.config import load_project  # noqa: E402
from kgpub.publish import publish  # noqa: E402
from kgpub.sparql.examples import example_queries  # noqa: E402
from serverutil import running_server  # noqa: E402


def compare(project: Path, site: Path, embedded_url: str, runs: int) -> dict:
    """Latency of each example query, embedded engine vs through the store (medians)."""
    import sparql_latency as sl

    from storeutil import oxigraph_server

    rows = []
    with oxigraph_server(timeout_s=60) as store:
        published = publish(site, f"{store}/query", f"{store}/store")
        with running_server(project, site, "--store", f"{store}/query", "--app-only") as url:
            for ex in example_queries(load_project(project).base):
                accept = ("text/turtle" if "CONSTRUCT" in ex.query
                          else "application/sparql-results+json")
                for target in (embedded_url, url):  # warm both
                    sl.endpoint_latency(target, ex.query, 2, accept)
                embedded = sl.endpoint_latency(embedded_url, ex.query, runs, accept)
                through = sl.endpoint_latency(url, ex.query, runs, accept)
                rows.append({"query": ex.slug, "embedded": embedded, "store": through,
                             "ratio": through / embedded if embedded else None, "runs": runs})
    ratios = [r["ratio"] for r in rows if r["ratio"] is not None]
    return {"rows": rows, "triples": published.triples,
            "median_ratio": statistics.median(ratios) if ratios else None,
            "worst_ratio": max(ratios) if ratios else None}


def report_lines(e: dict) -> list[str]:
    lines = ["`kgpub serve --store` (the same checks and caps, evaluation by an Oxigraph server "
             f"holding the published build, {e['triples']:,} triples) against the embedded "
             "engine, same client, same run (`bench/store.py`):", "",
             "| query | embedded | through the store | ratio | runs |",
             "| --- | ---: | ---: | ---: | ---: |"]
    for r in e["rows"]:
        ratio = f"{r['ratio']:.2f}x" if r["ratio"] is not None else "—"
        lines.append(f"| {r['query']} | {r['embedded'] * 1000:.1f} ms | "
                     f"{r['store'] * 1000:.1f} ms | {ratio} | {r['runs']} |")
    lines += ["", f"Median ratio {e['median_ratio']:.2f}x, worst {e['worst_ratio']:.2f}x."]
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--project", type=Path, default=REPO)
    parser.add_argument("--site", type=Path, required=True)
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args(argv)
    with running_server(args.project, args.site) as embedded:
        result = compare(args.project, args.site, embedded, args.runs)
    print("\n".join(report_lines(result)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
