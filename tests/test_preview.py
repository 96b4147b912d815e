"""`kgpub serve --watch` (kgpub.server.preview, kgpub.server.watch): rebuilds on changes, the
event stream, the script and banner added to pages (escaped), the last good build kept online,
and nothing of it in a production server or a built site. The same in Chromium:
tests/browser/test_live_preview.py."""

from __future__ import annotations

import asyncio
import json
import os
import time
from pathlib import Path

import httpx
import pytest
from starlette.testclient import TestClient

from kgpub.layout import PREVIEW_EVENTS, PREVIEW_SCRIPT, SEARCH_PENDING
from kgpub.server.app import create_app
from kgpub.server.preview import MAX_STREAMS, Preview, banner
from kgpub.server.watch import MAX_ISSUES, Builder, Issue, Outcome, changes, rebuild
from kgtest import copy_project, edit_file
from previewutil import (
    BAD_DATE_LINENO,
    ENTRY,
    ENTRY_FILE,
    SCRIPT_VALUE,
    TITLE,
    running_preview,
)

PAGE = f"/{ENTRY}.html"
ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"


# ---- the banner and the outcome -------------------------------------------------------------


def test_banner_escapes_every_text():
    outcome = Outcome.failed([Issue(f"data/<b>.ttl:{n}", f"bad {SCRIPT_VALUE} & more",
                                    'write "<i>"') for n in range(3)], 0.1)
    text = banner(outcome)
    assert "<script>" not in text and "<b>" not in text and "<i>" not in text
    assert text.count(ESCAPED) == 3 and "data/&lt;b&gt;.ttl:2" in text
    assert "&amp; more" in text and "fix: write &quot;&lt;i&gt;&quot;" in text
    assert banner(Outcome(ok=True, seconds=0.1)) == ""


def test_outcome_is_bounded_and_survives_the_pipe():
    issues = [Issue(f"data/x.ttl:{n}", "x" * 5000) for n in range(MAX_ISSUES + 7)]
    outcome = Outcome.failed(issues, 1.5, exit_code=1)
    assert len(outcome.issues) == MAX_ISSUES and outcome.total == MAX_ISSUES + 7
    assert all(len(i.message) <= 600 for i in outcome.issues)
    assert Outcome.from_json(outcome.to_json()) == outcome
    assert "... and 7 more" in outcome.report()
    assert "and 7 more" in banner(outcome)


def test_rebuild_refuses_bad_data_with_file_line_and_keeps_the_build(tmp_path):
    root = copy_project(tmp_path / "p")
    site = root / "site"
    assert rebuild(root, site).ok
    page = (site / f"{ENTRY}.html").read_bytes()
    edit_file(root / ENTRY_FILE, f'"{TITLE}"@en ;\n',
              f'"{TITLE}"@en ;\n    dcterms:date "{SCRIPT_VALUE}"^^xsd:gYear ;\n')
    outcome = rebuild(root, site)
    assert not outcome.ok and outcome.exit_code == 1
    assert [i.where for i in outcome.issues] == [f"{ENTRY_FILE}:{BAD_DATE_LINENO}"]
    assert SCRIPT_VALUE in outcome.issues[0].message and outcome.issues[0].fix
    assert (site / f"{ENTRY}.html").read_bytes() == page  # the last good build, untouched
    # unparsable Turtle: the parser's line
    edit_file(root / ENTRY_FILE, f'dcterms:date "{SCRIPT_VALUE}"', 'dcterms:date "2021')
    outcome = rebuild(root, site)
    assert not outcome.ok and outcome.exit_code == 2
    assert outcome.issues[0].where.startswith(f"{ENTRY_FILE}:"), outcome.issues


# ---- the application: production has none of it ----------------------------------------------


@pytest.fixture(scope="module")
def project_site(bundled_project, built_site):
    return bundled_project, built_site  # the session's build (tests/conftest.py): only read


def test_production_app_has_no_preview_route_and_adds_nothing(project_site):
    project, site = project_site
    client = TestClient(create_app(project, site))  # no lifespan: no query workers needed
    for path in (PREVIEW_EVENTS, PREVIEW_SCRIPT):
        assert client.get(f"/{path}").status_code == 404
    response = client.get(PAGE, headers={"accept-encoding": "identity"})
    assert response.status_code == 200 and "etag" in response.headers
    assert response.content == (site / f"{ENTRY}.html").read_bytes()
    assert PREVIEW_SCRIPT.encode() not in response.content
    # nor does a build write any of it
    assert not any(PREVIEW_SCRIPT in p.read_text(errors="replace")
                   for p in site.resolve().rglob("*.html"))


def test_preview_app_adds_script_and_escaped_banner_to_pages_only(project_site):
    project, site = project_site
    file = (site / f"{ENTRY}.html").read_bytes()
    failed = Outcome.failed([Issue(f"{ENTRY_FILE}:3", f"no good: {SCRIPT_VALUE}")], 0.1)
    preview = Preview(project, site, failed)
    client = TestClient(create_app(project, site, preview=preview))
    response = client.get(PAGE, headers={"accept-encoding": "gzip", "range": "bytes=0-9",
                                         "if-none-match": "*"})
    # whole, uncompressed, not cached, from the build that answered
    assert response.status_code == 200 and "content-encoding" not in response.headers
    assert response.headers["cache-control"] == "no-store" and "etag" not in response.headers
    body = response.content
    assert int(response.headers["content-length"]) == len(body)
    end = file.rfind(b"</body>")
    assert body.startswith(file[:end]) and body.endswith(file[end:])
    build = response.headers["kgpub-build"]
    assert f'data-build="{build}"'.encode() in body and PREVIEW_SCRIPT.encode() in body
    assert ESCAPED.encode() in body and SCRIPT_VALUE.encode() not in body
    assert f"<code>{ENTRY_FILE}:3</code>".encode() in body
    assert "script-src 'self'" in response.headers["content-security-policy"]
    # the script and the banner's style are files of the server (CSP: no inline script)
    script = client.get(f"/{PREVIEW_SCRIPT}")
    assert script.headers["content-type"].startswith("text/javascript")
    assert b"EventSource" in script.content
    # other files, and the services, are left as they are
    for path in (f"/{ENTRY}.ttl", "/sparql"):
        assert PREVIEW_SCRIPT.encode() not in client.get(path).content
    # a published build: no banner
    preview.outcome = Outcome(ok=True, seconds=0.1)
    assert b"kgpub-preview" not in client.get(PAGE).content.replace(b"/.kgpub/preview", b"")
    assert (site / f"{ENTRY}.html").read_bytes() == file  # the file as built


# ---- the watcher -------------------------------------------------------------------------------


def test_changes_sees_sources_and_config_only(tmp_path):
    root = copy_project(tmp_path / "p")
    (root / "site").mkdir()

    async def scenario():
        stop = asyncio.Event()
        seen: list[set[str]] = []

        async def collect():
            async for paths in changes(root, stop):
                seen.append(paths)

        task = asyncio.create_task(collect())
        await asyncio.sleep(0.5)  # the watches are set
        (root / "site" / "x.html").write_text("not watched")
        (root / "notes.txt").write_text("not watched")
        edit_file(root / ENTRY_FILE, TITLE, TITLE + " (edited)")
        await _until(lambda: seen, 10)
        # kgpub.toml saved the way editors do: a new file renamed over it
        (root / "kgpub.toml.new").write_bytes((root / "kgpub.toml").read_bytes())
        os.replace(root / "kgpub.toml.new", root / "kgpub.toml")
        await _until(lambda: len(seen) > 1, 10)
        stop.set()
        task.cancel()
        return seen

    seen = asyncio.run(scenario())
    assert seen[0] == {ENTRY_FILE}
    assert seen[1] == {"kgpub.toml"}


async def _until(condition, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "no change seen in time"
        await asyncio.sleep(0.05)


def test_a_builder_that_died_is_replaced(tmp_path):
    """Killed while idle, or in the middle of a build (as the OOM killer would): the build is
    done by a new builder process, and published."""
    root = copy_project(tmp_path / "p")
    site = root / "site"
    lock = root / ".site.lock"  # holds the pid of the build writing the site (BuildLock)

    async def scenario():
        builder = Builder(root, site)
        pids = []
        try:
            assert (await builder.build()).ok
            pids.append(builder._proc.pid)  # noqa: SLF001
            builder._proc.kill()  # noqa: SLF001 - idle
            assert (await builder.build()).ok
            pids.append(builder._proc.pid)  # noqa: SLF001
            edit_file(root / ENTRY_FILE, TITLE, "Retitled while its builder was killed")
            building = asyncio.create_task(builder.build())
            await _until(lambda: lock.read_text().strip() == str(pids[-1]), 60)
            builder._proc.kill()  # noqa: SLF001 - in the middle of the build
            assert (await building).ok
            pids.append(builder._proc.pid)  # noqa: SLF001
        finally:
            await builder.close()
        return pids

    pids = asyncio.run(scenario())
    assert len(set(pids)) == 3
    assert "Retitled while its builder was killed" in (site / f"{ENTRY}.html").read_text()


def test_the_builder_says_when_the_edit_is_online_before_its_search_index(tmp_path):
    """The preview's builds publish an edit first and its search index in a second
    generation; the builder says so in between, when the edit is already served."""
    root = copy_project(tmp_path / "p")
    with (root / "kgpub.toml").open("a") as f:  # however few the pages to index
        f.write("\n[search]\npublish_first_pages = 0\n")
    site = root / "site"
    seen: list[tuple[float, str, bool]] = []

    async def published(seconds: float) -> None:
        seen.append((seconds, (site / f"{ENTRY}.html").read_text(),
                     (site / SEARCH_PENDING).is_file()))

    async def scenario() -> list[Outcome]:
        builder = Builder(root, site)
        try:
            first = await builder.build(published)  # a first build: search in the same one
            edit_file(root / ENTRY_FILE, TITLE, "Retitled before its search index")
            return [first, await builder.build(published)]
        finally:
            await builder.close()

    outcomes = asyncio.run(scenario())
    assert all(o.ok for o in outcomes)
    assert len(seen) == 1
    seconds, page, pending = seen[0]
    assert 0 < seconds < outcomes[1].seconds
    assert "Retitled before its search index" in page and pending
    assert not (site / SEARCH_PENDING).exists()


# ---- the whole loop, for real --------------------------------------------------------------------


class Events:
    """The preview's event stream, read with httpx as a browser's EventSource would."""

    def __init__(self, client: httpx.Client, url: str):
        self._cm = client.stream("GET", url + f"/{PREVIEW_EVENTS}", timeout=60)
        self.response = self._cm.__enter__()
        self._lines = self.response.iter_lines()

    def next(self) -> dict:
        for line in self._lines:
            if line.startswith("data: "):
                return json.loads(line[6:])
        raise AssertionError("the stream ended")

    def until(self, condition) -> dict:
        while True:
            state = self.next()
            if condition(state):
                return state

    def close(self) -> None:
        self._cm.__exit__(None, None, None)


def test_watch_rebuilds_publishes_and_keeps_the_last_good_build(tmp_path):
    root = copy_project(tmp_path / "p")
    with running_preview(root) as preview, httpx.Client(timeout=30) as client:
        events = Events(client, preview.url)
        assert events.response.headers["content-type"].startswith("text/event-stream")
        first = events.next()
        assert first["banner"] == ""

        # an edit: a new build, published and announced at once
        preview.retitle(TITLE, "Guidelines, edited in the preview")
        started = time.monotonic()
        edited = events.until(lambda s: s["build"] != first["build"])
        took = time.monotonic() - started
        page = client.get(preview.url + PAGE)
        assert page.headers["kgpub-build"] == edited["build"]
        assert "Guidelines, edited in the preview" in page.text
        assert f'data-build="{edited["build"]}"' in page.text

        # data that does not validate: no new build, the problems on the stream and the pages
        preview.break_date("Guidelines, edited in the preview")
        broken = events.until(lambda s: s["banner"])
        assert broken["build"] == edited["build"]
        assert f"{ENTRY_FILE}:{BAD_DATE_LINENO}" in broken["banner"]
        assert ESCAPED in broken["banner"] and SCRIPT_VALUE not in broken["banner"]
        page = client.get(preview.url + PAGE)
        assert page.headers["kgpub-build"] == edited["build"]  # the last good one
        assert "Guidelines, edited in the preview" in page.text
        assert ESCAPED in page.text and SCRIPT_VALUE not in page.text
        terminal = preview.terminal()
        assert f"{ENTRY_FILE}:{BAD_DATE_LINENO}: " in terminal and SCRIPT_VALUE in terminal
        assert "the last good build stays online" in terminal

        # fixed: no banner (the same content as the last good build)
        preview.fix_date()
        fixed = events.until(lambda s: s["banner"] == "")
        page = client.get(preview.url + PAGE)
        assert page.headers["kgpub-build"] == fixed["build"]
        assert "kgpub-preview" not in page.text.replace("/.kgpub/preview", "")

        # streams are bounded: the one above, then MAX_STREAMS - 1 more, then refused
        more = [Events(client, preview.url) for _ in range(MAX_STREAMS - 1)]
        refused = client.get(preview.url + f"/{PREVIEW_EVENTS}")
        assert refused.status_code == 503 and "retry-after" in refused.headers
        for stream in [events, *more]:
            stream.close()
    print(f"edit published and announced in {took:.2f} s")
    assert not _builders_of(root), "the builder process outlived the server"


def _builders_of(root: Path) -> list[int]:
    found = []
    for proc in Path("/proc").iterdir():
        try:
            args = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"kgpub.server.watch" in args and str(root).encode() in args:
            found.append(int(proc.name))
    return found


def test_watch_is_one_server_process(tmp_path):
    from click.testing import CliRunner

    from kgpub.cli import main

    for extra in (["--workers", "2"], ["--get", "/"], ["--app-only"]):
        result = CliRunner().invoke(main, ["serve", "--watch", "--project", str(tmp_path), *extra])
        assert result.exit_code == 2
        assert "--watch runs one server process with the site" in result.output


def test_no_first_build_no_server(tmp_path):
    """Broken data and no earlier build: the problems, and an exit code, not a server."""
    import subprocess
    import sys

    root = copy_project(tmp_path / "p")
    edit_file(root / ENTRY_FILE, f'"{TITLE}"@en ;\n',
              f'"{TITLE}"@en ;\n    dcterms:date "{SCRIPT_VALUE}"^^xsd:gYear ;\n')
    done = subprocess.run([sys.executable, "-m", "kgpub.cli", "serve", "--watch", "--project",
                           str(root), "--port", "9"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 1, done.stderr
    assert f"{ENTRY_FILE}:{BAD_DATE_LINENO}: " in done.stderr
    assert "no good build to serve" in done.stderr


def test_started_on_broken_data_serves_the_last_good_build(tmp_path):
    root = copy_project(tmp_path / "p")
    assert rebuild(root, root / "site").ok
    edit_file(root / ENTRY_FILE, f'"{TITLE}"@en ;\n',
              f'"{TITLE}"@en ;\n    dcterms:date "{SCRIPT_VALUE}"^^xsd:gYear ;\n')
    with running_preview(root) as preview, httpx.Client(timeout=30) as client:
        page = client.get(preview.url + PAGE)
        assert page.status_code == 200 and TITLE in page.text
        assert f"<code>{ENTRY_FILE}:{BAD_DATE_LINENO}</code>" in page.text
        assert ESCAPED in page.text and SCRIPT_VALUE not in page.text
        assert f"{ENTRY_FILE}:{BAD_DATE_LINENO}: " in preview.terminal()
