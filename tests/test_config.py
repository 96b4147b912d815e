"""kgpub.toml is checked once, at load, for every command alike: unknown sections and keys are
refused with the nearest valid name, every value with what it should be."""

from __future__ import annotations

import subprocess
import sys

import pytest

from kgpub.config import SCHEMA, load_project
from kgpub.errors import ConfigError
from kgtest import REPO, copy_project

BUNDLED = (REPO / "kgpub.toml").read_text(encoding="utf-8")

BAD = [
    # (text appended or substituted, words the error must contain)
    ("[serach]\nshard_pages = 10\n", "[serach] is not a section; did you mean 'search'"),
    ("[search]\nshard_page = 10\n", "[search] shard_page: unknown key; did you mean 'shard_pages'"),
    ("[sparql]\ntimout = 3\n", "timout"),
    ("[sparql]\ntimeout = -1\n", "[sparql] timeout"),
    ("[sparql]\nmax_query_bytes = \"big\"\n", "max_query_bytes"),
    ("[search]\nshard_pages = 0\n", "[search] shard_pages = 0: expected a whole number"),
]
REPLACED = [
    ('languages = ["en", "fr", "es"]', 'languages = ["en", "xx"]', "xx, which has no UI translation"),
    ('languages = ["en", "fr", "es"]', 'langauges = ["en"]', "did you mean 'languages'"),
    ('languages = ["en", "fr", "es"]', 'languages = ["en", "en"]', "lists a language twice"),
    ('languages = ["en", "fr", "es"]', 'languages = []', "non-empty list"),
    ('base = "https://w3id.org/sphr/"', 'base = "https://w3id.org/sphr"', "must end with '/'"),
    ('base = "https://w3id.org/sphr/"', 'base = "ftp://w3id.org/sphr/"', "http(s) URL"),
    ('license = "https://creativecommons.org/licenses/by/4.0/"', 'license = "javascript:x"',
     "http(s) URL"),
    ('admin_email = "admin@socialprotection-humanrights.example"', 'admin_email = "nobody"',
     "[repository] admin_email = 'nobody': expected an e-mail address"),
    ('oai_repository_identifier = "socialprotection-humanrights.org"',
     'oai_repository_identifier = "not a domain"', "domain-like name"),
    ('publisher = "Social Protection and Human Rights platform"',
     'publisher = "x"\noai_page_size = 0', "[repository] oai_page_size = 0"),
    ('publisher = "Social Protection and Human Rights platform"',
     'publisher = "x"\noai_base_url = "localhost/oai"', "oai_base_url"),
    ('publisher = "Social Protection and Human Rights platform"',
     'publisher = "x"\ndefault_datestamp = "yesterday"', "ISO 8601"),
    ('publisher = "Social Protection and Human Rights platform"',
     'publisher = "x"\noai_token_secret = "short"', "at least 16 characters"),
    ('title = "Social Protection and Human Rights"', 'title = "a\\u0000b"', "control character"),
    # the graph's own terms: IRIs under the base or absolute, type names of each format
    ('topic_scheme = "topics"', 'topic_scheme = "../topics"', "a path under [site] base"),
    ('topic_scheme = "topics"', 'topic_scheme = "/topics"', "a path under [site] base"),
    ('topic_scheme = "topics"', 'topic_scheme = "https://elsewhere.org/topics"',
     "[site] topic_scheme = 'https://elsewhere.org/topics': the scheme must be under [site] base"),
    ('type_scheme = "types"', 'type_scheme = 3', "expected a string"),
    ('commentary_type = "type/expert-commentary"', 'commentary_type = "type/./x"',
     "a path under [site] base"),
    ('commentary_type = "type/expert-commentary"', 'label_properties = []',
     "[site] label_properties = []: expected a non-empty list of IRIs"),
    ('commentary_type = "type/expert-commentary"', 'label_properties = ["a", "a"]',
     "lists an IRI twice"),
    ('"type/report" = { schema_org = "Report",', '"type/report" = { schema_org = "report",',
     "'type/report': schema_org = 'report': expected a type name such as 'Report'"),
    ('"type/report" = { schema_org = "Report",', '"type/report" = { schemaorg = "Report",',
     "'type/report': schemaorg: unknown key; did you mean 'schema_org'"),
    ('"type/guide" = { schema_org = "CreativeWork", bibtex = "manual", ris = "GEN" }',
     '"type/guide" = "manual"', "'type/guide': expected a table"),
    ('ris = "ELEC"', 'ris = "electronic"', "expected a type name such as 'RPRT'"),
]


def cases():
    for extra, words in BAD:
        yield BUNDLED + "\n" + extra, words
    yield "sparql = 3\n" + BUNDLED, "must be a [sparql] table"
    for old, new, words in REPLACED:
        assert old in BUNDLED, old
        yield BUNDLED.replace(old, new, 1), words


@pytest.mark.parametrize("text,words", list(cases()))
def test_bad_settings_are_refused_with_what_to_write(tmp_path, text, words):
    (tmp_path / "kgpub.toml").write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_project(tmp_path)
    assert words in str(info.value)
    assert str(tmp_path / "kgpub.toml") in str(info.value)


def test_the_bundled_settings_load():
    project = load_project(REPO)
    assert project.languages == ("en", "fr", "es")
    assert set(SCHEMA) == {"site", "search", "repository", "sparql"}


def test_the_graph_terms_resolve_against_the_base(tmp_path):
    """Relative IRIs of the settings resolve against [site] base, absolute ones stay; what is
    left out takes the defaults (generic types for unlisted resource types)."""
    text = BUNDLED.replace('base = "https://w3id.org/sphr/"', 'base = "https://example.org/x/"')
    text = text.replace('type_scheme = "types"', 'type_scheme = "https://example.org/x/kinds"')
    text = text.replace('commentary_type = "type/expert-commentary"',
                        'label_properties = ["ontology#name", "http://purl.org/dc/terms/title"]')
    (tmp_path / "kgpub.toml").write_text(text, encoding="utf-8")
    project = load_project(tmp_path)
    assert project.topic_scheme == "https://example.org/x/topics"
    assert project.type_scheme == "https://example.org/x/kinds"
    assert project.label_properties == ("https://example.org/x/ontology#name",
                                         "http://purl.org/dc/terms/title")
    assert project.commentary_type is None and project.commentary_heading is None
    report = project.entry_type("https://example.org/x/type/report")
    assert (report.schema_org, report.bibtex, report.ris) == ("Report", "techreport", "RPRT")
    other = project.entry_type("https://w3id.org/sphr/type/report")  # not under this base
    assert (other.schema_org, other.bibtex, other.ris) == ("CreativeWork", "misc", "GEN")
    assert project.entry_type(None) == other


@pytest.mark.parametrize("command", [["validate"], ["build", "--out", "out"],
                                     ["serve", "--get", "/"]])
def test_every_command_checks_the_same(tmp_path, command):
    """validate refuses what build and serve refuse (today's bug: only build checked the
    languages, and a bad [repository] showed only at the first /oai request)."""
    root = copy_project(tmp_path / "project")
    text = BUNDLED.replace('languages = ["en", "fr", "es"]', 'languages = ["en", "xx"]')
    (root / "kgpub.toml").write_text(text, encoding="utf-8")
    done = subprocess.run([sys.executable, "-m", "kgpub.cli", *command, "--project", str(root)],
                          capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    assert "xx, which has no UI translation" in done.stderr
    assert "Traceback" not in done.stderr
