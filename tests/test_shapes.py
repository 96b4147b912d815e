"""SHACL shapes: the bundled data conforms, and each rule of shapes/shapes.ttl catches its own
kind of bad data, reported with severity, focus, path, message and file:line: the line of the
statement at fault (a wrong value, one value too many), or where the entity's subject is
written when a statement is missing or the IRI itself is wrong. Problems several rules find in
one statement are reported once. The cases are in shapecases.py (test_engines.py runs them too).

Validation costs ~1.5 s per project, so the bad-data cases are batched: every case adds (or
edits) its own entity with a single defect, all cases go into one copy of the project, and
each case then checks the problems reported for *its* focus node exactly (no missing, no extra
problem), so batching keeps every assertion precise. A final test checks that the batch has no
problem that no case accounts for.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from kgtest import BASE, append_file, copy_project, validate_project
from shapecases import CASES, ENTRIES, Batch, Case, V, run_batch

CASE_IDS = [c.id for c in CASES]
CASE_PARAMS = [
    pytest.param(
        c, id=c.id, marks=[pytest.mark.xfail(reason=c.xfail, strict=True)] if c.xfail else []
    )
    for c in CASES
]
assert len(set(CASE_IDS)) == len(CASE_IDS)
assert len({c.focus for c in CASES}) == len(CASES), "each case has its own focus node"


def matches(problem, severity, path, fragment, *_at) -> bool:
    paths = path if isinstance(path, set) else {path}
    return problem.severity == severity and problem.path in paths and fragment in problem.message


def expected_line(root: Path, case: Case, subject_at: int, at: str | None) -> int:
    """The line a problem of the case points at: the subject's, or the first line from it on
    holding `at` (the statement at fault)."""
    if at is None:
        return subject_at
    lines = (root / case.file).read_text(encoding="utf-8").splitlines()
    return next(n for n in range(subject_at, len(lines) + 1) if at in lines[n - 1])


@pytest.fixture(scope="module")
def main_batch(tmp_path_factory) -> Batch:
    cases = [c for c in CASES if c.batch == "main"]
    return run_batch(tmp_path_factory.mktemp("shapes") / "project", cases)


@pytest.fixture(scope="module")
def node_batch(tmp_path_factory) -> Batch:
    cases = [c for c in CASES if c.batch == "node"]
    return run_batch(tmp_path_factory.mktemp("shapes-node") / "project", cases)


@pytest.fixture
def batch(main_batch):
    return main_batch


def test_bundled_data_conforms(bundled_report):
    assert bundled_report.conforms
    assert bundled_report.violations == []


def test_bundled_warnings_are_exactly_the_missing_dates_and_definition(kg, bundled_report):
    from rdflib import URIRef
    from rdflib.namespace import DCTERMS, SKOS

    entries = {s for s in kg.subjects(DCTERMS.subject, None)}
    undated = {str(e) for e in entries if (e, DCTERMS.date, None) not in kg}
    topics = set(kg.subjects(SKOS.inScheme, URIRef(BASE + "topics")))
    undefined = {str(t) for t in topics if (t, SKOS.definition, None) not in kg}
    expected = {(e, "dcterms:date") for e in undated} | {(t, "skos:definition") for t in undefined}
    assert len(undated) == 8 and undefined == {
        BASE + "topic/governance-accountability-and-democracy"
    }
    got = {(w.focus, w.path) for w in bundled_report.warnings}
    assert got == expected
    assert all(w.severity == "warning" for w in bundled_report.warnings)


def test_bundled_warnings_point_at_subject_lines(bundled_report):
    from kgtest import REPO

    for w in bundled_report.warnings:
        line = (REPO / w.file).read_text(encoding="utf-8").splitlines()[w.line - 1]
        local = w.focus.rsplit("/", 1)[-1]
        assert line.split()[0].endswith(":" + local), (w.file, w.line, line)


@pytest.mark.parametrize("case", CASE_PARAMS)
def test_shape_case(request, case):
    batch = request.getfixturevalue(f"{case.batch}_batch")
    problems = [p for p in batch.report.problems if p.focus == case.focus]
    remaining = list(problems)
    for severity, path, fragment, *at in case.expected:
        hit = next((p for p in remaining if matches(p, severity, path, fragment)), None)
        assert hit is not None, (
            f"no {severity} on {path} with {fragment!r} for {case.focus}; got "
            f"{[(p.severity, p.path, p.message) for p in problems]}"
        )
        remaining.remove(hit)
        line = expected_line(batch.root, case, batch.lines[case.id], at[0] if at else None)
        assert (hit.file, hit.line) == (case.file, line), hit
    assert remaining == [], (
        f"unexpected problems: {[(p.severity, p.path, p.message) for p in remaining]}"
    )
    for p in problems:
        assert p.hint, "every problem says how to fix it"
        assert p.rule.startswith(("sh:", "kgpub:"))


def test_batch_has_no_unaccounted_problem(batch, bundled_report):
    foci = {c.focus for c in batch.cases}
    bundled = {(p.focus, p.path, p.severity) for p in bundled_report.problems}
    stray = [
        p
        for p in batch.report.problems
        if p.focus not in foci and (p.focus, p.path, p.severity) not in bundled
    ]
    assert stray == []
    assert not batch.report.conforms
    expected = sum(1 for c in batch.cases for e in c.expected if e[0] == V)
    assert len(batch.report.violations) == expected


def test_values_are_reported(batch):
    """The offending value is part of the problem, as the user wrote it."""
    by_focus = {p.focus: p for p in batch.report.problems}
    assert by_focus[BASE + "resource/case-date-string"].value == "'2016-03-03'"
    assert by_focus[BASE + "agent/case-javascript"].value == "javascript:alert(1)"
    assert by_focus[BASE + "agent/case-bell"].value == repr("Bell\x07Organisation")
    assert by_focus[BASE + "resource/case-creator-is-a-place"].value == "place:kenya"


def test_text_report_names_location_focus_path_and_fix(batch):
    text = batch.report.to_text()
    case = next(c for c in CASES if c.id == "entry-missing-title")
    head = f"{case.file}:{batch.lines[case.id]}: violation: <{case.focus}> dcterms:title"
    assert head in text.splitlines()
    block = text.split(head, 1)[1].split("\n\n", 1)[0]
    assert "fix: Add dcterms:title" in block
    assert "rule: sh:MinCountConstraintComponent" in block
    assert text.rstrip().endswith("warning(s).")
    assert "does NOT conform" in text


# ---- known reporting gaps (see the bug list of the suite) ------------------------------------


def test_sh_node_failure_reports_no_nested_details(node_batch, bundled_report):
    foci = {c.focus for c in node_batch.cases}
    bundled = {(p.focus, p.path, p.severity) for p in bundled_report.problems}
    stray = [
        (p.focus, p.path, p.message)
        for p in node_batch.report.problems
        if p.focus not in foci and (p.focus, p.path, p.severity) not in bundled
    ]
    assert stray == []
    expected = sum(1 for c in node_batch.cases for e in c.expected if e[0] == V)
    assert len(node_batch.report.violations) == expected


def test_complex_path_is_shown_readably(batch):
    (p,) = [p for p in batch.report.problems if p.focus == BASE + "topic/case-unreachable"]
    assert "skos:broader" in p.path


def test_blank_node_subject_is_located(tmp_path):
    root = copy_project(tmp_path / "project")
    append_file(
        root / ENTRIES,
        '[ a sphr:Publication ;\n  dcterms:title "Anonymous entry"@en ;\n'
        "  dcterms:type type:report ;\n"
        "  dcterms:subject topic:institutional-capacity-and-coordination ] .\n",
    )
    report = validate_project(root)
    bnode = [p for p in report.violations if "IRI must be" in p.message]
    assert bnode, report.to_text()
    line = next(
        n
        for n, text in enumerate((root / ENTRIES).read_text().splitlines(), 1)
        if text.startswith("[ a sphr:Publication")
    )
    assert (bnode[0].file, bnode[0].line) == (ENTRIES, line)


def test_each_case_file_line_is_unique_per_entity(batch):
    """Sanity of the batch itself: no two cases share a subject line."""
    seen = Counter((c.file, batch.lines[c.id]) for c in batch.cases)
    assert max(seen.values()) == 1
