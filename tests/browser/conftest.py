"""Fixtures for the end-to-end browser tests: the bundled project built with `kgpub build` and
served by `kgpub serve` on 127.0.0.1, Debian's headless chromium driven by Playwright, and a
fresh browser context per test (desktop 1280x800, or a 375x740 phone).

Every page a fixture opens is watched (browserutil.log_of(page)): console errors, 4xx/5xx or
failed requests, and requests to any host but 127.0.0.1. Without chromium (or axe-core) the tests
skip with one message saying why and how to fix it; see install_deps.sh, run by `make test`.
"""

from __future__ import annotations

import re
import shutil

import browserutil as bu
import pytest

from kgtest import REPO
from serverutil import running_server

TIMEOUT_MS = 10_000  # per action / navigation: a local static site answers in milliseconds


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "browser: end-to-end test in headless Chromium (tests/browser; -m 'not browser')"
    )


_CALL_FAILED = pytest.StashKey[bool]()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if report.when == "call":
        item.stash[_CALL_FAILED] = report.failed
    # A missing chromium or axe-core skips many tests for one reason: give them all the same
    # location so that the summary (-ra) shows that reason once, not once per test function.
    if report.skipped and isinstance(report.longrepr, tuple):
        reason = report.longrepr[2].removeprefix("Skipped: ")
        if reason in (bu.chromium_missing(), bu.axe_missing()):
            report.longrepr = (str(bu.REPO / "tests/browser/install_deps.sh"), 0, reason)
    return report


@pytest.fixture(scope="session", autouse=True)
def _needs_chromium():
    """Skip before anything is built or launched when there is no chromium to drive."""
    reason = bu.chromium_missing()
    if reason:
        pytest.skip(reason)


@pytest.fixture(scope="session")
def browser_site(built_site) -> str:
    """The bundled project's session build (tests/conftest.py) served by `kgpub serve` on
    127.0.0.1 (a free port); yields the base URL, e.g. http://127.0.0.1:41234."""
    shutil.rmtree(bu.ARTIFACTS / "failures", ignore_errors=True)  # only this run's failures
    with running_server(REPO, built_site, "--host", "127.0.0.1") as url:
        yield url


@pytest.fixture(scope="module")
def browser():
    """Debian's chromium, headless, launched with browserutil.LAUNCH_ARGS once per test module
    (about half a second). Not per session: while Playwright's sync API is active, an asyncio
    loop counts as running in the main thread, and later tests that call asyncio.run() fail."""
    reason = bu.chromium_missing()
    if reason:
        pytest.skip(reason)
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as e:  # pragma: no cover - playwright is in the test extras
        pytest.skip(f"browser tests skipped: playwright not importable ({e}); pip install -e '.[test]'")
    with sync_playwright() as pw:
        b = bu.launch(pw)
        try:
            yield b
        finally:
            b.close()


def _open(browser, options: dict):
    context = browser.new_context(**options)
    context.set_default_timeout(TIMEOUT_MS)
    context.set_default_navigation_timeout(TIMEOUT_MS)
    pg = context.new_page()
    bu.watch(pg)
    return context, pg


def _close(context, pg, request):
    try:
        if request.node.stash.get(_CALL_FAILED, False) and not pg.is_closed():
            name = re.sub(r"[^\w.-]+", "_", request.node.nodeid.split("::", 1)[-1])
            bu.save_screenshot(pg, bu.ARTIFACTS / "failures" / f"{name}.png", full_page=True)
    except Exception:  # a failure screenshot must never mask the real failure
        pass
    finally:
        context.close()


@pytest.fixture
def page(browser, request):
    """A new context and page, viewport 1280x800, watched (browserutil.log_of); a full-page
    screenshot goes to tests/artifacts/failures/<test>.png when the test fails."""
    context, pg = _open(browser, bu.DESKTOP)
    yield pg
    _close(context, pg, request)


@pytest.fixture
def phone_page(browser, request):
    """A new context and page as a phone: viewport 375x740, is_mobile, touch."""
    context, pg = _open(browser, bu.PHONE)
    yield pg
    _close(context, pg, request)
