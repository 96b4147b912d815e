"""Revalidation (kgpub.validate.revalidation, .reach, .cache): after an edit a rebuild validates
again only the focus nodes the edit can change, and its report is the one validating the whole
graph gives, after every kind of edit, including edits that break entities in files nobody
touched; a damaged or missing cache means validating everything, with one warning line."""

from __future__ import annotations

import re
from pathlib import Path

import pyoxigraph as ox
import pytest

from kgpub import generation, incremental
from kgpub.build import build
from kgpub.config import load_project
from kgpub.layout import VALIDATION
from kgpub.load import load_sources
from kgpub.validate import cache, validate_sources
from kgpub.validate.reach import CLASS_STEPS, reach
from kgpub.validate.revalidation import Earlier, revalidate
from kgtest import bench_generator, tree_bytes

gen = bench_generator()
ENTRIES = 80
SH = "@prefix sh: <http://www.w3.org/ns/shacl#> .\n@prefix ex: <urn:ex:> .\n"


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("revalidation") / "project"
    gen.generate(ENTRIES, root, seed=5)
    return root


@pytest.fixture(scope="module")
def published(project, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("revalidation-site") / "site"
    build(load_project(project), out)
    assert (out / VALIDATION).is_file()
    return out


def checked(project: Path, site: Path):
    """Revalidation against the published build, and validating everything, on the project
    as it is now."""
    proj = load_project(project)
    sources = load_sources(proj)
    pub = generation.current(site)
    earlier = Earlier(incremental.load(pub), cache.load(pub))
    result = revalidate(proj, sources, "auto", earlier)
    return result, validate_sources(sources, "auto"), len(sources.locations)


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, old
    path.write_text(text.replace(old, new, 1))


def entry_files(project: Path) -> list[Path]:
    return sorted((project / "data" / "entries").rglob("*.ttl"),
                  key=lambda p: (-p.read_text().count("dcterms:date "), p))


def blocks(text: str) -> list[str]:
    return [b for b in text.split("\n\n") if re.match(r"resource:\S+ a ", b)]


def test_the_shapes_reach(tmp_path):
    bundled = load_sources(load_project(Path(__file__).parents[1]))
    found = reach(bundled.shapes)
    assert found is not None
    assert found.depth == 2  # sh:qualifiedValueShape on a value's property, sh:class of values
    assert found.free == {"http://www.w3.org/2004/02/skos/core#broader"} | CLASS_STEPS

    def of(text: str):
        return reach(list(ox.parse(SH + text, format=ox.RdfFormat.TURTLE)))

    nested = of("ex:s a sh:NodeShape ; sh:targetClass ex:C ; sh:property [ sh:path ( ex:a ex:b ) ;"
                " sh:node ex:t ] . ex:t sh:property [ sh:path ex:c ; sh:class ex:D ] .")
    assert nested is not None and nested.depth == 3
    # what the analysis does not cover: validate everything
    assert of("ex:s sh:targetClass ex:C ; sh:property [ sh:path [ sh:inversePath ex:p ] ;"
              " sh:minCount 1 ] .") is None
    assert of("ex:s sh:targetObjectsOf ex:p ; sh:nodeKind sh:IRI .") is None
    assert of("ex:s sh:targetClass ex:C ; sh:property [ sh:path ex:p ; sh:node ex:s ] .") is None


def test_every_kind_of_edit_gives_the_whole_graphs_report(project, published):
    files = entry_files(project)
    first, second, third = files[0], files[1], files[2]
    topics = project / "data" / "topics.ttl"
    subjects_checked = []

    def same() -> None:
        result, full, subjects = checked(project, published)
        assert result.validated is not None, "the rebuild validated everything"
        assert result.report.problems == full.problems
        assert result.report.shacl and sorted(result.report.shacl) == sorted(full.shacl)
        subjects_checked.append((result.validated, subjects))

    title = re.search(r'dcterms:title "([^"]+)"', first.read_text()).group(1)
    edit(first, f'"{title}"', f'"Revised: {title}"')
    same()
    date = re.search(r'dcterms:date "(\d{4}-\d\d-\d\d)"', second.read_text()).group(1)
    edit(second, f'"{date}"', '"2001-06-15"')
    same()
    # an entry filed under another topic
    block = blocks(first.read_text())[1]
    all_topics = re.findall(r"^topic:(\S+) a sphr:Topic", topics.read_text(), re.M)
    current = re.search(r"dcterms:subject topic:(\S+?)[ ;,]", block).group(1)
    other = next(t for t in reversed(all_topics) if t not in block)
    edit(first, block, block.replace(f"topic:{current}", f"topic:{other}", 1))
    same()
    # a topic's label renamed: every entry filed under it is validated again
    label = re.search(r'skos:prefLabel "([^"]+)"@en', topics.read_text()).group(1)
    edit(topics, f'"{label}"@en', f'"{label} (renamed)"@en')
    same()
    # an entry withdrawn, one added, one deleted
    withdrawn = blocks(second.read_text())[1]
    edit(second, withdrawn, withdrawn[:-2] + " ;\n    owl:deprecated true .")
    same()
    added = re.sub(r"^resource:(\S+)", r"resource:\1-added", blocks(second.read_text())[0])
    second.write_text(second.read_text().rstrip("\n") + "\n\n" + added + "\n")
    same()
    gone = blocks(third.read_text())[0]
    edit(third, "\n\n" + gone, "")
    same()
    # Part of the graph, not all of it, was validated again each time.
    assert all(n < subjects / 2 for n, subjects in subjects_checked[:3]), subjects_checked


def test_an_edit_that_breaks_entities_in_files_nobody_touched(project, published):
    """A topic deleted: entries filed under it, in other files, no longer point to a topic
    (sh:class); a warning introduced: a title emptied. Both reports agree, violations too."""
    topics = project / "data" / "topics.ttl"
    text = topics.read_text()
    used = re.findall(r"dcterms:subject topic:(\S+?)[ ;,.\n]",
                      "".join(p.read_text() for p in entry_files(project)))
    slug = max(set(used), key=used.count)
    block = re.search(rf"^topic:{re.escape(slug)} a sphr:Topic ;(?:\n    .*)*\n", text, re.M)
    topics.write_text(text.replace(block.group(0), ""))
    result, full, _ = checked(project, published)
    assert not full.conforms
    assert any("dcterms:subject" in p.path and p.file.startswith("data/entries/")
               for p in full.violations)
    assert result.validated is not None
    assert result.report.problems == full.problems
    topics.write_text(text)


def test_a_damaged_or_missing_cache_means_validating_everything(project, published, tmp_path):
    pub = generation.current(published)
    kept = (pub / VALIDATION).read_bytes()
    proj = load_project(project)
    for damage in (kept[: len(kept) // 2], b"", b'{"format": 1}'):
        # not written in place: the published file may be a hard link to an older one's
        (pub / VALIDATION).unlink()
        (pub / VALIDATION).write_bytes(damage)
        with pytest.raises(ValueError):
            cache.load(pub)
        result = build(proj, published)
        said = [w for w in result.warnings if "validation cache" in w]
        assert len(said) == 1 and said[0].startswith(
            f"{published} has a validation cache that is unusable (damaged")
        assert said[0].endswith("): validated everything")
        pub = generation.current(published)
    (pub / VALIDATION).unlink()
    result = build(proj, published)
    assert [w for w in result.warnings if "validation cache" in w] == [
        f"{published} has no validation cache: validated everything"]
    result = build(proj, published)  # and it has one again
    assert result.incremental and not [w for w in result.warnings if "validation cache" in w]
    # and the site is a full build's
    fresh = tmp_path / "full" / "site"
    build(proj, fresh, full=True)
    assert tree_bytes(published) == tree_bytes(fresh)
