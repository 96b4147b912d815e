"""The index (kgpub.index) and the graph under it (kgpub.graph), directly: what it answers about
the bundled data, and dependency recording: every read through the view is recorded while a
recording is open, and render code has no way to reach the unrecorded graph."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import pytest

import kgpub
from kgpub.graph import DCT, RDF_TYPE, SKOS, Graph
from kgpub.index import EVERYTHING, Index, Label, incoming_key
from kgtest import BASE, BROKEN_FOCUS, COMMENTARY_TYPE, PARENT_TOPIC, TOPIC

ENTRY = BROKEN_FOCUS  # a publication filed under TOPIC, published by the ISSA
ISSA = BASE + "agent/issa"
SRC = Path(kgpub.__file__).parent


@pytest.fixture(scope="module")
def graph(bundled_project, bundled_sources) -> Graph:
    return Graph(bundled_project, bundled_sources)


@pytest.fixture
def index(graph) -> Index:
    return Index.over(graph)


# ---- what the index answers ---------------------------------------------------------------------


def test_entities_are_the_published_subjects(index, entity_iris):
    assert index.entities == sorted(set(entity_iris) | {BASE + "ontology"})
    assert all("#" not in e for e in index.entities)
    assert index.is_published(TOPIC) and not index.is_published("http://example.org/x")


def test_kinds(index):
    assert index.kind(TOPIC) == "topic"
    assert index.kind(ENTRY) == "entry"
    assert index.kind(COMMENTARY_TYPE) == "type"
    assert index.kind(ISSA) == "agent"
    assert index.kind(BASE + "ontology") == "ontology"
    assert TOPIC in index.of_kind("topic") and ENTRY not in index.of_kind("topic")
    # a publication is an entry through the ontology's class hierarchy
    assert index.has_type(ENTRY, index.vocab + "ResourceEntry")
    assert index._subclass(index.vocab + "Publication", index.vocab + "ResourceEntry")


def test_values_labels_and_links(index):
    assert index.label(TOPIC, "en") == Label("Institutional capacity and coordination", "en")
    # no French label: the default language's
    assert index.label(TOPIC, "fr").lang == "en"
    assert index.label(BASE + "nothing/here-at-all", "en") == Label("here at all", None)
    assert [v.value for v in index.values(TOPIC, SKOS + "broader")] == [PARENT_TOPIC]
    assert index.value(ENTRY, DCT + "publisher").value == ISSA
    assert ENTRY in index.incoming(TOPIC, DCT + "subject")
    assert TOPIC in index.incoming(PARENT_TOPIC)  # through skos:broader
    assert ENTRY in index.live_entries and not index.is_tombstone(ENTRY)


def test_description_names_what_it_links_to(index):
    triples = index.description(ENTRY)
    subjects = {t.subject.value for t in triples}
    assert {ENTRY, TOPIC, ISSA} <= subjects  # the topic's and the publisher's labels
    assert {t.predicate.value for t in triples if t.subject.value == TOPIC} == {SKOS + "prefLabel"}


def test_graph_reads_are_the_views_without_recording(graph, index):
    assert [v.value for v in graph.statements(ENTRY)[DCT + "subject"]] == [TOPIC]
    assert (ENTRY, DCT + "subject") in graph.links_to(TOPIC)
    assert graph.statements("http://example.org/none") == {}
    assert graph.links_to("http://example.org/none") == []
    assert sum(1 for _ in index.statements()) == len({t.subject.value for t in graph.triples})


# ---- recording ------------------------------------------------------------------------------


def test_nothing_is_recorded_outside_a_recording(index):
    index.label(TOPIC, "en")
    assert index.seen is None


def test_reads_are_recorded(index):
    with index.recording() as read:
        index.label(ENTRY, "en")
    assert read == {ENTRY}
    with index.recording() as read:
        found = index.incoming(TOPIC, DCT + "subject")
    assert read == {incoming_key(TOPIC, DCT + "subject"), *found}
    for whole in (lambda: index.of_kind("topic"), lambda: index.triples,
                  lambda: list(index.statements()), lambda: index.entities,
                  lambda: index.live_entries, index.subjects):
        with index.recording() as read:
            whole()
        assert EVERYTHING in read


def test_a_recording_inside_another_is_kept_by_both(index):
    with index.recording() as outer:
        index.kind(TOPIC)
        with index.recording() as inner:
            index.kind(ENTRY)
    assert inner == {ENTRY} and outer == {TOPIC, ENTRY}
    assert index.seen is None


# What a read takes, by parameter name.
ARGUMENTS = {"iri": ENTRY, "prop": DCT + "title", "lang": "en", "kind": "entry",
             "cls": RDF_TYPE, "sub": ENTRY, "sup": TOPIC}
# The public members of Index that do not read the graph: the recording itself, the view's
# construction, IRI <-> path arithmetic, and the configuration.
NOT_READS = {"note", "note_all", "recording", "over", "path", "iri_for_path",
             "project", "base", "vocab", "ontology_iri", "prefixes", "seen", "label_properties"}


def test_every_public_read_is_recorded(index):
    """A public member added to the view that reads the graph without noting what it read
    fails here (rebuilds would silently miss its edits)."""
    members = [name for name in dir(index) if not name.startswith("_") and name not in NOT_READS]
    assert len(members) >= 20
    for name in members:
        with index.recording() as read:
            member = getattr(index, name)
            if callable(member):
                params = inspect.signature(member).parameters.values()
                member(*[ARGUMENTS[p.name] for p in params if p.default is p.empty])
        assert read, f"Index.{name} reads the graph without recording it"


def test_the_view_exposes_no_unrecorded_graph(index, graph):
    for name in dir(index):
        if name.startswith("_") or name == "recording":
            continue
        value = getattr(index, name)
        assert not isinstance(value, Graph), name
        assert value is not graph._out and value is not graph._inc, name


RENDER_CODE = sorted([*(SRC / "render").glob("*.py"), SRC / "browse.py",
                      SRC / "build" / "contents.py"])


@pytest.mark.parametrize("module", RENDER_CODE, ids=lambda p: p.relative_to(SRC).as_posix())
def test_render_code_cannot_reach_the_unrecorded_graph(module):
    """Render code imports no Graph and touches no view's private state: what it reads goes
    through the recording view it is given."""
    tree = ast.parse(module.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            assert node.module not in ("graph", "kgpub.graph"), f"{module.name} imports the graph"
        if isinstance(node, ast.Attribute):
            assert node.attr not in ("_graph", "_out", "_inc"), \
                f"{module.name}:{node.lineno} reads .{node.attr}, bypassing recording"


def test_a_built_unit_recorded_what_it_showed(built_site):
    """Through the whole build: an entry's unit read the entry, its topic (whose label its
    page shows) and its publisher."""
    from kgpub import incremental

    state = incremental.load(built_site)
    unit = state.units[incremental.entity_unit(ENTRY)]
    read = {state.keys[i] for i in unit.read}
    assert {ENTRY, TOPIC, ISSA} <= read
    assert ENTRY.removeprefix(BASE) + ".html" in unit.files
