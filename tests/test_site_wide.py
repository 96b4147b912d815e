"""The site-wide files a rebuild updates in place instead of making them whole: the dumps as
gzip files of one member per chunk of the graph (kgpub.render.rdf), the harvesting files from
each entity's piece (kgpub.render.pieces), and search shards indexed for a second generation
once the edit is published (kgpub.build.render). Whatever the way, the site is a full
build's, byte for byte."""

from __future__ import annotations

import gzip
import io
import json
import re
import subprocess
import zlib
from pathlib import Path

import pyoxigraph as ox
import pytest
import rdflib

from incrementalutil import same_as_full_build
from kgpub import layout
from kgpub.build import build
from kgpub.build import render as render_stage
from kgpub.config import load_project
from kgpub.errors import KgpubError
from kgpub.formats import JSONLD, NTRIPLES, TURTLE
from kgtest import bench_generator

gen = bench_generator()


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("site-wide") / "project"
    gen.generate(60, root, seed=7)
    with (root / "kgpub.toml").open("a") as f:
        # every rebuild allowed to publish its edit first does, however few its pages
        f.write("\n[search]\nshard_pages = 30\npublish_first_pages = 0\n")
    return root


@pytest.fixture(scope="module")
def published(project, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("site-wide-site") / "site"
    assert not build(load_project(project), out).incremental
    return out


def retitle(project: Path, prefix: str) -> str:
    """Edit the first entry title of the first entry file; returns the new title."""
    path = sorted((project / "data" / "entries").rglob("*.ttl"))[0]
    text = path.read_text()
    title = re.search(r'dcterms:title "([^"]+)"', text).group(1)
    path.write_text(text.replace(f'"{title}"', f'"{prefix} {title}"', 1))
    return f"{prefix} {title}"


def damage_in_place(path: Path, data: bytes) -> None:
    """Overwrite a published file in place: every generation sharing its inode (hard links)
    sees it, as after a disk fault (a rebuild updates the generation it was made from)."""
    with open(path, "r+b") as f:
        f.truncate()
        f.write(data)


def members(data: bytes) -> int:
    """The number of gzip members in data."""
    count = 0
    while data:
        d = zlib.decompressobj(31)
        d.decompress(data)
        data = d.unused_data
        count += 1
    return count


def test_dumps_are_gzip_streams_of_many_members_every_reader_takes(published):
    root = published
    record = json.loads((root / layout.DUMP_MEMBERS).read_bytes())
    assert len(record["chunks"]) >= 3
    nt = (root / layout.dump_path(NTRIPLES)).read_bytes()
    assert members(nt) == len(record["chunks"])
    # gunzip and Python's gzip read the members as one stream
    text = subprocess.run(["gunzip", "-c"], input=nt, capture_output=True, check=True).stdout
    assert text == gzip.decompress(nt)
    expected = set(ox.parse(text, format=ox.RdfFormat.N_TRIPLES))
    assert len(expected) > 1000
    for fmt, rdflib_format in ((TURTLE, "turtle"), (JSONLD, "json-ld")):
        body = gzip.decompress((root / layout.dump_path(fmt)).read_bytes())
        assert set(ox.parse(body, format=fmt.rdf)) == expected, fmt.name
        graph = rdflib.Graph().parse(io.BytesIO(body), format=rdflib_format)
        assert len(graph) == len(expected), fmt.name


def test_an_edit_compresses_its_chunk_again_and_copies_the_others(project, published,
                                                                    tmp_path):
    before = json.loads((published / layout.DUMP_MEMBERS).read_bytes())["chunks"]
    title = retitle(project, "Chunked:")
    result = build(load_project(project), published)
    assert result.incremental and result.warnings == []
    after = json.loads((published / layout.DUMP_MEMBERS).read_bytes())["chunks"]
    assert len(after) == len(before)
    assert 1 <= sum(a != b for a, b in zip(before, after, strict=True)) <= 2
    assert title.encode() in gzip.decompress(
        (published / layout.dump_path(NTRIPLES)).read_bytes())
    same_as_full_build(project, published, tmp_path)


@pytest.mark.parametrize("damage", ["record", "member", "pieces"])
def test_a_damaged_record_or_dump_is_made_again_with_one_warning(
        project, published, tmp_path, damage):
    """A record kept between builds that is damaged (as after a disk fault) costs a rebuild
    the work it saves, with one warning line; the site is still a full build's."""
    if damage == "record":
        damage_in_place(published / layout.DUMP_MEMBERS, b"{not json")
    elif damage == "pieces":
        damage_in_place(published / layout.SITE_PIECES, b"kgpub site pieces 1\nonly\tthis\n")
    else:  # a member's compressed bytes damaged (the record still adds up)
        dump = published / layout.dump_path(NTRIPLES)
        data = bytearray(dump.read_bytes())
        data[-12] ^= 0xFF  # inside the last member's compressed data
        damage_in_place(dump, bytes(data))
    retitle(project, f"Damaged {damage}:")
    result = build(load_project(project), published)
    assert result.incremental
    assert len(result.warnings) == 1
    assert ("pieces" if damage == "pieces" else "dump") in result.warnings[0]
    same_as_full_build(project, published, tmp_path)


def test_search_is_indexed_after_the_edit_is_published(project, published, tmp_path,
                                                       monkeypatch):
    """The edit is published before Pagefind runs, with the shards it changed named in
    SEARCH_PENDING; when that second step fails, the next build indexes them."""
    def broken(*args, **kwargs):
        raise KgpubError("search index: Pagefind failed (for the test)")

    monkeypatch.setattr(render_stage, "build_search_index", broken)
    title = retitle(project, "Pending:")
    with pytest.raises(KgpubError, match="for the test"):
        build(load_project(project), published, search_later=True)
    pages = [p for p in published.rglob("*.html") if title.encode() in p.read_bytes()]
    assert pages, "the edit is published before search is indexed"
    pending = json.loads((published / layout.SEARCH_PENDING).read_bytes())["shards"]
    assert pending and pending != "all"
    monkeypatch.undo()
    result = build(load_project(project), published)  # nothing edited since: now in one
    # generation, the pending shards with it
    assert result.incremental
    assert not (published / layout.SEARCH_PENDING).exists()
    same_as_full_build(project, published, tmp_path)


def test_the_harvesting_files_from_pieces_are_those_made_from_the_graph(project):
    """The sitemaps, the feed, VoID and the meta files made from the entities' pieces (kept
    between builds) are byte for byte those their functions make from the graph alone."""
    from kgpub.build.contents import harvest_files, renderers
    from kgpub.index import Index
    from kgpub.load import load_sources
    from kgpub.render.feed import atom_feed
    from kgpub.render.meta_files import meta_files
    from kgpub.render.pieces import piece, read_pieces, write_pieces
    from kgpub.render.sitemaps import sitemaps
    from kgpub.render.void import void_documents

    proj = load_project(project)
    index = Index(proj, load_sources(proj))
    html = renderers(index)
    pieces = [piece(index, iri) for iri in index.entities]
    made = dict(harvest_files(index, html, ["index.html"], pieces))
    prefixes = ["" if lang == proj.languages[0] else f"{lang}/" for lang in proj.languages]
    pages = ["index.html"] + [r.here(listing.page_path(n)) for r in html
                              for listing, n in r.browse.pages()]
    direct = dict(sitemaps(index, pages, prefixes))
    direct.update(void_documents(index))
    direct[layout.FEED] = atom_feed(index)
    direct.update(meta_files(index))
    assert {p: made[p] for p in direct} == direct
    # the record read back gives the same pieces
    tmp = project.parent / "pieces-site"
    (tmp / layout.META_DIR).mkdir(parents=True, exist_ok=True)
    (tmp / layout.SITE_PIECES).write_bytes(write_pieces(pieces))
    assert read_pieces(tmp) == {p.iri: p for p in pieces}


def test_the_pieces_record_keeps_any_date_text(tmp_path):
    """A date is any literal's text: plain ones are written and read without the JSON coder,
    the others (quotes, backslashes, control characters) JSON-quoted; all read back as made."""
    from kgpub.render.pieces import Piece, read_pieces, write_pieces

    dates = ["2021-05-03", "", "c. 1990", 'the "late" 90s', "a\\b", "tab\there", "line\nbreak",
             "\x00\x1f\x7f", "été\u2028"]
    pieces = [Piece(f"https://example.org/e{n}", "", "", "", date, "")
              for n, date in enumerate(dates)]
    (tmp_path / layout.META_DIR).mkdir()
    raw = write_pieces(pieces)
    assert raw.count(b"\n") == len(pieces) + 1  # one line each, whatever the date holds
    (tmp_path / layout.SITE_PIECES).write_bytes(raw)
    assert read_pieces(tmp_path) == {p.iri: p for p in pieces}
    (tmp_path / layout.SITE_PIECES).write_bytes(raw.replace(b'\t"c. 1990"', b'\t"c. "1990"'))
    assert read_pieces(tmp_path) is None  # damaged: not JSON
