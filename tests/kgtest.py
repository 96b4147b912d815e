"""Helpers and constants shared by the foundation tests (imported by conftest.py and the test
modules): the seed parser, project copying and editing, hashing, page parsing, the CLI runner."""

from __future__ import annotations

import contextlib
import fcntl
import functools
import hashlib
import importlib.util
import os
import re
import shutil
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from bs4 import BeautifulSoup
from click.testing import CliRunner
from rdflib import Namespace

from kgpub.config import load_project
from kgpub.load import load_sources
from kgpub.validate import to_rdflib, validate_sources

REPO = Path(__file__).resolve().parents[1]
# The seed page ships beside the repository (../shared/seeds/), not inside it.
SEED = REPO.parent / "shared" / "seeds" / "000_74711c7398d76460.txt"
BASE = "https://w3id.org/sphr/"
SPHR = Namespace(BASE + "ontology#")
TOPIC = BASE + "topic/institutional-capacity-and-coordination"
PARENT_TOPIC = BASE + "topic/governance-accountability-and-democracy"
COMMENTARY_TYPE = BASE + "type/expert-commentary"
KGPUB_BIN = Path(sys.executable).with_name("kgpub")
PROJECT_PARTS = ("kgpub.toml", "ontology", "data", "shapes")
# Page chrome that the seed's text carries at the end of one summary and that the data drops.
SEED_CHROME_SUFFIX = " Link to this page"
BROKEN_FOCUS = BASE + "resource/good-governance-guidelines-for-social-security-institutions"


# The prefixes of the bundled data files (relative IRIs resolve against the project's base):
# the header of the Turtle that tests append to them.
PREFIXES = """\
@prefix sphr:       <ontology#> .
@prefix resource:   <resource/> .
@prefix topic:      <topic/> .
@prefix type:       <type/> .
@prefix agent:      <agent/> .
@prefix place:      <place/> .
@prefix image:      <image/> .
@prefix instrument: <instrument/> .
@prefix initiative: <initiative/> .
@prefix dcterms:    <http://purl.org/dc/terms/> .
@prefix skos:       <http://www.w3.org/2004/02/skos/core#> .
@prefix foaf:       <http://xmlns.com/foaf/0.1/> .
@prefix rdfs:       <http://www.w3.org/2000/01/rdf-schema#> .
@prefix org:        <http://www.w3.org/ns/org#> .
@prefix owl:        <http://www.w3.org/2002/07/owl#> .
@prefix xsd:        <http://www.w3.org/2001/XMLSchema#> .
"""


# ---- the seed -----------------------------------------------------------------------------


@dataclass(frozen=True)
class SeedItem:
    title: str
    summary: str  # as in the seed, chrome included
    commentary: bool

    @property
    def abstract(self) -> str:
        """The summary as the data is expected to hold it (page chrome dropped)."""
        return self.summary.removesuffix(SEED_CHROME_SUFFIX)


@dataclass(frozen=True)
class Seed:
    topic_title: str
    definition: str
    credit: str
    items: tuple[SeedItem, ...]
    site_title: str

    @property
    def commentaries(self) -> list[SeedItem]:
        return [i for i in self.items if i.commentary]

    @property
    def others(self) -> list[SeedItem]:
        return [i for i in self.items if not i.commentary]


def parse_seed(text: str) -> Seed:
    """The seed is blocks separated by blank lines: topic title, definition, photo credit,
    "Expert Commentaries", then (title, summary) pairs - three commentaries, then the other
    resources - and the site's name as the last block."""
    blocks = [" ".join(b.split()) for b in re.split(r"\n\s*\n", text) if b.strip()]
    assert blocks[3] == "Expert Commentaries", blocks[:4]
    pairs = blocks[4:-1]
    assert len(pairs) % 2 == 0, "seed items are (title, summary) pairs"
    items = tuple(
        SeedItem(pairs[i], pairs[i + 1], commentary=i < 6) for i in range(0, len(pairs), 2)
    )
    return Seed(blocks[0], blocks[1], blocks[2], items, blocks[-1])


# ---- projects -----------------------------------------------------------------------------


def copy_project(dest: Path) -> Path:
    """Copy the bundled project (kgpub.toml, ontology/, data/, shapes/) to dest."""
    dest.mkdir(parents=True, exist_ok=True)
    for name in PROJECT_PARTS:
        src = REPO / name
        if src.is_dir():
            shutil.copytree(src, dest / name)
        else:
            shutil.copy2(src, dest / name)
    return dest


def edit_file(path: Path, old: str, new: str) -> None:
    """Replace a text that occurs exactly once (so an edit cannot silently miss its target)."""
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, f"{old!r} occurs {text.count(old)} times in {path}"
    path.write_text(text.replace(old, new), encoding="utf-8")


def append_file(path: Path, text: str) -> None:
    with path.open("a", encoding="utf-8") as f:
        f.write("\n" + text)


def subject_line(path: Path, subject: str) -> int:
    """The line (1-based) where a statement about `subject` (as written) starts in column 0."""
    lines = path.read_text(encoding="utf-8").splitlines()
    found = [n for n, line in enumerate(lines, 1) if re.match(re.escape(subject) + r"\s", line)]
    assert len(found) == 1, f"{subject} starts {len(found)} statements in {path}"
    return found[0]


# ---- builds shared by the whole run --------------------------------------------------------


def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory every process of this run sees: under pytest-xdist the workers' base temp
    directories share a parent that is the run's own (pytest-of-user/pytest-N); without xdist,
    the base temp directory itself."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    with path.open("w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)  # released when the file closes
        yield


def shared(tmp_path_factory: pytest.TempPathFactory, name: str,
           make: Callable[[Path], None]) -> Path:
    """A directory `make(dir)` fills once per run, whichever process asks first; the others
    wait on its lock and reuse it (a build of a project took ~1.5-5 s per module on two loaded
    cores). What it holds is read by many tests at once: never change it, copy it
    (copy_build) when a test does."""
    root = run_dir(tmp_path_factory) / f"shared-{name}"
    done = root.with_name(root.name + ".done")
    with _locked(root.with_name(root.name + ".lock")):
        if not done.exists():
            shutil.rmtree(root, ignore_errors=True)  # a maker that failed halfway
            root.mkdir()
            make(root)
            done.touch()
    return root


def copy_build(out: Path, dest: Path) -> Path:
    """A private copy of a build's output `out` (the link and its generations, as `kgpub
    build` leaves them) as `dest`, a path like out; the same bytes as building again (a build
    records no path of its own, only relative ones and content hashes). Copied, never
    hard-linked: a later build of dest may rewrite the files of an older generation in
    place."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    for part in out.parent.iterdir():
        if part.name == out.name:
            target = os.readlink(out)  # relative: .<name>.gen/N
            dest.symlink_to(target.replace(f".{out.name}.", f".{dest.name}.", 1))
        elif part.name.startswith(f".{out.name}."):
            name = f".{dest.name}." + part.name.removeprefix(f".{out.name}.")
            if part.is_dir():
                shutil.copytree(part, dest.parent / name, symlinks=True)
            else:
                shutil.copy2(part, dest.parent / name)
    return dest


def tree_hashes(root: Path) -> dict[str, str]:
    """sha256 of every file under root, by relative path (the byte-identity of a directory)."""
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def tree_bytes(root: Path) -> dict[str, bytes]:
    """The bytes of every file under root, by relative path (to compare two trees exactly)."""
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file()}


@functools.cache
def bench_generator():
    """bench/generate.py (synthetic projects of any size) as a module, loaded once."""
    spec = importlib.util.spec_from_file_location("bench_generate", REPO / "bench" / "generate.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def graph_of(root: Path):
    """The published graph (ontology + data) of a project, as kgpub loads it, in rdflib."""
    return to_rdflib(load_sources(load_project(root)).graph)


def validate_project(root: Path):
    return validate_sources(load_sources(load_project(root)))


# ---- pages --------------------------------------------------------------------


@dataclass
class Page:
    path: str  # relative to the site root
    raw: str
    soup: BeautifulSoup


def parse_pages(site: Path) -> dict[str, Page]:
    pages = {}
    for p in sorted(site.rglob("*.html")):
        raw = p.read_text(encoding="utf-8")
        pages[p.relative_to(site).as_posix()] = Page(
            p.relative_to(site).as_posix(), raw, BeautifulSoup(raw, "html5lib")
        )
    return pages


def norm(text: str) -> str:
    return " ".join(text.split())


def page_path(iri: str) -> str:
    return iri[len(BASE) :] + ".html"


# ---- the command line ---------------------------------------------------------------------


def run_cli(*args: str):
    """Run the kgpub CLI in-process (click's CliRunner); stdout and stderr stay separate."""
    from kgpub.cli import main

    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def subprocess_env() -> dict[str, str]:
    return {**os.environ, "PYTHONUNBUFFERED": "1"}
