"""tests/serial_files.py, which gives `make test`'s serial run its modules: exactly those that
hold an entry of SERIAL (tests/conftest.py), as paths relative to the repository."""

from __future__ import annotations

import subprocess
import sys

import pytest

from kgtest import REPO

SCRIPT = REPO / "tests" / "serial_files.py"


def test_the_modules_of_every_serial_entry_and_no_other(tmp_path):
    run = subprocess.run([sys.executable, str(SCRIPT)], capture_output=True, text=True,
                         cwd=tmp_path, timeout=60)  # from anywhere: paths are the repository's
    assert run.returncode == 0 and run.stderr == "", run.stderr
    paths = run.stdout.splitlines()
    assert paths == sorted(paths) and len(paths) == len(set(paths))
    for path in paths:
        assert path.startswith("tests/") and (REPO / path).is_file(), path
    conftest = (REPO / "tests" / "conftest.py").read_text(encoding="utf-8")
    table = conftest.split("\nSERIAL = {\n", 1)[1].split("\n}\n", 1)[0]
    names = {line.strip().strip('",').partition("::")[0] for line in table.splitlines()
             if line.strip().startswith('"')}
    assert len(names) >= 2
    assert {path.rsplit("/", 1)[1] for path in paths} == names


def test_a_module_that_is_not_there_is_one_line(tmp_path):
    tests = tmp_path / "tests"
    tests.mkdir()
    (tests / "serial_files.py").write_bytes(SCRIPT.read_bytes())
    (tests / "conftest.py").write_text('SERIAL = {"test_gone.py::test_x"}\n')
    run = subprocess.run([sys.executable, str(tests / "serial_files.py")], capture_output=True,
                         text=True, timeout=60)
    assert run.returncode == 1 and run.stdout == ""
    assert run.stderr == "tests/conftest.py SERIAL: no module test_gone.py\n"


@pytest.mark.parametrize("source", ["", "FIRST = []\n"])
def test_no_serial_table_is_one_line(tmp_path, source):
    tests = tmp_path / "tests"
    tests.mkdir()
    (tests / "serial_files.py").write_bytes(SCRIPT.read_bytes())
    (tests / "conftest.py").write_text(source)
    run = subprocess.run([sys.executable, str(tests / "serial_files.py")], capture_output=True,
                         text=True, timeout=60)
    assert run.returncode == 1
    assert run.stderr == "tests/conftest.py defines no SERIAL table\n"
