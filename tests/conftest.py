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
    shared,
)

# Where the markers registered in pyproject.toml apply: each rule is a table here, and nowhere
# else (tests/browser/ marks its own modules `browser`). `make test-fast` leaves out all four.
# An entry is a module ("test_x.py": all its tests) or a test ("test_x.py::test_y": all its
# parameters).

# serial: tests that assert latencies or timings, or whose outcome depends on one query still
# running while others queue. `make test` runs them alone, after the others have run two at a
# time (pytest-xdist), so another test's load cannot skew them. Only those tests: the rest of
# their modules runs in parallel (serial time is the costliest: one core idles).
SERIAL = {
    "test_sparql_load.py::test_pages_stay_fast_while_the_most_expensive_queries_are_checked",
    "test_sparql_load.py::test_big_results_are_cut_and_do_not_grow_the_server",
    "test_sparql_load.py::test_sixteen_clients_running_the_examples_get_no_503",
    "test_sparql_load.py::test_one_client_flooding_slow_queries_does_not_starve_another",
    "test_sparql_load.py::test_a_full_queue_is_503_with_retry_after",
    "test_query_engine.py::test_check_query_never_evaluates",
    "test_query_engine.py::test_startup_does_not_block_and_async_runs",
    "test_query_engine.py::test_timeout_kills_the_query_while_others_are_served",
    "test_query_engine.py::test_busy_pool_refuses_at_once_or_waits_when_allowed",
    "test_query_engine.py::test_crashed_worker_is_replaced",
    "test_query_engine.py::test_a_worker_ends_itself_if_nobody_kills_it",
    "test_query_engine.py::test_an_expensive_check_is_stopped_by_the_time_limit",
    "test_query_engine.py::test_a_full_queue_is_refused_at_once_with_retry_after",
    "test_query_engine.py::test_a_wait_past_max_queue_wait_is_refused",
    "test_query_engine.py::test_clients_take_turns",
    "test_query_engine.py::test_a_flooding_client_gives_up_its_place",
    "test_query_engine.py::test_waiting_costs_no_thread",
    "test_query_engine.py::test_a_cancelled_wait_gives_its_place_back",
    "test_sparql_endpoint.py::test_pathological_query_is_stopped_while_others_are_served",
    "test_sparql_endpoint.py::test_all_workers_busy_the_query_waits_its_turn",
    "test_sparql_endpoint.py::test_a_worker_killed_mid_query_is_503_with_retry_after",
    "test_sparql_exchange.py::test_the_deadline_holds_and_the_loop_stays_free",
    "test_sparql_exchange.py::test_a_worker_killed_mid_query_is_reported_and_replaced",
    "test_store.py::test_time_limit_aborts_the_upstream_request",
}

# server: tests that start a real server (`kgpub serve`, mostly through
# serverutil.running_server, or uvicorn).
SERVER = {
    "test_deploy_nginx.py",  # nginx in front of `kgpub serve`
    "test_deploy_w3id.py",  # Apache httpd
    "test_deployment.py",  # nginx, `kgpub serve --app-only --store`, Oxigraph, `kgpub serve`
    "test_bench_smoke.py",  # bench/run.py serves the generated sites
    "test_bench_peers.py",  # an Oxigraph server beside `kgpub serve`
    "test_clients.py",
    "test_harvest.py",
    "test_server_hardening.py",
    "test_server_switch.py",
    "test_sparql_endpoint.py",
    "test_sparql_load.py",
    "test_store.py",  # and an Oxigraph server (tests/storeutil.py)
    "test_app_only.py",
    "test_browse_flows.py",  # tests/browser: their pages come from `kgpub serve`
    "test_browser_harness.py",
    "test_browser_pages.py",
    "test_live_preview.py",  # tests/browser: `kgpub serve --watch`
    "test_preview.py::test_watch_rebuilds_publishes_and_keeps_the_last_good_build",
    "test_preview.py::test_started_on_broken_data_serves_the_last_good_build",
}

# slow: tests that take over ~2 s on two cores (pytest --durations), fixtures included where a
# module's fixture is the slow part.
SLOW = {
    "test_bench_smoke.py",
    "test_bench_peers.py",
    "test_build_safety.py",  # every test builds a project, most several times (~30 s in all)
    "test_incremental.py",  # every test rebuilds a generated 80-entry project
    "test_incremental_publish.py",  # the same, and kills builds
    "test_server_switch.py",
    "test_sparql_load.py",
    "test_sparql_exchange.py",  # a pool per test: workers to start
    "test_store.py",
    "test_app_only.py",
    "test_deployment.py",  # two builds and four servers (~25 s)
    "test_browse.py::test_related_topics_come_from_shared_entries_and_skos_related",
    "test_build.py::test_killed_build_keeps_the_old_site",
    "test_build.py::test_output_does_not_depend_on_hash_seed",
    "test_build.py::test_parallel_build_equals_serial_build",
    "test_engines.py::test_generated_project_with_violations_same_report",
    "test_gate.py::test_a_50_mb_summary_is_refused_quickly_in_one_line",
    "test_generate.py::test_cli_build_writes_a_page_per_entry",
    "test_oai_arguments.py::test_random_fuzz_through_the_app",
    "test_query_cli.py",
    "test_preview.py::test_rebuild_refuses_bad_data_with_file_line_and_keeps_the_build",
    "test_preview.py::test_a_builder_that_died_is_replaced",
    "test_preview.py::test_no_first_build_no_server",
    "test_preview.py::test_started_on_broken_data_serves_the_last_good_build",
    "test_preview.py::test_watch_rebuilds_publishes_and_keeps_the_last_good_build",
    "test_query_engine.py::test_timeout_kills_the_query_while_others_are_served",
    "test_query_engine.py::test_busy_pool_refuses_at_once_or_waits_when_allowed",
    "test_query_engine.py::test_a_worker_ends_itself_if_nobody_kills_it",
    "test_query_engine.py::test_clients_take_turns",
    "test_search.py::test_query_across_shards",
    "test_server_hardening.py::test_a_slow_request_head_is_timed_out",
    "test_server_hardening.py::test_new_host_headers_cost_no_memory",
    "test_server_hardening.py::test_new_host_headers_allocate_nothing_that_stays",
    "test_sparql_endpoint.py::test_pathological_query_is_stopped_while_others_are_served",
    "test_sparql_endpoint.py::test_all_workers_busy_the_query_waits_its_turn",
}

# first: the modules that take longest (pytest --durations=0, whole module, fixtures included),
# roughly longest first, those that build (CPU) alternating with those that mostly wait on a
# server or a browser. They run first and the many short modules fill in after them, so the
# xdist workers finish together (`make test` passes --no-loadscope-reorder: xdist would otherwise
# start with the modules that have the most tests and leave these few long ones to the end).
# A worker is handed the next module of the list when its current one has two tests or fewer
# left (xdist's loadfile), so a one-test module takes the next one with it: the two bench
# modules (CPU) go to one worker while the browser modules (waits) start on the other.
FIRST = [
    "test_bench_smoke.py",  # ~30 s alone: a quick benchmark run
    "test_browse_flows.py",  # a browser: waits more than it computes, beside a build
    "test_bench_peers.py",  # ~25 s: Hugo and an Oxigraph server beside kgpub
    "test_browser_pages.py",
    "test_incremental.py",
    "test_query_engine.py",
    "test_build_safety.py",
    "test_server_switch.py",
    "test_incremental_publish.py",
    "test_preview.py",
    "test_store.py",
    "test_engines.py",
    "test_deployment.py",
    "test_site_wide.py",
    "test_server_hardening.py",
    "test_build.py",
    "test_cli_usage.py",
    "test_revalidation.py",
    "test_browse.py",
    "test_live_preview.py",
    "test_app_only.py",
    "test_generate.py",
    "test_deploy_nginx.py",
]

TESTS = Path(__file__).parent
MARKED = {"serial": SERIAL, "server": SERVER, "slow": SLOW}


def _check_table(marker: str, table: set[str], items) -> None:
    """Every entry of a table names a collected module or a function of one (a renamed test
    must not silently lose its marker)."""
    modules = {item.path.name: item.module for item in items if hasattr(item, "module")}
    for entry in table:
        name, _, function = entry.partition("::")
        if not any(TESTS.rglob(name)):
            raise pytest.UsageError(f"tests/conftest.py {marker.upper()}: no module {name}")
        if name in modules and function and not hasattr(modules[name], function):
            raise pytest.UsageError(f"tests/conftest.py {marker.upper()}: {entry} is no test")


def pytest_collection_modifyitems(config, items):
    for marker, table in MARKED.items():
        _check_table(marker, table, items)
    _check_table("first", set(FIRST), items)
    rank = {name: i for i, name in enumerate(FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(FIRST)))  # stable: same order within
    for item in items:
        name = item.path.name
        test = f"{name}::{getattr(item, 'originalname', item.name)}"
        for marker, table in MARKED.items():
            if name in table or test in table:
                item.add_marker(getattr(pytest.mark, marker))


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
    """One build of the bundled project for the whole run (both xdist workers): read it only;
    a test that changes a site takes a copy (kgtest.copy_build)."""
    from kgpub.site import build

    def make(where: Path) -> None:
        result = build(bundled_project, where / "site")
        assert result.out == where / "site"

    return shared(tmp_path_factory, "bundled", make) / "site"


@pytest.fixture(scope="session")
def html_pages(built_site) -> dict[str, Page]:
    return parse_pages(built_site)


@pytest.fixture(scope="session")
def kgpub_bin() -> Path:
    assert KGPUB_BIN.exists(), f"{KGPUB_BIN} not found: is kgpub installed in the venv?"
    return KGPUB_BIN
