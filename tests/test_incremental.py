"""Incremental rebuilds (kgpub.incremental): after edits of every kind an editor makes, a rebuild
renders only part of the site and the result is byte for byte a full build's; what cannot be
known from the data alone (ontology, configuration, files added) falls back to a full build; an
update killed before it publishes its generation leaves the old site served, and the next build
gives a full build's site."""

from __future__ import annotations

import dataclasses
import json
import os
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from kgpub import incremental, layout
from kgpub.build import build
from kgpub.build.contents import renderers
from kgpub.build.units import works
from kgpub.config import load_project
from kgpub.graph import Graph
from kgpub.index import Index
from kgpub.load import load_sources
from kgtest import bench_generator, tree_bytes

gen = bench_generator()
ENTRIES = 150
BASE = "https://w3id.org/sphr/"


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("incremental") / "project"
    gen.generate(ENTRIES, root, seed=4)
    # Search in several shards, so that rebuilds index only some of them again.
    with (root / "kgpub.toml").open("a") as f:
        # and every rebuild allowed to publish its edit first does, however few its pages
        f.write("\n[search]\nshard_pages = 40\npublish_first_pages = 0\n")
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


def test_nothing_changed_renders_nothing(project, published, kgpub_bin):
    before = tree_bytes(published)
    result = rebuild(project, published)
    assert (result.rendered, result.changed, result.removed) == (0, 0, 0)
    assert tree_bytes(published) == before
    # The command says so, and --timings says where the time went.
    run = subprocess.run([str(kgpub_bin), "build", "--project", str(project), "--out",
                          str(published), "--timings"], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert "incremental: 0 entities and listing pages rendered again" in run.stdout
    stages = re.search(r"^timings: (.*)$", run.stderr, re.M).group(1)
    assert [s.rsplit(" ", 2)[0] for s in stages.split(", ")][:4] == [
        "load", "validate", "index and navigation", "plan"]
    assert tree_bytes(published) == before


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


def test_a_topic_moved_under_another_broader_topic(project, published, tmp_path):
    """skos:broader edited: what the build derives changes for other subjects than the edited
    one (the old broader topic loses a skos:narrower, the new one gains it), and their pages
    are rendered again: the site is a full build's."""
    import rdflib

    topics = project / "data" / "topics.ttl"
    text = topics.read_text()
    keys = re.findall(r"^topic:(\S+) a sphr:Topic ;(?:\n    .*)*?skos:topConceptOf", text, re.M)
    moved, old = re.findall(r"^topic:(\S+) a sphr:Topic ;(?:\n    .*)*?\n    skos:broader "
                            r"topic:(\S+?) ?[;.]", text, re.M)[-1]
    new = next(k for k in keys if k != old)
    block = re.search(rf"^topic:{re.escape(moved)} a sphr:Topic ;(?:\n    .*)*", text, re.M).group(0)
    edit(topics, block, block.replace(f"skos:broader topic:{old}", f"skos:broader topic:{new}"))
    before = incremental.load(published)
    result = rebuild(project, published)
    assert 0 < result.rendered < len(before.units) - 2

    def narrower(slug: str) -> set[str]:
        g = rdflib.Graph().parse(published / "topic" / f"{slug}.ttl")
        skos = rdflib.Namespace("http://www.w3.org/2004/02/skos/core#")
        return {str(o).rsplit("/", 1)[-1]
                for o in g.objects(rdflib.URIRef(BASE + "topic/" + slug), skos.narrower)}

    assert moved not in narrower(old) and moved in narrower(new)
    # The state records what is derived about each subject: exactly the two broader topics'
    # changed, which alone makes their pages dirty (whatever else they read).
    after = incremental.load(published)
    assert {s for s in before.derived.keys() | after.derived.keys()
            if before.derived.get(s) != after.derived.get(s)} == {
        BASE + "topic/" + old, BASE + "topic/" + new}
    same_as_full_build(project, published, tmp_path)


def test_what_is_not_data_means_a_full_build(project, published):
    proj = load_project(project)
    previous = incremental.load(published)
    assert previous is not None

    def planned(extra: Path | None = None):
        sources = load_sources(proj)
        graph = Graph(proj, sources)
        html = renderers(Index.over(graph))
        units = [w.name for w in works(html[0].index, html[0].browse)]
        return incremental.plan(previous, proj, sources, graph, html[0].browse, units)

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


def test_an_update_killed_before_publishing_leaves_the_old_site(project, published, tmp_path):
    """A build killed (SIGKILL) once its generation is complete, just before publishing it: the
    old generation is still the one published, untouched; the next build deletes the
    unpublished one and gives a full build's site."""
    path = entry_files(project)[-1]
    title = re.search(r'dcterms:title "([^"]+)"', path.read_text()).group(1)
    edit(path, f'"{title}"', f'"Interrupted: {title}"')
    served, before = os.readlink(published), tree_bytes(published)
    gens = published.parent / f".{published.name}.gen"
    build_killed_at("kgpub.generation", "publish", project, published)
    assert os.readlink(published) == served
    assert tree_bytes(published) == before
    assert not any(b"Interrupted: " in data for data in before.values())
    unpublished = [g for g in gens.iterdir() if g.name.isdigit() and int(g.name) > int(
        Path(served).name)]
    assert len(unpublished) == 1
    assert (unpublished[0] / incremental.STATE).is_file()  # complete, but never published
    result = rebuild(project, published)
    assert result.changed > 0
    assert os.readlink(published) != served
    assert not [g for g in gens.iterdir() if g.name.isdigit()
                and g.name not in (Path(os.readlink(published)).name, Path(served).name)]
    assert any(b"Interrupted: " in data for data in tree_bytes(published).values())
    same_as_full_build(project, published, tmp_path)


def generation_number(out: Path) -> int:
    return int(Path(os.readlink(out)).name)


def test_the_command_publishes_the_edit_before_its_search_index(project, published, tmp_path,
                                                                 kgpub_bin):
    """`kgpub build` after an edit publishes it in one generation, says so, and its search
    shards in the next one; --search-now publishes both in one generation."""
    path = entry_files(project)[0]
    title = re.search(r'dcterms:title "([^"]+)"', path.read_text()).group(1)
    edit(path, f'"{title}"', f'"Early: {title}"')
    before = generation_number(published)
    run = subprocess.run([str(kgpub_bin), "build", "--project", str(project), "--out",
                          str(published)], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert re.fullmatch(r"Published the edit in \d+\.\d s; the search index follows", lines[0])
    assert lines[1].startswith("Built ") and "incremental" in lines[1]
    # the counts are both generations': the edited page's search fragment is replaced
    written, removed = map(int, re.search(r"(\d+) written, (\d+) removed", lines[1]).groups())
    assert written > 1 and removed >= 1
    assert generation_number(published) == before + 2
    assert not (published / layout.SEARCH_PENDING).exists()
    same_as_full_build(project, published, tmp_path)

    edit(path, f'"Early: {title}"', f'"Now: {title}"')
    run = subprocess.run([str(kgpub_bin), "build", "--project", str(project), "--out",
                          str(published), "--search-now"], capture_output=True, text=True,
                         timeout=300)
    assert run.returncode == 0, run.stderr
    assert "Published the edit" not in run.stdout and run.stdout.startswith("Built ")
    assert generation_number(published) == before + 3
    same_as_full_build(project, published, tmp_path)


def test_killed_between_the_edit_and_its_search_index(project, published, tmp_path):
    """`kgpub build` killed (SIGKILL) once the edit is published, before the generation with
    its search index: the edit is online, the shards left are named in SEARCH_PENDING, and
    the next build (nothing edited since) indexes them: a full build's site."""
    path = entry_files(project)[1]
    title = re.search(r'dcterms:title "([^"]+)"', path.read_text()).group(1)
    edit(path, f'"{title}"', f'"Half done: {title}"')
    run = build_killed_at("kgpub.build.render", "search_generation", project, published)
    assert run.stdout.startswith("Published the edit in ")
    site = tree_bytes(published)
    assert any(b"Half done: " in data for p, data in site.items() if p.endswith(".html"))
    pending = json.loads(site[layout.SEARCH_PENDING])["shards"]
    assert pending and pending != "all"
    result = rebuild(project, published)
    assert result.rendered == 0
    assert not (published / layout.SEARCH_PENDING).exists()
    same_as_full_build(project, published, tmp_path)


def test_the_state_is_written_again_as_it_was_read(project, published, monkeypatch):
    """The units a rebuild does not render again are written as the last state held them
    (no encoding of hundreds of thousands of reads); when a new key moves the numbering, every
    unit is encoded again, as if none had been read from a file."""
    state = incremental.load(published)
    assert state is not None
    encoded = []
    real = incremental.base64.b64encode
    monkeypatch.setattr(incremental.base64, "b64encode",
                        lambda data: encoded.append(data) or real(data))
    assert incremental.dump(state) == (published / layout.BUILD_STATE).read_bytes()
    assert encoded == []
    monkeypatch.undo()
    state.add("e\tnew", ["new.html"], [], ["\x00 sorts first", state.keys[0]])
    fresh = incremental.State(**{f.name: getattr(state, f.name)
                                 for f in dataclasses.fields(incremental.State)})
    fresh.units = {name: incremental.Unit(u.files, u.searchable, u.read)
                   for name, u in state.units.items()}
    assert incremental.dump(state) == incremental.dump(fresh)
    assert json.loads(incremental.dump(state))["keys"][0] == "\x00 sorts first"


def test_a_build_runs_the_cycle_collector_rarely_and_restores_it(project, published,
                                                                monkeypatch):
    """The build's whole-graph maps live until it ends: the cyclic garbage collector runs
    100x less often meanwhile (it traversed them 40% of the graph's making time), and as
    before once the build returns."""
    import gc

    from kgpub.build import pipeline

    before = gc.get_threshold()
    seen = []
    real = pipeline.load_sources
    monkeypatch.setattr(pipeline, "load_sources",
                        lambda *a, **k: seen.append(gc.get_threshold()) or real(*a, **k))
    rebuild(project, published)
    assert seen and seen[0][0] >= pipeline.COLLECT_EVERY > before[0]
    assert gc.get_threshold() == before
