"""The build: a document in every RDF format for every entity, dumps of the whole graph, the
ontology, refusal on violations without touching the previous site, byte-identical rebuilds,
and a new generation published atomically, which a killed build leaves unpublished."""

from __future__ import annotations

import gzip
import os
import random
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest
from rdflib import Graph, URIRef
from rdflib.compare import isomorphic

from kgpub.config import load_project
from kgpub.validate import to_rdflib
from kgtest import (
    BASE,
    append_file,
    copy_project,
    edit_file,
    run_cli,
    subprocess_env,
    tree_hashes,
)

# rdflib's JSON-LD parser uses its own deprecated ConjunctiveGraph internally.
pytestmark = pytest.mark.filterwarnings("ignore:ConjunctiveGraph is deprecated:DeprecationWarning")

RDF_DOCS = {".ttl": "turtle", ".jsonld": "json-ld", ".nt": "nt", ".rdf": "xml"}
DOC_SUFFIXES = (".html", *RDF_DOCS)


def parse(path: Path, fmt: str) -> Graph:
    g = Graph()
    g.parse(data=path.read_bytes(), format=fmt)
    return g


def test_every_entity_has_a_document_in_every_format(built_site, entity_iris):
    assert BASE + "ontology" in entity_iris
    assert BASE + "topic/institutional-capacity-and-coordination" in entity_iris
    assert len(entity_iris) >= 45
    missing = [
        iri[len(BASE) :] + suffix
        for iri in entity_iris
        for suffix in DOC_SUFFIXES
        if not (built_site / (iri[len(BASE) :] + suffix)).is_file()
    ]
    assert missing == []


def test_rdf_documents_agree_and_hold_the_entity(built_site, entity_iris, kg):
    problems = []
    for iri in entity_iris:
        doc = built_site / iri[len(BASE) :]
        graphs = {s: parse(doc.with_name(doc.name + s), f) for s, f in RDF_DOCS.items()}
        reference = graphs[".ttl"]
        own = set(kg.triples((URIRef(iri), None, None)))
        if not own:
            problems.append(f"{iri}: no triples in the loaded graph")
        if not own <= set(reference):
            problems.append(f"{iri}: .ttl lacks {len(own - set(reference))} of its own triples")
        for suffix, g in graphs.items():
            if not isomorphic(g, reference):
                problems.append(f"{iri}: {suffix} differs from .ttl")
    assert problems == []


def test_entity_documents_describe_what_they_link_to(built_site, kg):
    """A document carries the labels of linked entities, so a client can show it alone."""
    from rdflib.namespace import DCTERMS, FOAF

    g = parse(
        built_site / "resource/good-governance-guidelines-for-social-security-institutions.ttl",
        "turtle",
    )
    issa = URIRef(BASE + "agent/issa")
    assert set(g.objects(issa, FOAF.name)) == set(kg.objects(issa, FOAF.name))
    topic = URIRef(BASE + "topic/institutional-capacity-and-coordination")
    assert (None, DCTERMS.subject, topic) in g


def test_ontology_document_holds_the_vocabulary(built_site, bundled_sources, html_pages):
    ontology = to_rdflib(bundled_sources.ontology)
    for suffix, fmt in RDF_DOCS.items():
        g = parse(built_site / f"ontology{suffix}", fmt)
        assert set(ontology) <= set(g), suffix
    page = html_pages["ontology.html"].soup
    assert page.find("h1").get_text(strip=True) == "Social Protection and Human Rights vocabulary"
    terms = {
        str(s)[len(BASE + "ontology#") :]
        for s in ontology.subjects()
        if str(s).startswith(BASE + "ontology#")
    }
    assert {"Topic", "ResourceEntry", "ExpertCommentary", "concerns"} <= terms
    for term in terms:
        assert page.find(id=term) is not None, f"ontology.html has no #{term}"


@pytest.mark.parametrize("name, fmt", [("ttl", "turtle"), ("nt", "nt"), ("jsonld", "json-ld")])
def test_dumps_hold_the_whole_graph(built_site, bundled_sources, name, fmt):
    """What editors wrote and what the build derives from it (kgpub.entail)."""
    from kgpub.entail import published
    from kgpub.validate import to_rdflib

    expected = to_rdflib(published(bundled_sources))
    raw = gzip.decompress((built_site / f"dumps/dataset.{name}.gz").read_bytes())
    g = Graph()
    g.parse(data=raw, format=fmt)
    assert len(g) == len(expected)
    assert isomorphic(g, expected)


# ---- refusal on violations -------------------------------------------------------------------


def test_build_with_violations_leaves_the_previous_site_byte_identical(
    broken_project, built_site, tmp_path
):
    out = tmp_path / "public" / "site"
    shutil.copytree(built_site, out)
    before = tree_hashes(out)
    siblings = sorted(p.name for p in out.parent.iterdir())
    r = run_cli("build", "--project", broken_project, "--out", out)
    assert r.exit_code == 1, r.output
    assert "dcterms:title" in r.stderr and "nothing was published" in r.stderr
    assert tree_hashes(out) == before
    # Only the build lock (taken before validating) is new beside it.
    assert sorted(p.name for p in out.parent.iterdir() if p.name != ".site.lock") == siblings


def test_build_with_violations_creates_nothing(broken_project, tmp_path):
    out = tmp_path / "fresh" / "site"
    r = run_cli("build", "--project", broken_project, "--out", out)
    assert r.exit_code == 1
    assert not (tmp_path / "fresh").exists()
    assert not (broken_project / "site").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == []


# ---- determinism -------------------------------------------------------------------------------


def test_two_builds_are_byte_identical(built_site, tmp_path):
    """A second build, from a copy of the project at another path and into the default output
    directory (site/ in the project), writes exactly the same bytes."""
    root = copy_project(tmp_path / "elsewhere")
    r = run_cli("build", "--project", root)
    assert r.exit_code == 0, r.output
    assert "Built " in r.stdout
    again = root / "site"
    first, second = tree_hashes(built_site), tree_hashes(again)
    assert sorted(first) == sorted(second)
    differing = [path for path in first if first[path] != second[path]]
    assert differing == []
    # site is a link to the one generation there is (nothing else left behind)
    assert os.readlink(again) == ".site.gen/1"
    assert sorted(p.name for p in (root / ".site.gen").iterdir()) == ["1"]
    assert sorted(p.name for p in root.glob(".site*")) == [".site.gen", ".site.lock"]


# ---- a killed build ----------------------------------------------------------------------------


def generated_entries(n: int, words_per_abstract: int) -> str:
    """n valid entries with long, varied summaries: validating them is quick, writing the site
    (pages, documents, gzipped dumps) takes a while."""
    rnd = random.Random(7)
    vocabulary = [
        "".join(rnd.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rnd.randint(2, 10)))
        for _ in range(4000)
    ]
    out = []
    for i in range(n):
        text = " ".join(rnd.choice(vocabulary) for _ in range(words_per_abstract))
        out.append(
            f"resource:generated-{i:04d} a sphr:Publication ;\n"
            f'    dcterms:title "Generated entry {i}"@en ;\n'
            f'    dcterms:abstract "{text}"@en ;\n'
            "    dcterms:type type:report ;\n"
            "    dcterms:subject topic:institutional-capacity-and-coordination ;\n"
            '    dcterms:date "2020"^^xsd:gYear .\n'
        )
    return "\n".join(out)


def test_killed_build_keeps_the_old_site(kgpub_bin, built_site, tmp_path):
    # the old site: a complete build of the bundled project, as a plain directory (a site built
    # before generations: the next build migrates it)
    out = tmp_path / "public" / "site"
    shutil.copytree(built_site, out)
    old = tree_hashes(out)
    # the data changes: a much bigger project
    big = copy_project(tmp_path / "big")
    append_file(big / "data/entries/publications.ttl", generated_entries(12, 100000))
    proc = subprocess.Popen(
        [str(kgpub_bin), "build", "--project", str(big), "--out", str(out)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=subprocess_env(),
    )
    unpublished = out.parent / ".site.gen" / "1"
    try:
        deadline = time.monotonic() + 90
        while not (unpublished / "resource").exists():
            assert proc.poll() is None, "the build ended before its generation was seen"
            assert time.monotonic() < deadline, "no generation appeared"
            time.sleep(0.002)
        time.sleep(0.05)  # let it write a little
        proc.send_signal(signal.SIGKILL)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    assert unpublished.is_dir(), "the killed build's generation stays until the next build"
    assert not out.is_symlink(), "the killed build published its generation"
    assert tree_hashes(out) == old, "the killed build changed the published site"

    # a following build succeeds, publishes the new data and removes the unpublished generation
    small = copy_project(tmp_path / "small")
    edit_file(
        small / "data/entries/publications.ttl",
        '"Social Protection: A Key to a Fair Society"@en',
        '"Social Protection: A Key to a Fair Society (second edition)"@en',
    )
    r = run_cli("build", "--project", small, "--out", out)
    assert r.exit_code == 0, r.output
    # (an unpublished generation's number is free again: no server has seen it)
    assert os.readlink(out) == ".site.gen/1"
    assert sorted(p.name for p in out.parent.iterdir()) == [".site.gen", ".site.lock", "site"]
    assert sorted(p.name for p in (out.parent / ".site.gen").iterdir()) == ["1"]
    assert not (out / "resource/generated-0000.html").exists()
    page = (out / "resource/social-protection-a-key-to-a-fair-society.html").read_text()
    assert "(second edition)" in page
    # The same files (search index files are named by their content: some changed name).
    assert ({p for p in tree_hashes(out) if not p.startswith("_pagefind/")}
            == {p for p in old if not p.startswith("_pagefind/")})


# ---- known bugs ----------------------------------------------------------------------------------


@pytest.mark.parametrize("where", [".", "data"])
def test_build_refuses_to_replace_the_project_sources(tmp_path, where):
    root = copy_project(tmp_path / "project")
    before = tree_hashes(root)
    r = run_cli("build", "--project", root, "--out", root / where)
    assert tree_hashes(root) == before, "the project's sources were replaced"
    assert r.exit_code == 2


def test_entity_at_a_reserved_path_is_not_silently_overwritten(tmp_path):
    from kgpub.build import build
    from kgpub.errors import KgpubError

    root = copy_project(tmp_path / "project")
    append_file(
        root / "data/external.ttl",
        '<index> a foaf:Document ; rdfs:label "An index document"@en .\n',
    )
    try:
        build(load_project(root), tmp_path / "site")
    except KgpubError as exc:  # refusing the clash, naming it, is a fix too
        text = exc.report.to_text() if hasattr(exc, "report") else str(exc)
        assert "index" in text and "reserved" in text
        assert not (tmp_path / "site").exists()
        return
    html = (tmp_path / "site/index.html").read_text(encoding="utf-8")
    pages = [p for p in (tmp_path / "site").rglob("*.html") if "An index document" in p.read_text()]
    assert pages, "the entity <index> has no page"
    assert "Newest resources" in html, "the home page was replaced"


def test_output_does_not_depend_on_hash_seed(tmp_path):
    """Builds in processes with different hash seeds (set orders differ) are byte-identical,
    even where entries tie on every sort key (same date, same title)."""
    import subprocess
    import sys

    project = copy_project(tmp_path / "project")
    twins = "".join(
        f"resource:twin-{n} a sphr:Publication ; dcterms:title \"Twin\"@en ;\n"
        f"    dcterms:type type:report ; dcterms:date \"2020\"^^xsd:gYear ;\n"
        f"    dcterms:subject topic:institutional-capacity-and-coordination .\n"
        for n in range(8)
    )
    append_file(project / "data/entries/publications.ttl", twins)
    trees = []
    for seed in ("1", "2", "3"):
        out = tmp_path / f"site-{seed}"
        env = {**subprocess_env(), "PYTHONHASHSEED": seed}
        r = subprocess.run([sys.executable, "-m", "kgpub.cli", "build", "--project", str(project),
                            "--out", str(out)], env=env, capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
        trees.append(tree_hashes(out))
    assert trees[0] == trees[1] == trees[2]


def test_incremental_rebuild_rewrites_only_what_changed(tmp_path):
    """A rebuild after edits rewrites only changed files (never in place: the previous site's
    files may be hard links), deletes what is gone, and equals a full build."""
    import re

    from kgpub.build import build

    project = copy_project(tmp_path / "project")
    out = tmp_path / "site"
    build(load_project(project), out)
    page = out / "resource/social-protection-a-key-to-a-fair-society.html"
    gone = out / "resource/good-governance-guidelines-for-social-security-institutions.html"
    untouched = out / "place/kenya.html"
    keep = tmp_path / "old-page.html"
    os.link(page, keep)  # a second name for the old file: in-place writes would show here
    old_text, old_inode = keep.read_text(), untouched.stat().st_ino
    source = project / "data/entries/publications.ttl"
    text = source.read_text().replace('"Social Protection: A Key to a Fair Society"@en',
                                      '"Social Protection: A Key to a Fair Society (revised)"@en')
    text = re.sub(r"resource:good-governance-guidelines-for-social-security-institutions .*?\.\n",
                  "", text, flags=re.S)
    source.write_text(text)
    result = build(load_project(project), out)
    assert "(revised)" in page.read_text() and keep.read_text() == old_text
    assert untouched.stat().st_ino == old_inode  # unchanged: not rewritten
    assert 0 < result.changed < result.files / 3
    # Its page in each language, four RDF documents, two citations; listings left empty.
    doc = "resource/good-governance-guidelines-for-social-security-institutions"
    own = [f"{p}{doc}.html" for p in ("", "fr/", "es/")] + [
        f"{doc}{s}" for s in (".ttl", ".jsonld", ".nt", ".rdf", ".bib", ".ris")]
    assert result.removed >= len(own) and not any((out / f).exists() for f in own)
    assert not gone.exists()
    fresh = build(load_project(project), tmp_path / "fresh")
    assert tree_hashes(out) == tree_hashes(fresh.out)


def test_parallel_build_equals_serial_build(tmp_path, monkeypatch):
    """The forked renderers (used from PARALLEL_MIN_ENTITIES up) write exactly what one process
    writes."""
    from kgpub.build import build, executor

    project = load_project(copy_project(tmp_path / "project"))
    serial = build(project, tmp_path / "serial", workers=1)
    monkeypatch.setattr(executor, "PARALLEL_MIN_ENTITIES", 1)
    monkeypatch.setattr(executor, "CHUNK", 7)
    parallel = build(project, tmp_path / "parallel", workers=2)
    assert parallel.files == serial.files
    assert tree_hashes(parallel.out) == tree_hashes(serial.out)
    # The workers got their context through the pool's initializer: this process never set it.
    assert executor._worker_context is None


def test_units_of_work_are_named_records(bundled_project, bundled_sources):
    """Every entity and every listing page is one unit, named as the build state keys it."""
    from kgpub import incremental
    from kgpub.build.contents import renderers
    from kgpub.build.units import EntityWork, ListingWork, works
    from kgpub.index import Index

    index = Index(bundled_project, bundled_sources)
    html = renderers(index)
    units = works(index, html[0].browse)
    entities = [w for w in units if isinstance(w, EntityWork)]
    listings = [w for w in units if isinstance(w, ListingWork)]
    assert [w.iri for w in entities] == index.entities
    assert len(listings) == len(html[0].browse.pages()) > 0
    assert len(entities) + len(listings) == len(units)
    names = [w.name for w in units]
    assert len(set(names)) == len(names)
    assert entities[0].name == incremental.entity_unit(entities[0].iri)
    assert listings[0].name == incremental.listing_unit(listings[0].listing.key, listings[0].n)
