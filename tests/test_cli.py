"""The command line: exit codes (0 ok, 1 violations, 2 load/usage error), reports an editor can
act on, JSON for machines, and errors without Python tracebacks.

Most tests run the CLI in-process with click's CliRunner; those about what a user sees in a
terminal (tracebacks, working directory) run the installed `kgpub` script as a subprocess.
"""

from __future__ import annotations

import json
import re
import subprocess

import pytest

from kgtest import (
    BASE,
    BROKEN_FOCUS,
    append_file,
    copy_project,
    edit_file,
    run_cli,
    subject_line,
    subprocess_env,
)

ENTRIES = "data/entries/publications.ttl"
PLACES = "data/places.ttl"


def run_bin(kgpub_bin, *args, cwd=None):
    return subprocess.run(
        [str(kgpub_bin), *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=subprocess_env(),
        timeout=120,
    )


@pytest.fixture(scope="module")
def bundled_validate(bundled_project):
    return run_cli("validate", "--project", bundled_project.root)


def test_validate_bundled_data_exits_0_and_prints_warnings(bundled_validate, bundled_report):
    r = bundled_validate
    assert r.exit_code == 0, r.output
    n = len(bundled_report.warnings)
    assert n > 0
    assert f"Warnings ({n}):" in r.stdout
    assert "Violations" not in r.stdout
    assert r.stdout.count(": warning: <") == n
    assert f"The data conforms: 0 violation(s), {n} warning(s)." in r.stdout


@pytest.fixture(scope="module")
def broken_text(broken_project):
    return run_cli("validate", "--project", broken_project)


def test_validate_broken_exits_1_naming_file_line_iri_property_and_fix(broken_project, broken_text):
    r = broken_text
    assert r.exit_code == 1, r.output
    line = subject_line(
        broken_project / ENTRIES,
        "resource:good-governance-guidelines-for-social-security-institutions",
    )
    head = f"{ENTRIES}:{line}: violation: <{BROKEN_FOCUS}> dcterms:title"
    lines = r.stdout.splitlines()
    assert head in lines
    block = lines[lines.index(head) + 1 : lines.index(head) + 6]
    assert any(b.strip().startswith("fix: Add dcterms:title") for b in block), block
    assert "Violations (1):" in r.stdout
    assert "The data does NOT conform: 1 violation(s)" in r.stdout


def test_validate_json(broken_project):
    r = run_cli("validate", "--project", broken_project, "--format", "json")
    assert r.exit_code == 1
    doc = json.loads(r.stdout)
    assert doc["conforms"] is False
    assert isinstance(doc["warnings"], list) and doc["warnings"]
    (v,) = doc["violations"]
    line = subject_line(
        broken_project / ENTRIES,
        "resource:good-governance-guidelines-for-social-security-institutions",
    )
    assert v["focus"] == BROKEN_FOCUS
    assert v["path"] == "dcterms:title"
    assert (v["file"], v["line"]) == (ENTRIES, line)
    assert v["severity"] == "violation"
    assert "title" in v["message"] and v["hint"]
    assert all(w["severity"] == "warning" for w in doc["warnings"])
    assert {w["focus"] for w in doc["warnings"]} >= {
        BASE + "topic/governance-accountability-and-democracy"
    }


@pytest.fixture(scope="module")
def syntax_error_project(tmp_path_factory):
    """A comma with no object after it: the error is on that line, unambiguously."""
    root = copy_project(tmp_path_factory.mktemp("syntax") / "project")
    edit_file(
        root / PLACES,
        'place:kenya a dcterms:Location ; rdfs:label "Kenya"@en .',
        'place:kenya a dcterms:Location ; rdfs:label "Kenya"@en , .',
    )
    return root, subject_line(root / PLACES, "place:kenya")


def test_turtle_syntax_error_exits_2_with_file_line_and_no_traceback(
    kgpub_bin, syntax_error_project
):
    root, line = syntax_error_project
    r = run_bin(kgpub_bin, "validate", "--project", root)
    assert r.returncode == 2, r.stdout + r.stderr
    assert f"{PLACES}:{line}:" in r.stderr
    assert "syntax error" in r.stderr.lower()
    assert "Traceback" not in r.stdout + r.stderr


def test_turtle_syntax_error_as_json(syntax_error_project):
    root, line = syntax_error_project
    r = run_cli("validate", "--project", root, "--format", "json")
    assert r.exit_code == 2
    doc = json.loads(r.stdout)
    assert doc["conforms"] is False
    assert f"{PLACES}:{line}:" in doc["error"]


def test_build_with_syntax_error_exits_2(kgpub_bin, syntax_error_project, tmp_path):
    root, line = syntax_error_project
    out = tmp_path / "out" / "site"
    r = run_bin(kgpub_bin, "build", "--project", root, "--out", out)
    assert r.returncode == 2
    assert f"{PLACES}:{line}:" in r.stderr
    assert "Traceback" not in r.stdout + r.stderr
    assert not (tmp_path / "out").exists()


def test_missing_config_exits_2(tmp_path):
    root = copy_project(tmp_path / "project")
    (root / "kgpub.toml").unlink()
    for command in (["validate"], ["build", "--out", tmp_path / "out"]):
        r = run_cli(*command, "--project", root)
        assert r.exit_code == 2, r.output
        assert "kgpub.toml" in r.stderr
        assert not (tmp_path / "out").exists()


def test_missing_project_directory_exits_2(tmp_path):
    r = run_cli("validate", "--project", tmp_path / "nowhere")
    assert r.exit_code == 2
    assert "nowhere" in r.stderr


def test_invalid_toml_exits_2(tmp_path):
    root = copy_project(tmp_path / "project")
    append_file(root / "kgpub.toml", "[site\nbase = \n")
    r = run_cli("validate", "--project", root)
    assert r.exit_code == 2
    assert "kgpub.toml" in r.stderr and "TOML" in r.stderr


@pytest.mark.parametrize("base", ["ftp://example.org/kg/", "https://example.org/kg", "not an iri"])
def test_bad_base_iri_exits_2(tmp_path, base):
    root = copy_project(tmp_path / "project")
    edit_file(root / "kgpub.toml", 'base = "https://w3id.org/sphr/"', f'base = "{base}"')
    r = run_cli("validate", "--project", root)
    assert r.exit_code == 2
    assert "base" in r.stderr


def test_non_utf8_file_exits_2_with_its_line(tmp_path):
    root = copy_project(tmp_path / "project")
    with (root / "data/agents.ttl").open("ab") as f:
        f.write(b'\nagent:x a foaf:Organization ;\n    foaf:name "caf\xe9" .\n')
    line = (root / "data/agents.ttl").read_bytes().split(b"\n").index(
        b'    foaf:name "caf\xe9" .'
    ) + 1
    r = run_cli("validate", "--project", root)
    assert r.exit_code == 2
    assert f"data/agents.ttl:{line}:" in r.stderr
    assert "UTF-8" in r.stderr


def test_usage_errors_exit_2(bundled_project):
    assert run_cli("validate", "--no-such-option").exit_code == 2
    assert run_cli("validate", "--project", bundled_project.root, "--format", "xml").exit_code == 2
    assert run_cli("no-such-command").exit_code == 2


def test_project_option_from_another_directory(kgpub_bin, bundled_project, tmp_path):
    """--project DIR works from any working directory, and file names stay project-relative."""
    r = run_bin(kgpub_bin, "validate", "--project", bundled_project.root, cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    assert re.search(r"^data/entries/[\w-]+\.ttl:\d+: warning: <" + re.escape(BASE), r.stdout, re.M)
    # and a project-less working directory without --project is a usage error
    r = run_bin(kgpub_bin, "validate", cwd=tmp_path)
    assert r.returncode == 2
    assert "kgpub.toml" in r.stderr
    assert "Traceback" not in r.stderr


def test_ill_typed_literal_is_reported_without_traceback(kgpub_bin, tmp_path):
    root = copy_project(tmp_path / "project")
    edit_file(
        root / "data/entries/expert-commentaries.ttl",
        '"2016-03-03"^^xsd:date',
        '"2016-13-45"^^xsd:date',
    )
    r = run_bin(kgpub_bin, "validate", "--project", root)
    assert r.returncode == 1
    assert "dcterms:date" in r.stdout
    assert "Traceback" not in r.stdout + r.stderr
