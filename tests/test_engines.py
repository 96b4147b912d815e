"""The two SHACL engines: `fast` (the Rust `shacl` package) reports exactly what `pyshacl`, the
reference, reports - the same problems (focus, path, severity, message, value, hint, rule, file,
line) on the bundled data, on every bad-data case of test_shapes.py (shapecases.py), on cases that stress the
fast engine's input (blank nodes, ill-typed and normalised literals), and on a generated project
with injected violations. Plus how an engine is chosen, and the CLI's --engine option.

pySHACL is the slow part (~0.3 s a batch here), so each project is validated once per engine.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from pathlib import Path

import pytest

from kgpub import shacl_engines
from kgpub.config import load_project
from kgpub.load import load_sources
from kgpub.validate import EngineError, validate_sources
from kgtest import BASE, PREFIXES, REPO, append_file, copy_project, run_cli
from shapecases import CASES, ENTRIES, run_batch


def both(root: Path):
    """(pyshacl report, fast report) of a project."""
    sources = load_sources(load_project(root))
    reference = validate_sources(sources, engine="pyshacl")
    fast = validate_sources(sources, engine="fast")
    assert (reference.engine, fast.engine) == ("pyshacl", "fast")
    return reference, fast


def rows(report, focus=None) -> set[tuple]:
    return {
        (p.focus, p.path, p.severity, p.message, p.rule, p.value, p.hint, p.file, p.line)
        for p in report.problems
        if focus is None or p.focus == focus
    }


def assert_same(reference, fast, focus=None):
    ref, got = rows(reference, focus), rows(fast, focus)
    assert got == ref, (
        f"only pyshacl: {sorted(ref - got)}\nonly fast: {sorted(got - ref)}"
    )


def test_fast_engine_is_installed_and_passes_its_self_check():
    assert shacl_engines.fast_engine_status() is None


def test_bundled_data_same_report(bundled_sources):
    reference = validate_sources(bundled_sources, engine="pyshacl")
    fast = validate_sources(bundled_sources, engine="fast")
    assert_same(reference, fast)
    assert fast.problems == reference.problems  # same order too
    assert fast.to_text() == reference.to_text() and fast.to_json() == reference.to_json()
    assert fast.conforms and len(fast.warnings) == 9


# ---- every bad-data case of test_shapes.py ------------------------------------------------------


@pytest.fixture(scope="module")
def shape_batches(tmp_path_factory):
    """Both engines over test_shapes.py's batch projects, by batch name."""
    out = {}
    for name in sorted({c.batch for c in CASES}):
        root = tmp_path_factory.mktemp(f"engines-{name}") / "project"
        run_batch(root, [c for c in CASES if c.batch == name])
        out[name] = both(root)
    return out


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_shape_case_same_problems(shape_batches, case):
    reference, fast = shape_batches[case.batch]
    assert_same(reference, fast, case.focus)
    expected = {(severity, fragment) for severity, _path, fragment, *_at in case.expected}
    assert len(rows(reference, case.focus)) >= len(expected), "the case's defect is found"


def test_shape_batches_same_reports(shape_batches):
    for reference, fast in shape_batches.values():
        assert_same(reference, fast)
        assert fast.to_text() == reference.to_text()


# ---- what is hard for the fast engine's input ---------------------------------------------------

EXTRA = """
[ a sphr:Publication ;
  dcterms:title "Anonymous entry"@en ;
  dcterms:type type:report ;
  dcterms:creator [ a foaf:Person ] , [ foaf:name "Nobody" ] ;
  dcterms:subject topic:institutional-capacity-and-coordination ] .

resource:case-engine-literals a sphr:Publication ;
    dcterms:title "Literals"@en ;
    dcterms:abstract "Summary."@en ;
    dcterms:type type:report ;
    dcterms:subject topic:institutional-capacity-and-coordination ;
    dcterms:date "2016-13-45"^^xsd:date ;
    owl:deprecated "01"^^xsd:integer ;
    dcterms:modified "2024-02-30T10:00:00Z"^^xsd:dateTime ;
    dcterms:spatial [ rdfs:label "Nowhere"@en ] ;
    sphr:concerns "a string" , <https://example.org/x> ;
    foaf:page <https://example.org/\u00e9t\u00e9> , <mailto:someone@example.org> .

[] a foaf:Image ; dcterms:title "Untitled" .

resource:case-engine-nested a sphr:Publication ;
    dcterms:title "N"@en , "N2"@en , "N3"@fr , "N4"@fr ;
    dcterms:abstract "Summary."@en ;
    dcterms:type type:report ;
    dcterms:subject topic:institutional-capacity-and-coordination , [ a sphr:Topic ] ;
    dcterms:date "2016"^^xsd:gYear , "2016-01-01"^^xsd:date .
"""


@pytest.fixture(scope="module")
def extra(tmp_path_factory):
    """(project root, pyshacl report, fast report) of the bundled data plus EXTRA."""
    root = copy_project(tmp_path_factory.mktemp("engines-extra") / "project")
    append_file(root / ENTRIES, PREFIXES + EXTRA)
    return (root, *both(root))


def test_blank_nodes_literals_and_nesting_same_report(extra):
    _root, reference, fast = extra
    assert_same(reference, fast)
    by_rule = {(p.focus, p.path, p.rule): p for p in fast.problems}
    literals = BASE + "resource/case-engine-literals"
    # pySHACL reports a valid literal's lexical form as rdflib normalises it; so does fast
    assert by_rule[(literals, "owl:deprecated", "sh:DatatypeConstraintComponent")].value == "'1'"
    # an ill-typed value: kgpub's own check says what is wrong, once (the shape's sh:or on its
    # datatype, which the engines may or may not notice, is left out)
    date = by_rule[(literals, "dcterms:date", "kgpub:InvalidLiteral")]
    assert date.value == "'2016-13-45'" and "there is no month 13" in date.message
    modified = by_rule[(literals, "dcterms:modified", "kgpub:InvalidLiteral")]
    assert "February 2024 has 29 days" in modified.message
    page = by_rule[(literals, "foaf:page",
                    "sh:OrConstraintComponent, sh:PatternConstraintComponent")]
    assert page.value == "mailto:someone@example.org"  # two shapes, one problem
    blank = [p for p in fast.problems if ":" not in p.focus]
    assert len({p.focus for p in blank}) == 5  # entry, two creators, image, topic: traced back
    assert {p.file for p in blank} == {ENTRIES}
    assert by_rule[(literals, "dcterms:spatial", "sh:ClassConstraintComponent")].value.startswith("'f")


def test_blank_node_numbering_is_checked(extra, monkeypatch, caplog):
    """If the engine does not number blank nodes as kgpub expects, results naming blank nodes
    are refused (fast) and auto falls back to pySHACL."""
    root, reference, _fast = extra
    real = shacl_engines._blank_nodes
    monkeypatch.setattr(shacl_engines, "_blank_nodes", lambda sources: real(sources)[1:])
    sources = load_sources(load_project(root))
    with pytest.raises(EngineError, match="blank node"):
        validate_sources(sources, engine="fast")
    with caplog.at_level(logging.WARNING, logger="kgpub.shacl_engines"):
        fallback = validate_sources(sources)
    assert fallback.engine == "pyshacl" and "pySHACL" in caplog.text
    assert_same(reference, fallback)


# ---- a generated project with injected violations ----------------------------------------------


def test_generated_project_with_violations_same_report(tmp_path):
    out = tmp_path / "generated"
    subprocess.run(
        [sys.executable, str(REPO / "bench" / "generate.py"), "--entries", "150", "--out", str(out),
         "--seed", "1", "--violations", "12"],
        check=True, capture_output=True,
    )
    reference, fast = both(out)
    assert_same(reference, fast)
    injected = json.loads((out / "violations.json").read_text(encoding="utf-8"))["violations"]
    assert len(injected) == 12
    # One problem a violation, its rules together (a javascript: page breaks two shapes; a
    # vertical tab is a control character for shape:Literals and one XML forbids for kgpub),
    # at the line of the statement at fault (the subject's when one is missing: the manifest's
    # statement_line is then the subject's line).
    also = {"control-character": {"kgpub:XmlCharacter"}}
    expected = {(v["focus"], v["path"], frozenset(v["rules"]) | also.get(v["kind"], set()),
                 v["file"], v["statement_line"]) for v in injected}
    for report in (reference, fast):
        assert {(p.focus, p.path, frozenset(p.rule.split(", ")), p.file, p.line)
                for p in report.violations} == expected


# ---- choosing an engine -----------------------------------------------------------------------


def test_auto_is_the_fast_engine(bundled_sources):
    assert validate_sources(bundled_sources).engine == "fast"
    assert validate_sources(bundled_sources, engine="auto").engine == "fast"


def test_unknown_engine_is_an_error(bundled_sources):
    with pytest.raises(EngineError, match="unknown SHACL engine"):
        validate_sources(bundled_sources, engine="topbraid")


def test_auto_falls_back_when_fast_is_unavailable(bundled_sources, monkeypatch):
    monkeypatch.setattr(shacl_engines, "fast_engine_status", lambda: "not installed")
    report = validate_sources(bundled_sources)
    assert report.engine == "pyshacl" and len(report.warnings) == 9
    with pytest.raises(EngineError, match="not installed"):
        validate_sources(bundled_sources, engine="fast")


def test_auto_falls_back_when_fast_fails(bundled_sources, monkeypatch, caplog):
    def broken(self, sources):
        raise ValueError("parse error")

    monkeypatch.setattr(shacl_engines.FastEngine, "findings", broken)
    with caplog.at_level(logging.WARNING, logger="kgpub.shacl_engines"):
        report = validate_sources(bundled_sources)
    assert report.engine == "pyshacl" and "parse error" in caplog.text


def test_auto_uses_pyshacl_for_sparql_constraints(tmp_path):
    """SPARQL-based constraints get messages from pySHACL that the fast engine does not give."""
    root = copy_project(tmp_path / "project")
    append_file(root / "shapes" / "shapes.ttl", """
shape:NoSelfBroader a sh:NodeShape ;
    sh:targetClass sphr:Topic ;
    sh:sparql [ sh:select "SELECT $this WHERE { $this <http://www.w3.org/2004/02/skos/core#broader> $this }" ] .
""")
    sources = load_sources(load_project(root))
    assert shacl_engines.unverified_features(sources) == {"sh:sparql", "sh:select"}
    report = validate_sources(sources)
    assert report.engine == "pyshacl" and report.conforms


# ---- the command line ---------------------------------------------------------------------------


def test_cli_validate_engine_option():
    outputs = {}
    for engine in ("fast", "pyshacl", "auto"):
        result = run_cli("validate", "--project", REPO, "--engine", engine)
        assert result.exit_code == 0, result.output
        outputs[engine] = result.output
    assert outputs["fast"] == outputs["pyshacl"] == outputs["auto"]
    bad = run_cli("validate", "--project", REPO, "--engine", "nope")
    assert bad.exit_code == 2


def test_cli_build_engine_option(tmp_path):
    result = run_cli("build", "--project", REPO, "--out", tmp_path / "site", "--engine", "pyshacl")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "site" / "index.html").is_file()
    assert "--engine [auto|fast|pyshacl]" in run_cli("build", "--help").output
