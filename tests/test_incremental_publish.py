"""How an incremental update publishes (kgpub.incremental, kgpub.generation): `kgpub build`
publishes the edit first and its search index in the next generation; an update killed before
it publishes its generation leaves the old site served, one killed between the two generations
leaves the edit online and its shards named as pending; either way the next build gives a full
build's site."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest

from incrementalutil import (
    build_killed_at,
    edit,
    entry_files,
    make_project,
    publish,
    rebuild,
    same_as_full_build,
)
from kgpub import incremental, layout
from kgtest import tree_bytes


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    return make_project(tmp_path_factory)


@pytest.fixture(scope="module")
def published(project, tmp_path_factory) -> Path:
    return publish(project, tmp_path_factory)


def generation_number(out: Path) -> int:
    return int(Path(os.readlink(out)).name)


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
