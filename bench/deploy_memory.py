"""Benchmark: what each part of a deployment holds in memory (README "Deploying").

For each size, a project made by bench/generate.py (--seed 1), and:

- **store**: an Oxigraph server (the `oxigraph` package's, in memory and on disk with
  `--location`) loaded with `kgpub.publish.publish` (the Graph Store Protocol PUT of a named
  graph, then the pointer), then the example queries run on it (`default-graph-uri` of the
  build graph, as kgpub's front sends them). Its resident set once loaded, after the queries, and
  the peak while loading (sampled every 0.1 s). Without a build (sizes above --build-up-to),
  the graph is the project's files parsed by pyoxigraph (ontology/, data/, shapes/, base from
  kgpub.toml), written as the N-Triples dump a build would write, into a directory holding only
  that dump; with a build, the build's own dump.
- **replica** (sizes up to --build-up-to: `kgpub build` runs): `kgpub serve --app-only --store`
  on the build, the RSS summed over its processes (uvicorn and its query workers) once ready, and
  after a full OAI-PMH harvest (Sickle) and the example queries through it.
- **embedded**: `kgpub serve` alone on the same build, measured the same way.
- **nginx**: `kgpub deploy nginx`'s configuration, 2 worker processes (one per core), after
  GETs of each entity's documents; RSS and PSS of the master and workers.

    python bench/deploy_memory.py --sizes 1000,10000,100000 --build-up-to 10000 \\
        --workdir /tmp/deploy-memory [--json out.json]

Everything runs on 127.0.0.1; RSS from /proc/PID/stat, PSS from /proc/PID/smaps_rollup.
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(HERE))

import floor  # noqa: E402  (bench/floor.py: the project's source files, parsed)
import generate  # noqa: E402
import httpx  # noqa: E402
import measure  # noqa: E402
import nginx as nginx_bench  # noqa: E402
import pyoxigraph as ox  # noqa: E402

from kgpub import layout  # noqa: E402
from kgpub.config import load_project  # noqa: E402
from kgpub.formats import NTRIPLES  # noqa: E402
from kgpub.publish import publish  # noqa: E402
from kgpub.sparql.examples import example_queries  # noqa: E402
from serverutil import running_server, server_pid  # noqa: E402
from storeutil import oxigraph_server  # noqa: E402

MIB = 1024 * 1024
NGINX_WORKERS = 2  # one per core of the machine the figures were measured on
QUERY_TIMEOUT_S = 60  # the store's own limit (--timeout-s); the client waits longer


# ---- processes and their memory ----------------------------------------------------------------


def session_of(pid: int) -> int:
    stat = Path(f"/proc/{pid}/stat").read_bytes()
    return int(stat[stat.rindex(b")") + 2:].split()[3])


def memory(url: str) -> dict:
    """RSS and PSS summed over the session of the process listening at url (a server started
    in a session of its own: its forked workers are counted; else the process alone)."""
    pid = server_pid(url)
    sid = session_of(pid)
    pids = measure.session_processes(sid) if sid != os.getsid(0) else {pid: _rss(pid)}
    return {"processes": len(pids), "rss": sum(pids.values()), "pss": measure.pss(pids),
            "each_rss": sorted(pids.values(), reverse=True)}


def _rss(pid: int) -> int:
    stat = Path(f"/proc/{pid}/stat").read_bytes()
    return int(stat[stat.rindex(b")") + 2:].split()[21]) * measure.PAGE


@contextlib.contextmanager
def peak_rss(pid: int) -> Iterator[dict]:
    """The largest RSS of pid seen while the block runs (sampled every 0.1 s)."""
    seen = {"peak": 0}
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            with contextlib.suppress(OSError):
                seen["peak"] = max(seen["peak"], _rss(pid))
            done.wait(0.1)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        yield seen
    finally:
        done.set()
        thread.join()


# ---- the graph, with or without a build ----------------------------------------------------------


def parsed_site(project: Path, out: Path) -> Path:
    """A directory holding only the N-Triples dump (where a build puts it) of the project's files
    parsed by pyoxigraph: what `kgpub publish` sends, without a build (no derived triples)."""
    dump = out / layout.dump_path(NTRIPLES)
    if not dump.is_file():
        store, _, _, _ = floor.parse(project)
        dump.parent.mkdir(parents=True, exist_ok=True)
        with gzip.open(dump, "wb", compresslevel=1) as f:
            store.dump(f, format=ox.RdfFormat.N_TRIPLES, from_graph=ox.DefaultGraph())
    return out


def built_site(project: Path, out: Path) -> tuple[Path, float]:
    if (out / layout.dump_path(NTRIPLES)).is_file():
        return out, 0.0
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "kgpub.cli", "build", "--project", str(project),
                    "--out", str(out)], check=True, stdout=subprocess.DEVNULL)
    return out, time.perf_counter() - started


# ---- the parts -----------------------------------------------------------------------------------


def run_examples(endpoint: str, base: str, graph: str | None = None) -> dict:
    """Every example query once: {slug: seconds, or None past QUERY_TIMEOUT_S}; `graph`: sent
    as default-graph-uri, straight to a store."""
    times: dict[str, float | None] = {}
    with httpx.Client(timeout=QUERY_TIMEOUT_S + 30) as client:
        for example in example_queries(base):
            data = {"query": example.query}
            if graph:
                data["default-graph-uri"] = graph
            accept = ("text/turtle" if "CONSTRUCT" in example.query
                      else "application/sparql-results+json")
            started = time.perf_counter()
            try:
                r = client.post(endpoint, data=data, headers={"Accept": accept})
                times[example.slug] = time.perf_counter() - started if r.is_success else None
            except httpx.TimeoutException:
                times[example.slug] = None
    return times


def measure_store(site: Path, base: str, on_disk: bool) -> dict:
    with contextlib.ExitStack() as stack:
        location = (Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="kgpub-ox-")))
                    if on_disk else None)
        with oxigraph_server(QUERY_TIMEOUT_S, location) as url:
            pid = server_pid(url)
            started = time.perf_counter()
            with peak_rss(pid) as seen:
                published = publish(site, f"{url}/query", f"{url}/store")
            loaded = {"seconds": time.perf_counter() - started, "rss": _rss(pid),
                      "peak": max(seen["peak"], _rss(pid)), "triples": published.triples}
            time.sleep(2)  # let the allocator settle after the load
            loaded["settled"] = _rss(pid)
            loaded["queries"] = run_examples(f"{url}/query", base, published.graph)
            loaded["after_queries"] = _rss(pid)
        if location is not None:
            loaded["disk"] = sum(p.stat().st_size for p in location.rglob("*") if p.is_file())
            print(json.dumps({"loaded": loaded}), flush=True)  # before the restart, slow
            loaded["restarted"] = _restarted(location, base, published.graph)
        return loaded


def _restarted(location: Path, base: str, graph: str) -> dict:
    """An on-disk store started again on what was loaded (a restart, or a replica of the
    files): what it holds once it has answered the example queries."""
    started = time.perf_counter()
    with oxigraph_server(QUERY_TIMEOUT_S, location, ready_s=600) as url:
        seconds = time.perf_counter() - started
        pid = server_pid(url)
        ready = _rss(pid)
        queries = run_examples(f"{url}/query", base, graph)
        return {"ready": ready, "ready_s": seconds, "queries": queries,
                "after_queries": _rss(pid)}


def harvest_all(oai: str) -> int:
    from sickle import Sickle

    return sum(1 for _ in Sickle(oai, timeout=120).ListRecords(metadataPrefix="oai_dc",
                                                                 ignore_deleted=False))


def measure_server(project: Path, site: Path, base: str, *extra: str) -> dict:
    """`kgpub serve` (with `extra` options) on the build: ready, then after a harvest and the
    example queries."""
    with running_server(project, site, *extra, ready_timeout=300) as url:
        time.sleep(1)
        ready = memory(url)
        records = harvest_all(f"{url}/oai")
        run_examples(f"{url}/sparql", base)
        return {"ready": ready, "used": memory(url), "records": records}


def measure_nginx(project: Path, site: Path) -> dict:
    paths = nginx_bench.document_paths(site, limit=2000)
    with nginx_bench.running(project, site, workers=NGINX_WORKERS) as url:
        started = memory(url)
        with httpx.Client(base_url=url, timeout=30) as client:
            for path in paths:
                client.get(path, headers={"Accept-Encoding": "gzip"})
        return {"started": started, "used": memory(url), "requests": len(paths)}


def measure_size(entries: int, workdir: Path, build: bool, modes: list[str]) -> dict:
    project = workdir / f"n{entries}"
    if not (project / "kgpub.toml").is_file():
        generate.main(["--entries", str(entries), "--out", str(project), "--seed", "1"])
    base = load_project(project).base
    row: dict = {"entries": entries}
    parsed = parsed_site(project, workdir / f"n{entries}-parsed")
    row["store_parsed"] = {}
    for mode in modes:
        row["store_parsed"][mode] = measure_store(parsed, base, mode == "disk")
        print(json.dumps({entries: {"store_parsed": {mode: row["store_parsed"][mode]}}}),
              flush=True)
    if build:
        site, seconds = built_site(project, workdir / f"n{entries}-site")
        row["build_s"] = seconds
        row["store_dump"] = {}
        for mode in modes:
            row["store_dump"][mode] = measure_store(site, base, mode == "disk")
            print(json.dumps({entries: {"store_dump": {mode: row["store_dump"][mode]}}}),
                  flush=True)
        with oxigraph_server(QUERY_TIMEOUT_S) as store:
            publish(site, f"{store}/query", f"{store}/store")
            row["replica"] = measure_server(project, site, base, "--app-only", "--store",
                                            f"{store}/query")
        row["embedded"] = measure_server(project, site, base)
        row["nginx"] = measure_nginx(project, site)
    return row


# ---- report --------------------------------------------------------------------------------------


def mib(n: int) -> str:
    return f"{n / MIB / 1024:.2f} GiB" if n >= 1024 * MIB else f"{n / MIB:.0f} MiB"


def _times(queries: dict) -> str:
    return ", ".join(f"{k} {'>' + str(QUERY_TIMEOUT_S) if v is None else f'{v:.1f}'} s"
                     for k, v in queries.items())


def report(rows: list[dict]) -> list[str]:
    lines = []
    for row in rows:
        n = row["entries"]
        for kind in ("store_parsed", "store_dump"):
            for mode, s in row.get(kind, {}).items():
                what = "files parsed" if kind == "store_parsed" else "build's dump"
                disk = f", {mib(s['disk'])} on disk" if "disk" in s else ""
                if "restarted" in s:
                    again = s["restarted"]
                    disk += (f"; started again: {mib(again['ready'])}, after queries "
                             f"{mib(again['after_queries'])} ({_times(again['queries'])})")
                lines.append(f"{n:>7,} oxigraph {mode:6} ({what}, {s['triples']:,} triples): "
                             f"loaded {mib(s['settled'])}, peak {mib(s['peak'])}, after "
                             f"queries {mib(s['after_queries'])}; load {s['seconds']:.1f} s, "
                             f"queries {_times(s['queries'])}{disk}")
        for part in ("replica", "embedded"):
            if part in row:
                r = row[part]
                lines.append(f"{n:>7,} {part:8} ready {mib(r['ready']['rss'])} "
                             f"({r['ready']['processes']} processes, PSS "
                             f"{mib(r['ready']['pss'])}), after harvest of {r['records']:,} "
                             f"records + queries {mib(r['used']['rss'])} "
                             f"(PSS {mib(r['used']['pss'])})")
        if "nginx" in row:
            g = row["nginx"]
            lines.append(f"{n:>7,} nginx    {g['used']['processes']} processes, RSS "
                         f"{mib(g['used']['rss'])} (each {', '.join(map(mib, g['used']['each_rss']))}),"
                         f" PSS {mib(g['used']['pss'])} after {g['requests']:,} GETs "
                         f"(started: RSS {mib(g['started']['rss'])})")
    return lines


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--sizes", default="1000,10000,100000")
    p.add_argument("--build-up-to", type=int, default=10000,
                   help="run kgpub build (and measure replica, embedded, nginx) up to this size")
    p.add_argument("--workdir", type=Path, required=True)
    p.add_argument("--modes", default="memory,disk", help="the store in memory, on disk")
    p.add_argument("--json", type=Path)
    a = p.parse_args(argv)
    a.workdir.mkdir(parents=True, exist_ok=True)
    rows = []
    for entries in (int(s) for s in a.sizes.split(",")):
        rows.append(measure_size(entries, a.workdir, entries <= a.build_up_to,
                                a.modes.split(",")))
        print("\n".join(report(rows[-1:])), flush=True)
    if a.json:
        a.json.write_text(json.dumps(rows, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
