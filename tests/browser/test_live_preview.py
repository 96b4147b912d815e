"""`kgpub serve --watch` in headless Chromium: an entry page open in the browser shows an edit
made on disk without a manual reload; data that does not validate brings a banner of the
problems (file:line and message, its markup shown as text, never run), and fixing it takes the
banner away. The server side of the same: tests/test_preview.py."""

from __future__ import annotations

import pytest
from browserutil import log_of
from playwright.sync_api import expect

from kgtest import copy_project
from previewutil import (
    BAD_DATE_LINENO,
    ENTRY,
    ENTRY_FILE,
    SCRIPT_VALUE,
    TITLE,
    running_preview,
)

pytestmark = pytest.mark.browser

# An edit goes through the watcher, a rebuild and the switch to the new build (a few seconds
# on two busy cores), then the page reloads.
LIVE_MS = 45_000
EDITED = "Good Governance Guidelines, edited while the page was open"


def test_open_page_follows_edits_and_shows_problems(page, tmp_path):
    root = copy_project(tmp_path / "project")
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    with running_preview(root) as preview:
        try:
            _edit_break_fix(page, preview)
        except AssertionError as exc:  # what the server saw and did, beside what the page shows
            raise AssertionError(f"{exc}\n--- the preview's terminal:\n{preview.terminal()}"
                                 ) from exc
    assert not dialogs, f"a value in the data ran as a script: {dialogs}"
    errors = [e for e in log_of(page).console_errors if "Content Security Policy" in e
              or "uncaught" in e]
    assert not errors, errors


def _edit_break_fix(page, preview) -> None:
    """Edit, break and fix the data on disk while the page is open."""
    page.goto(f"{preview.url}/{ENTRY}.html")
    heading = page.locator("h1")
    expect(heading).to_have_text(TITLE)
    loads = []
    page.on("load", lambda: loads.append(page.url))

    # the title edited on disk: the open page shows it
    preview.retitle(TITLE, EDITED)
    expect(heading).to_have_text(EDITED, timeout=LIVE_MS)
    assert loads, "the page was not reloaded"

    # data that does not validate: the banner, over the last good build
    preview.break_date(EDITED)
    banner = page.locator("#kgpub-preview")
    expect(banner).to_be_visible(timeout=LIVE_MS)
    expect(banner).to_contain_text(f"{ENTRY_FILE}:{BAD_DATE_LINENO}")
    expect(banner).to_contain_text(SCRIPT_VALUE)  # as text: escaped, not markup
    assert banner.locator("script").count() == 0
    expect(heading).to_have_text(EDITED)
    # a page opened now shows it too (made by the server, not the script)
    page.reload()
    expect(banner).to_contain_text(f"{ENTRY_FILE}:{BAD_DATE_LINENO}")

    # fixed: the banner goes
    preview.fix_date()
    expect(banner).to_have_count(0, timeout=LIVE_MS)
    expect(heading).to_have_text(EDITED)
