"""Smoke test of the benchmark harness: `bench/run.py --quick` on a 60-entry project writes a
report with every section measured (numbers, no error or skipped lines). The comparisons with
the peers are in test_bench_peers.py (a module of their own, so that pytest-xdist runs them
beside this one)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
ENTRIES = 60
SECTIONS = ["## Machine", "## Versions", "## Summary", "### Project", "### Full build",
            "### Validation", "### Incremental rebuild", "### Server start-up",
            "### SPARQL latency", "### Load", "### OAI-PMH harvest"]
NUMBER = re.compile(r"\d[\d,]*(\.\d+)? ?(s|ms|MiB|GiB|x|req/s|/s)\b")


def sections(report: str) -> dict[str, str]:
    found = {}
    for heading in SECTIONS:
        start = report.index(heading + "\n")
        rest = report[start + len(heading) + 1:]
        end = re.search(r"^#{2,3} ", rest, re.M)
        found[heading] = rest[: end.start()] if end else rest
    return found


def test_quick_bench_writes_every_section(tmp_path):
    out = tmp_path / "RESULTS.md"
    # A small project (every kind of entry, 10 injected violations) and half a second of load:
    # what is checked is that every section runs and is reported, not the figures (~30 s
    # alone; 200 entries and 2 s of load took ~50 s).
    proc = subprocess.run(
        [sys.executable, str(REPO / "bench" / "run.py"), "--quick", "--sizes", str(ENTRIES),
         "--runs", "1", "--load-seconds", "0.5", "--out", str(out),
         "--workdir", str(tmp_path / "work")],
        capture_output=True, text=True, timeout=300, cwd=REPO)  # a hang guard
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = out.read_text(encoding="utf-8")
    assert f"## {ENTRIES} entries" in report
    for heading, text in sections(report).items():
        assert "**error**" not in text and "not run" not in text, (heading, text)
        # Only the pySHACL comparison may be skipped (when kgpub has no --engine pyshacl).
        skipped = [line for line in text.splitlines() if "*skipped*" in line]
        assert all(line.startswith("- pyshacl:") for line in skipped), (heading, text)
        if heading not in ("## Machine", "## Versions", "### Project"):
            assert NUMBER.search(text), (heading, text)
    # every figure of the summary has a value and a verdict
    summary = sections(report)["## Summary"]
    rows = [line for line in summary.splitlines()
            if line.startswith("| ") and "figure" not in line and "---" not in line]
    assert len(rows) >= 11
    for row in rows:
        assert re.search(r"\*\*(met|missed)\*\*", row), row
    for needle in ("CPU", "memory", "pyoxigraph", "pyshacl", "rdflib", "jinja2", "uvicorn",
                   "fast SHACL engine", "git "):
        assert needle in report, needle
    data = json.loads(out.with_suffix(".json").read_text(encoding="utf-8"))
    size = data["sizes"][str(ENTRIES)]
    for key in ("project", "build", "floor", "server", "sparql", "load_303", "load_docs", "oai",
                "validate", "incremental"):
        assert size[key]["status"] == "ok", (key, size[key])
    assert size["pyshacl"]["status"] in ("ok", "skipped"), size["pyshacl"]
    assert size["oai"]["records"] == size["oai"]["expected"] == ENTRIES
    assert size["incremental"]["changed"] >= 1
    assert size["validate"]["violations"] >= 10
