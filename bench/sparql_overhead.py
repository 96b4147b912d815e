"""Benchmark: kgpub's /sparql against an Oxigraph server, one query at a time, on the example
queries: what a request costs beyond the query itself.

For each size, a project is generated (bench/generate.py) and built (`kgpub build`); `kgpub
serve` answers at /sparql, and `oxigraph serve` (the `oxigraph` package from PyPI: the Oxigraph
server, Rust) holds the same N-Triples dump (dumps/dataset.nt.gz) in memory, as kgpub's
workers do (`--oxigraph disk`: `oxigraph load` + `optimize` + `serve-read-only`, RocksDB, as
bench/sparql_queue.py). The same client (httpx, one keep-alive connection per server) sends
each query by GET, alternating between the servers request by request so that other work on the
machine hits both alike. Reports the median per query and server and the ratio kgpub/Oxigraph
(below 1: kgpub is faster); each server's answer is checked (status 200, same number of
solutions or triples).

    python bench/sparql_overhead.py [--sizes 1000 10000] [--runs 60] [--work DIR] [--out FILE]

--work keeps the generated projects and builds between runs (they are reused when present).
Everything runs on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(REPO / "tests"))

import sparql_queue  # noqa: E402

from kgpub.config import load_project  # noqa: E402
from kgpub.formats import DUMP_FORMATS  # noqa: E402
from kgpub.layout import dump_path  # noqa: E402
from kgpub.sparql.examples import example_queries  # noqa: E402
from serverutil import free_port, running_server  # noqa: E402

PY = sys.executable
KGPUB = [PY, "-m", "kgpub.cli"]
SOLUTIONS = "application/sparql-results+json"
GRAPH = "application/n-triples"  # one triple a line: the answers can be compared by counting


def nt_dump(site: Path) -> Path:
    fmt = next(f for f in DUMP_FORMATS if f.suffix == ".nt")
    return site / dump_path(fmt)


def prepare(work: Path, entries: int) -> tuple[Path, Path]:
    """A generated project and its built site under work (reused when already there)."""
    project, site = work / f"project-{entries}", work / f"site-{entries}"
    if not (project / "kgpub.toml").is_file():
        subprocess.run([PY, str(HERE / "generate.py"), "--entries", str(entries), "--out",
                        str(project)], check=True, stdout=subprocess.DEVNULL)
    if not nt_dump(site).is_file():
        subprocess.run(KGPUB + ["build", "--project", str(project), "--out", str(site)],
                       check=True, stdout=subprocess.DEVNULL)
    return project, site


@contextlib.contextmanager
def oxigraph_in_memory(dump: Path, ready_timeout: float = 120):
    """`oxigraph serve` with its in-memory store, the dump POSTed to it; yields its URL."""
    command = sparql_queue.oxigraph_command()
    if command is None:
        raise SystemExit("the Oxigraph server is not installed (pip install oxigraph)")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen([command, "serve", "--bind", f"127.0.0.1:{port}"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            start_new_session=True)
    try:
        deadline = time.monotonic() + ready_timeout
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"oxigraph exited {proc.returncode}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{url}/query", params={"query": "ASK {}"}).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError("oxigraph did not answer in time")
            time.sleep(0.1)
        r = httpx.post(f"{url}/store?default", content=gzip.decompress(dump.read_bytes()),
                       headers={"Content-Type": "application/n-triples"}, timeout=600)
        if r.status_code not in (200, 201, 204):
            raise RuntimeError(f"loading the dump into oxigraph: {r.status_code} {r.text[:200]}")
        yield url
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=15)


def answer_size(response: httpx.Response) -> int:
    """Solutions or triples in an answer, to check that both servers said the same."""
    if response.status_code != 200:
        raise RuntimeError(f"{response.url}: {response.status_code} {response.text[:200]}")
    if response.headers["content-type"].startswith(SOLUTIONS):
        return len(json.loads(response.content)["results"]["bindings"])
    return sum(1 for line in response.content.splitlines() if line.strip())


def timed(client: httpx.Client, url: str, query: str, accept: str) -> tuple[float, int]:
    started = time.perf_counter()
    response = client.get(url, params={"query": query}, headers={"Accept": accept})
    _ = response.content
    return time.perf_counter() - started, answer_size(response)


def measure(kgpub: str, oxigraph: str, queries: list, runs: int) -> list[dict]:
    rows = []
    with httpx.Client(timeout=60) as kc, httpx.Client(timeout=60) as oc:
        for ex in queries:
            accept = GRAPH if "CONSTRUCT" in ex.query else SOLUTIONS
            for _ in range(3):  # warm up: connections, caches
                _, k_size = timed(kc, kgpub, ex.query, accept)
                _, o_size = timed(oc, oxigraph, ex.query, accept)
            if k_size != o_size:
                raise RuntimeError(f"{ex.slug}: kgpub answered {k_size}, oxigraph {o_size}")
            k_times, o_times = [], []
            for i in range(runs):  # alternate, and alternate who goes first
                pair = [(kc, kgpub, k_times), (oc, oxigraph, o_times)]
                for client, url, times in pair if i % 2 == 0 else pair[::-1]:
                    times.append(timed(client, url, ex.query, accept)[0])
            k, o = statistics.median(k_times), statistics.median(o_times)
            rows.append({"query": ex.slug, "answer": k_size, "kgpub_ms": k * 1000,
                         "oxigraph_ms": o * 1000, "ratio": k / o})
    return rows


def run_size(work: Path, entries: int, runs: int, mode: str) -> dict:
    project_dir, site = prepare(work, entries)
    project = load_project(project_dir)
    dump = nt_dump(site)
    oxigraph = oxigraph_in_memory(dump) if mode == "memory" else \
        sparql_queue.oxigraph_server(dump)
    with running_server(project_dir, site) as k_url, oxigraph as o_url:
        rows = measure(f"{k_url}/sparql", f"{o_url}/query", example_queries(project.base), runs)
    return {"entries": entries, "rows": rows}


def report(results: list[dict], runs: int, mode: str) -> str:
    lines = [f"kgpub /sparql vs `oxigraph serve` ({mode} store), one query at a time over HTTP "
             f"(httpx, keep-alive), median of {runs} requests each, alternating "
             f"({time.strftime('%Y-%m-%d')}).", ""]
    for result in results:
        lines += [f"{result['entries']:,} entries:", "",
                  "| query | answer | kgpub | oxigraph | kgpub/oxigraph |",
                  "| --- | ---: | ---: | ---: | ---: |"]
        for r in result["rows"]:
            lines.append(f"| {r['query']} | {r['answer']} | {r['kgpub_ms']:.2f} ms | "
                         f"{r['oxigraph_ms']:.2f} ms | {r['ratio']:.2f}x |")
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--runs", type=int, default=60)
    parser.add_argument("--oxigraph", choices=("memory", "disk"), default="memory")
    parser.add_argument("--work", type=Path, default=None,
                        help="keep generated projects and builds here (reused when present)")
    parser.add_argument("--out", type=Path, default=None, help="also write the report here")
    parser.add_argument("--json", type=Path, default=None, help="the figures as JSON")
    args = parser.parse_args(argv)
    with contextlib.ExitStack() as stack:
        work = args.work or Path(stack.enter_context(
            tempfile.TemporaryDirectory(prefix="kgpub-sparql-overhead-")))
        work.mkdir(parents=True, exist_ok=True)
        results = [run_size(work, n, args.runs, args.oxigraph) for n in args.sizes]
    text = report(results, args.runs, args.oxigraph)
    print(text)
    if args.out:
        args.out.write_text(text, encoding="utf-8")
    if args.json:
        args.json.write_text(json.dumps(results, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
