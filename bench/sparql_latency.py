"""Benchmark: the SPARQL endpoint's latency on its example queries vs raw pyoxigraph.

Both are measured in the same run on the same graph: the baseline is pyoxigraph answering the
query in-process on an in-memory store (parse + evaluate + serialize to SPARQL JSON); the endpoint
is a real HTTP request to `kgpub serve` on 127.0.0.1 (protocol, safety checks, worker process,
serialization, HTTP). Reports medians and the ratio endpoint / raw.

    python bench/sparql_latency.py [--project DIR] [--runs 30] [--out bench/sparql-latency.md]
"""

from __future__ import annotations

import argparse
import gzip
import statistics
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pyoxigraph as ox

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from kgpub.config import load_project  # noqa: E402
from kgpub.site import build  # noqa: E402
from kgpub.sparql.examples import example_queries  # noqa: E402
from serverutil import running_server  # noqa: E402


def raw_latency(store: ox.Store, query: str, runs: int) -> float:
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        result = store.query(query)
        if isinstance(result, ox.QuerySolutions):
            result.serialize(format=ox.QueryResultsFormat.JSON)
        elif isinstance(result, ox.QueryTriples):
            ox.serialize(result, format=ox.RdfFormat.TURTLE)
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def endpoint_latency(url: str, query: str, runs: int, accept: str,
                     path: str = "/sparql") -> float:
    """Median seconds of `runs` GETs of the query at url + path (a new connection each, as a
    plain client makes them). bench/oxigraph_peer.py times Oxigraph's /query with it too."""
    times = []
    target = f"{url}{path}?query={urllib.parse.quote(query)}"
    for _ in range(runs):
        t = time.perf_counter()
        with urllib.request.urlopen(urllib.request.Request(target, headers={"Accept": accept})) as r:
            r.read()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--project", type=Path, default=REPO)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    project = load_project(args.project)
    with tempfile.TemporaryDirectory() as tmp:
        site = build(project, Path(tmp) / "site").out
        store = ox.Store()
        store.bulk_load(gzip.decompress((site / "dumps/dataset.nt.gz").read_bytes()),
                        format=ox.RdfFormat.N_TRIPLES)
        rows = []
        with running_server(project.root, site) as url:
            for ex in example_queries(project.base):
                graph = ex.query.lstrip().split("\n")[-1].startswith("CONSTRUCT") or \
                    "CONSTRUCT" in ex.query
                accept = "text/turtle" if graph else "application/sparql-results+json"
                endpoint_latency(url, ex.query, 3, accept)  # warm up
                raw = raw_latency(store, ex.query, args.runs)
                http = endpoint_latency(url, ex.query, args.runs, accept)
                rows.append((ex.slug, raw, http))
    lines = [
        f"SPARQL latency, {len(store)} triples, median of {args.runs} runs "
        f"({time.strftime('%Y-%m-%d')}, pyoxigraph {ox.__version__})",
        "",
        "| query | raw pyoxigraph (ms) | endpoint over HTTP (ms) | ratio |",
        "| --- | ---: | ---: | ---: |",
    ]
    for slug, raw, http in rows:
        lines.append(f"| {slug} | {raw * 1000:.2f} | {http * 1000:.2f} | {http / raw:.1f}x |")
    report = "\n".join(lines) + "\n"
    print(report)
    if args.out:
        args.out.write_text(report, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
