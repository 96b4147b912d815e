"""How long a running `kgpub serve` takes to switch to a newly published build, and what it
costs in memory meanwhile.

    python bench/switch.py --project P --site S [--runs 3]

Serves S (built from P), then per run: edits one entry title in P, runs `kgpub build`, and
measures from the moment the build has published (the command returned) until the server
answers from the new build (its Kgpub-Build header), while sampling the summed RSS of the
server process and its query workers. Requests are sent all along (one client, GET /): the
count of failed ones is reported (it must be 0). Prints one JSON object."""

from __future__ import annotations

import argparse
import json
import re
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from serverutil import KGPUB, running_server, server_pid  # noqa: E402


def tree_rss(pid: int) -> int:
    """RSS of a process and its children (the query workers), bytes."""
    total = 0
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            stat = (proc / "stat").read_text()
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            if int(proc.name) != pid and ppid != pid:
                continue
            for line in (proc / "status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024
        except (OSError, ValueError, IndexError):
            continue
    return total


def sample(pid: int, peak: list[int], stop: threading.Event) -> None:
    while not stop.is_set():
        peak.append(tree_rss(pid))
        time.sleep(0.1)


def build_of(url: str) -> str:
    with urllib.request.urlopen(url + "/", timeout=30) as r:
        r.read()
        return r.headers.get("Kgpub-Build", "")


def edit_a_title(project: Path, run: int) -> None:
    for path in sorted((project / "data").rglob("*.ttl")):
        text = path.read_text()
        match = re.search(r'dcterms:title "([^"]+)"@en', text)
        if match:
            new = f"{match.group(1)} (edit {run})"
            path.write_text(text.replace(match.group(0), f'dcterms:title "{new}"@en', 1))
            return
    raise SystemExit("no dcterms:title to edit")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--project", type=Path, required=True)
    ap.add_argument("--site", type=Path, required=True)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    results = []
    with running_server(args.project, args.site, ready_timeout=300) as url:
        pid = server_pid(url)
        time.sleep(1)
        idle = tree_rss(pid)
        for run in range(args.runs):
            before = build_of(url)
            edit_a_title(args.project, run)
            started = time.monotonic()
            subprocess.run(KGPUB + ["build", "--project", str(args.project), "--out",
                                    str(args.site)], check=True, capture_output=True)
            published = time.monotonic()
            peak, failures, stop = [idle], [0], threading.Event()

            sampler = threading.Thread(target=sample, args=(pid, peak, stop))
            sampler.start()
            try:
                while True:
                    try:
                        now = build_of(url)
                    except OSError:
                        failures[0] += 1
                        continue
                    if now != before:
                        break
                    if time.monotonic() - published > 600:
                        raise SystemExit("the server did not switch within 600 s")
                switched = time.monotonic()
            finally:
                stop.set()
                sampler.join()
            results.append({"build_s": round(published - started, 2),
                            "switch_s": round(switched - published, 2),
                            "peak_rss_mib": round(max(peak) / 2**20),
                            "failed_requests": failures[0]})
            time.sleep(2)  # the old build's workers stop
        after = tree_rss(pid)
    print(json.dumps({
        "idle_rss_mib": round(idle / 2**20), "after_rss_mib": round(after / 2**20),
        "switch_s_median": statistics.median(r["switch_s"] for r in results),
        "peak_rss_mib_max": max(r["peak_rss_mib"] for r in results),
        "failed_requests": sum(r["failed_requests"] for r in results),
        "runs": results,
    }, indent=1))


if __name__ == "__main__":
    main()
