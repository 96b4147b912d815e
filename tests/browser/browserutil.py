"""Helpers for the browser tests (and scripts/screenshots.py): launching Debian's chromium with
Playwright, the pages worth visiting, a per-page log of console errors and failed or external
requests, axe-core checks and screenshots.

Playwright never downloads a browser here: it drives the executable at $CHROMIUM (default
/usr/bin/chromium, Debian's package), which `make test` installs with apt-get when it can (see
install_deps.sh). This module imports neither pytest nor kgpub, so the script can use it.
"""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit
from weakref import WeakKeyDictionary

from kgtest import KGPUB_BIN, subprocess_env
from serverutil import running_server

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))
NOTES = REPO / ".cache" / "browser-deps"  # why something is missing (written by install_deps.sh)
AXE_JS = REPO / ".cache" / "axe-core" / "axe.min.js"
ARTIFACTS = REPO / "tests" / "artifacts"
SCREENSHOTS = ARTIFACTS / "screenshots"

LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# Extra for the tests: no host but the local server resolves, so a stray external asset fails at
# once instead of waiting on a network there is none of (it is still recorded as external).
OFFLINE_ARGS = ["--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"]

DESKTOP = {"viewport": {"width": 1280, "height": 800}}
PHONE = {"viewport": {"width": 375, "height": 740}, "is_mobile": True, "has_touch": True}

LOCAL_HOSTS = {"127.0.0.1"}
# Chromium asks for /favicon.ico by itself, some time after load, when a page declares no icon;
# the 404 shows as a console error. Not counted: it is no request the page makes, and its timing
# would make the tests flaky.
IMPLICIT_ICON = "/favicon.ico"

# One page of each kind in the bundled project's site: name -> path (the .html the site links to).
PAGES = {
    "home": "/",
    "topic": "/topic/institutional-capacity-and-coordination.html",
    "topics": "/topics.html",
    "types": "/types.html",
    "type": "/type/expert-commentary.html",
    "entry": "/resource/good-governance-guidelines-for-social-security-institutions.html",
    "agent": "/agent/ilo.html",
    "place": "/place/kenya.html",
    "instrument": "/instrument/social-protection-floors-recommendation-2012.html",
    "initiative": "/initiative/global-campaign-on-social-security-and-coverage-for-all.html",
    "image": "/image/green-bean-farmer-in-asawn.html",
    "ontology": "/ontology.html",
    "404": "/no-such-page",  # the server answers 404 with the site's 404.html
    "sparql": "/sparql",  # the endpoint's HTML form (served, not built)
}
EXPECTED_STATUS = {"404": 404}


# ---- what is missing ------------------------------------------------------------------------


def _note(name: str) -> str:
    path = NOTES / name
    return path.read_text(encoding="utf-8").strip() if path.exists() else ""


def chromium_missing() -> str | None:
    """None when chromium can be launched, else one line saying why not and how to fix it."""
    if os.access(CHROMIUM, os.X_OK):
        return None
    why = _note("chromium.missing") or f"{CHROMIUM} not found"
    return (
        f"browser tests skipped: {why}. Fix: run `make test` as root on Debian/Ubuntu (it runs "
        "`apt-get install --no-install-recommends chromium`), or install chromium yourself and "
        "set CHROMIUM=/path/to/chromium."
    )


def axe_missing() -> str | None:
    """None when the axe-core script is there, else one line saying why not and how to fix it."""
    if AXE_JS.is_file() and AXE_JS.stat().st_size > 0:
        return None
    why = _note("axe.missing") or f"{AXE_JS.relative_to(REPO)} not found"
    return (
        f"axe accessibility tests skipped: {why}. Fix: install npm (Debian: `apt-get install "
        "npm`) and run `make browser-deps` (it runs `npm pack axe-core@<pinned version>`)."
    )


def axe_version() -> str:
    version = AXE_JS.with_name("VERSION")
    return version.read_text().strip() if version.exists() else "?"


# ---- launching ------------------------------------------------------------------------------


def launch(playwright, *, offline: bool = True):
    """Headless Debian chromium with the project's settings (never a Playwright download)."""
    return playwright.chromium.launch(
        executable_path=str(CHROMIUM),
        headless=True,
        args=LAUNCH_ARGS + (OFFLINE_ARGS if offline else []),
    )


# ---- per-page log ---------------------------------------------------------------------------


@dataclass
class PageLog:
    """What went wrong while a page was open: console errors (and uncaught exceptions), requests
    answered 4xx/5xx or failing, and requests to any host but the local server."""

    console_errors: list[str] = field(default_factory=list)
    failed_requests: list[str] = field(default_factory=list)
    external_requests: list[str] = field(default_factory=list)

    def clear(self) -> None:
        self.console_errors.clear()
        self.failed_requests.clear()
        self.external_requests.clear()

    def problems(self, expected: dict[str, int] | None = None) -> list[str]:
        """Everything recorded, except a response whose status is the expected one for its URL
        (e.g. {url: 404} for the 404 page) and the console error Chromium logs for it."""
        expected = expected or {}
        out = []
        for line in self.failed_requests:
            url, _, status = line.rpartition(" -> ")
            if expected.get(url.removeprefix("GET ")) != _int(status):
                out.append(f"failed request: {line}")
        for msg in self.console_errors:
            if msg.endswith(f"{IMPLICIT_ICON}]") and "status of 404" in msg:
                continue  # the browser's own guess, not a request the page makes: see IMPLICIT_ICON
            if any(
                msg.endswith(f"[{url}]") and f"status of {code}" in msg
                for url, code in expected.items()
            ):
                continue
            out.append(f"console error: {msg}")
        out += [f"external request: {line}" for line in self.external_requests]
        return out


def _int(text: str) -> int | None:
    return int(text) if text.isdigit() else None


def is_local(url: str) -> bool:
    parts = urlsplit(url)
    if parts.scheme in ("data", "blob", "about", "javascript"):
        return True
    return parts.hostname in LOCAL_HOSTS


_LOGS: WeakKeyDictionary = WeakKeyDictionary()


def log_of(page) -> PageLog:
    """The PageLog that watch() keeps for this page (the `page` fixtures watch every page)."""
    return _LOGS[page]


def watch(page) -> PageLog:
    """Record the page's console errors and failed or external requests into a PageLog."""
    log = _LOGS[page] = PageLog()

    def on_console(msg):
        if msg.type == "error":
            where = (msg.location or {}).get("url", "")
            log.console_errors.append(f"{msg.text} [{where}]")

    def on_request(request):
        if not is_local(request.url):
            log.external_requests.append(f"{request.method} {request.url} ({request.resource_type})")

    def on_response(response):
        if response.status >= 400:
            log.failed_requests.append(f"{response.request.method} {response.url} -> {response.status}")

    def on_failed(request):
        if is_local(request.url):  # external ones are already recorded, and fail by design
            log.failed_requests.append(f"{request.method} {request.url} -> {request.failure}")

    page.on("console", on_console)
    page.on("pageerror", lambda exc: log.console_errors.append(f"uncaught: {exc}"))
    page.on("request", on_request)
    page.on("response", on_response)
    page.on("requestfailed", on_failed)
    return log


def visit(page, base: str, name: str):
    """Open PAGES[name] (or a path) under base, wait for load, check the HTTP status."""
    path = PAGES.get(name, name)
    response = page.goto(base + path, wait_until="load")
    assert response is not None, f"no response for {path}"
    expected = EXPECTED_STATUS.get(name, 200)
    assert response.status == expected, f"{path}: HTTP {response.status}, expected {expected}"
    return response


@contextlib.contextmanager
def built_and_served(project: Path, out: Path) -> Iterator[str]:
    """`kgpub build --project project --out out`, then `kgpub serve` on 127.0.0.1: the URL."""
    built = subprocess.run(
        [str(KGPUB_BIN), "build", "--project", str(project), "--out", str(out)],
        capture_output=True, text=True, env=subprocess_env(), timeout=300,
    )
    assert built.returncode == 0, f"kgpub build failed:\n{built.stdout}\n{built.stderr}"
    with running_server(project, out, "--host", "127.0.0.1") as url:
        yield url


def page_problems(page, base: str, name: str) -> list[str]:
    """The page's log, minus the expected status of the page itself (the 404 page's 404)."""
    url = base + PAGES.get(name, name)
    code = EXPECTED_STATUS.get(name)
    return log_of(page).problems({url: code} if code else None)


_OVERFLOWING = """width => [...document.querySelectorAll('body *')]
    .filter(e => e.getBoundingClientRect().right > width + 0.5)
    .filter(e => !e.parentElement || e.parentElement.getBoundingClientRect().right <= width + 0.5)
    .slice(0, 8)
    .map(e => `${e.tagName.toLowerCase()}${e.id ? '#' + e.id : ''}`
              + `${e.className && typeof e.className === 'string' ? '.' + e.className.trim().split(/\\s+/).join('.') : ''}`
              + ` right=${Math.round(e.getBoundingClientRect().right)}`)"""


def sideways_scroll(page) -> str | None:
    """None when the page does not scroll horizontally in its viewport, else what sticks out:
    the scroll width and the outermost elements past the right edge."""
    width = page.viewport_size["width"]
    scroll = page.evaluate("document.scrollingElement.scrollWidth")
    if scroll <= width:
        return None
    return f"scrollWidth {scroll} > {width}; outermost elements past the edge: " + ", ".join(
        page.evaluate(_OVERFLOWING, width)
    )


# ---- axe-core -------------------------------------------------------------------------------


class Violations(list):
    """axe violations (dicts as axe.run returns them), shown readably in assertion messages."""

    def ids(self) -> list[str]:
        return [v["id"] for v in self]

    def __repr__(self) -> str:
        return "\n" + format_violations(self) if self else "[]"

    __str__ = __repr__


def format_violations(violations, max_nodes: int = 5) -> str:
    lines = []
    for v in violations:
        lines.append(f"[{v['impact']}] {v['id']}: {v['help']} ({len(v['nodes'])} element(s))")
        lines.append(f"    {v['helpUrl']}")
        for node in v["nodes"][:max_nodes]:
            target = " ".join(str(t) for t in node.get("target", []))
            html = re.sub(r"\s+", " ", node.get("html", ""))[:160]
            lines.append(f"    - {target}: {html}")
            summary = (node.get("failureSummary") or "").replace("\n", " ").strip()
            if summary:
                lines.append(f"      {summary[:300]}")
        if len(v["nodes"]) > max_nodes:
            lines.append(f"    ... and {len(v['nodes']) - max_nodes} more")
    return "\n".join(lines)


_AXE_SOURCE: list[str] = []


def run_axe(page, options: dict | None = None) -> dict:
    """Inject axe-core (once per document) and return the full axe.run() result.

    The script is evaluated through the DevTools protocol rather than with add_script_tag: the
    site's Content-Security-Policy (script-src 'self') rightly refuses an inline <script>, and the
    tests keep that policy on (no bypass_csp) so that they would see the site break it."""
    if not page.evaluate("() => typeof window.axe === 'object'"):
        if not _AXE_SOURCE:
            _AXE_SOURCE.append(AXE_JS.read_text(encoding="utf-8"))
        page.evaluate(_AXE_SOURCE[0])
        assert page.evaluate("() => typeof window.axe?.run === 'function'"), "axe did not load"
    return page.evaluate(
        "options => axe.run(document, options)",
        {"resultTypes": ["violations"], **(options or {})},
    )


def violations_of(result: dict, impacts=("serious", "critical")) -> Violations:
    return Violations(v for v in result["violations"] if v["impact"] in impacts)


def axe_violations(page, impacts=("serious", "critical"), options: dict | None = None) -> Violations:
    """Run axe-core on the page; its violations with those impacts (skips the test when the axe
    script is not installed). `assert not v, v` prints them readably."""
    reason = axe_missing()
    if reason:
        import pytest

        pytest.skip(reason)
    return violations_of(run_axe(page, options), impacts)


# ---- screenshots ----------------------------------------------------------------------------


def screenshot(page, name: str, *, full_page: bool = True) -> Path:
    """Save a PNG of the page to tests/artifacts/screenshots/<name>.png (gitignored)."""
    return save_screenshot(page, SCREENSHOTS / f"{name}.png", full_page=full_page)


def save_screenshot(page, path: Path, *, full_page: bool) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    # Settle web fonts and layout; no animations or caret in the picture.
    page.evaluate("() => document.fonts.ready.then(() => true)")
    page.screenshot(path=str(path), full_page=full_page, animations="disabled", caret="hide")
    return path
