"""The gate lets nothing malformed through: kgpub's own checks after either SHACL engine.

A table of broken inputs, each with the problem `kgpub validate` must report for it - file and
line of the statement at fault, focus IRI, severity, rule, words of the message and of the fix -
run through both engines (one copy of the project holds every case; each case checks the
problems of its own focus exactly, and both engines must agree on every field). Then: the
datatype and IRI-to-path checks value by value, the line index, the build refusing unpublishable
IRIs in the validator's words (exit 1, never a traceback), and literals too large to publish or
to parse.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from kgpub.config import check_config, load_project
from kgpub.errors import ConfigError, InvalidData
from kgpub.index import MAX_SEGMENT_BYTES, path_key, path_problem
from kgpub.load import load_sources
from kgpub.validate import LEXICAL, XSD, Report, validate_sources
from kgtest import BASE, PREFIXES, append_file, copy_project, run_cli, subject_line

V, W = "violation", "warning"
GATE = "data/gate.ttl"
ENTRIES = "data/entries/publications.ttl"
COMMENTARIES = "data/entries/expert-commentaries.ttl"
AGENTS = "data/agents.ttl"
LIMIT = 1024  # [site] max_literal_bytes of the gate's project
LONG = "Many words. " * 100  # 1,200 bytes: over LIMIT
SLUG_300 = "s" * 300
GOVERNANCE = "good-governance-guidelines-for-social-security-institutions"
REPORT = "type:report"
TOPIC = "topic:institutional-capacity-and-coordination"


def entry(slug: str, *extra: str, cls: str = "sphr:Publication", date: str = '"2020"^^xsd:gYear'
          ) -> str:
    """A valid entry, one statement a line, with extra statements at its end."""
    lines = [f"resource:{slug} a {cls} ;", f'    dcterms:title "Case {slug}"@en ;',
             '    dcterms:abstract "Summary."@en ;', f"    dcterms:type {REPORT} ;",
             f"    dcterms:subject {TOPIC} ;", f"    dcterms:date {date}"]
    lines += [f"    {e}" for e in extra]
    return " ;\n".join(line.rstrip(" ;") for line in lines) + " .\n"


def document(iri: str) -> str:
    """A thing with no shape of its own (a foaf:Document): only kgpub's checks speak."""
    return f'{iri} a foaf:Document ; dcterms:title "A document"@en .\n'


@dataclass
class Gate:
    id: str
    focus: str  # relative to the base
    severity: str
    rule: str  # exactly, rules joined by ", " when several find one statement
    file: str
    at: str  # text on the line the problem points at (the first line holding it...)
    message: list[str]
    fix: list[str]
    after: str = ""  # ...after the first line holding this text
    snippets: dict[str, str] = field(default_factory=dict)  # file -> Turtle appended
    value: str | None = "-"  # "-": not checked


# fmt: off
GATES = [
    # ---- typed values outside their lexical space -------------------------------------------
    Gate("gyear-that-is-a-bad-date", "resource/case-gyear-date", V, "kgpub:InvalidLiteral", GATE,
         '"2021-13-45"^^xsd:gYear', ["'2021-13-45' is not a valid xsd:gYear", "four digits"],
         ['"2021"^^xsd:gYear'], value="'2021-13-45'",
         snippets={GATE: entry("case-gyear-date", date='"2021-13-45"^^xsd:gYear')}),
    Gate("gyear-abc", "resource/case-gyear-abc", V, "kgpub:InvalidLiteral", GATE,
         '"abc"^^xsd:gYear', ["'abc' is not a valid xsd:gYear"], ["xsd:gYear"],
         snippets={GATE: entry("case-gyear-abc", date='"abc"^^xsd:gYear')}),
    Gate("gyearmonth-month-13", "resource/case-month-13", V, "kgpub:InvalidLiteral", GATE,
         '"2021-13"^^xsd:gYearMonth', ["not a valid xsd:gYearMonth", "there is no month 13"],
         ["month from 01 to 12"],
         snippets={GATE: entry("case-month-13", date='"2021-13"^^xsd:gYearMonth')}),
    Gate("date-february-30", "resource/case-feb-30", V, "kgpub:InvalidLiteral", GATE,
         '"2021-02-30"^^xsd:date', ["not a valid xsd:date", "February 2021 has 28 days"],
         ["a day the month has"],
         snippets={GATE: entry("case-feb-30", date='"2021-02-30"^^xsd:date')}),
    Gate("datetime-hour-25", "resource/case-hour-25", V, "kgpub:InvalidLiteral", GATE,
         '"2024-01-31T25:00:00Z"', ["not a valid xsd:dateTime", "there is no hour 25"],
         ['"2021-03-15T09:30:00Z"^^xsd:dateTime'],
         snippets={GATE: entry("case-hour-25",
                               'dcterms:modified "2024-01-31T25:00:00Z"^^xsd:dateTime')}),
    Gate("integer-with-a-letter", "resource/case-integer", V, "kgpub:InvalidLiteral", GATE,
         '"12a"^^xsd:integer', ["'12a' is not a valid xsd:integer", "whole number"],
         ['"42"^^xsd:integer'],
         snippets={GATE: entry("case-integer", 'dcterms:extent "12a"^^xsd:integer')}),
    Gate("decimal-with-a-comma", "resource/case-decimal", V, "kgpub:InvalidLiteral", GATE,
         '"1,5"^^xsd:decimal', ["'1,5' is not a valid xsd:decimal", "no comma"],
         ["decimal point"],
         snippets={GATE: entry("case-decimal", 'dcterms:extent "1,5"^^xsd:decimal')}),
    Gate("boolean-yes", "resource/case-boolean", V, "kgpub:InvalidLiteral", GATE,
         '"yes"^^xsd:boolean', ["'yes' is not a valid xsd:boolean"], ["true or false"],
         snippets={GATE: entry("case-boolean", 'owl:deprecated "yes"^^xsd:boolean')}),
    Gate("anyuri-with-a-space", "resource/case-anyuri", V, "kgpub:InvalidLiteral", GATE,
         '"https://example.org/a b"', ["not a valid xsd:anyURI", "cannot hold spaces"],
         ["percent-encoded"],
         snippets={GATE: entry("case-anyuri",
                               'dcterms:source "https://example.org/a b"^^xsd:anyURI')}),
    # ---- one description per entity ----------------------------------------------------------
    Gate("split-over-two-files", "agent/ilo", W, "kgpub:SplitDescription", AGENTS,
         "agent:ilo a foaf:Organization",
         ["described in 2 places: data/agents.ttl:", f"and {GATE}:", "shows twice"],
         ["Keep one description", "move its statements to data/agents.ttl:"],
         snippets={GATE: 'agent:ilo skos:altLabel "ILO"@en .\n'}),
    Gate("split-in-two-blocks", "resource/case-two-blocks", W, "kgpub:SplitDescription", GATE,
         "resource:case-two-blocks a", ["described in 2 places", f"{GATE}:"],
         ["delete the other block"],
         snippets={GATE: entry("case-two-blocks")
                   + '\nagent:case-between a foaf:Organization ; foaf:name "Between"@en .\n'
                   'resource:case-two-blocks dcterms:extent "12 pages"@en .\n'}),
    Gate("two-files-two-classes", "resource/case-both", V, "kgpub:ConflictingDescriptions",
         COMMENTARIES, "resource:case-both a",
         ["described in 2 places as things of different classes",
          f"a sphr:ExpertCommentary at {COMMENTARIES}:", f"a sphr:Publication at {GATE}:",
          "one entity that is both"],
         ["give each its own IRI", "keep one description with one class"],
         snippets={COMMENTARIES: entry("case-both", cls="sphr:ExpertCommentary"),
                   GATE: 'resource:case-both a sphr:Publication ;\n'
                         '    dcterms:extent "2 pages"@en .\n'}),
    # ---- IRIs that cannot be published as files ------------------------------------------------
    Gate("dot-segment-onto-the-home-page", "./index", V, "kgpub:UnpublishablePath", GATE,
         "<https://w3id.org/sphr/./index>",
         ["has a '.' segment", f"published as <{BASE}index>", "written over"],
         ["without '.' or '..' segments"],
         snippets={GATE: document("<https://w3id.org/sphr/./index>")}),
    Gate("dot-dot-out-of-the-site", "topic/../../x", V, "kgpub:UnpublishablePath", GATE,
         "<https://w3id.org/sphr/topic/../../x>", ["has a '..' segment", "outside the site"],
         ["without '.' or '..' segments"],
         snippets={GATE: document("<https://w3id.org/sphr/topic/../../x>")}),
    Gate("dot-alone", ".", V, "kgpub:UnpublishablePath", GATE, "<https://w3id.org/sphr/.>",
         ["has a '.' segment", "hidden ones ('..html'...)"], ["without '.' or '..'"],
         snippets={GATE: document("<https://w3id.org/sphr/.>")}),
    Gate("dot-dot-alone", "..", V, "kgpub:UnpublishablePath", GATE,
         "<https://w3id.org/sphr/..>", ["has a '..' segment", "outside the site"],
         ["without '.' or '..'"], snippets={GATE: document("<https://w3id.org/sphr/..>")}),
    Gate("trailing-slash", "topic/x/", V, "kgpub:UnpublishablePath", GATE, "<topic/x/>",
         ["ends with '/'", "'topic/x/.html'"], ["Remove the '/' at the end", f"<{BASE}topic/x>"],
         snippets={GATE: document("<topic/x/>")}),
    Gate("empty-segment", "resource//y", V, "kgpub:UnpublishablePath", GATE, "<resource//y>",
         ["has an empty segment"], ["Remove the extra '/'"],
         snippets={GATE: document("<resource//y>")}),
    Gate("slug-of-300-bytes", f"resource/{SLUG_300}", V, "kgpub:UnpublishablePath", GATE,
         f"<resource/{SLUG_300}>",
         ["300 bytes long", f"at most {MAX_SEGMENT_BYTES} bytes", "255 bytes a name"],
         [f"Shorten the slug to at most {MAX_SEGMENT_BYTES} bytes"],
         snippets={GATE: document(f"<resource/{SLUG_300}>")}),
    Gate("hidden-segment", "resource/.hidden", V, "kgpub:UnpublishablePath", GATE,
         "<resource/.hidden>", ["starting with '.'", "does not serve hidden files"],
         ["Start each segment"], snippets={GATE: document("<resource/.hidden>")}),
    Gate("percent-encoded", "resource/a%20b", V, "kgpub:UnpublishablePath", GATE,
         "<resource/a%20b>", ["percent-encoded", "never found"], ["lower-case letters"],
         snippets={GATE: document("<resource/a%20b>")}),
    Gate("reserved-whatever-the-case", "Index", V, "kgpub:ReservedPath", GATE, "<Index>",
         ["reserved for the site's own files (index)"], ["another slug"],
         snippets={GATE: document("<Index>")}),
    Gate("reserved-well-known", ".well-known/void", V, "kgpub:ReservedPath", GATE,
         "<.well-known/void>", ["reserved", "(.well-known/)"], ["another slug"],
         snippets={GATE: document("<.well-known/void>")}),
    Gate("case-collision", f"resource/{GOVERNANCE.upper()}", V, "kgpub:CaseCollision", GATE,
         f"<resource/{GOVERNANCE.upper()}>",
         [f"differs from <{BASE}resource/{GOVERNANCE}> ({ENTRIES}:", "only in case",
          "macOS and Windows"], ["another slug"],
         snippets={GATE: document(f"<resource/{GOVERNANCE.upper()}>")}),
    # ---- one message a statement, a fix that fits the fault ------------------------------------
    Gate("javascript-page-once", "resource/case-javascript", V,
         "sh:OrConstraintComponent, sh:PatternConstraintComponent", GATE,
         "foaf:page <javascript:",
         ["Link with a scheme other than http(s)"], ["https://"],
         snippets={GATE: entry("case-javascript", "foaf:page <javascript:alert(1)>")}),
    Gate("untagged-title", "resource/case-untagged", V, "sh:DatatypeConstraintComponent", GATE,
         '"An untagged title"', ["must be language-tagged"],
         ['Add a language tag, e.g. "Title as published"@en'],
         snippets={GATE: entry("case-untagged").replace('"Case case-untagged"@en',
                                                        '"An untagged title"')}),
    Gate("bad-date-once", "resource/case-date-once", V, "kgpub:InvalidLiteral", GATE,
         '"2016-13-45"^^xsd:date', ["there is no month 13"], ["xsd:date"],
         snippets={GATE: entry("case-date-once", date='"2016-13-45"^^xsd:date')}),
    # ---- sizes ----------------------------------------------------------------------------------
    Gate("literal-over-the-limit", "resource/case-long", V, "kgpub:LiteralSize", GATE,
         'dcterms:description """', ["The text in @en is 1,201 bytes long",
                                     f"over the limit of {LIMIT:,} bytes", "max_literal_bytes"],
         ["Shorten it", "foaf:page", "raise [site] max_literal_bytes"], value=None,
         snippets={GATE: entry("case-long", f'dcterms:description """{LONG}\n"""@en')}),
]
# fmt: on
assert len({g.focus for g in GATES}) == len(GATES), "each case has its own focus"


def _project(root: Path) -> Path:
    copy_project(root)
    config = root / "kgpub.toml"
    config.write_text(config.read_text(encoding="utf-8").replace(
        "[site]\n", f"[site]\nmax_literal_bytes = {LIMIT}\n", 1), encoding="utf-8")
    (root / GATE).write_text(PREFIXES, encoding="utf-8")
    by_file: dict[str, list[str]] = {}
    for gate in GATES:
        for file, text in gate.snippets.items():
            by_file.setdefault(file, []).append(text)
    for file, texts in by_file.items():
        append_file(root / file, ("" if file == GATE else PREFIXES) + "\n" + "\n".join(texts))
    return root


@pytest.fixture(scope="module")
def gate_project(tmp_path_factory) -> Path:
    return _project(tmp_path_factory.mktemp("gate") / "project")


@pytest.fixture(scope="module")
def reports(gate_project):
    """{engine: report} of the gate's project."""
    sources = load_sources(load_project(gate_project))
    out = {engine: validate_sources(sources, engine=engine) for engine in ("pyshacl", "fast")}
    assert {r.engine for r in out.values()} == {"pyshacl", "fast"}
    return out


def _line(root: Path, gate: Gate) -> int:
    lines = (root / gate.file).read_text(encoding="utf-8").splitlines()
    start = next(n for n, text in enumerate(lines) if gate.after in text) if gate.after else 0
    return next(n for n in range(start, len(lines)) if gate.at in lines[n]) + 1


@pytest.mark.parametrize("gate", GATES, ids=[g.id for g in GATES])
@pytest.mark.parametrize("engine", ["pyshacl", "fast"])
def test_gate_case(gate_project, reports, gate, engine):
    problems = [p for p in reports[engine].problems if p.focus == BASE + gate.focus]
    assert len(problems) == 1, "\n".join(map(str, problems))
    (p,) = problems
    assert (p.file, p.line) == (gate.file, _line(gate_project, gate)), p
    assert (p.severity, p.rule) == (gate.severity, gate.rule), p
    for words in gate.message:
        assert words in p.message, p.message
    for words in gate.fix:
        assert words in p.hint, p.hint
    if gate.value != "-":
        assert p.value == gate.value


def test_both_engines_give_the_same_report(reports):
    pyshacl, fast = reports["pyshacl"], reports["fast"]
    assert pyshacl.problems == fast.problems
    assert pyshacl.to_text() == fast.to_text() and pyshacl.to_json() == fast.to_json()


def test_nothing_else_is_reported(reports, bundled_report):
    foci = {BASE + g.focus for g in GATES}
    bundled = {(p.focus, p.path, p.severity) for p in bundled_report.problems}
    stray = [p for p in reports["fast"].problems
             if p.focus not in foci and (p.focus, p.path, p.severity) not in bundled]
    assert stray == []


def test_the_bundled_project_passes_with_its_warnings(bundled_report):
    assert bundled_report.conforms and len(bundled_report.warnings) == 9
    assert not any(p.rule.startswith("kgpub:") for p in bundled_report.problems)


def test_text_report_names_place_entity_fault_and_fix(gate_project, reports):
    text = reports["fast"].to_text()
    gate = next(g for g in GATES if g.id == "gyear-abc")
    head = f"{GATE}:{_line(gate_project, gate)}: violation: <{BASE}{gate.focus}> dcterms:date"
    assert head in text.splitlines()
    block = text.split(head, 1)[1].split("\n\n", 1)[0]
    assert "'abc' is not a valid xsd:gYear" in block and "fix: Write the date as" in block
    assert "rule: kgpub:InvalidLiteral" in block


# ---- datatypes, value by value -------------------------------------------------------------------

VALID = {
    "gYear": ["2021", "0000", "-0044", "12345", "2021Z", "2021+14:00", "2021-05:30"],
    "gYearMonth": ["2021-01", "2021-12", "2021-12Z"],
    "date": ["2021-03-15", "2020-02-29", "2000-02-29", "2021-12-31", "2021-03-15+01:00"],
    "dateTime": ["2021-03-15T09:30:00", "2021-03-15T09:30:00.123Z", "2021-03-15T24:00:00",
                 "2020-02-29T23:59:59-14:00"],
    "dateTimeStamp": ["2021-03-15T09:30:00Z"],
    "time": ["09:30:00", "23:59:59.5Z"],
    "integer": ["0", "-12", "+7", "0042"],
    "nonNegativeInteger": ["0", "12"],
    "byte": ["-128", "127"],
    "decimal": ["1", "1.5", "-.5", "+2.", "0.000"],
    "double": ["1.5E3", "-1e-3", "INF", "-INF", "NaN", "1"],
    "boolean": ["true", "false", "1", "0"],
    "anyURI": ["https://example.org/a%20b", "", "urn:isbn:123", "relative/path"],
}
INVALID = {
    "gYear": [("2021-13-45", "four digits"), ("abc", "four digits"), ("21", "four digits"),
              ("02021", "leading zero"), (" 2021", "spaces around it"),
              ("2021+15:00", "time zone +15:00 is out of range")],
    "gYearMonth": [("2021-13", "no month 13"), ("2021-00", "no month 00"),
                   ("2021-1", "YYYY-MM")],
    "date": [("2021-02-29", "February 2021 has 28 days"), ("1900-02-29", "February 1900"),
             ("2021-04-31", "April has 30 days"), ("2021-13-01", "no month 13"),
             ("2021-03-00", "no day 00"), ("2021-03-32", "no day 32"),
             ("15/03/2021", "YYYY-MM-DD"), ("2021-03-15T10:00:00", "YYYY-MM-DD")],
    "dateTime": [("2021-03-15", "YYYY-MM-DDThh:mm:ss"), ("2021-03-15T25:00:00", "no hour 25"),
                 ("2021-03-15T24:00:01", "hour 24 is only 24:00:00"),
                 ("2021-03-15T10:60:00", "no minute 60"), ("2021-03-15T10:00:60", "no second 60"),
                 ("2021-02-30T10:00:00Z", "February 2021 has 28 days")],
    "dateTimeStamp": [("2021-03-15T09:30:00", "with a time zone")],
    "time": [("9:30", "hh:mm:ss")],
    "integer": [("1,000", "whole number"), ("1.0", "whole number"), ("", "whole number")],
    "nonNegativeInteger": [("-1", "at least 0")],
    "positiveInteger": [("0", "at least 1")],
    "byte": [("128", "from -128 to 127")],
    "unsignedShort": [("65536", "from 0 to 65,535")],
    "decimal": [("1,5", "no comma"), ("1e3", "no exponent"), ("abc", "decimal")],
    "double": [("1,5", "1.5E3")],
    "boolean": [("yes", "true, false, 1 or 0"), ("TRUE", "true, false")],
    "anyURI": [("https://example.org/a b", "spaces"), ("<x>", "'<'")],
}


@pytest.mark.parametrize("datatype,value", [(d, v) for d, vs in VALID.items() for v in vs])
def test_lexically_valid(datatype, value):
    assert LEXICAL[XSD + datatype](value) is None


@pytest.mark.parametrize("datatype,value,reason",
                         [(d, v, r) for d, vs in INVALID.items() for v, r in vs])
def test_lexically_invalid(datatype, value, reason):
    found = LEXICAL[XSD + datatype](value)
    assert found is not None and reason in found, found


# ---- IRIs and the files they become --------------------------------------------------------------

PUBLISHABLE = ["topic/x", "resource/a-b_c", "ontology", "topics", "type/report",
               "resource/" + "é" * 100, "resource/" + "a" * MAX_SEGMENT_BYTES,
               "a/b/c/d", "indexes-and-more/x", "fr/topic"]
UNPUBLISHABLE = {
    "./index": "'.' segment", "topic/../x": "'..' segment", "topic/x/.": "'.' segment",
    "topic/x/": "ends with '/'", "/x": "empty segment", "a//b": "empty segment",
    "resource/" + "a" * (MAX_SEGMENT_BYTES + 1): f"{MAX_SEGMENT_BYTES + 1} bytes long",
    "resource/" + "é" * 101: "202 bytes long", "/".join(["s" * 150] * 7): "bytes long: at most 1000",
    "resource/a?b": "a query", "resource/a\\b": "backslash", "resource/a:b": "Windows",
    "resource/a|b": "Windows", "resource/.x": "starting with '.'", "index": "reserved",
    "INDEX": "reserved", "index-2": "reserved", "browse/topic/x": "reserved", "es/x": "reserved",
    "dumps/dataset.ttl.gz": "reserved", "_assets/style.css": "reserved", "sitemap-2": "reserved",
}


@pytest.mark.parametrize("path", PUBLISHABLE)
def test_publishable_path(path):
    assert path_problem(BASE + path, BASE, ("en", "es")) is None


@pytest.mark.parametrize("path,words", list(UNPUBLISHABLE.items()),
                         ids=[p[:40] for p in UNPUBLISHABLE])
def test_unpublishable_path(path, words):
    found = path_problem(BASE + path, BASE, ("en", "es"))
    assert found is not None and words in found.message, found
    assert found.fix


def test_paths_that_differ_in_case_or_composition_share_a_key():
    assert path_key("resource/ABC") == path_key("resource/abc")
    assert path_key("resource/caf\u00e9") == path_key("resource/cafe\u0301")
    assert path_key("resource/CAF\u00c9") == path_key("resource/caf\u00e9")
    assert path_key("resource/a") != path_key("resource/b")


# ---- lines: the statement at fault ---------------------------------------------------------------


def test_statement_lines_follow_the_text(tmp_path):
    root = copy_project(tmp_path / "project")
    text = (PREFIXES + "\nresource:case-lines a sphr:Publication ;\n"
            '    dcterms:title "Lines"@en , "Lignes"@fr ;\n'
            '    dcterms:abstract """One\ntwo\nthree."""@en ;\n'
            "    dcterms:spatial [ rdfs:label \"Somewhere\"@en ] ;\n"
            '    dcterms:date "2020"^^xsd:gYear .\n')
    (root / GATE).write_text(text, encoding="utf-8")
    sources = load_sources(load_project(root))
    lines = sources.statement_lines(GATE)
    got = {(t.predicate.value.rsplit("/", 1)[-1].rsplit("#", 1)[-1],
            getattr(t.object, "value", "")): line
            for t, line in zip(sources.file_triples[GATE], lines, strict=True)}
    start = PREFIXES.count("\n") + 2
    assert got[("type", BASE + "ontology#Publication")] == start
    assert got[("title", "Lines")] == got[("title", "Lignes")] == start + 1
    assert got[("abstract", "One\ntwo\nthree.")] == start + 4  # where its value ends
    assert got[("label", "Somewhere")] == start + 5
    assert got[("date", "2020")] == start + 6


def test_a_subject_written_again_inside_a_text_is_not_a_second_block(tmp_path):
    """A line of a long text that starts like a statement is no second description: blocks
    are told apart statement by statement."""
    root = copy_project(tmp_path / "project")
    (root / GATE).write_text(PREFIXES + "\n" + entry(
        "case-quoted", 'dcterms:description """Quoted:\nresource:case-quoted a sphr:Topic .\n"""@en'),
        encoding="utf-8")
    report = validate_sources(load_sources(load_project(root)))
    assert [p for p in report.problems if p.focus == BASE + "resource/case-quoted"] == []


def test_a_file_changed_since_loading_falls_back_to_the_subject_line(tmp_path):
    root = copy_project(tmp_path / "project")
    append_file(root / ENTRIES, PREFIXES + entry("case-changed", date='"abc"^^xsd:gYear'))
    sources = load_sources(load_project(root))
    append_file(root / ENTRIES, "# edited meanwhile\n")
    (problem,) = [p for p in validate_sources(sources).problems
                  if p.focus == BASE + "resource/case-changed"]
    assert sources.statement_lines(ENTRIES) is None
    assert problem.line == subject_line(root / ENTRIES, "resource:case-changed")


# ---- the build refuses what cannot be published, in the same words --------------------------------


@pytest.fixture(scope="module")
def unpublishable_project(tmp_path_factory) -> Path:
    root = copy_project(tmp_path_factory.mktemp("paths") / "project")
    (root / GATE).write_text(PREFIXES + "".join(document(i) for i in (
        "<https://w3id.org/sphr/./index>", "<https://w3id.org/sphr/topic/../../x>",
        "<topic/x/>", f"<resource/{SLUG_300}>")), encoding="utf-8")
    return root


def test_build_refuses_unpublishable_iris_with_the_validators_words(unpublishable_project,
                                                                    tmp_path):
    validate = run_cli("validate", "--project", unpublishable_project)
    assert validate.exit_code == 1
    build = run_cli("build", "--project", unpublishable_project, "--out", tmp_path / "site")
    assert build.exit_code == 1, build.output
    assert "Traceback" not in build.output
    messages = [line.strip() for line in validate.output.splitlines()
                if "The IRI's path" in line or "segment of the IRI's path" in line]
    assert len(messages) == 4
    for message in messages:
        assert message in build.output
    assert "nothing was published" in build.output
    assert not (tmp_path / "site").exists()


def test_the_build_checks_paths_itself(unpublishable_project, tmp_path, monkeypatch):
    """Should an unpublishable IRI pass validation (derived statements, a validator bypassed),
    the build refuses it with the same function's words: exit 1, no file written."""
    from kgpub.build import build, pipeline

    monkeypatch.setattr(pipeline, "validate_sources", lambda sources, engine: Report([]))
    with pytest.raises(InvalidData) as refused:
        build(load_project(unpublishable_project), tmp_path / "site")
    text = refused.value.report.to_text()
    assert refused.value.exit_code == 1
    assert f"has a '.' segment, which browsers and the build resolve: it would be published as " \
           f"<{BASE}index>" in text
    assert "outside the site" in text and "ends with '/'" in text and "300 bytes long" in text
    assert not (tmp_path / "site").exists()


# ---- sizes ---------------------------------------------------------------------------------------


def test_max_literal_bytes_is_a_checked_setting():
    check_config({"site": {"max_literal_bytes": 4096}}, "kgpub.toml")
    for bad in (0, 100, 9 * 1024 * 1024, "1MB", True):
        with pytest.raises(ConfigError, match="max_literal_bytes"):
            check_config({"site": {"max_literal_bytes": bad}}, "kgpub.toml")


def test_a_50_mb_summary_is_refused_quickly_in_one_line(tmp_path):
    """Exit 1, like any violation: the value is cut out before the parser sees it (it reads
    no term over 16 MiB; 10 MB would inflate the site to hundreds of MB), the rest of the data
    is validated, and the report names file, line, entity and property."""
    root = copy_project(tmp_path / "project")
    huge = "abcdefghi " * 5_000_000
    (root / GATE).write_text(
        PREFIXES + f'\nresource:{GOVERNANCE} dcterms:description "{huge}"@en .\n',
        encoding="utf-8")
    line = PREFIXES.count("\n") + 2
    started = time.perf_counter()
    result = run_cli("validate", "--project", root)
    elapsed = time.perf_counter() - started
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert elapsed < 30, elapsed  # ~1.5 s on 2 cores
    head = (f"{GATE}:{line}: violation: <{BASE}resource/{GOVERNANCE}> "
            "dcterms:description")
    assert head in result.output.splitlines()
    assert "The text in @en is 50,000,000 bytes long, over the limit of 1,048,576 bytes" \
           in result.output
    assert len(result.output) < 20_000  # the value itself is never printed
    build = run_cli("build", "--project", root, "--out", tmp_path / "site")
    assert build.exit_code == 1 and head in build.output
    assert not (tmp_path / "site").exists()


def test_a_term_the_parser_cannot_hold_is_one_error_line(tmp_path):
    root = copy_project(tmp_path / "project")
    (root / GATE).write_text(PREFIXES + f'\n<resource/{"a" * 17_000_000}> dcterms:title "x"@en .\n',
                             encoding="utf-8")
    result = run_cli("validate", "--project", root)
    assert result.exit_code == 2 and "Traceback" not in result.output
    (line,) = [x for x in result.output.splitlines() if x.strip()]
    assert line.startswith(f"error: {GATE}:{PREFIXES.count(chr(10)) + 2}: a term")
    assert "longer than the 16 MiB" in line
