"""kgpub.layout, the site contract: the records the build hands the server survive a write and a
read, every file of a built site is named by layout, and the reserved paths derive from it."""

from __future__ import annotations

import os
from importlib.resources import files
from pathlib import Path

import pytest

from kgpub import index as index_module
from kgpub import layout, validate
from kgpub.browse import Browse
from kgpub.formats import DOCUMENT_FORMATS, DUMP_FORMATS, HTML, RDF_FORMATS
from kgpub.index import Index, path_problem
from kgpub.layout import BuildFacts, HarvestRecord, Tombstone
from kgpub.oaipmh import OaiSet
from kgpub.render.html import HtmlRenderer
from kgpub.search import ENTRY, SHARDS_FILE

# ---- records ------------------------------------------------------------------------------------

RECORDS = [
    HarvestRecord(
        local_id="resource/a", iri="https://example.org/resource/a",
        datestamp="2020-01-02T03:04:05Z", sets=("topic:x", "topic:x:y", "type:report"),
        deleted=False,
        dc=(("title", "Protección social\u00a0«x»", "es"), ("identifier", "https://e/a", None)),
        rdf="resource/a.rdf"),
    HarvestRecord(local_id="resource/b", iri="https://example.org/resource/b",
                  datestamp="2021-01-01T00:00:00Z", sets=(), deleted=True, dc=(), rdf=None),
]


def test_oai_records_round_trip():
    data = layout.write_oai_records(RECORDS)
    assert layout.read_oai_records(data) == RECORDS
    assert data.endswith(b"\n") and data.count(b"\n") == len(RECORDS)
    assert layout.read_oai_records(layout.write_oai_records([])) == []


def test_oai_sets_round_trip():
    sets = [OaiSet("topic:x", "Topic: X", "What X is"), OaiSet("type:report", "Type: report")]
    assert layout.read_oai_sets(layout.write_oai_sets(sets)) == sets


def test_tombstones_round_trip():
    stones = [Tombstone("/resource/gone"), Tombstone("/resource/old", "/resource/new")]
    assert layout.read_tombstones(layout.write_tombstones(stones)) == stones  # sorted by path
    assert layout.read_tombstones(layout.write_tombstones(stones[::-1])) == stones


def test_build_facts_round_trip():
    facts = BuildFacts("https://example.org/", "2016-01-01T00:00:00Z",
                       {"triples": 3, "classes": {"http://example.org/C": 1}})
    assert layout.read_build_facts(layout.write_build_facts(facts)) == facts


def test_the_build_writes_what_layout_reads(built_site):
    """Reading a built site's .kgpub/ files and writing them again gives the same bytes: the
    build writes them with layout's writers, the server reads them with its readers."""
    pairs = [
        (layout.OAI_RECORDS, layout.read_oai_records, layout.write_oai_records),
        (layout.OAI_SETS, layout.read_oai_sets, layout.write_oai_sets),
        (layout.TOMBSTONES, layout.read_tombstones, layout.write_tombstones),
        (layout.BUILD_FACTS, layout.read_build_facts, layout.write_build_facts),
    ]
    for path, read, write in pairs:
        data = (built_site / path).read_bytes()
        assert write(read(data)) == data, path
    records = layout.read_oai_records((built_site / layout.OAI_RECORDS).read_bytes())
    assert records and all(r.rdf is None or (built_site / r.rdf).is_file() for r in records)
    stones = layout.read_tombstones((built_site / layout.TOMBSTONES).read_bytes())
    assert all(t.path.startswith("/") for t in stones)


# ---- every file of a built site -----------------------------------------------------------------


@pytest.fixture(scope="module")
def bundled_index(bundled_project, bundled_sources) -> Index:
    return Index(bundled_project, bundled_sources)


def _site_files(root: Path) -> list[str]:
    out = []
    for folder, _dirs, names in os.walk(root):
        rel = os.path.relpath(folder, root)
        out += [n if rel == "." else f"{rel}/{n}".replace(os.sep, "/") for n in names]
    return sorted(out)


def test_every_file_of_a_built_site_is_named_by_layout(built_site, bundled_index):
    project = bundled_index.project
    languages = project.languages
    others = tuple(f"{lang}/" for lang in languages[1:])
    entities = {bundled_index.path(iri) for iri in bundled_index.entities}
    documents = {layout.document(p, f) for p in entities for f in DOCUMENT_FORMATS}
    citations = {p + s for p in entities for s in layout.CITATION_SUFFIXES}
    browse = Browse(bundled_index, project.page_size)
    browse_pages = (
        {layout.BROWSE_INDEX, layout.AZ}
        | {layout.listing_page(listing.key, n) for listing, n in browse.pages()}
        | {layout.facet_page(name) for facet, (_, name) in HtmlRenderer.FACET_TITLES.items()
           if facet != "topic"}
    )
    assets = {layout.asset_path(a.name) for a in files("kgpub").joinpath("static").iterdir()
              if a.is_file()}
    exact = {
        "home": {layout.HOME}, "not found": {layout.NOT_FOUND},
        "search page": {layout.SEARCH_PAGE}, "feed": {layout.FEED},
        "robots": {layout.ROBOTS}, "dumps": set(layout.dump_paths()),
        "well-known": {layout.void_path(f) for f in RDF_FORMATS},
        "meta": set(layout.META_FILES), "assets": assets, "browse": browse_pages,
    }
    kinds: dict[str, set[str]] = {}
    for path in _site_files(built_site):
        kind = layout.site_wide_kind(path, languages)
        if kind is None:
            lang = next((o for o in others if path.startswith(o)), "")
            rest = path[len(lang):]
            if lang:  # the other languages have pages, not documents
                assert rest.endswith(HTML.suffix) and rest in documents, path
            else:
                assert rest in documents or rest in citations, path
            continue
        kinds.setdefault(kind, set()).add(path)
        neutral = next((path[len(o):] for o in others if path.startswith(o)), path)
        if kind == "search index":
            assert path.startswith(layout.SEARCH_DIR + "/")
        elif kind == "sitemap":
            assert path == layout.SITEMAP or path == layout.sitemap_part(int(path[8:-4]))
        else:
            assert neutral in exact[kind], (kind, path)
            if neutral != path:  # a page in another language
                assert kind in ("home", "not found", "search page", "browse"), path
    # ... and every file layout names is there
    for kind, expected in exact.items():
        assert {p for p in kinds[kind] if not p.startswith(others)} == expected, kind
    for lang in others:
        for page in (layout.HOME, layout.NOT_FOUND, layout.SEARCH_PAGE, layout.AZ):
            assert lang + page in kinds[layout.site_wide_kind(page)]
    assert {f"{layout.SEARCH_DIR}/{ENTRY}", f"{layout.SEARCH_DIR}/{SHARDS_FILE}"} <= \
        kinds["search index"]
    assert kinds["sitemap"] == {layout.SITEMAP}
    assert layout.STYLESHEET in assets and layout.RDF_WRAPPER in assets
    assert {layout.dump_path(f) for f in DUMP_FORMATS} == set(layout.dump_paths())


def test_entity_paths_are_layouts(bundled_index):
    for iri in bundled_index.entities:
        assert bundled_index.path(iri) == layout.entity_path(
            iri, bundled_index.base, bundled_index.vocab)
    assert bundled_index.path(bundled_index.vocab + "Topic") == layout.ONTOLOGY


# ---- reserved paths -----------------------------------------------------------------------------


def test_reserved_paths_derive_from_layout():
    assert index_module.RESERVED is layout.RESERVED
    assert validate.RESERVED is layout.RESERVED
    assert len(layout.RESERVED) == len(layout.SITE_WIDE)
    for stem, path in zip(layout.RESERVED, layout.SITE_WIDE.values(), strict=True):
        assert path.startswith(stem)
        assert stem.endswith("/") or "/" not in stem


@pytest.mark.parametrize("kind", sorted(layout.SITE_WIDE))
def test_an_entity_named_like_a_site_path_is_refused(kind):
    base = "https://example.org/"
    path = layout.SITE_WIDE[kind]
    name = path + "x" if path.endswith("/") else path.split(".", 1)[0]
    for languages in ((), ("en", "fr")):
        found = path_problem(base + name, base, languages)
        assert found is not None and found.rule == "kgpub:ReservedPath", (kind, found)
    found = path_problem(base + "fr/topic/x", base, ("en", "fr"))
    assert found is not None and found.rule == "kgpub:ReservedPath"


def test_built_site_wide_files_are_reserved(built_site, bundled_project):
    """No entity can take the path of a file the site itself writes."""
    base, languages = bundled_project.base, bundled_project.languages
    for path in _site_files(built_site):
        if layout.site_wide_kind(path, languages) is None:
            continue
        stem = path.split(".", 1)[0] if "/" not in path else path
        found = path_problem(base + stem, base, languages)
        assert found is not None and found.rule == "kgpub:ReservedPath", path
