"""The validation gate for characters: every literal or IRI holding a character XML 1.0 forbids
(NUL, the other C0 controls but TAB/LF/CR, U+FFFE, U+FFFF, lone surrogates) is a violation,
reported with file:line of the line the value is written on, the entity, the property, what is
wrong and how to fix it - identically by both SHACL engines, since kgpub's own step checks it.
Bidirectional controls and zero-width characters in titles and labels are warnings. How the
Turtle parser reads both spellings (raw bytes and escapes) is pinned down too."""

from __future__ import annotations

import json

import pyoxigraph as ox
import pytest

from kgpub.config import load_project
from kgpub.errors import LoadError
from kgpub.load import load_sources
from kgpub.validate import character_problems, validate_sources
from kgtest import BASE, PREFIXES, REPO, copy_project, run_cli, subject_line

FILE = "data/characters.ttl"
COMMENTED = "data/commented.ttl"
XML = "kgpub:XmlCharacter"
INVISIBLE = "kgpub:InvisibleCharacter"
AND_PATTERN = XML + ", sh:PatternConstraintComponent"  # shape:Literals refuses it too: one problem
FORBIDS = "a character XML 1.0 forbids"
ENTRY_TAIL = ('    dcterms:abstract "Summary."@fr ;\n'
              '    dcterms:type type:report ;\n'
              '    dcterms:subject topic:institutional-capacity-and-coordination ;\n'
              '    dcterms:date "2020"^^xsd:gYear .\n\n')

# Raw characters are written into the file as they are; "\\u0000" is the Turtle escape.
SOURCE = PREFIXES + (
    "\nresource:case-raw-nul a sphr:Publication ;\n"
    '    dcterms:title "Raw\x00nul"@en ;\n' + ENTRY_TAIL +
    "resource:case-escaped-nul a sphr:Publication ;\n"
    '    dcterms:title "Escaped nul"@en ;\n'
    '    dcterms:abstract "Escaped\\u0000nul"@en ;\n' + ENTRY_TAIL +
    "resource:case-long-literal a sphr:Publication ;\n"
    '    dcterms:title "Long"@en ;\n'
    '    dcterms:abstract """First line,\n    second line,\n    third \\uFFFE line."""@en ;\n'
    + ENTRY_TAIL +
    "resource:case-bell-and-nul a sphr:Publication ;\n"
    '    dcterms:title "Bell\\u0007 and NUL\\u0000"@en ;\n' + ENTRY_TAIL +
    "agent:case-noncharacters a foaf:Organization ;\n"
    '    foaf:name "Raw U+FFFF\uffff"@en ;\n'
    '    dcterms:alternative "backspace \\b and form feed \\f" ;\n'
    '    skos:hiddenLabel "NUL\\u0000 BEL\\u0007 US\x1f" ;\n'
    '    skos:altLabel "Vertical\\u000Btab"@en .\n\n'
    "topic:case-invisible a sphr:Topic ;\n"
    '    skos:prefLabel "Evil\u202eorder"@en ;\n'
    '    skos:altLabel "zero\\u200Bwidth"@en , "isolate\u2066d\u2069"@en ;\n'
    '    skos:definition "Zero\u200bwidth in a definition is no warning."@en ;\n'
    "    skos:inScheme <topics> ;\n"
    "    skos:broader topic:governance-accountability-and-democracy .\n\n"
    'agent:case-bom a foaf:Person ;\n    foaf:name "Byte\ufefforder\u200d"@en .\n'
)
# A comment holding an escape: the characters in the text no longer line up with the literals,
# so problems fall back to the line where the file's statements about the subject start.
COMMENTED_SOURCE = PREFIXES + (
    "\n# never write \\u0000 in a literal\n"
    "agent:case-commented a foaf:Organization ;\n"
    '    foaf:name "Commented"@en ;\n'
    '    skos:hiddenLabel "x\\u0000y" .\n\n'
    'agent:ilo skos:hiddenLabel "I\\u0000LO" .\n'
)


def line_of(text: str, needle: str, after: str = "") -> int:
    start = text.index(after) if after else 0
    return text.count("\n", 0, text.index(needle, start)) + 1


def expected_problems() -> list[tuple]:
    """(file, line, focus, path, severity, rule, fragment of the message)."""
    t, c = SOURCE, COMMENTED_SOURCE
    return [
        (FILE, line_of(t, "Raw\x00nul"), "resource/case-raw-nul", "dcterms:title", "violation",
         XML, f"contains U+0000 (NUL, a control character), {FORBIDS}"),
        (FILE, line_of(t, "Escaped\\u0000"), "resource/case-escaped-nul", "dcterms:abstract",
         "violation", XML, "contains U+0000"),
        (FILE, line_of(t, "third \\uFFFE"), "resource/case-long-literal", "dcterms:abstract",
         "violation", XML, f"contains U+FFFE (a noncharacter), {FORBIDS}"),
        # the shape refuses the control character too: one problem naming every character
        (FILE, line_of(t, "Bell\\u0007"), "resource/case-bell-and-nul", "dcterms:title",
         "violation", AND_PATTERN, "contains U+0007 (BEL, a control character) and U+0000 (NUL"),
        (FILE, line_of(t, "Raw U+FFFF"), "agent/case-noncharacters", "foaf:name", "violation",
         XML, "contains U+FFFF"),
        (FILE, line_of(t, "backspace"), "agent/case-noncharacters", "dcterms:alternative",
         "violation", XML, "contains U+0008 (BS, a control character) and U+000C (FF, a control "
         "character), characters XML 1.0 forbids"),
        (FILE, line_of(t, "NUL\\u0000 BEL"), "agent/case-noncharacters", "skos:hiddenLabel",
         "violation", XML, "U+0000 (NUL, a control character), U+0007 (BEL, a control "
         "character) and U+001F (US, a control character)"),
        # a control character the shapes cover: reported once, at its line
        (FILE, line_of(t, "Vertical\\u000B"), "agent/case-noncharacters", "skos:altLabel",
         "violation", AND_PATTERN, "contains U+000B (VT, a control character)"),
        (FILE, line_of(t, "Evil\u202e"), "topic/case-invisible", "skos:prefLabel", "warning",
         INVISIBLE, "U+202E (RIGHT-TO-LEFT OVERRIDE): bidirectional controls are invisible"),
        (FILE, line_of(t, "zero\\u200B"), "topic/case-invisible", "skos:altLabel", "warning",
         INVISIBLE, "U+200B (ZERO WIDTH SPACE): zero-width characters are invisible"),
        (FILE, line_of(t, "isolate"), "topic/case-invisible", "skos:altLabel", "warning",
         INVISIBLE, "U+2066 (LEFT-TO-RIGHT ISOLATE) and U+2069 (POP DIRECTIONAL ISOLATE)"),
        (FILE, line_of(t, "Byte\ufeff"), "agent/case-bom", "foaf:name", "warning", INVISIBLE,
         "U+FEFF (ZERO WIDTH NO-BREAK SPACE) and U+200D (ZERO WIDTH JOINER)"),
        (COMMENTED, line_of(c, "agent:case-commented"), "agent/case-commented",
         "skos:hiddenLabel", "violation", XML, "contains U+0000"),
        (COMMENTED, line_of(c, "agent:ilo"), "agent/ilo", "skos:hiddenLabel", "violation", XML,
         "contains U+0000"),
        # agent:ilo is described in agents.ttl too: a warning names both places
        ("data/agents.ttl", subject_line(REPO / "data/agents.ttl", "agent:ilo"), "agent/ilo", "",
         "warning", "kgpub:SplitDescription",
         f"described in 2 places: data/agents.ttl:{subject_line(REPO / 'data/agents.ttl', 'agent:ilo')}"
         f" and {COMMENTED}:{line_of(c, 'agent:ilo')}"),
    ]


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    root = copy_project(tmp_path_factory.mktemp("characters") / "project")
    (root / FILE).write_bytes(SOURCE.encode("utf-8"))
    (root / COMMENTED).write_bytes(COMMENTED_SOURCE.encode("utf-8"))
    return root


@pytest.fixture(scope="module")
def reports(project):
    """(pyshacl report, fast report)."""
    sources = load_sources(load_project(project))
    return validate_sources(sources, engine="pyshacl"), validate_sources(sources, engine="fast")


def _new(report, bundled_report):
    bundled = set(bundled_report.problems)
    return [p for p in report.problems if p not in bundled]


def test_every_character_problem_is_reported_where_it_is_written(reports, bundled_report):
    for report in reports:
        got = sorted((p.file, p.line, p.focus, p.path, p.severity, p.rule, p.message)
                     for p in _new(report, bundled_report))
        expected = expected_problems()
        assert len(got) == len(expected), "\n".join(map(str, got))
        for want in expected:
            file, line, focus, path, severity, rule, fragment = want
            hit = [g for g in got if g[:6] == (file, line, BASE + focus, path, severity, rule)
                   and fragment in g[6]]
            assert len(hit) == 1, (want, got)


def test_both_engines_report_the_same(reports):
    pyshacl, fast = reports
    assert pyshacl.problems == fast.problems
    assert pyshacl.to_text() == fast.to_text()


def test_problems_say_what_and_how(reports, bundled_report):
    problems = _new(reports[1], bundled_report)
    for p in problems:
        if p.rule.startswith(XML):
            assert p.hint.startswith("Remove the character;")
            assert "XML 1.0 forbids" in p.message and "feeds" in p.message
        elif p.rule == INVISIBLE:
            assert p.hint.startswith("Remove the character unless the script needs it")
    by_path = {(p.focus, p.path): p for p in problems if p.rule == XML}
    raw = by_path[(BASE + "resource/case-raw-nul", "dcterms:title")]
    assert raw.value == repr("Raw\x00nul") == "'Raw\\x00nul'"
    assert "\\u0000" in raw.hint
    backspace = by_path[(BASE + "agent/case-noncharacters", "dcterms:alternative")]
    assert "\\b, \\f" in backspace.hint


def test_reports_carry_no_raw_control_or_invisible_character(reports):
    """The report itself goes to terminals and JSON consumers: values are shown escaped."""
    for text in (reports[1].to_text(), reports[1].to_json()):
        assert not any(ord(c) < 0x20 and c not in "\n\t" or c in "\ufffe\uffff\u202e\u200b\ufeff"
                       for c in text)
    decoded = json.loads(reports[1].to_json())
    assert any(v["rule"] == XML for v in decoded["violations"])
    assert any(w["rule"] == INVISIBLE for w in decoded["warnings"])


def test_cli_validate_and_build_refuse(project, tmp_path):
    result = run_cli("validate", "--project", project)
    assert result.exit_code == 1
    line = line_of(SOURCE, "Raw\x00nul")
    assert (f"{FILE}:{line}: violation: <{BASE}resource/case-raw-nul> dcterms:title"
            in result.output.splitlines())
    assert "fix: Remove the character;" in result.output
    as_json = json.loads(run_cli("validate", "--project", project, "--format", "json").output)
    assert not as_json["conforms"]
    build = run_cli("build", "--project", project, "--out", tmp_path / "site")
    assert build.exit_code == 1
    assert not (tmp_path / "site" / "index.html").exists()


def test_the_bundled_data_has_no_character_problem(bundled_sources):
    assert bundled_sources.flagged == {}  # no file holds one: the check costs one scan a file
    assert character_problems(bundled_sources, str) == []


# ---- how the parser reads the characters ---------------------------------------------------------

TURTLE_NUL = [b'<http://a/s> <http://a/p> "x\x00y" .', b'<http://a/s> <http://a/p> "x\\u0000y" .',
              b'<http://a/s> <http://a/p> "x\\U00000000y" .',
              b'<http://a/s> <http://a/p> """x\x00y""" .']


@pytest.mark.parametrize("source", TURTLE_NUL, ids=["raw", "u-escape", "U-escape", "long-raw"])
def test_raw_and_escaped_nul_read_the_same(source):
    (triple,) = ox.parse(source, format=ox.RdfFormat.TURTLE)
    assert triple.object.value == "x\x00y"


@pytest.mark.parametrize("source", [b'<http://a/s> <http://a/p> "x\x00y" .',
                                    b'<http://a/s> <http://a/p> "x\\u0000y" .'])
def test_n_triples_reads_both_spellings_too(source):
    (triple,) = ox.parse(source, format=ox.RdfFormat.N_TRIPLES)
    assert triple.object.value == "x\x00y"


REFUSED = [
    ("escaped lone surrogate", 'resource:x dcterms:title "a\\uD800b"@en .', "D800"),
    ("escaped surrogate, long form", 'resource:x dcterms:title "a\\U0000DFFFb"@en .', "DFFF"),
    ("NUL escape in an IRI", '<resource/a\\u0000b> dcterms:title "x"@en .', "IRI"),
    ("raw NUL in an IRI", '<resource/a\x00b> dcterms:title "x"@en .', "IRI"),
    ("U+FFFE in an IRI", '<resource/a\ufffeb> dcterms:title "x"@en .', "IRI"),
    ("U+FFFF in a datatype IRI", 'resource:x dcterms:date "1"^^<urn:a\uffff> .', "IRI"),
]


@pytest.mark.parametrize("turtle,word", [(t, w) for _, t, w in REFUSED],
                         ids=[n for n, _, _ in REFUSED])
def test_what_the_parser_refuses_is_a_load_error_with_its_line(tmp_path, turtle, word):
    root = copy_project(tmp_path / "project")
    (root / FILE).write_bytes((PREFIXES + "\n" + turtle + "\n").encode("utf-8"))
    with pytest.raises(LoadError) as caught:
        load_sources(load_project(root))
    assert word in str(caught.value)
    assert f"{FILE}:{PREFIXES.count(chr(10)) + 2}" in str(caught.value)
    assert run_cli("validate", "--project", root).exit_code == 2


def test_a_surrogate_written_raw_is_not_utf8(tmp_path):
    root = copy_project(tmp_path / "project")
    (root / FILE).write_bytes(PREFIXES.encode() + b'\nresource:x dcterms:title "a\xed\xa0\x80"@en .\n')
    with pytest.raises(LoadError, match="not UTF-8"):
        load_sources(load_project(root))


def test_bundled_report_is_unchanged():
    result = run_cli("validate", "--project", REPO)
    assert result.exit_code == 0
    assert "kgpub:" not in result.output
    assert result.output.rstrip().endswith("0 violation(s), 9 warning(s).")


def test_a_literal_inside_a_triple_term_is_checked(tmp_path):
    """RDF 1.2 triple terms hold terms too: their literals are opened and checked."""
    root = copy_project(tmp_path / "project")
    (root / FILE).write_text(
        PREFIXES + "@prefix rdf: <http://www.w3.org/1999/02/22-rdf-syntax-ns#> .\n"
        '_:r rdf:reifies <<( agent:ilo skos:note "quoted\\u0000" )>> .\n', encoding="utf-8")
    (problem,) = character_problems(load_sources(load_project(root)), str)
    assert (problem.file, problem.line, problem.rule) == (FILE, PREFIXES.count("\n") + 2, XML)
    assert problem.value == repr("quoted\x00")
