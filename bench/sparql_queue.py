"""Benchmark: the SPARQL endpoint under concurrent load, against an Oxigraph server on the same dump.

N clients (16 by default) run the endpoint's example queries in a loop for S seconds, first
against kgpub's /sparql, then against `oxigraph serve-read-only` (the `oxigraph` package from
PyPI: the Oxigraph server, Rust) loaded with the same N-Triples dump, in the same run and with
the same client: bench/loadgen.py's Python generator (keep-alive connections, each sending its
next query when the last is answered). Reports successful queries per second, 503s and other
errors for both, and the ratio kgpub / Oxigraph. A server that queues load answers every query;
one that refuses it answers 503.

    python bench/sparql_queue.py [--project DIR] [--clients 16] [--seconds 10]

bench/run.py runs the same comparison on its generated projects (section "SPARQL under load").
Everything runs on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import contextlib
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))

import loadgen  # noqa: E402

ACCEPT = "application/sparql-results+json, text/turtle;q=0.9"


def oxigraph_command() -> str | None:
    """The `oxigraph` console script (pip install oxigraph), beside this Python or on PATH."""
    beside = Path(sys.executable).with_name("oxigraph")
    if beside.is_file():
        return str(beside)
    return shutil.which("oxigraph")


def oxigraph_version(command: str) -> str:
    try:
        out = subprocess.run([command, "--version"], capture_output=True, text=True, timeout=30)
        return out.stdout.strip() or out.stderr.strip()
    except (OSError, subprocess.SubprocessError):
        return "oxigraph (version unknown)"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def oxigraph_server(dump: Path, command: str | None = None, ready_timeout: float = 120):
    """`oxigraph load` the dump into a temporary store, `oxigraph optimize` it,
    `oxigraph serve-read-only` it on 127.0.0.1; yields the base URL (queries at /query)."""
    command = command or oxigraph_command()
    if command is None:
        raise RuntimeError("the oxigraph server is not installed (pip install oxigraph)")
    with tempfile.TemporaryDirectory(prefix="kgpub-oxigraph-") as tmp:
        store = Path(tmp) / "store"
        load = subprocess.run([command, "load", "--location", str(store), "--file", str(dump)],
                              capture_output=True, text=True, timeout=1800)
        if load.returncode != 0:
            raise RuntimeError(f"oxigraph load failed: {load.stderr.strip()[-400:]}")
        # As `oxigraph load` advises before a read-heavy workload (best effort).
        subprocess.run([command, "optimize", "--location", str(store)], capture_output=True,
                       timeout=1800)
        port = _free_port()
        url = f"http://127.0.0.1:{port}"
        proc = subprocess.Popen([command, "serve-read-only", "--location", str(store),
                                 "--bind", f"127.0.0.1:{port}"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                start_new_session=True)
        try:
            deadline = time.monotonic() + ready_timeout
            while True:
                if proc.poll() is not None:
                    raise RuntimeError(f"oxigraph exited {proc.returncode}: "
                                       f"{proc.stderr.read().decode()[-400:]}")
                try:
                    with urllib.request.urlopen(f"{url}/query?query=ASK%7B%7D", timeout=5) as r:
                        if r.status == 200:
                            break
                except (OSError, urllib.error.URLError):
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError("oxigraph did not answer in time")
                time.sleep(0.1)
            yield url
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def paths_for(queries: list[str], endpoint: str) -> list[str]:
    return [f"{endpoint}?query={urllib.parse.quote(q)}" for q in queries]


def one(url: str, paths: list[str], clients: int, seconds: float) -> dict:
    r = loadgen.run_python(url, paths, accept=ACCEPT, connections=clients, seconds=seconds,
                           timeout=30)
    ok = r.codes.get(200, 0)
    return {
        "ok": ok, "qps": ok / r.seconds if r.seconds else 0.0, "busy_503": r.codes.get(503, 0),
        "other": sum(v for k, v in r.codes.items() if k not in (200, 503))
        + sum(v for k, v in r.errors.items() if k != "status"),
        "codes": {str(k): v for k, v in sorted(r.codes.items())},
        "p50_ms": r.p50_ms, "p99_ms": r.p99_ms, "seconds": r.seconds, "tool": r.tool,
    }


def compare(kgpub_url: str, dump: Path, queries: list[str], *, clients: int = 16,
            seconds: float = 10) -> dict:
    """Both servers, one after the other, with the same client and queries."""
    command = oxigraph_command()
    if command is None:
        raise RuntimeError("the oxigraph server is not installed (pip install oxigraph)")
    for q in queries:  # warm up (workers' caches, the page cache)
        urllib.request.urlopen(urllib.request.Request(
            f"{kgpub_url}/sparql?query={urllib.parse.quote(q)}", headers={"Accept": ACCEPT}),
            timeout=60).read()
    kgpub = one(kgpub_url, paths_for(queries, "/sparql"), clients, seconds)
    with oxigraph_server(dump, command) as ox_url:
        for q in queries:
            urllib.request.urlopen(urllib.request.Request(
                f"{ox_url}/query?query={urllib.parse.quote(q)}", headers={"Accept": ACCEPT}),
                timeout=60).read()
        oxigraph = one(ox_url, paths_for(queries, "/query"), clients, seconds)
    return {"kgpub": kgpub, "oxigraph": oxigraph, "clients": clients, "seconds": seconds,
            "queries": len(queries), "oxigraph_version": oxigraph_version(command),
            "ratio": kgpub["qps"] / oxigraph["qps"] if oxigraph["qps"] else None}


def report_lines(data: dict) -> list[str]:
    lines = [
        f"{data['clients']} clients, the {data['queries']} example queries in a loop, "
        f"{data['seconds']:g} s each; same client (Python generator, bench/loadgen.py).",
        "",
        "| server | queries/s answered | 503 | other errors | p50 | p99 |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for key, label in (("kgpub", "kgpub `/sparql`"),
                       ("oxigraph", f"{data['oxigraph_version']} `serve-read-only`")):
        r = data[key]
        lines.append(f"| {label} | {r['qps']:,.0f} | {r['busy_503']:,} | {r['other']:,} | "
                     f"{r['p50_ms']:.1f} ms | {r['p99_ms']:.1f} ms |")
    lines.append("")
    if data["ratio"] is not None:
        lines.append(f"kgpub / Oxigraph: {data['ratio']:.2f}x the answered queries per second.")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--project", type=Path, default=REPO)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args(argv)
    sys.path.insert(0, str(REPO / "tests"))
    from kgpub.config import load_project
    from kgpub.site import build
    from kgpub.sparql.examples import example_queries
    from serverutil import running_server

    project = load_project(args.project)
    queries = [ex.query for ex in example_queries(project.base)]
    with tempfile.TemporaryDirectory() as tmp:
        site = build(project, Path(tmp) / "site").out
        with running_server(project.root, site) as url:
            data = compare(url, site / "dumps" / "dataset.nt.gz", queries,
                           clients=args.clients, seconds=args.seconds)
    print("\n".join(report_lines(data)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
