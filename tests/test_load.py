"""kgpub.load on small projects made here: relative IRIs against the base, errors with file:line,
the literal size bound, where subjects and statements are written, deterministic output."""

from __future__ import annotations

from pathlib import Path

import pyoxigraph as ox
import pytest

from kgpub.config import load_project
from kgpub.errors import LoadError
from kgpub.load import load_sources

BASE = "https://example.org/kg/"
SHAPES = """@prefix sh: <http://www.w3.org/ns/shacl#> .
<shape/Thing> a sh:NodeShape ; sh:targetClass <ontology#Thing> .
"""
ONTOLOGY = """@prefix owl: <http://www.w3.org/2002/07/owl#> .
<ontology#Thing> a owl:Class .
"""
DATA = """@prefix topic: <topic/> .
@prefix dcterms: <http://purl.org/dc/terms/> .

topic:a a <ontology#Thing> ;
    dcterms:title "A" .

<topic/b> a <ontology#Thing> ;
    dcterms:title "B" ;
    dcterms:subject [ dcterms:title "nested" ] .
"""


def make_project(root: Path, data: dict[str, str | bytes], base: str = BASE,
                 site: str = "") -> Path:
    (root / "ontology").mkdir(parents=True)
    (root / "shapes").mkdir()
    (root / "data").mkdir()
    (root / "kgpub.toml").write_text(f'[site]\nbase = "{base}"\n{site}', encoding="utf-8")
    (root / "ontology" / "o.ttl").write_text(ONTOLOGY, encoding="utf-8")
    (root / "shapes" / "s.ttl").write_text(SHAPES, encoding="utf-8")
    for name, text in data.items():
        path = root / "data" / name
        if isinstance(text, bytes):
            path.write_bytes(text)
        else:
            path.write_text(text, encoding="utf-8")
    return root


def load(root: Path):
    return load_sources(load_project(root))


def subjects(triples) -> set[str]:
    return {t.subject.value for t in triples if isinstance(t.subject, ox.NamedNode)}


def test_relative_iris_resolve_against_the_base(tmp_path):
    here = load(make_project(tmp_path / "one", {"d.ttl": DATA}))
    there = load(make_project(tmp_path / "two", {"d.ttl": DATA}, base="http://other.test/x/"))
    assert subjects(here.data) == {BASE + "topic/a", BASE + "topic/b"}
    assert subjects(there.data) == {"http://other.test/x/topic/a", "http://other.test/x/topic/b"}
    assert subjects(here.ontology) == {BASE + "ontology#Thing"}
    assert here.prefixes["topic"] == BASE + "topic/"
    # the shapes resolve too, but lend the data none of their prefixes
    assert subjects(here.shapes) == {BASE + "shape/Thing"}


def test_where_subjects_and_statements_are_written(tmp_path):
    sources = load(make_project(tmp_path, {"d.ttl": DATA}))
    assert str(sources.locate(BASE + "topic/a")) == "data/d.ttl:4"
    assert str(sources.locate(BASE + "topic/b")) == "data/d.ttl:7"
    lines = sources.statement_lines("data/d.ttl")
    triples = sources.file_triples["data/d.ttl"]
    titles = {t.object.value: line for t, line in zip(triples, lines, strict=True)
              if t.predicate.value.endswith("title")}
    assert titles == {"A": 5, "B": 8, "nested": 9}
    nested = next(t.subject for t in triples if t.object.value == "nested")
    assert str(sources.locate(nested.value)) == "data/d.ttl:7"  # where its owner is


@pytest.mark.parametrize("text, line, words", [
    ("<a> <b> <c> .\n<a> <b> \"unterminated .\n", 2, "Turtle syntax error"),
    ("<a> <b> <c> .\n\n<a> <b> <c> <d> .\n", 3, "Turtle syntax error"),
    (b"<a> <b> \"ok\" .\n<a> <b> \"\xff\" .\n", 2, "not UTF-8"),
])
def test_errors_name_file_and_line(tmp_path, text, line, words):
    with pytest.raises(LoadError) as exc:
        load(make_project(tmp_path, {"d.ttl": DATA, "e.ttl": text}))
    message = str(exc.value)
    assert message.startswith(f"data/e.ttl:{line}: ") and words in message, message
    assert "\n" not in message and (exc.value.file, exc.value.line) == ("data/e.ttl", line)


def test_a_project_without_data_is_refused(tmp_path):
    root = make_project(tmp_path, {})
    with pytest.raises(LoadError, match=r"no \.ttl files in data/"):
        load(root)


def test_a_literal_over_the_bound_is_cut_out_and_reported(tmp_path):
    big = "x" * 3000
    text = DATA + f'\n<topic/c> a <ontology#Thing> ;\n    <http://purl.org/dc/terms/abstract> """{big}""" ;\n    <http://purl.org/dc/terms/title> "C" .\n'
    sources = load(make_project(tmp_path, {"d.ttl": text}, site="max_literal_bytes = 1024\n"))
    assert sources.literal_limit == 1024
    [cut] = sources.oversized
    assert (cut.file, cut.line, cut.size, cut.subject) == ("data/d.ttl", 12, 3000, BASE + "topic/c")
    assert not any(len(t.object.value) > 1024 for t in sources.data)  # never in the graph
    assert any(t.object.value == "C" for t in sources.data)  # the rest of the file is read
    # under the default bound (1 MiB) the same value is read
    assert not load(make_project(tmp_path / "default", {"d.ttl": text})).oversized


def test_loading_is_deterministic(tmp_path):
    """The same files give the same triples in the same order; blank nodes are named by their
    order in the files, not by what the files call them."""
    one = load(make_project(tmp_path / "one", {"d.ttl": DATA + "_:x <p:q> _:y .\n"}))
    again = load(make_project(tmp_path / "again", {"d.ttl": DATA + "_:x <p:q> _:y .\n"}))
    renamed = load(make_project(tmp_path / "renamed", {"d.ttl": DATA + "_:zz <p:q> _:aa .\n"}))
    assert [str(t) for t in one.data] == [str(t) for t in again.data]
    assert [str(t) for t in one.data] == [str(t) for t in renamed.data]
    assert one.digests == again.digests
