"""What the incremental-rebuild tests share (test_incremental.py, test_incremental_publish.py,
two modules so that pytest-xdist runs them side by side): a generated project, its first build,
edits, and the check that a site is byte for byte a full build's."""

from __future__ import annotations

import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from kgpub.build import build
from kgpub.config import load_project
from kgtest import bench_generator, copy_build, shared, tree_bytes

gen = bench_generator()
ENTRIES = 80
BASE = "https://w3id.org/sphr/"


def _generate(root: Path) -> None:
    gen.generate(ENTRIES, root, seed=4)
    # Search in several shards, so that rebuilds index only some of them again.
    with (root / "kgpub.toml").open("a") as f:
        # and every rebuild allowed to publish its edit first does, however few its pages
        f.write("\n[search]\nshard_pages = 40\npublish_first_pages = 0\n")


def _generate_and_publish(where: Path) -> None:
    _generate(where / "project")
    out = where / "site"
    result = build(load_project(where / "project"), out)
    assert not result.incremental
    assert len(list((out / "_pagefind").glob("shard-*"))) >= 2


def _original(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The generated project and its first (full) build, made once for the run: both modules
    start from the same ones (each took ~5 s to make on a loaded machine)."""
    return shared(tmp_path_factory, "incremental", _generate_and_publish)


def make_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the generated project, for a module to edit."""
    root = tmp_path_factory.mktemp("incremental") / "project"
    shutil.copytree(_original(tmp_path_factory) / "project", root)
    return root


def publish(project: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the project's first build (of the same files as `project`, made by
    make_project and not yet edited)."""
    assert tree_bytes(project) == tree_bytes(_original(tmp_path_factory) / "project")
    return copy_build(_original(tmp_path_factory) / "site",
                      tmp_path_factory.mktemp("incremental-site") / "site")


def entry_files(project: Path) -> list[Path]:
    """The entry files, those with most dated entries first."""
    return sorted((project / "data" / "entries").rglob("*.ttl"),
                  key=lambda p: (-p.read_text().count("dcterms:date "), p))


def blocks(text: str) -> list[str]:
    """The statements of a generated file, one per subject, in order."""
    return [b for b in text.split("\n\n") if re.match(r"resource:\S+ a ", b)]


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, old
    path.write_text(text.replace(old, new, 1))


def same_as_full_build(project: Path, out: Path, tmp_path: Path) -> None:
    shutil.rmtree(tmp_path / "full", ignore_errors=True)
    fresh = tmp_path / "full" / "site"
    build(load_project(project), fresh, full=True)
    incremental_tree, full_tree = tree_bytes(out), tree_bytes(fresh)
    assert sorted(incremental_tree) == sorted(full_tree)
    assert [p for p in full_tree if incremental_tree[p] != full_tree[p]] == []


def build_killed_at(module: str, name: str, project: Path, out: Path):
    """`kgpub build` in a process that kills itself (SIGKILL) where it calls module.name."""
    code = ("import os, signal, sys\n"
            f"import {module} as target\n"
            f"target.{name} = lambda *a, **k: os.kill(os.getpid(), signal.SIGKILL)\n"
            "from kgpub.cli import main\n"
            "main(sys.argv[1:])\n")
    run = subprocess.run([sys.executable, "-c", code, "build", "--project", str(project),
                          "--out", str(out)], capture_output=True, text=True, timeout=300)
    assert run.returncode == -signal.SIGKILL, run.stderr
    return run


def rebuild(project: Path, out: Path):
    result = build(load_project(project), out)
    assert result.incremental
    return result
