"""Smoke tests of the benchmark's comparisons with the peers (bench/hugo.py,
bench/oxigraph_peer.py) on a 60-entry project, each skipped when its peer is absent."""

from __future__ import annotations

import importlib
import re
import subprocess
import sys
from pathlib import Path

import pytest

from kgpub.config import load_project
from kgpub.site import build
from kgpub.sparql.examples import example_queries
from kgtest import bench_generator
from serverutil import running_server

REPO = Path(__file__).resolve().parents[1]

# ---- side by side with the peers (bench/hugo.py, bench/oxigraph_peer.py) on a tiny project ------

PEER_ENTRIES = 60


def bench_module(name: str):
    """A module of bench/ (they import their siblings by name, so bench/ goes on the path)."""
    bench = str(REPO / "bench")
    if bench not in sys.path:
        sys.path.insert(0, bench)
    return importlib.import_module(name)


@pytest.fixture(scope="module")
def tiny_project(tmp_path_factory):
    root = tmp_path_factory.mktemp("peers") / "project"
    bench_generator().generate(PEER_ENTRIES, root, seed=1)
    return root


def rendered(key: str, data: dict) -> str:
    """RESULTS.md as bench/run.py renders it with this section's data (and nothing else)."""
    run = bench_module("run")
    return run.render_report({"meta": {}, "sizes": {str(PEER_ENTRIES): {
        key: {"status": "ok", **data}}}})


def test_hugo_site_is_the_equivalent_site(tiny_project, tmp_path):
    hugo = bench_module("hugo")
    if hugo.hugo_command() is None:
        pytest.skip(hugo.MISSING)
    site, out = tmp_path / "hugo-site", tmp_path / "out"
    bench_module("hugo_site").build(tiny_project, site)
    subprocess.run([hugo.hugo_command(), "--destination", str(out)], cwd=site, check=True,
                   capture_output=True, timeout=120)
    entry = sorted((site / "content" / "en" / "resource").glob("[!_]*.md"))[0].stem
    for lang in ("", "fr/", "es/"):  # a page per entry in three languages
        assert (out / f"{lang}resource/{entry}.html").is_file(), lang
    for ext in ("ttl", "jsonld", "nt", "rdf", "bib", "ris"):  # RDF documents and citations
        assert (out / f"resource/{entry}.{ext}").stat().st_size > 0, ext
    # taxonomies with paginated term pages (20 a page), in every language
    assert list(out.glob("topics/*/page/2.html")) and list(out.glob("fr/topics/*/page/2.html"))


def test_hugo_beside_kgpub_full_build_and_rebuild(tiny_project, tmp_path):
    hugo = bench_module("hugo")
    if hugo.hugo_command() is None:
        pytest.skip(hugo.MISSING)
    sources = {p: p.read_bytes() for p in sorted(tiny_project.rglob("*.ttl"))}
    data = hugo.compare(tiny_project, tmp_path / "work", runs=1, edits=2, timeout=120,
                        log=lambda _msg: None)
    assert [r["tool"] for r in data["full"]] == ["kgpub", "hugo"]
    assert [r["tool"] for r in data["rebuild"]] == ["kgpub", "hugo", "hugo", "kgpub"]  # in turn
    # the edited title reached every language's page of both outputs, and the data is restored
    assert all(r["shown"] == ["en", "fr", "es"] for r in data["rebuild"]), data["rebuild"]
    assert {p: p.read_bytes() for p in sorted(tiny_project.rglob("*.ttl"))} == sources
    # Hugo's live preview (`hugo server`) too, timed until the title is on disk in every language
    assert [r["shown"] for r in data["server"]["runs"]] == [["en", "fr", "es"]] * 2
    assert data["server_ratio_wall"] == pytest.approx(
        data["rebuild_kgpub_wall"] / data["server"]["wall"])
    assert data["server"]["peak"] > 0
    for kind in ("full", "rebuild"):
        for key in ("wall", "peak"):
            assert data[f"{kind}_ratio_{key}"] == pytest.approx(
                data[f"{kind}_kgpub_{key}"] / data[f"{kind}_hugo_{key}"])
            assert data[f"{kind}_kgpub_{key}"] > 0 and data[f"{kind}_hugo_{key}"] > 0
    assert data["outputs"]["kgpub"]["html"] > PEER_ENTRIES * 3
    assert data["outputs"]["hugo"]["html"] > PEER_ENTRIES * 3
    assert not list((tmp_path / "work").iterdir())  # outputs and the Hugo site removed
    report = rendered("peer_hugo", data)
    section = report.split("### Side by side: Hugo\n", 1)[1]
    full = next(line for line in section.splitlines() if line.startswith("| full build |"))
    assert f"{data['full_ratio_wall']:.2f}x" in full
    for figure in ("full build, time kgpub/Hugo", "rebuild after one edit, time kgpub/`hugo`",
                   "rebuild after one edit, time kgpub/`hugo server`"):
        assert re.search(re.escape(f"| {figure} | ≤ 0.5x Hugo | ") + r"[\d.]+x \*\*(met|missed)",
                         report), figure


def test_oxigraph_server_beside_kgpub_sparql(tiny_project, tmp_path):
    peer = bench_module("oxigraph_peer")
    if peer.sparql_queue.oxigraph_command() is None:
        pytest.skip(peer.MISSING)
    project = load_project(tiny_project)
    site = build(project, tmp_path / "site").out
    examples = example_queries(project.base)
    with running_server(tiny_project, site) as url:
        data = peer.compare(url, site / "dumps" / "dataset.nt.gz", examples, runs=3, budget=3,
                            log=lambda _msg: None)
    assert [r["query"] for r in data["rows"]] == [ex.slug for ex in examples]
    for r in data["rows"]:  # both answered the same, and not with nothing
        assert r["answer_kgpub"] == r["answer_oxigraph"] > 0, r
        assert r["kgpub"] > 0 and r["oxigraph"] > 0 and r["runs"] >= 3
        assert r["ratio"] == pytest.approx(r["kgpub"] / r["oxigraph"])
    assert data["same_answers"]
    report = rendered("peer_oxigraph", data)
    section = report.split("### Side by side: Oxigraph server\n", 1)[1]
    for r in data["rows"]:
        assert f"| {r['query']} |" in section and f"{r['ratio']:.2f}x" in section
    assert "SPARQL examples, worst ratio kgpub/Oxigraph | ≤ 1x Oxigraph" in report
