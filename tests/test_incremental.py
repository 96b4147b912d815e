"""Incremental rebuilds (kgpub.incremental): after edits of every kind an editor makes, a rebuild
renders only part of the site and the result is byte for byte a full build's; what cannot be
known from the data alone (ontology, configuration, files added) falls back to a full build; an
update interrupted while moving its files in is completed by the next build."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from kgpub import incremental, site
from kgpub.config import load_project
from kgpub.index import Index
from kgpub.load import load_sources
from kgpub.site import build
from test_generate import gen, tree

ENTRIES = 150


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("incremental") / "project"
    gen.generate(ENTRIES, root, seed=4)
    # Search in several shards, so that rebuilds index only some of them again.
    with (root / "kgpub.toml").open("a") as f:
        f.write("\n[search]\nshard_pages = 40\n")
    return root


@pytest.fixture(scope="module")
def published(project, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("incremental-site") / "site"
    result = build(load_project(project), out)
    assert not result.incremental
    assert len(list((out / "_pagefind").glob("shard-*"))) >= 2
    return out


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
    fresh = tmp_path / "full"
    shutil.rmtree(fresh, ignore_errors=True)
    build(load_project(project), fresh, full=True)
    incremental_tree, full_tree = tree(out), tree(fresh)
    assert sorted(incremental_tree) == sorted(full_tree)
    assert [p for p in full_tree if incremental_tree[p] != full_tree[p]] == []


def rebuild(project: Path, out: Path):
    result = build(load_project(project), out)
    assert result.incremental
    return result


def test_nothing_changed_renders_nothing(project, published, kgpub_bin):
    before = tree(published)
    result = rebuild(project, published)
    assert (result.rendered, result.changed, result.removed) == (0, 0, 0)
    assert tree(published) == before
    # The command says so, and --timings says where the time went.
    run = subprocess.run([str(kgpub_bin), "build", "--project", str(project), "--out",
                          str(published), "--timings"], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert "incremental: 0 entities and listing pages rendered again" in run.stdout
    stages = re.search(r"^timings: (.*)$", run.stderr, re.M).group(1)
    assert [s.rsplit(" ", 2)[0] for s in stages.split(", ")][:4] == [
        "load", "validate", "index and navigation", "plan"]
    assert tree(published) == before


def test_edits_render_a_small_part_and_give_a_full_builds_site(project, published, tmp_path):
    files = entry_files(project)
    first, second = files[0], files[1]
    # 1. a title, a date (which reorders listings) and a topic's label
    title = re.search(r'dcterms:title "([^"]+)"', first.read_text()).group(1)
    edit(first, f'"{title}"', f'"Revised: {title}"')
    date = re.search(r'dcterms:date "(\d{4}-\d\d-\d\d)"', second.read_text()).group(1)
    edit(second, f'"{date}"', '"2001-06-15"')
    topics = project / "data" / "topics.ttl"
    label = re.search(r'skos:prefLabel "([^"]+)"@en', topics.read_text()).group(1)
    edit(topics, f'"{label}"@en', f'"{label} (revised)"@en')
    result = rebuild(project, published)
    units = len(incremental.load(published).units) - 2  # all but the site-wide ones
    assert 0 < result.rendered < units / 2
    same_as_full_build(project, published, tmp_path)

    # 2. an entry moved to another topic, one withdrawn, one added
    block = blocks(first.read_text())[1]
    all_topics = re.findall(r"^topic:(\S+) a sphr:Topic", topics.read_text(), re.M)
    current = re.search(r"dcterms:subject topic:(\S+?)[ ;,]", block).group(1)
    other = next(t for t in reversed(all_topics) if t not in block)
    moved = block.replace(f"topic:{current}", f"topic:{other}", 1)
    withdrawn = blocks(second.read_text())[1]
    edit(first, block, moved)
    edit(second, withdrawn, withdrawn[:-2] + " ;\n    owl:deprecated true .")
    added = re.sub(r"^resource:(\S+)", r"resource:\1-added", blocks(second.read_text())[0])
    added = re.sub(r'dcterms:title "[^"]+"', 'dcterms:title "An entry added later"', added)
    second.write_text(second.read_text().rstrip("\n") + "\n\n" + added + "\n")
    result = rebuild(project, published)
    assert 0 < result.rendered < units
    assert any(p.name.endswith("-added.html") for p in (published / "resource").iterdir())
    same_as_full_build(project, published, tmp_path)

    # 3. an entry deleted (nothing links to it) and a change that says nothing new
    text = first.read_text()
    gone = next(b for b in blocks(text)[2:]
                if sum(t.read_text().count(b.split()[0] + " ") + t.read_text().count(
                    b.split()[0] + "\n") for t in (project / "data").rglob("*.ttl")) == 1)
    first.write_text(text.replace("\n\n" + gone, ""))
    edit(topics, "\n", "\n# reworded comment: no statement changes\n")
    page = published / (gone.split()[0].replace("resource:", "resource/") + ".html")
    assert page.is_file()
    rebuild(project, published)
    assert not page.exists()
    same_as_full_build(project, published, tmp_path)

    # 4. a scheme declared in the data, and nothing else: the vocabulary page lists every
    # scheme of the graph (a list over the whole graph is read again after any edit)
    topics.write_text(topics.read_text() + "\n<extra-scheme> a skos:ConceptScheme ;\n"
                      '    skos:prefLabel "Extra scheme"@en .\n')
    rebuild(project, published)
    assert b"Extra scheme" in (published / "ontology.html").read_bytes()
    same_as_full_build(project, published, tmp_path)


def test_what_is_not_data_means_a_full_build(project, published):
    proj = load_project(project)
    previous = incremental.load(published)
    assert previous is not None

    def planned(extra: Path | None = None):
        sources = load_sources(proj)
        index = Index(proj, sources)
        html = site.renderers(index)
        units = [site._unit_name(w) for w in site._works(index, html)]
        return incremental.plan(previous, proj, sources, index, html[0].browse, units)

    assert planned() is not None
    ontology = next((project / "ontology").glob("*.ttl"))
    original = ontology.read_text()
    ontology.write_text(original + "\n# a comment\n")
    try:
        assert planned() is None
    finally:
        ontology.write_text(original)
    extra = project / "data" / "extra.ttl"
    extra.write_text("")
    try:
        assert planned() is None
    finally:
        extra.unlink()


def test_an_interrupted_update_is_completed_by_the_next_build(project, published, tmp_path,
                                                              monkeypatch):
    path = entry_files(project)[-1]
    title = re.search(r'dcterms:title "([^"]+)"', path.read_text()).group(1)
    edit(path, f'"{title}"', f'"Interrupted: {title}"')
    real, calls = site.os.replace, []

    def failing(src, dst):
        calls.append(dst)
        if len(calls) == 3:
            raise OSError("disk full")
        return real(src, dst)

    monkeypatch.setattr(site.os, "replace", failing)
    with pytest.raises(OSError):
        build(load_project(project), published)
    monkeypatch.setattr(site.os, "replace", real)
    assert list(published.parent.glob(f".{published.name}.building-*"))  # the journal is kept
    build(load_project(project), published)
    assert not list(published.parent.glob(f".{published.name}.building-*"))
    same_as_full_build(project, published, tmp_path)
