"""The SPARQL engine (kgpub.sparql): what check_query refuses, result formats and the row cap,
and the worker pool's time limit, busy refusal and crash recovery, on a small graph made here."""

from __future__ import annotations

import asyncio
import csv as csv_module
import gc
import gzip
import http.server
import io
import json
import os
import re
import signal
import threading
import time
from pathlib import Path

import pyoxigraph as ox
import pytest

from kgpub import sparql as query_module
from kgpub.errors import ConfigError
from kgpub.formats import used_prefixes
from kgpub.server.sparql import http_status
from kgpub.sparql import (
    GRAPH_MEDIA_TYPES,
    HTML_CELL_CHARS,
    HTML_ROWS,
    MAX_QUERY_BYTES,
    PARSE_IN_PROCESS_BYTES,
    SOLUTION_MEDIA_TYPES,
    FormatNotAvailable,
    PoolBusy,
    QueryLimits,
    QueryPool,
    QueryRefused,
    QueryTimeout,
    WorkerCrashed,
    check_query,
    choose_format,
    table,
)
from kgpub.sparql.check import _CACHE
from kgpub.sparql.messages import send as _send

EX = "http://example.org/"
THINGS = 150  # x3 triples, plus a few odd ones
# Every triple with every triple with every triple, sorted: nothing comes out before the sort.
CARTESIAN = "SELECT * WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i } ORDER BY ?a ?e ?i"


# ---- fixtures ---------------------------------------------------------------------------------


@pytest.fixture(scope="module", autouse=True)
def _frozen_before():
    """What exists before this module (the session's graphs and pages, other modules' objects)
    is left out of the collections below: a full collection of a worker's whole heap after each
    of some 200 tests took ~20 s of the run. The tests' own garbage is all made after this."""
    gc.collect()
    gc.freeze()
    yield
    gc.unfreeze()


@pytest.fixture(autouse=True)
def _collect_here(_frozen_before):
    """pyoxigraph's query results may only be freed on the thread that made them: collect the
    tests' garbage here, not in whichever pool thread happens to trigger a collection."""
    yield
    gc.collect()


def _fixture_triples() -> list[str]:
    lines = []
    for i in range(THINGS):
        s = f"<{EX}thing/{i}>"
        lines.append(f"{s} <http://www.w3.org/1999/02/22-rdf-syntax-ns#type> <{EX}Thing> .")
        lines.append(f'{s} <http://www.w3.org/2000/01/rdf-schema#label> "Thing {i}"@en .')
        lines.append(f'{s} <{EX}rank> "{i}"^^<http://www.w3.org/2001/XMLSchema#integer> .')
    lines += [
        f'<{EX}odd> <{EX}text> "two\\nlines\\tand a tab, \\"quotes\\" and \\\\" .',
        f'<{EX}odd> <{EX}text> "chat"@fr .',
        f'<{EX}odd> <{EX}text> "1.50"^^<http://www.w3.org/2001/XMLSchema#decimal> .',
        f"<{EX}odd> <{EX}node> _:b1 .",
        f'_:b1 <{EX}text> "in a blank node" .',
    ]
    return lines


@pytest.fixture(scope="module")
def graph_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("graph") / "dataset.nt.gz"
    with gzip.open(path, "wt", encoding="utf-8") as f:
        f.write("\n".join(_fixture_triples()) + "\n")
    return path


@pytest.fixture(scope="module")
def pool(graph_file):
    with QueryPool(graph_file, QueryLimits(timeout=5.0, max_rows=50, workers=2)) as p:
        assert p.wait_ready(30)
        yield p


@pytest.fixture(scope="module")
def direct_store(graph_file) -> ox.Store:
    store = ox.Store()
    with gzip.open(graph_file, "rb") as f:
        store.bulk_load(input=f, format=ox.RdfFormat.N_TRIPLES)
    return store


class _Listener:
    """An HTTP server on 127.0.0.1 that records every request it gets."""

    def __init__(self):
        self.hits: list[str] = []
        hits = self.hits

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                hits.append(f"{self.command} {self.path}")
                self.send_response(500)
                self.end_headers()

            do_POST = do_GET

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def listener():
    server = _Listener()
    yield server
    server.close()


def _wait_for(predicate, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.01)


def _dead(pid: int) -> bool:
    """Exited: every thread of it gone or a zombie. The main thread alone showing "Z" is not
    enough: the others may still be exiting, holding the pipe open, and waitpid() reports the
    process only once they are all gone."""
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except FileNotFoundError:
        return True
    for task in tasks:
        try:
            with open(f"/proc/{pid}/task/{task}/stat", encoding="ascii") as f:
                if f.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X"):
                    return False
        except FileNotFoundError:
            continue
    return True


def _busy(p: QueryPool) -> bool:
    return any(w["state"] == "busy" for w in p.status()["workers"])


def _in_thread(fn) -> tuple[threading.Thread, dict]:
    outcome: dict = {}

    def target():
        started = time.monotonic()
        try:
            outcome["result"] = fn()
        except Exception as exc:
            outcome["error"] = exc
        outcome["elapsed"] = time.monotonic() - started

    thread = threading.Thread(target=target)
    thread.start()
    return thread, outcome


# ---- check_query ------------------------------------------------------------------------------

SERVICE_REFUSED = [
    ("plain", "SELECT * WHERE { SERVICE <http://example.org/sparql> { ?s ?p ?o } }"),
    ("silent", "SELECT * WHERE { SERVICE SILENT <http://example.org/sparql> { ?s ?p ?o } }"),
    ("variable IRI", "SELECT * WHERE { ?s ?p ?svc . SERVICE ?svc { ?s ?p ?o } }"),
    ("lowercase", "select * where { service <http://example.org/sparql> { ?s ?p ?o } }"),
    ("mixed case", "SELECT * WHERE { sErViCe SiLeNt ?x { ?s ?p ?o } }"),
    ("nested in OPTIONAL", "SELECT * WHERE { ?s ?p ?o OPTIONAL { { SERVICE <http://x/> {} } } }"),
    ("in a subquery", "SELECT * WHERE { { SELECT ?s WHERE { SERVICE <http://x/> { ?s ?p ?o } } } }"),
    ("in FILTER EXISTS", "ASK { ?s ?p ?o FILTER EXISTS { SERVICE <http://x/> { ?s ?p ?o } } }"),
    ("in BIND EXISTS", "SELECT * WHERE { BIND(EXISTS { SERVICE <http://x/> {} } AS ?b) }"),
    ("in UNION", "SELECT * WHERE { { ?s ?p ?o } UNION { SERVICE <http://x/> { ?s ?p ?o } } }"),
    ("in MINUS", "SELECT * WHERE { ?s ?p ?o MINUS { SERVICE <http://x/> { ?s ?p ?o } } }"),
    ("in CONSTRUCT", "CONSTRUCT { ?s ?p ?o } WHERE { SERVICE <http://x/> { ?s ?p ?o } }"),
    ("in DESCRIBE", "DESCRIBE ?s WHERE { SERVICE <http://x/> { ?s ?p ?o } }"),
    ("no spaces", "SELECT*WHERE{SERVICE<http://x/>{?s ?p ?o}}"),
    # oxigraph matches keywords without a word boundary: this one would run SERVICE SILENT.
    ("glued keywords", "SELECT * WHERE { SERVICESILENT<http://x/>{ ?s ?p ?o } }"),
    ("after a newline in a comment", "SELECT * WHERE { # a comment\nSERVICE <http://x/> {} }"),
    ("prefixed service IRI", "PREFIX e: <http://x/> SELECT * WHERE { SERVICE e:sparql {} }"),
    ("empty prefix IRI", "PREFIX : <http://x/> SELECT * WHERE { ?s ?p ?o SERVICE :q {} }"),
    # "<" after an operand may be "less than": then "#" starts a comment, not an IRI fragment.
    ("comparison hiding a comment",
     "SELECT * WHERE { ?s ?p ?o FILTER(?s<?o)SERVICE#>\n<http://x/>{ ?s ?p ?o } }"),
]

ALLOWED = [
    ("in a comment", "SELECT * WHERE { ?s ?p ?o } # SERVICE <http://x/> { ?s ?p ?o }", "SELECT"),
    ("in a string", "SELECT * WHERE { ?s ?p 'SERVICE <http://x/> { }' }", "SELECT"),
    ("in a long string", 'ASK { ?s ?p """\nSERVICE <http://x/> {}\n""" }', "ASK"),
    ("escaped quote in a string", r'ASK { ?s ?p "a \" SERVICE <http://x/> {} #" }', "ASK"),
    ("in an IRI", "SELECT * WHERE { ?s <http://example.org/SERVICE> ?o }", "SELECT"),
    ("a variable", "SELECT ?service WHERE { ?service ?p ?o }", "SELECT"),
    ("a local name", "PREFIX sd: <http://www.w3.org/ns/sparql-service-description#>\n"
                     "SELECT ?s WHERE { ?s a sd:Service }", "SELECT"),
    ("a hash IRI in a VALUES row", "SELECT * WHERE { VALUES (?a ?b) { (<http://x/a#1> "
                                   "<http://x/sparql-service-description#Service>) } }", "SELECT"),
    ("a language tag", 'ASK { ?s ?p "x"@service }', "ASK"),
    ("CONSTRUCT", "CONSTRUCT { ?s ?p ?o } WHERE { ?s ?p ?o }", "CONSTRUCT"),
    ("CONSTRUCT WHERE", "CONSTRUCT WHERE { ?s ?p ?o }", "CONSTRUCT"),
    ("DESCRIBE", "DESCRIBE <http://example.org/thing/1>", "DESCRIBE"),
    ("ASK", "PREFIX ex: <http://example.org/> ASK { ex:odd ?p ?o }", "ASK"),
    ("FROM", "SELECT * FROM <http://x/g> FROM NAMED <http://x/h> WHERE { ?s ?p ?o }", "SELECT"),
    ("lowercase select", "select ?s where { ?s ?p ?o } limit 1", "SELECT"),
]

UPDATES = [
    "INSERT DATA { <http://a> <http://b> <http://c> }",
    "insert data { <http://a> <http://b> <http://c> }",
    "DELETE DATA { <http://a> <http://b> <http://c> }",
    "DELETE WHERE { ?s ?p ?o }",
    "PREFIX ex: <http://example.org/> DELETE { ?s ex:p ?o } INSERT { ?s ex:q ?o } WHERE { ?s ex:p ?o }",
    "WITH <http://g> DELETE { ?s ?p ?o } WHERE { ?s ?p ?o }",
    "LOAD <http://example.org/data.ttl>",
    "LOAD SILENT <file:///etc/passwd> INTO GRAPH <http://g>",
    "CLEAR ALL",
    "CREATE GRAPH <http://g>",
    "DROP ALL",
    "COPY DEFAULT TO <http://g>",
    "MOVE <http://g> TO DEFAULT",
    "ADD <http://g> TO <http://h>",
]

MALFORMED = [
    ("incomplete triple", "SELECT * WHERE { ?s ?p }"),
    ("misspelt keyword", "SELEC * WHERE { ?s ?p ?o }"),
    ("unclosed brace", "SELECT * WHERE { ?s ?p ?o"),
    ("unclosed string", "SELECT * WHERE { ?s ?p 'abc }"),
    ("trailing garbage", "ASK {} }"),
    ("query then update", "SELECT * WHERE {} ; INSERT DATA { <http://a> <http://b> <http://c> }"),
    ("not SPARQL", "hello world"),
    ("escaped keyword", r"SELECT * WHERE { S\u0045RVICE <http://x/> {} }"),
]


@pytest.mark.parametrize("name,query", SERVICE_REFUSED, ids=[c[0] for c in SERVICE_REFUSED])
def test_service_is_refused(name, query):
    with pytest.raises(QueryRefused) as exc:
        check_query(query)
    assert http_status(exc.value) == 400
    assert "SERVICE" in exc.value.message


@pytest.mark.parametrize("name,query,form", ALLOWED, ids=[c[0] for c in ALLOWED])
def test_allowed_queries_and_their_form(name, query, form):
    info = check_query(query)
    assert info.form == form
    assert info.parsed  # small queries are parsed in full here
    assert info.returns_graph == (form in ("CONSTRUCT", "DESCRIBE"))


@pytest.mark.parametrize("query", UPDATES)
def test_updates_are_refused(query):
    with pytest.raises(QueryRefused) as exc:
        check_query(query)
    assert http_status(exc.value) == 400
    assert "read-only" in exc.value.message


@pytest.mark.parametrize("name,query", MALFORMED, ids=[c[0] for c in MALFORMED])
def test_malformed_queries_get_400_with_the_parsers_message(name, query):
    with pytest.raises(QueryRefused) as exc:
        check_query(query)
    assert http_status(exc.value) == 400
    assert exc.value.message


@pytest.mark.parametrize("text,status", [
    ("", 400),
    ("   \n\t", 400),
    ("SELECT * WHERE { ?s ?p '\ud800' }", 400),  # not encodable: a lone surrogate
    ("SELECT * WHERE " + "{" * 150 + "}" * 150, 400),  # nests too deep for the engine
    ("ASK {} #" + "x" * MAX_QUERY_BYTES, 413),
])
def test_unusable_text(text, status):
    with pytest.raises(QueryRefused) as exc:
        check_query(text)
    assert http_status(exc.value) == status


def test_check_query_reads_the_size_limit():
    with pytest.raises(QueryRefused) as exc:
        check_query("ASK { ?s ?p ?o }", max_bytes=10)
    assert http_status(exc.value) == 413


def test_check_query_never_evaluates():
    # 300^3 combinations: pyoxigraph takes seconds to evaluate this ASK (even on an empty
    # store), so answering at once shows it was only parsed.
    values = " ".join(str(i) for i in range(300))
    query = (f"ASK {{ VALUES ?a {{ {values} }} VALUES ?b {{ {values} }} VALUES ?c {{ {values} }} "
             "FILTER(?a + ?b + ?c < 0) }")
    started = time.monotonic()
    assert check_query(query).form == "ASK"
    assert time.monotonic() - started < 1.0


def test_large_queries_are_checked_by_the_lexer_here_and_parsed_in_the_worker(pool):
    values = " ".join(f'"v{i}"' for i in range(PARSE_IN_PROCESS_BYTES // 6))
    query = f"SELECT ?x WHERE {{ VALUES ?x {{ {values} }} }} LIMIT 3"
    assert len(query) > PARSE_IN_PROCESS_BYTES
    info = check_query(query)
    assert info.form == "SELECT" and not info.parsed
    assert pool.run(query).rows == 3
    # The lexer alone still refuses SERVICE, and still allows it in strings and comments.
    with pytest.raises(QueryRefused, match="SERVICE"):
        check_query(query.replace("LIMIT 3", "SERVICE <http://x/> {}"))
    assert pool.run(query.replace("LIMIT 3", "# SERVICE <http://x/> {}\nLIMIT 3")).rows == 3
    # Malformed big queries get the parser's message from the worker.
    with pytest.raises(QueryRefused) as exc:
        pool.run(query.replace("?x WHERE", "?x WHERE { ?s ?p }"))
    assert http_status(exc.value) == 400 and "Malformed" in exc.value.message


# ---- limits -----------------------------------------------------------------------------------


def test_limits_from_config():
    assert QueryLimits.from_config({}) == QueryLimits()
    limits = QueryLimits.from_config({"timeout": 2, "max_rows": 100, "workers": 3})
    assert (limits.timeout, limits.max_rows, limits.workers) == (2.0, 100, 3)
    assert QueryLimits.from_config({"sparql": {"workers": 1}}).workers == 1
    limits = QueryLimits.from_config({"max_queue": 8, "max_queue_wait": 2, "max_result_bytes": 4096})
    assert (limits.max_queue, limits.max_queue_wait, limits.max_result_bytes) == (8, 2.0, 4096)
    # Queue by default: a burst waits for a worker instead of being refused.
    assert QueryLimits().max_queue > 0 and QueryLimits().max_queue_wait > 0
    assert QueryLimits().max_result_bytes == 32 * 1024 * 1024


@pytest.mark.parametrize("cfg", [
    {"timout": 5}, {"timeout": 0}, {"timeout": "5"}, {"workers": 0}, {"workers": 2.5},
    {"max_rows": True}, {"max_queue_wait": -1}, {"max_queue": -1}, {"max_queue": 1.5},
    {"max_result_bytes": 100}, {"max_result_bytes": "32M"}, {"max_result_bytes": False},
])
def test_bad_limits_are_config_errors(cfg):
    with pytest.raises(ConfigError):
        QueryLimits.from_config(cfg)


# ---- formats ----------------------------------------------------------------------------------


@pytest.mark.parametrize("form,requested,name", [
    ("SELECT", None, "json"),
    ("ASK", "", "json"),
    ("CONSTRUCT", None, "ttl"),
    ("DESCRIBE", None, "ttl"),
    ("SELECT", "json", "json"),
    ("SELECT", "application/sparql-results+json", "json"),
    ("SELECT", "application/json", "json"),
    ("SELECT", "xml", "xml"),
    ("ASK", "application/sparql-results+xml", "xml"),
    ("SELECT", "text/csv; charset=utf-8", "csv"),
    ("SELECT", "TSV", "tsv"),
    ("ASK", "text/tab-separated-values", "tsv"),
    ("CONSTRUCT", "text/turtle", "ttl"),
    ("CONSTRUCT", "jsonld", "jsonld"),
    ("DESCRIBE", "application/ld+json", "jsonld"),
    ("CONSTRUCT", "application/n-triples", "nt"),
    ("CONSTRUCT", "rdf", "rdf"),
    ("DESCRIBE", "application/rdf+xml", "rdf"),
    ("CONSTRUCT", "xml", "rdf"),  # as ?format=xml and `kgpub query --format xml` mean it
])
def test_choose_format(form, requested, name):
    assert choose_format(form, requested).name == name


@pytest.mark.parametrize("form,requested", [
    ("CONSTRUCT", "csv"), ("CONSTRUCT", "text/tab-separated-values"),
    ("DESCRIBE", "application/sparql-results+json"), ("SELECT", "ttl"),
    ("ASK", "application/rdf+xml"), ("SELECT", "text/html"), ("SELECT", "yaml"),
])
def test_format_mismatch_is_406(form, requested):
    with pytest.raises(FormatNotAvailable) as exc:
        choose_format(form, requested)
    assert http_status(exc.value) == 406


def test_media_type_lists_lead_with_the_defaults():
    assert SOLUTION_MEDIA_TYPES[0] == "application/sparql-results+json"
    assert GRAPH_MEDIA_TYPES[0] == "text/turtle"
    assert set(SOLUTION_MEDIA_TYPES) == {
        "application/sparql-results+json", "application/sparql-results+xml", "text/csv",
        "text/tab-separated-values"}
    assert set(GRAPH_MEDIA_TYPES) == {
        "text/turtle", "application/ld+json", "application/n-triples", "application/rdf+xml"}


ODD = f"SELECT ?p ?o ?none WHERE {{ <{EX}odd> ?p ?o }} ORDER BY ?p ?o"


@pytest.mark.parametrize("fmt", ["json", "xml", "tsv"])
def test_solutions_match_pyoxigraph_directly(pool, direct_store, fmt):
    """Results go through a capped TSV and back: nothing of a term may be lost."""
    qfmt = choose_format("SELECT", fmt).results
    result = pool.run(ODD, fmt)
    expected = direct_store.query(ODD).serialize(format=qfmt)
    assert result.media_type == choose_format("SELECT", fmt).media_type
    assert result.rows == 4 and not result.truncated
    assert _solutions(result.body, qfmt) == _solutions(expected, qfmt)


def _solutions(body: bytes, fmt: ox.QueryResultsFormat) -> list[list[str]]:
    """Rows of terms in N-Triples syntax; blank nodes get a label per load, so they compare
    as one."""
    def term(t) -> str:
        return "_:b" if isinstance(t, ox.BlankNode) else str(t)

    return [[term(t) for t in s] for s in ox.parse_query_results(body, fmt)]


def test_csv_and_ask(pool):
    csv = pool.run(ODD, "text/csv")
    rows = list(csv_module.reader(io.StringIO(csv.body.decode("utf-8"), newline="")))
    assert rows[0] == ["p", "o", "none"] and csv.rows == len(rows) - 1 == 4
    assert ["http://example.org/text", 'two\nlines\tand a tab, "quotes" and \\', ""] in rows
    for fmt in ("json", "xml", "csv", "tsv"):
        result = pool.run("ASK { ?s a <http://example.org/Thing> }", fmt)
        assert result.rows is None and not result.truncated
        assert b"true" in result.body


@pytest.mark.parametrize("fmt", ["ttl", "jsonld", "nt", "rdf"])
def test_graph_results_in_every_rdf_format(pool, fmt):
    query = f"PREFIX ex: <{EX}> CONSTRUCT {{ ?s ex:named ?l }} WHERE {{ ?s ?p ?l }} LIMIT 10"
    result = pool.run(query, fmt)
    rdf = choose_format("CONSTRUCT", fmt).rdf
    triples = list(ox.parse(result.body, format=rdf))
    assert len(triples) == result.rows == 10
    if fmt == "ttl":
        assert result.body.startswith(b"@prefix ex: <http://example.org/>")  # the query's


def test_describe(pool):
    result = pool.run(f"DESCRIBE <{EX}thing/7>", "nt")
    triples = list(ox.parse(result.body, format=ox.RdfFormat.N_TRIPLES))
    assert len(triples) == 3 and {t.subject.value for t in triples} == {f"{EX}thing/7"}


def test_format_mismatch_through_the_pool(pool):
    with pytest.raises(FormatNotAvailable):
        pool.run("CONSTRUCT WHERE { ?s ?p ?o }", "csv")


def test_table_for_the_terminal(pool):
    text = table(pool.run("SELECT ?s ?l WHERE { ?s <http://www.w3.org/2000/01/rdf-schema#label> "
                          "?l } ORDER BY ?l LIMIT 2"))
    lines = text.splitlines()
    assert lines[0].split() == ["s", "l"]
    assert lines[2].split() == [f"{EX}thing/0", "Thing", "0@en"]
    assert lines[-1] == "2 row(s)"
    assert table(pool.run("ASK {}")) == "true"


# ---- the row cap ------------------------------------------------------------------------------


@pytest.mark.parametrize("query,fmt,rows,truncated", [
    ("SELECT * WHERE { ?s ?p ?o }", "json", 50, True),
    ("SELECT * WHERE { ?s ?p ?o }", "csv", 50, True),
    ("SELECT * WHERE { ?s ?p ?o } LIMIT 50", "json", 50, False),  # exactly the cap: complete
    ("SELECT * WHERE { ?s ?p ?o } LIMIT 51", "json", 50, True),
    ("SELECT * WHERE { ?s ?p ?o } LIMIT 7", "tsv", 7, False),
    ("SELECT * WHERE { ?s ?p ?o } ORDER BY DESC(?o)", "xml", 50, True),
    ("CONSTRUCT WHERE { ?s ?p ?o }", "nt", 50, True),
    ("CONSTRUCT WHERE { ?s ?p ?o }", "ttl", 50, True),
    (f"DESCRIBE <{EX}thing/3>", "ttl", 3, False),
])
def test_row_cap(pool, query, fmt, rows, truncated):
    result = pool.run(query, fmt)
    assert (result.rows, result.truncated) == (rows, truncated)
    form = check_query(query).form
    if form == "SELECT":
        if fmt == "csv":  # values may hold line breaks: read it as CSV
            parsed = list(csv_module.reader(io.StringIO(result.body.decode(), newline="")))[1:]
        else:
            parsed = list(ox.parse_query_results(result.body, choose_format(form, fmt).results))
        assert len(parsed) == rows
    else:
        assert len(list(ox.parse(result.body, format=choose_format(form, fmt).rdf))) == rows


# ---- nothing is fetched -----------------------------------------------------------------------


def test_the_listener_would_see_a_fetch(listener):
    """Control: pyoxigraph on its own does call SERVICE endpoints, so the tests below would
    notice one."""
    with pytest.raises(OSError):
        list(ox.Store().query(f"SELECT * WHERE {{ SERVICE <{listener.url}> {{ ?s ?p ?o }} }}"))
    assert listener.hits


def test_service_to_a_local_listener_is_refused(pool, listener):
    for query in (
        f"SELECT * WHERE {{ SERVICE <{listener.url}> {{ ?s ?p ?o }} }}",
        f"SELECT * WHERE {{ SERVICE SILENT <{listener.url}> {{ ?s ?p ?o }} }}",
        f"ASK {{ FILTER EXISTS {{ SERVICE <{listener.url}> {{}} }} }}",
    ):
        with pytest.raises(QueryRefused) as exc:
            pool.run(query)
        assert http_status(exc.value) == 400
    assert listener.hits == []


def test_from_and_from_named_fetch_nothing(pool, listener, tmp_path):
    # A real N-Triples file: if FROM <file:...> loaded it, its triple would show.
    secret = tmp_path / "secret.nt"
    secret.write_text('<urn:secret> <urn:p> "leaked" .\n', encoding="utf-8")
    for query in (
        f"SELECT * FROM <{listener.url}x> WHERE {{ ?s ?p ?o }}",
        f"SELECT * FROM NAMED <{listener.url}g> WHERE {{ GRAPH ?g {{ ?s ?p ?o }} }}",
        "SELECT * FROM <file:///etc/passwd> WHERE { ?s ?p ?o }",
        f"SELECT * FROM <{secret.as_uri()}> WHERE {{ ?s ?p ?o }}",
    ):
        result = pool.run(query)
        assert result.rows == 0, query  # FROM selects a graph of the store: there is none
    result = pool.run("SELECT * WHERE { ?s ?p ?o }", default_graph_uris=[listener.url + "d"],
                      named_graph_uris=[listener.url + "n"])
    assert result.rows == 0
    assert listener.hits == []
    # Without a dataset clause the default graph is the data.
    assert pool.run("SELECT * WHERE { ?s ?p ?o } LIMIT 5").rows == 5


def test_bad_graph_iri_parameter(pool):
    with pytest.raises(QueryRefused) as exc:
        pool.run("ASK {}", default_graph_uris=["not an iri"])
    assert http_status(exc.value) == 400


def test_workers_cannot_reach_the_network_even_unchecked(pool, listener):
    """The backstop: a SERVICE sent straight to a worker, past check_query, reaches nothing
    when the OS let the worker into an empty network namespace."""
    if not all(w.get("network_isolated") for w in pool.status()["workers"]):
        pytest.skip("this OS does not let workers leave the network namespace")
    worker = pool._acquire()
    head, _, spool, _ = pool._exchange(worker, {
        "query": f"SELECT * WHERE {{ SERVICE <{listener.url}> {{ ?s ?p ?o }} }}",
        "format": "json", "default_graphs": [], "named_graphs": [], "max_rows": 10,
        "max_bytes": 1 << 20, "check": False, "timeout": 5.0,
    })
    assert spool is None
    assert head["kind"] == "refused" and "unreachable" in head["message"].lower()
    assert listener.hits == []


# ---- the pool ---------------------------------------------------------------------------------


def test_startup_does_not_block_and_async_runs(graph_file):
    started = time.monotonic()
    p = QueryPool(graph_file, QueryLimits(workers=1))
    try:
        assert time.monotonic() - started < 0.5
        assert p.status()["workers"][0]["state"] == "loading"
        # A query during start-up waits for the load instead of being refused.
        assert p.run("ASK { ?s ?p ?o }").body == b'{"head":{},"boolean":true}'
        assert p.wait_ready(30)
        result = asyncio.run(p.arun("ASK { ?s ?p ?o }", "application/sparql-results+json"))
        assert json.loads(result.body) == {"head": {}, "boolean": True}
        assert p.status()["workers"][0]["triples"] == 3 * THINGS + 5
    finally:
        p.close()
    with pytest.raises(QueryRefused) as exc:
        p.run("ASK {}")
    assert http_status(exc.value) == 503
    assert all(not os.path.exists(f"/proc/{w['pid']}") for w in p.status()["workers"])


def test_timeout_kills_the_query_while_others_are_served(graph_file):
    limits = QueryLimits(timeout=1.5, workers=2)
    with QueryPool(graph_file, limits) as p:
        assert p.wait_ready(30)
        before = {w["pid"] for w in p.status()["workers"]}
        thread, slow = _in_thread(lambda: p.run(CARTESIAN))
        _wait_for(lambda: _busy(p))
        started = time.monotonic()
        quick = p.run("SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }")
        assert time.monotonic() - started < 0.5  # the other worker answers meanwhile
        assert json.loads(quick.body)["results"]["bindings"][0]["n"]["value"] == str(3 * THINGS + 5)
        thread.join(10)
        assert isinstance(slow.get("error"), QueryTimeout), slow
        assert limits.timeout <= slow["elapsed"] < limits.timeout + 1.0
        assert slow["error"].retry_after >= 1  # for the HTTP layer's Retry-After
        # The killed worker is replaced, and the pool serves queries again.
        assert p.wait_ready(30)
        after = {w["pid"] for w in p.status()["workers"]}
        assert p.status()["replaced"] == 1 and len(after) == 2 and len(after - before) == 1
        killed = (before - after).pop()
        _wait_for(lambda: _dead(killed))
        for _ in range(4):
            assert p.run("ASK { ?s ?p ?o }").body == b'{"head":{},"boolean":true}'


def test_busy_pool_refuses_at_once_or_waits_when_allowed(graph_file):
    with QueryPool(graph_file, QueryLimits(timeout=1.0, workers=1, max_queue_wait=0)) as p:
        assert p.wait_ready(30)
        thread, slow = _in_thread(lambda: p.run(CARTESIAN))
        _wait_for(lambda: _busy(p))
        started = time.monotonic()
        with pytest.raises(PoolBusy) as exc:
            p.run("ASK {}")
        assert time.monotonic() - started < 0.2
        assert 1 <= exc.value.retry_after <= 2
        thread.join(10)
        assert isinstance(slow.get("error"), QueryTimeout)
        # While the replacement loads, the pool is busy too: refused, not queued.
        with pytest.raises(PoolBusy, match="loading"):
            p.run("ASK {}")
    # With a queue wait, the second query waits for the replacement worker instead.
    with QueryPool(graph_file, QueryLimits(timeout=1.0, workers=1, max_queue_wait=5)) as p:
        assert p.wait_ready(30)
        thread, slow = _in_thread(lambda: p.run(CARTESIAN))
        _wait_for(lambda: _busy(p))
        assert p.run("ASK { ?s ?p ?o }").body == b'{"head":{},"boolean":true}'
        thread.join(10)
        assert isinstance(slow.get("error"), QueryTimeout)


def test_crashed_worker_is_replaced(graph_file):
    with QueryPool(graph_file, QueryLimits(timeout=10.0, workers=2)) as p:
        assert p.wait_ready(30)
        thread, slow = _in_thread(lambda: p.run(CARTESIAN))
        _wait_for(lambda: _busy(p))
        time.sleep(0.3)  # busy from the moment it is taken: let the query reach it
        victim = next(w["pid"] for w in p.status()["workers"] if w["state"] == "busy")
        os.kill(victim, signal.SIGKILL)
        thread.join(5)
        assert isinstance(slow.get("error"), WorkerCrashed), slow
        # 503, not 500: nothing is wrong with the query as far as anyone knows; retry.
        assert http_status(slow["error"]) == 503 and slow["elapsed"] < 5
        assert slow["error"].retry_after >= 1
        assert "replaced" in slow["error"].message and "SIGKILL" in slow["error"].message
        # An idle worker that dies is noticed and replaced too; the other one answers.
        assert p.wait_ready(30)
        idle = p.status()["workers"][0]["pid"]
        os.kill(idle, signal.SIGKILL)
        _wait_for(lambda: _dead(idle))
        assert p.run("ASK { ?s ?p ?o }").body == b'{"head":{},"boolean":true}'
        assert p.wait_ready(30)
        status = p.status()
        assert status["replaced"] == 2 and len(status["workers"]) == 2
        assert {victim, idle}.isdisjoint(w["pid"] for w in status["workers"])


def test_a_worker_ends_itself_if_nobody_kills_it(graph_file):
    """If the parent dies mid-query, nobody kills the worker at the deadline: its own timer
    (SIGALRM, default action) ends it two seconds later."""
    with QueryPool(graph_file, QueryLimits(workers=1)) as p:
        assert p.wait_ready(30)
        worker = p._acquire()
        started = time.monotonic()
        _send(worker.conn, {
            "query": CARTESIAN, "format": "json", "default_graphs": [], "named_graphs": [],
            "max_rows": 10, "max_bytes": 1 << 20, "timeout": 0.2,
        })
        worker.process.join(10)
        assert worker.process.exitcode == -signal.SIGALRM
        assert time.monotonic() - started < 4


def test_a_graph_that_cannot_load(tmp_path):
    bad = tmp_path / "bad.nt.gz"
    with gzip.open(bad, "wt") as f:
        f.write("<http://a> <http://b> this is not N-Triples\n")
    with QueryPool(bad, QueryLimits(workers=1)) as p:
        with pytest.raises(QueryRefused) as exc:
            p.wait_ready(30)
        assert http_status(exc.value) == 503 and "could not load" in exc.value.message
    with pytest.raises(FileNotFoundError):
        QueryPool(tmp_path / "missing.nt.gz")
    (tmp_path / "data.xyz").write_text("")
    with pytest.raises(ValueError):
        QueryPool(tmp_path / "data.xyz")


# ---- checking happens in the worker, under the time limit -------------------------------------

REFUSED_EVERYWHERE = (
    [q for _, q in SERVICE_REFUSED] + UPDATES + [q for _, q in MALFORMED]
    + ["SELECT * WHERE " + "{" * 150 + "}" * 150]
)


def test_the_worker_refuses_with_the_same_status_and_message(pool):
    for query in REFUSED_EVERYWHERE:
        with pytest.raises(QueryRefused) as here:
            check_query(query, full=True)
        with pytest.raises(QueryRefused) as there:
            pool.run(query)
        assert (http_status(there.value), there.value.message) == (
            http_status(here.value), here.value.message), query


def test_the_calling_process_never_parses_a_query(pool, monkeypatch):
    """Only size and encoding are checked by the caller (the HTTP server's event loop): with the
    lexer and the parser broken in this process, queries are still checked, refused and
    answered, by the workers."""
    def boom(*args, **kwargs):
        raise AssertionError("a query was parsed in the calling process")

    # Wherever the calling process could look them up: their modules, the pool's, the package.
    from kgpub.sparql import check, formats
    from kgpub.sparql import pool as pool_module

    for module in (check, formats, pool_module, query_module):
        for name in ("_scan", "_parse", "_check", "check_query", "choose_format"):
            if hasattr(module, name):
                monkeypatch.setattr(module, name, boom)
    assert pool.run("ASK { ?s ?p ?o }").body == b'{"head":{},"boolean":true}'
    assert pool.run(f"CONSTRUCT WHERE {{ <{EX}thing/1> ?p ?o }}", "nt").rows == 3
    with pytest.raises(QueryRefused, match="SERVICE"):
        pool.run("SELECT * WHERE { SERVICE <http://127.0.0.1:1/> { ?s ?p ?o } }")
    with pytest.raises(QueryRefused, match="read-only"):
        pool.run("CLEAR ALL")
    with pytest.raises(FormatNotAvailable):
        pool.run("CONSTRUCT WHERE { ?s ?p ?o }", "csv")
    with pytest.raises(QueryRefused) as exc:  # 413 without shipping the text to a worker
        pool.run("ASK {} #" + "x" * MAX_QUERY_BYTES)
    assert http_status(exc.value) == 413


def test_an_expensive_check_is_stopped_by_the_time_limit(graph_file):
    # rdflib's parser needs seconds for a long arithmetic FILTER: that time is the worker's,
    # under the query's limit, never the caller's.
    query = "ASK { ?s ?p ?o FILTER(" + " + ".join(["(?o * 2 - 1)"] * 600) + " > 0) }"
    with QueryPool(graph_file, QueryLimits(timeout=0.5, workers=1)) as p:
        assert p.wait_ready(30)
        started = time.monotonic()
        with pytest.raises(QueryTimeout) as exc:
            p.run(query)
        assert time.monotonic() - started < 0.5 + 1.0
        assert exc.value.retry_after >= 1


@pytest.mark.parametrize("query", [
    "PREFIX a: <http://a/>", "BASE <http://x/>", "PREFIX a: <http://a/>\nPREFIX b: <http://b/>",
])
def test_a_prologue_alone_is_malformed_not_an_update(pool, query):
    with pytest.raises(QueryRefused) as here:
        check_query(query)
    assert http_status(here.value) == 400 and here.value.message.startswith("Malformed query")
    assert "read-only" not in here.value.message
    with pytest.raises(QueryRefused) as there:
        pool.run(query)
    assert (http_status(there.value), there.value.message) == (400, here.value.message)


def test_the_cache_of_verdicts_is_bounded():
    for i in range(_CACHE.size + 50):
        check_query(f"ASK {{ ?s ?p {i} }}")
    for _ in range(2):  # refusals are remembered too, with their message
        with pytest.raises(QueryRefused, match="Malformed"):
            check_query("SELEC * WHERE { ?s ?p ?o }")
    assert len(_CACHE) <= _CACHE.size


# ---- the byte cap -----------------------------------------------------------------------------

CAP = 4096
ORDERED = "SELECT ?s ?p ?o WHERE { ?s ?p ?o } ORDER BY ?s ?p ?o"


@pytest.fixture(scope="module")
def small_pool(graph_file):
    limits = QueryLimits(timeout=5.0, max_rows=1000, max_result_bytes=CAP, workers=1)
    with QueryPool(graph_file, limits) as p:
        assert p.wait_ready(30)
        yield p


@pytest.mark.parametrize("fmt", ["json", "xml", "csv", "tsv"])
def test_solutions_are_cut_at_max_result_bytes_after_a_whole_solution(small_pool, direct_store,
                                                                       fmt):
    result = small_pool.run(ORDERED, fmt)
    assert result.truncated and result.truncated_reason == "bytes"
    assert 0 < result.rows < 3 * THINGS and len(result.body) <= CAP
    qfmt = choose_format("SELECT", fmt).results
    # Exactly the first solutions; one more would not have fitted.
    expected = direct_store.query(f"{ORDERED} LIMIT {result.rows}").serialize(format=qfmt)
    if fmt == "csv":  # pyoxigraph does not read CSV (lossy): compare the text, less the labels
        def unlabel(body):  # of blank nodes, which each load makes anew
            return re.sub(rb"_:\w+", b"_:b", body)

        assert unlabel(result.body) == unlabel(expected)
    else:
        assert _solutions(result.body, qfmt) == _solutions(expected, qfmt)
    bigger = direct_store.query(f"{ORDERED} LIMIT {result.rows + 1}").serialize(format=qfmt)
    assert len(bigger) > CAP


@pytest.mark.parametrize("fmt", ["ttl", "nt", "jsonld", "rdf"])
def test_graphs_are_cut_at_max_result_bytes_after_a_whole_triple(small_pool, direct_store, fmt):
    query = f"PREFIX ex: <{EX}> CONSTRUCT {{ ?s ?p ?o }} WHERE {{ ?s ?p ?o }}"
    result = small_pool.run(query, fmt)
    assert result.truncated and result.truncated_reason == "bytes" and len(result.body) <= CAP
    rdf = choose_format("CONSTRUCT", fmt).rdf
    assert len(list(ox.parse(result.body, format=rdf))) == result.rows > 0
    # The most triples that fit: the same cut in this process, and one more triple is too many.
    from kgpub.sparql import capped

    out = capped.Collect()
    rows, reason = capped.triples(direct_store.query(query), choose_format(
        "CONSTRUCT", fmt), 1000, CAP, {"ex": EX}, out)
    assert (rows, reason) == (result.rows, "bytes") and len(out.data) <= CAP
    more = list(direct_store.query(query))[: rows + 1]
    prefixes = used_prefixes(more, {"ex": EX}) if fmt in ("ttl", "rdf") else None
    assert len(ox.serialize(more, format=rdf, prefixes=prefixes)) > CAP


def _big_string(tens: int) -> str:
    """BINDs that make ?big a string of 10**tens characters (tens >= 1)."""
    binds = ['BIND("0123456789" AS ?v1)']
    for i in range(2, tens + 1):
        binds.append(f"BIND(CONCAT({', '.join([f'?v{i - 1}'] * 10)}) AS ?v{i})")
    return " ".join(binds) + f" BIND(?v{tens} AS ?big)"


def test_a_solution_bigger_than_the_cap_leaves_a_valid_empty_result(small_pool):
    result = small_pool.run(f"SELECT ?big WHERE {{ {_big_string(4)} }}", "json")
    assert (result.rows, result.truncated_reason) == (0, "bytes")
    assert json.loads(result.body) == {"head": {"vars": ["big"]}, "results": {"bindings": []}}


def test_results_within_both_caps_are_whole(small_pool, pool):
    result = small_pool.run("SELECT * WHERE { ?s ?p ?o } LIMIT 5", "xml")
    assert not result.truncated and result.truncated_reason is None and result.rows == 5
    assert pool.run("SELECT * WHERE { ?s ?p ?o }").truncated_reason == "rows"


def test_results_are_spooled_and_the_worker_is_free_before_anyone_reads_them(graph_file):
    limits = QueryLimits(timeout=10.0, max_rows=100_000, max_result_bytes=64 * 1024 * 1024,
                         workers=1)
    query = f"SELECT ?s ?big WHERE {{ ?s ?p ?o {_big_string(4)} }}"  # 455 x 10 KB
    with QueryPool(graph_file, limits) as p:
        assert p.wait_ready(30)
        result = asyncio.run(p.arun(query, "tsv"))
        try:
            assert result.size > 3 * THINGS * 10_000
            # Already free: a client reading slowly holds a spool, never a worker.
            assert [w["state"] for w in p.status()["workers"]] == ["idle"]
            # In memory only up to SPOOL_MEMORY_BYTES; the rest is in a temporary file.
            assert result._spool._rolled
            size = sum(len(chunk) for chunk in result.chunks(1 << 20))
            assert size == result.size
        finally:
            result.close()


# ---- the page's excerpt -----------------------------------------------------------------------


def test_the_page_gets_a_bounded_excerpt(graph_file):
    with QueryPool(graph_file, QueryLimits(max_rows=10_000, workers=1)) as p:
        assert p.wait_ready(30)
        rows = p.run("SELECT * WHERE { ?s ?p ?o . ?a ?b ?c } LIMIT 5000", {"SELECT": "html"})
        assert rows.format == "html" and rows.view["kind"] == "table"
        assert len(rows.view["rows"]) == rows.view["shown"] == HTML_ROWS
        assert rows.view["cut"] == "page" and rows.truncated
        big = p.run(f"SELECT ?big WHERE {{ {_big_string(4)} }}", {"SELECT": "html"})
        (kind, text, lang), = big.view["rows"][0]
        assert kind == "literal" and len(text) == HTML_CELL_CHARS + 1 and text.endswith("…")
        graph = p.run("CONSTRUCT { ?s <http://example.org/near> ?a } WHERE { ?s ?p ?o . ?a ?b ?c }",
                      {"CONSTRUCT": "html"})
        assert graph.view["kind"] == "graph" and graph.view["cut"] == "page"
        assert len(list(ox.parse(graph.view["text"].encode(), format=ox.RdfFormat.TURTLE))) \
            == HTML_ROWS
        small = p.run("SELECT * WHERE { ?s ?p ?o } LIMIT 3", {"SELECT": "html"})
        assert small.view["cut"] is None and len(small.view["rows"]) == 3
        ask = p.run("ASK { ?s ?p ?o }", {"ASK": "html"})
        assert ask.view == {"kind": "boolean", "value": True}
        refused = {"CONSTRUCT": {"error": "no format for this"}}
        with pytest.raises(FormatNotAvailable, match="no format for this"):
            p.run("CONSTRUCT WHERE { ?s ?p ?o }", refused)


# ---- the queue --------------------------------------------------------------------------------


def _slow(units: int) -> str:
    """A query that runs about units x 0.1 s here, and finishes."""
    values = " ".join(str(i) for i in range(units))
    return (f"SELECT (COUNT(*) AS ?n) WHERE {{ ?a ?b ?c . ?d ?e ?f VALUES ?k {{ {values} }} "
            "FILTER(STR(?c) < STR(?f)) }")


def _queue_pool(graph_file, **limits) -> QueryPool:
    p = QueryPool(graph_file, QueryLimits(**{"timeout": 10.0, "workers": 1, **limits}))
    assert p.wait_ready(30)
    return p


async def _until(predicate, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.01)


def test_a_burst_waits_in_the_queue_instead_of_being_refused(graph_file):
    with _queue_pool(graph_file, max_queue=16) as p:
        async def main():
            return await asyncio.gather(*(p.arun("ASK { ?s ?p ?o }", client=f"c{i % 3}")
                                          for i in range(16)))

        results = asyncio.run(main())
        assert [r.body for r in results] == [b'{"head":{},"boolean":true}'] * 16
        # Threads queue the same way.
        threads = [_in_thread(lambda: p.run(_slow(1))) for _ in range(4)]
        for thread, _ in threads:
            thread.join(30)
        assert all("result" in outcome for _, outcome in threads)
        assert p.status()["refused_busy"] == 0


def test_a_full_queue_is_refused_at_once_with_retry_after(graph_file):
    with _queue_pool(graph_file, max_queue=2) as p:
        async def main():
            blocker = asyncio.create_task(p.arun(_slow(8)))
            await _until(lambda: _busy(p))
            waiting = [asyncio.create_task(p.arun("ASK {}")) for _ in range(2)]
            await _until(lambda: p.status()["queued"] == 2)
            started = time.monotonic()
            with pytest.raises(PoolBusy) as exc:
                await p.arun("ASK {}")
            assert time.monotonic() - started < 0.2
            assert exc.value.retry_after >= 1 and "queue is full" in str(exc.value)
            return await asyncio.gather(blocker, *waiting)

        assert len(asyncio.run(main())) == 3  # the queued ones were answered


def test_a_wait_past_max_queue_wait_is_refused(graph_file):
    with _queue_pool(graph_file, max_queue_wait=0.3) as p:
        thread, slow = _in_thread(lambda: p.run(_slow(10)))
        _wait_for(lambda: _busy(p))
        started = time.monotonic()
        with pytest.raises(PoolBusy, match="stayed busy") as exc:
            p.run("ASK {}")
        assert 0.3 <= time.monotonic() - started < 0.8 and exc.value.retry_after >= 1
        thread.join(30)
        assert "result" in slow and p.status()["queued"] == 0


def test_clients_take_turns(graph_file):
    """One worker; client A has six slow queries waiting when client B sends a quick one: B is
    served second (round-robin), not seventh (first come, first served)."""
    with _queue_pool(graph_file) as p:
        done: list[str] = []

        async def run(name: str, client: str, query: str):
            await p.arun(query, client=client)
            done.append(name)

        async def main():
            tasks = [asyncio.create_task(run("a0", "A", _slow(3)))]
            await _until(lambda: _busy(p))
            for i in range(1, 7):
                tasks.append(asyncio.create_task(run(f"a{i}", "A", _slow(2))))
            await _until(lambda: p.status()["queued"] == 6)
            tasks.append(asyncio.create_task(run("b", "B", "ASK {}")))
            await asyncio.gather(*tasks)

        asyncio.run(main())
        assert done.index("b") <= 2, done


def test_a_flooding_client_gives_up_its_place(graph_file):
    """The queue is full of client A's queries: client B's query still gets in, and A's newest
    query is refused instead."""
    with _queue_pool(graph_file, max_queue=4) as p:
        async def main():
            blocker = asyncio.create_task(p.arun(_slow(5), client="A"))
            await _until(lambda: _busy(p))
            flood = [asyncio.create_task(p.arun("ASK {}", client="A")) for _ in range(4)]
            await _until(lambda: p.status()["queued"] == 4)
            quick = await p.arun("ASK {}", client="B")
            outcomes = await asyncio.gather(blocker, *flood, return_exceptions=True)
            return quick, outcomes

        quick, outcomes = asyncio.run(main())
        assert quick.body == b'{"head":{},"boolean":true}'
        refused = [o for o in outcomes if isinstance(o, PoolBusy)]
        assert len(refused) == 1 and "holds most of it" in str(refused[0])


def test_waiting_costs_no_thread(graph_file):
    with _queue_pool(graph_file, max_queue=64) as p:
        async def main():
            blocker = asyncio.create_task(p.arun(_slow(5)))
            await _until(lambda: _busy(p))
            threads = threading.active_count()
            waiting = [asyncio.create_task(p.arun("ASK {}", client=f"c{i % 8}"))
                       for i in range(60)]
            await _until(lambda: p.status()["queued"] == 60)
            assert threading.active_count() <= threads + 1
            return await asyncio.gather(blocker, *waiting)

        assert len(asyncio.run(main())) == 61


def test_a_cancelled_wait_gives_its_place_back(graph_file):
    with _queue_pool(graph_file) as p:
        async def main():
            blocker = asyncio.create_task(p.arun(_slow(5)))
            await _until(lambda: _busy(p))
            with pytest.raises(TimeoutError):
                await asyncio.wait_for(p.arun("ASK {}"), 0.1)
            assert p.status()["queued"] == 0
            await blocker
            return await p.arun("ASK { ?s ?p ?o }")

        assert asyncio.run(main()).body == b'{"head":{},"boolean":true}'
        assert [w["state"] for w in p.status()["workers"]] == ["idle"]


def test_error_kinds_carry_no_protocol_codes():
    """The engine's errors say what went wrong; the server's one table says what that is in
    HTTP (a kind missing from it would be a 500), and a worker's refusal comes back as the
    kind it sent."""
    from kgpub.server.sparql import HTTP_STATUS
    from kgpub.sparql import errors

    kinds = [k for k in vars(errors).values()
             if isinstance(k, type) and issubclass(k, errors.QueryError)]
    assert len(kinds) == 13
    for kind in kinds:
        assert not hasattr(kind, "status")
        if kind not in (errors.QueryError, errors.QueryRefused):
            assert any(k in HTTP_STATUS for k in kind.__mro__), kind
    assert http_status(errors.WorkerCrashed("gone")) == 503
    assert http_status(errors.EngineFault("bug")) == 500
    assert http_status(errors.StoreFailed("down")) == 502
    assert http_status(errors.StoreTimeout("slow")) == 504
    for name, kind in errors.REFUSALS.items():
        again = errors.refusal(name, "why")
        assert type(again) is kind and again.message == "why"
    assert type(errors.refusal("QueryRefused", "x")) is errors.EngineFault  # not a kind to send
