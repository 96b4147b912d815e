"""Helpers for the preview tests (tests/test_preview.py, tests/browser/test_live_preview.py):
`kgpub serve --watch` run for real on a copy of the project, its terminal output in a file, and
the edits an editor makes to the copy's data."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path

from kgtest import edit_file
from serverutil import KGPUB, free_port, stop_group, wait_until_answered

ENTRY = "resource/good-governance-guidelines-for-social-security-institutions"
ENTRY_FILE = "data/entries/publications.ttl"
TITLE = "Good Governance Guidelines for Social Security Institutions"
TITLE_LINE = f'    dcterms:title "{TITLE}"@en ;\n'
# A date no calendar has, written as markup: the report quotes it, the banner must escape it.
SCRIPT_VALUE = "<script>alert(1)</script>"
BAD_DATE_LINE = f'    dcterms:date "{SCRIPT_VALUE}"^^xsd:gYear ;\n'
BAD_DATE_LINENO = 63  # the line after the title (62) in data/entries/publications.ttl


@dataclass
class Preview:
    url: str
    root: Path  # the project copy
    log: Path  # what the server printed (the editor's terminal)

    def terminal(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def retitle(self, old: str, new: str) -> None:
        edit_file(self.root / ENTRY_FILE, f'dcterms:title "{old}"@en', f'dcterms:title "{new}"@en')

    def break_date(self, title: str) -> None:
        """Add an entry date that does not validate (the message quotes SCRIPT_VALUE)."""
        line = f'    dcterms:title "{title}"@en ;\n'
        edit_file(self.root / ENTRY_FILE, line, line + BAD_DATE_LINE)

    def fix_date(self) -> None:
        edit_file(self.root / ENTRY_FILE, BAD_DATE_LINE, "")


@contextlib.contextmanager
def running_preview(root: Path, ready_timeout: float = 90.0):
    """`kgpub serve --watch` on the project at root (a copy: the tests edit it); yields a
    Preview once the first build is served; stops the server afterwards."""
    port = free_port()
    log = root.parent / f"{root.name}-terminal.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            KGPUB + ["serve", "--watch", "--project", str(root), "--port", str(port)],
            stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_answered(url + "/sparql?query=ASK%7B%7D", proc, ready_timeout,
                            "the preview server", log.read_text)
        yield Preview(url, root, log)
    finally:
        if not stop_group(proc, signal.SIGINT, 20):  # as Ctrl-C in the editor's terminal
            raise AssertionError("the preview server did not stop on Ctrl-C")
