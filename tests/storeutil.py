"""Helpers for the tests of a deployment on a SPARQL store: an Oxigraph server (the `oxigraph`
package's binary, from the test extra) started on 127.0.0.1, `kgpub publish` into it, and the
answers of two endpoints put in a form that compares (rows in any order, graphs up to blank
nodes)."""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import rdflib
from rdflib.compare import to_isomorphic
from SPARQLWrapper import JSON, TURTLE, SPARQLWrapper

from serverutil import KGPUB, free_port, wait_until_answered


def oxigraph_binary() -> str:
    """The Oxigraph server beside this Python (pip install oxigraph) or on PATH; else the test
    is skipped with one message."""
    beside = Path(sys.executable).with_name("oxigraph")
    found = str(beside) if beside.exists() else shutil.which("oxigraph")
    if found is None:
        pytest.skip("no Oxigraph server: pip install 'oxigraph>=0.5,<0.6' (in the test extra)")
    return found


@contextlib.contextmanager
def oxigraph_server(timeout_s: int = 30, location: Path | None = None,
                    ready_s: float = 30) -> Iterator[str]:
    """A read-write Oxigraph server on a free port, in memory or (with `location`) on disk;
    yields its base URL (queries at /query, the Graph Store Protocol at /store). Its own query
    time limit is a backstop for queries kgpub aborts (it does not stop evaluating when the
    client goes)."""
    port = free_port()
    on_disk = ["--location", str(location)] if location is not None else []
    proc = subprocess.Popen([oxigraph_binary(), "serve", "--bind", f"127.0.0.1:{port}",
                             "--timeout-s", str(timeout_s), *on_disk],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_answered(url + "/query?query=ASK%7B%7D", proc, ready_s, "oxigraph",
                            lambda: proc.stderr.read().decode() if proc.poll() is not None
                            else "")
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def publish_cli(site: Path, store: str) -> str:
    """`kgpub publish` of `site` into the Oxigraph server at `store`; its one line of output."""
    run = subprocess.run(KGPUB + ["publish", "--site", str(site), "--store", f"{store}/query",
                                  "--graph-store", f"{store}/store"],
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    return run.stdout


def unordered(bindings: list[dict]) -> list[tuple]:
    """SPARQL JSON bindings in an order-free form (a SELECT without ORDER BY has none)."""
    return sorted(tuple(sorted((k, tuple(sorted(v.items()))) for k, v in b.items()))
                  for b in bindings)


def answer(endpoint: str, query: str, method: str = "GET") -> object:
    """What SPARQLWrapper gets from `endpoint`: sorted rows of a SELECT, ASK's boolean, or a
    CONSTRUCT's graph in canonical form (comparable with ==)."""
    client = SPARQLWrapper(endpoint)
    client.setQuery(query)
    client.setMethod(method)
    graph = "CONSTRUCT" in query or "DESCRIBE" in query
    client.setReturnFormat(TURTLE if graph else JSON)
    result = client.query().convert()
    if graph:
        return to_isomorphic(rdflib.Graph().parse(data=result, format="turtle"))
    if "boolean" in result:
        return result["boolean"]
    return unordered(result["results"]["bindings"])
