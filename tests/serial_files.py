"""Print the test modules that hold the tests marked `serial` (SERIAL in tests/conftest.py), one
path a line, relative to the repository. `make test` runs `pytest -m serial` on these modules
only: collecting all ~1,900 tests to pick two dozen took ~7 s of the serial run, where one core
idles. SERIAL is read from conftest.py's source (no import: nothing else runs)."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

TESTS = Path(__file__).resolve().parent
REPO = TESTS.parent


def serial_table() -> set[str]:
    tree = ast.parse((TESTS / "conftest.py").read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == "SERIAL" for t in node.targets):
            return set(ast.literal_eval(node.value))
    raise SystemExit("tests/conftest.py defines no SERIAL table")


def serial_files() -> list[str]:
    names = sorted({entry.partition("::")[0] for entry in serial_table()})
    found = []
    for name in names:
        paths = sorted(TESTS.rglob(name))
        if not paths:  # conftest.py says the same at collection; here, say it before pytest
            raise SystemExit(f"tests/conftest.py SERIAL: no module {name}")
        found += [p.relative_to(REPO).as_posix() for p in paths]
    return found


if __name__ == "__main__":
    sys.stdout.write("".join(f"{path}\n" for path in serial_files()))
