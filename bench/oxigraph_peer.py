"""Benchmark: kgpub's /sparql beside an Oxigraph server on the example queries, one at a time.

The Oxigraph server (`oxigraph serve-read-only`, the `oxigraph` package from PyPI; read-only as
kgpub's endpoint is) is loaded with the N-Triples dump of the same build (bench/sparql_queue.py
starts it). Each example query (kgpub.sparql.examples) is sent over HTTP to both with the same
client (bench/sparql_latency.py's endpoint_latency: urllib, a new connection per request, the same
Accept header), alternating the servers request by request so that other work on the machine
weighs on both alike. Reports the median latency of each, the ratio kgpub / Oxigraph (target:
≤ 1x, no slower) and the size of each answer (rows, or triples), which must be the same.

    python bench/oxigraph_peer.py [--project DIR] [--runs 20]

bench/run.py runs it on its generated projects (section "Side by side: Oxigraph server").
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))

import sparql_queue  # noqa: E402
from sparql_latency import endpoint_latency  # noqa: E402

MISSING = "the Oxigraph server is not installed (pip install oxigraph, in the test extra)"
KGPUB_PATH, OXIGRAPH_PATH = "/sparql", "/query"


def accept_for(query: str) -> str:
    return "text/turtle" if "CONSTRUCT" in query else "application/sparql-results+json"


def answer_size(url: str, path: str, query: str) -> int:
    """Rows of a SELECT, 1/0 for an ASK, triples of a CONSTRUCT: what the answer holds."""
    import pyoxigraph as ox

    accept = accept_for(query)
    req = urllib.request.Request(f"{url}{path}?query={urllib.parse.quote(query)}",
                                 headers={"Accept": accept})
    with urllib.request.urlopen(req, timeout=120) as r:
        body = r.read()
    if accept == "text/turtle":
        return sum(1 for _ in ox.parse(body, format=ox.RdfFormat.TURTLE))
    data = json.loads(body)
    if "boolean" in data:
        return int(data["boolean"])
    return len(data["results"]["bindings"])


def alternate(kgpub_url: str, ox_url: str, query: str, runs: int) -> tuple[float, float]:
    """Median seconds of kgpub and of Oxigraph, one request of each in turn (order swapped each
    round)."""
    accept = accept_for(query)
    times: dict[str, list[float]] = {"kgpub": [], "oxigraph": []}
    targets = {"kgpub": (kgpub_url, KGPUB_PATH), "oxigraph": (ox_url, OXIGRAPH_PATH)}
    for i in range(runs):
        for name in ("kgpub", "oxigraph") if i % 2 == 0 else ("oxigraph", "kgpub"):
            url, path = targets[name]
            times[name].append(endpoint_latency(url, query, 1, accept, path))
    return statistics.median(times["kgpub"]), statistics.median(times["oxigraph"])


def compare(kgpub_url: str, dump: Path, examples: list, *, runs: int = 20,
            budget: float = 120, log=print) -> dict:
    """Every example against both servers; each query gets an equal share of `budget` seconds
    (at least 3 runs, at most `runs`)."""
    command = sparql_queue.oxigraph_command()
    if command is None:
        raise RuntimeError(MISSING)
    rows = []
    with sparql_queue.oxigraph_server(dump, command) as ox_url:
        for ex in examples:
            sizes = (answer_size(kgpub_url, KGPUB_PATH, ex.query),
                     answer_size(ox_url, OXIGRAPH_PATH, ex.query))  # also warms both up
            t = time.perf_counter()
            alternate(kgpub_url, ox_url, ex.query, 2)
            pair = (time.perf_counter() - t) / 2
            n = max(3, min(runs, int(budget / len(examples) / max(pair, 1e-3))))
            k, o = alternate(kgpub_url, ox_url, ex.query, n)
            rows.append({"query": ex.slug, "kgpub": k, "oxigraph": o, "ratio": k / o,
                         "runs": n, "answer_kgpub": sizes[0], "answer_oxigraph": sizes[1]})
            log(f"  {ex.slug}: kgpub {k * 1000:.2f} ms, oxigraph {o * 1000:.2f} ms "
                f"({k / o:.2f}x, {n} runs), answers {sizes[0]} / {sizes[1]}")
    ratios = [r["ratio"] for r in rows]
    return {"measured": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            "rows": rows, "oxigraph_version": sparql_queue.oxigraph_version(command),
            "worst_ratio": max(ratios) if ratios else None,
            "median_ratio": statistics.median(ratios) if ratios else None,
            "not_slower": sum(1 for r in ratios if r <= 1.0),
            "same_answers": all(r["answer_kgpub"] == r["answer_oxigraph"] for r in rows)}


def _ms(v: float) -> str:
    return f"{v * 1000:.2f} ms"


def report_lines(data: dict) -> list[str]:
    rows = data["rows"]
    lines = [
        f"Measured {data['measured']}: each example query over HTTP, one request at a time, "
        "to kgpub's `/sparql` and to "
        f"{data['oxigraph_version']} `serve-read-only` loaded with the same dump; same client "
        "(urllib, bench/sparql_latency.py), servers alternating request by request; medians. "
        "Ratio kgpub / Oxigraph; target ≤ 1x (no slower). Answer: rows (or triples) returned "
        "by kgpub / by Oxigraph.",
        "",
        "| query | kgpub `/sparql` | Oxigraph `/query` | ratio | answer | runs | target | |",
        "| --- | ---: | ---: | ---: | ---: | ---: | --- | --- |",
    ]
    for r in rows:
        verdict = "**met**" if r["ratio"] <= 1.0 else "**missed**"
        lines.append(f"| {r['query']} | {_ms(r['kgpub'])} | {_ms(r['oxigraph'])} | "
                     f"{r['ratio']:.2f}x | {r['answer_kgpub']:,} / {r['answer_oxigraph']:,} | "
                     f"{r['runs']} | ≤ 1x | {verdict} |")
    lines.append("")
    if rows:
        lines.append(f"kgpub no slower on {data['not_slower']} of {len(rows)} queries; worst "
                     f"ratio {data['worst_ratio']:.2f}x, median {data['median_ratio']:.2f}x; "
                     + ("same answer sizes on every query." if data["same_answers"] else
                        "**the answer sizes differ** (see the table)."))
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--project", type=Path, default=REPO)
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args(argv)
    if sparql_queue.oxigraph_command() is None:
        print(f"skipped: {MISSING}", file=sys.stderr)
        return 2
    sys.path.insert(0, str(REPO / "tests"))
    from kgpub.config import load_project
    from kgpub.site import build
    from kgpub.sparql.examples import example_queries
    from serverutil import running_server

    project = load_project(args.project)
    with tempfile.TemporaryDirectory() as tmp:
        site = build(project, Path(tmp) / "site").out
        with running_server(project.root, site) as url:
            data = compare(url, site / "dumps" / "dataset.nt.gz",
                           example_queries(project.base), runs=args.runs)
    print("\n".join(report_lines(data)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
