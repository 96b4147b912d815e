"""The browser harness catches what it should, so the page tests cannot pass by seeing nothing:
console errors, 4xx answers, external requests, and axe violations."""

from __future__ import annotations

import pytest
from browserutil import axe_violations, log_of, page_problems, visit

pytestmark = pytest.mark.browser


def test_page_log_records_console_errors_failed_and_external_requests(page, browser_site):
    visit(page, browser_site, "home")
    assert page_problems(page, browser_site, "home") == []
    with page.expect_response(lambda r: r.url.endswith("/no-such-asset.css")):
        page.evaluate("() => fetch('/no-such-asset.css')")
    with page.expect_event("requestfailed"):
        page.evaluate(
            """() => { const img = document.createElement('img');
                       img.src = 'https://example.org/tracker.png'; img.alt = '';
                       document.body.append(img); }"""
        )
    page.evaluate("() => console.error('deliberate error')")
    page.wait_for_function("() => true")  # let the console event arrive
    log = log_of(page)
    assert any("deliberate error" in m for m in log.console_errors), log
    assert any(r.endswith("/no-such-asset.css -> 404") for r in log.failed_requests), log
    assert log.external_requests == ["GET https://example.org/tracker.png (image)"], log
    problems = page_problems(page, browser_site, "home")
    assert len(problems) >= 3, problems


def test_axe_reports_serious_violations_readably(page, browser_site):
    visit(page, browser_site, "home")
    page.evaluate(
        """() => { const b = document.createElement('button'); document.querySelector('main').append(b);
                   const p = document.createElement('p'); p.textContent = 'faint';
                   p.style.cssText = 'color:#eee;background:#fff';
                   document.querySelector('main').append(p); }"""
    )
    violations = axe_violations(page)
    assert {"button-name", "color-contrast"} <= set(violations.ids()), violations
    text = repr(violations)
    assert "[critical] button-name" in text and "<button>" in text, text
