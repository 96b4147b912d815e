"""A running `kgpub serve` always serves one build, the newest, as a whole: when `kgpub build`
publishes a new one, pages, documents, SPARQL, OAI-PMH, VoID and tombstones move together,
requests keep succeeding during the switch, and no response mixes two builds (each names its
build in the Kgpub-Build header, and its content is that build's)."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from kgpub import generation
from serverutil import KGPUB, copy_project, fetch, running_server, server_pid

pytestmark = pytest.mark.timeout(240)

BASE = "https://w3id.org/sphr/"
ENTRY = "resource/good-governance-guidelines-for-social-security-institutions"
WITHDRAWN = "resource/social-protection-a-key-to-a-fair-society"
OLD = "Good Governance Guidelines for Social Security Institutions"
NEW = "Good Governance Guidelines, revised edition"
OAI_ID = "oai:socialprotection-humanrights.org:" + ENTRY
QUERY = f"SELECT ?t WHERE {{ <{BASE}{ENTRY}> <http://purl.org/dc/terms/title> ?t }}"


def probe(url: str, accept: str = "*/*") -> tuple[int, bytes, str]:
    status, headers, body = fetch(url, {"Accept": accept})
    return status, body, headers.get("Kgpub-Build", "")


# What each kind of request shows of the edited entry: (path, accept, old-build test, new-build
# test), each test over (status, body).
PROBES = [
    (f"/{ENTRY}.html", "text/html", lambda s, b: OLD.encode() in b, lambda s, b: NEW.encode() in b),
    (f"/{ENTRY}.ttl", "text/turtle", lambda s, b: OLD.encode() in b,
     lambda s, b: NEW.encode() in b),
    ("/sparql?query=" + urllib.parse.quote(QUERY), "application/sparql-results+json",
     lambda s, b: OLD.encode() in b, lambda s, b: NEW.encode() in b),
    ("/oai?verb=GetRecord&metadataPrefix=oai_dc&identifier=" + urllib.parse.quote(OAI_ID), "*/*",
     lambda s, b: OLD.encode() in b, lambda s, b: NEW.encode() in b),
    (f"/{WITHDRAWN}", "text/turtle", lambda s, b: s == 303, lambda s, b: s == 410),
    ("/dumps/dataset.nt.gz", "*/*", lambda s, b: s == 200, lambda s, b: s == 200),
    ("/.well-known/void", "text/turtle", lambda s, b: s in (200, 303),
     lambda s, b: s in (200, 303)),
    ("/", "text/html", lambda s, b: s == 200, lambda s, b: s == 200),
]


def edit(project: Path) -> None:
    path = project / "data/entries/publications.ttl"
    text = path.read_text()
    text = text.replace(f'"{OLD}"@en', f'"{NEW}"@en', 1)
    text = text.replace(
        "@prefix xsd:", "@prefix owl:      <http://www.w3.org/2002/07/owl#> .\n@prefix xsd:", 1)
    text = text.replace(
        "    dcterms:type type:publication ;\n"
        "    dcterms:subject topic:institutional-capacity-and-coordination .",
        "    dcterms:type type:publication ;\n"
        "    dcterms:subject topic:institutional-capacity-and-coordination ;\n"
        '    dcterms:modified "2026-11-30T10:00:00Z"^^xsd:dateTime ;\n'
        "    owl:deprecated true .", 1)
    path.write_text(text)


def kgpub_build(project: Path, site: Path) -> None:
    done = subprocess.run(KGPUB + ["build", "--project", str(project), "--out", str(site)],
                          capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr


def children(pid: int) -> list[int]:
    found = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                stat = (proc / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(proc.name))
    return found


def query_workers(server_pid: int) -> list[int]:
    """The server's SPARQL worker processes (spawned children running kgpub's worker)."""
    workers = []
    for pid in children(server_pid):
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if b"multiprocessing" in cmd:
            workers.append(pid)
    return workers


def test_a_new_build_reaches_the_running_server_as_a_whole(tmp_path):
    project = copy_project(tmp_path / "project")
    site = tmp_path / "site"
    kgpub_build(project, site)
    first = generation.current(site)
    assert first is not None and site.is_symlink()
    with running_server(project, site) as url:
        # Before: the old build everywhere.
        for path, accept, old, _new in PROBES:
            status, body, build = probe(url + path, accept)
            assert build == first.name and old(status, body), path

        seen: list[tuple[str, int, bytes, str]] = []
        errors: list[str] = []
        stop = threading.Event()

        def loop(offset: int) -> None:
            i = offset
            while not stop.is_set():
                path, accept, *_ = PROBES[i % len(PROBES)]
                i += 1
                try:
                    status, body, build = probe(url + path, accept)
                except OSError as exc:
                    errors.append(f"{path}: {exc}")
                    continue
                seen.append((path, status, body, build))

        threads = [threading.Thread(target=loop, args=(k,)) for k in range(4)]
        for t in threads:
            t.start()
        try:
            edit(project)
            kgpub_build(project, site)
            second = generation.current(site)
            assert second != first
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                if probe(url + "/")[2] == second.name:
                    break
                time.sleep(0.2)
            else:
                pytest.fail("the server did not switch to the new build within 60 s")
            time.sleep(1.0)  # and keep requesting a little after the switch
        finally:
            stop.set()
            for t in threads:
                t.join(30)

        assert not errors, errors[:5]
        probes = {p[0]: p for p in PROBES}
        builds = {first.name: 2, second.name: 3}
        counts = {first.name: 0, second.name: 0}
        for path, status, body, build in seen:
            assert build in builds, (path, build)
            assert status < 500, (path, status, body[:300])
            check = probes[path][builds[build]]
            assert check(status, body), (path, build, status, body[:300])
            counts[build] += 1
        assert counts[first.name] and counts[second.name], counts

        # After: the new build everywhere, also from a query worker started after the switch.
        pid = server_pid(url)
        victims = query_workers(pid)
        assert victims, "no query worker found"
        os.kill(victims[0], signal.SIGKILL)
        for _ in range(6):  # every worker, the replaced one included, has the new build
            for path, accept, _old, new in PROBES:
                status, body, build = probe(url + path, accept)
                assert build == second.name and new(status, body), (path, status, body[:200])

        # The first build is no longer held by the server: the next build deletes it.
        edit_again = project / "data/entries/publications.ttl"
        edit_again.write_text(edit_again.read_text().replace(NEW, NEW + " (2)", 1))
        kgpub_build(project, site)
        deadline = time.monotonic() + 30
        while first.exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not first.exists(), "an old generation nobody serves was kept"
        gens = [p for p in generation.generations_dir(site).iterdir() if p.is_dir()]
        assert len(gens) <= 2, gens


def test_a_build_that_cannot_be_opened_keeps_the_current_one(tmp_path):
    """A published link to a directory that is not a build (damaged by hand) is not switched
    to: the server keeps answering from the build it has."""
    project = copy_project(tmp_path / "project")
    site = tmp_path / "site"
    kgpub_build(project, site)
    first = generation.current(site)
    with running_server(project, site) as url:
        broken = generation.generations_dir(site) / "999999"
        broken.mkdir()
        tmp = site.with_name("tmp-link")
        tmp.symlink_to(os.readlink(site).rsplit("/", 1)[0] + "/999999")
        tmp.replace(site)
        time.sleep(3)
        status, body, build = probe(url + f"/{ENTRY}.ttl", "text/turtle")
        assert status == 200 and build == first.name and OLD.encode() in body
        # Publishing a good build again is picked up.
        tmp.symlink_to(os.readlink(site).rsplit("/", 1)[0] + "/" + first.name)
        tmp.replace(site)
        time.sleep(2)
        status, _, build = probe(url + "/")
        assert status == 200 and build == first.name
