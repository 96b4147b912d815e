"""bench/generate.py: synthetic projects that are deterministic for a seed, that kgpub validates and
builds, and whose injected violations the validator reports exactly as violations.json says.

The three CLI runs (validate clean, validate broken, build) start together as subprocesses and run
while the in-process validation does: on two cores that halves the module's time.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from kgpub.config import load_project
from kgpub.load import load_sources
from kgpub.validate import validate_sources
from kgtest import bench_generator, tree_bytes

REPO = Path(__file__).resolve().parents[1]
KGPUB = Path(sys.executable).with_name("kgpub")
VALIDATED_ENTRIES = 150


gen = bench_generator()


def run_main(*args) -> None:
    assert gen.main([str(a) for a in args]) == 0


# ---- determinism and shape ------------------------------------------------------------------------


def test_same_seed_gives_the_same_bytes(tmp_path, capsys):
    run_main("--entries", 300, "--out", tmp_path / "a", "--seed", 5, "--violations", 8)
    summary = capsys.readouterr().out
    assert summary.count("\n") == 1 and "300 entries" in summary and "topics" in summary
    run_main("--entries", 300, "--out", tmp_path / "b", "--seed", 5, "--violations", 8)
    a, b = tree_bytes(tmp_path / "a"), tree_bytes(tmp_path / "b")
    assert a.keys() == b.keys()
    assert [k for k in a if a[k] != b[k]] == []
    # Regenerating into the same directory replaces the earlier project completely.
    run_main("--entries", 300, "--out", tmp_path / "b", "--seed", 5, "--violations", 8)
    assert tree_bytes(tmp_path / "b") == a


def test_another_seed_gives_other_data(tmp_path):
    run_main("--entries", 300, "--out", tmp_path / "a", "--seed", 5)
    run_main("--entries", 300, "--out", tmp_path / "b", "--seed", 6)
    a, b = tree_bytes(tmp_path / "a"), tree_bytes(tmp_path / "b")
    assert a["data/topics.ttl"] != b["data/topics.ttl"]
    entries_a = b"".join(v for k, v in a.items() if k.startswith("data/entries/"))
    entries_b = b"".join(v for k, v in b.items() if k.startswith("data/entries/"))
    assert entries_a != entries_b
    # The copied parts do not depend on the seed.
    for part in ("ontology/sphr.ttl", "shapes/shapes.ttl"):
        assert a[part] == b[part] == (REPO / part).read_bytes()


def test_layout_and_counts(tmp_path):
    result = gen.generate(2500, tmp_path / "p", seed=3)
    files = tree_bytes(tmp_path / "p")
    for name in ("kgpub.toml", "data/topics.ttl", "data/agents.ttl", "data/places.ttl",
                 "data/instruments.ttl"):
        assert name in files
    assert "violations.json" not in files
    entry_files = [k for k in files if k.startswith("data/entries/")]
    per_file = {k: files[k].count(b"\nresource:") for k in entry_files}
    assert sum(per_file.values()) == 2500 == len(result.live) + len(result.tombstones)
    assert max(per_file.values()) <= 1000
    types = {"expert-commentary", "report", "article", "policy-paper", "guide", "publication"}
    for k in entry_files:
        _data, _entries, type_dir, name = k.split("/")
        assert type_dir in types
        year, n = name.removesuffix(".ttl").rsplit("-", 1)
        assert (year == "undated" or 2000 <= int(year) <= 2024) and int(n) >= 1
    assert result.topics == 2500 // 50 and len(result.tombstones) == 25
    topics = files["data/topics.ttl"].decode()
    assert topics.count("skos:topConceptOf <topics>") >= 3
    assert "foaf:Organization" in files["data/agents.ttl"].decode()
    assert "dcterms:isPartOf" in files["data/places.ttl"].decode()


def test_refuses_to_overwrite_a_directory_it_did_not_write(tmp_path, capsys):
    (tmp_path / "notes.txt").write_text("keep me")
    assert gen.main(["--entries", "10", "--out", str(tmp_path)]) == 2
    assert (tmp_path / "notes.txt").read_text() == "keep me"
    assert "not empty" in capsys.readouterr().err


# ---- validation and build ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def projects(tmp_path_factory):
    """A clean and a broken project, and the three CLI runs on them started in parallel."""
    root = tmp_path_factory.mktemp("generated")
    clean, broken = root / "clean", root / "broken"
    clean_result = gen.generate(VALIDATED_ENTRIES, clean, seed=11)
    gen.generate(VALIDATED_ENTRIES, broken, seed=11, violations=8)

    def start(*args):
        return subprocess.Popen([str(KGPUB), *map(str, args)], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)

    runs = {
        "validate-clean": start("validate", "--project", clean),
        "validate-broken": start("validate", "--project", broken, "--format", "json"),
        "build-clean": start("build", "--project", clean, "--out", clean / "site"),
    }
    yield {"clean": clean, "broken": broken, "clean_result": clean_result, "runs": runs}
    for proc in runs.values():
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def finished(projects, name) -> tuple[int, str, str]:
    proc = projects["runs"][name]
    out, err = proc.communicate(timeout=120)
    return proc.returncode, out, err


def manifest_of(project: Path) -> list[dict]:
    data = json.loads((project / "violations.json").read_text(encoding="utf-8"))
    assert data["count"] == len(data["violations"])
    return data["violations"]


def test_the_manifest_lists_distinct_rules_in_distinct_entities(projects):
    violations = manifest_of(projects["broken"])
    assert len(violations) == 8
    assert len({v["kind"] for v in violations}) == 8
    assert len({v["focus"] for v in violations}) == 8
    assert {v["path"] for v in violations} >= {"dcterms:title", "dcterms:type", "dcterms:subject",
                                               "dcterms:date", "dcterms:creator", "foaf:page"}
    for v in violations:
        lines = (projects["broken"] / v["file"]).read_text(encoding="utf-8").splitlines()
        assert lines[v["line"] - 1].startswith("resource:")


def test_validator_reports_exactly_the_manifest(projects):
    report = validate_sources(load_sources(load_project(projects["broken"])))
    violations = manifest_of(projects["broken"])
    assert {(p.focus, p.path) for p in report.violations} == \
        {(v["focus"], v["path"]) for v in violations}
    # Stricter: one problem a violation, its rules together, at the line of the statement at
    # fault (the manifest's statement_line; a control character is also one XML forbids).
    also = {"control-character": {"kgpub:XmlCharacter"}}
    expected = Counter((v["focus"], v["path"], frozenset(v["rules"]) | also.get(v["kind"], set()),
                        v["file"], v["statement_line"]) for v in violations)
    assert Counter((p.focus, p.path, frozenset(p.rule.split(", ")), p.file, p.line)
                   for p in report.violations) == expected


def test_cli_validate_exits_1_on_the_broken_project(projects):
    code, out, _err = finished(projects, "validate-broken")
    assert code == 1
    report = json.loads(out)
    assert report["conforms"] is False
    assert {(p["focus"], p["path"]) for p in report["violations"]} == \
        {(v["focus"], v["path"]) for v in manifest_of(projects["broken"])}


def test_cli_validate_exits_0_on_the_clean_project(projects):
    code, out, err = finished(projects, "validate-clean")
    assert code == 0, out + err
    assert "0 violation(s)" in out
    assert "warning" in out  # entries without a date, topics without a definition


def test_cli_build_writes_a_page_per_entry(projects):
    code, out, err = finished(projects, "build-clean")
    assert code == 0, out + err
    site = projects["clean"] / "site"
    result = projects["clean_result"]
    base = load_project(projects["clean"]).base
    pages = {p.stem: p.read_text(encoding="utf-8") for p in (site / "resource").glob("*.html")}
    live = {iri.removeprefix(base + "resource/") for iri in result.live}
    withdrawn = {iri.removeprefix(base + "resource/") for iri in result.tombstones}
    assert len(live) == VALIDATED_ENTRIES - len(withdrawn) and withdrawn
    assert pages.keys() == live | withdrawn
    assert all('<article class="entry">' in pages[slug] for slug in live)
    assert all('class="entry tombstone"' in pages[slug] for slug in withdrawn)
