"""Session fixtures for the foundation tests: the seed, the bundled project and its graph and
report, a broken copy, and one build of the bundled project into a temporary directory (never
the repository's site/).

Fixture names are specific (bundled_*, built_site, ...) so they do not clash with module-level
fixtures of other test modules.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from rdflib import URIRef

from kgpub.config import load_project
from kgpub.load import load_sources
from kgpub.validate import to_rdflib, validate_sources
from kgtest import (
    BASE,
    KGPUB_BIN,
    REPO,
    SEED,
    Page,
    Seed,
    copy_project,
    edit_file,
    parse_pages,
    parse_seed,
)

# Modules whose tests assert latencies or timings: `make test` runs them alone, after the
# others have run two at a time (pytest-xdist), so another test's load cannot skew them.
SERIAL = {"test_sparql_load.py", "test_query_engine.py", "test_sparql_endpoint.py"}


def pytest_collection_modifyitems(config, items):
    for item in items:
        if item.path.name in SERIAL:
            item.add_marker(pytest.mark.serial)


@pytest.fixture(scope="session")
def seed() -> Seed:
    if not SEED.is_file():
        pytest.skip(f"the seed page {SEED} is absent (it ships in ../shared/seeds/ beside the "
                    "repository); the tests comparing the data with it are skipped")
    return parse_seed(SEED.read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def bundled_project():
    return load_project(REPO)


@pytest.fixture(scope="session")
def bundled_sources(bundled_project):
    return load_sources(bundled_project)


@pytest.fixture(scope="session")
def kg(bundled_sources):
    """The bundled graph (ontology + data) in rdflib."""
    return to_rdflib(bundled_sources.graph)


@pytest.fixture(scope="session")
def bundled_report(bundled_sources):
    return validate_sources(bundled_sources)


@pytest.fixture(scope="session")
def entity_iris(kg) -> list[str]:
    """Every IRI under the base described in the graph, except hash IRIs (vocabulary terms,
    which live in the ontology document)."""
    return sorted(
        {
            str(s)
            for s in kg.subjects()
            if isinstance(s, URIRef) and s.startswith(BASE) and len(s) > len(BASE) and "#" not in s
        }
    )


@pytest.fixture(scope="session")
def broken_project(tmp_path_factory) -> Path:
    """A copy whose "Good Governance Guidelines" entry has no title: exactly one violation."""
    root = copy_project(tmp_path_factory.mktemp("broken") / "project")
    edit_file(
        root / "data/entries/publications.ttl",
        '    dcterms:title "Good Governance Guidelines for Social Security Institutions"@en ;\n',
        "",
    )
    return root


@pytest.fixture(scope="session")
def built_site(tmp_path_factory, bundled_project) -> Path:
    from kgpub.site import build

    out = tmp_path_factory.mktemp("build") / "site"
    result = build(bundled_project, out)
    assert result.out == out
    return out


@pytest.fixture(scope="session")
def html_pages(built_site) -> dict[str, Page]:
    return parse_pages(built_site)


@pytest.fixture(scope="session")
def kgpub_bin() -> Path:
    assert KGPUB_BIN.exists(), f"{KGPUB_BIN} not found: is kgpub installed in the venv?"
    return KGPUB_BIN
