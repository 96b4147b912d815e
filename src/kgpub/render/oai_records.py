"""OAI-PMH records and sets: each entry's header facts and Dublin Core (mapped from dcterms),
and the sets (topics, hierarchical; resource types) the server's provider answers from."""

from __future__ import annotations

import pyoxigraph as ox

from ..formats import HTML, RDFXML
from ..index import DCT, SKOS, Index
from ..layout import HarvestRecord, document, write_oai_records
from ..oaipmh import OaiSet
from .datestamps import datestamp


def topic_set_specs(index: Index, topic: str) -> list[str]:
    """Hierarchical setSpecs of a topic: one per path from a key issue, e.g.
    'topic:governance:institutional-capacity'; every prefix of a path is a set too."""
    paths: list[list[str]] = []

    def walk(node: str, trail: list[str]) -> None:
        trail = [node] + trail
        broader = [o.value for o in index.values(node, SKOS + "broader")]
        broader = [b for b in broader if b not in trail]
        if not broader:
            paths.append(trail)
        for b in broader:
            walk(b, trail)

    walk(topic, [])
    return sorted({"topic:" + ":".join(index.path(t).rsplit("/", 1)[-1] for t in p) for p in paths})


def _expand(specs: list[str]) -> list[str]:
    out = set()
    for spec in specs:
        parts = spec.split(":")
        for n in range(2, len(parts) + 1):
            out.add(":".join(parts[:n]))
    return sorted(out)


def oai_sets(index: Index) -> list[OaiSet]:
    lang = index.project.default_language
    sets: dict[str, OaiSet] = {}
    for topic in index.of_kind("topic"):
        for spec in _expand(topic_set_specs(index, topic)):
            node = index.base + "topic/" + spec.rsplit(":", 1)[-1]
            definition = index.text(node, SKOS + "definition", lang)
            sets.setdefault(spec, OaiSet(
                spec=spec,
                name="Topic: " + index.label(node, lang).text,
                description=definition.text if definition else None,
            ))
    for type_iri in index.of_kind("type"):
        spec = "type:" + index.path(type_iri).rsplit("/", 1)[-1]
        definition = index.text(type_iri, SKOS + "definition", lang)
        sets[spec] = OaiSet(
            spec=spec,
            name="Resource type: " + index.label(type_iri, lang).text,
            description=definition.text if definition else None,
        )
    return [sets[k] for k in sorted(sets)]


def oai_record(index: Index, iri: str) -> HarvestRecord:
    """An entry as an OAI-PMH record: header facts and its Dublin Core, mapped from dcterms."""
    lang_default = index.project.default_language
    deleted = index.is_tombstone(iri)
    specs: list[str] = []
    for topic in index.values(iri, DCT + "subject"):
        if isinstance(topic, ox.NamedNode) and index.kind(topic.value) == "topic":
            specs += topic_set_specs(index, topic.value)
    for t in index.values(iri, DCT + "type"):
        if isinstance(t, ox.NamedNode):
            specs.append("type:" + index.path(t.value).rsplit("/", 1)[-1])
    dc: list[tuple[str, str, str | None]] = []

    def literals(element: str, prop: str) -> None:
        for v in index.values(iri, prop):
            if isinstance(v, ox.Literal):
                dc.append((element, v.value, v.language))

    def names(element: str, prop: str) -> None:
        for v in index.values(iri, prop):
            if isinstance(v, ox.NamedNode):
                label = index.label(v.value, lang_default)
                dc.append((element, label.text, label.lang))

    literals("title", DCT + "title")
    names("creator", DCT + "creator")
    names("subject", DCT + "subject")
    literals("description", DCT + "abstract")
    names("publisher", DCT + "publisher")
    names("contributor", DCT + "contributor")
    literals("date", DCT + "date")
    names("type", DCT + "type")
    for v in index.values(iri, DCT + "language"):
        dc.append(("language", v.value, None))
    names("coverage", DCT + "spatial")
    for v in index.values(iri, DCT + "license"):
        dc.append(("rights", v.value, None))
    dc.append(("identifier", iri + HTML.suffix, None))
    dc.append(("identifier", iri, None))
    replaced = index.replacement(iri)
    if replaced:
        dc.append(("relation", replaced, None))
    return HarvestRecord(
        local_id=index.path(iri),
        iri=iri,
        datestamp=datestamp(index, iri),
        sets=tuple(_expand(specs)),
        deleted=deleted,
        dc=() if deleted else tuple(dc),
        rdf=None if deleted else document(index.path(iri), RDFXML),
    )


def oai_records(index: Index) -> bytes:
    """All records, one JSON object per line, sorted (datestamp, id): the provider's input."""
    entries = [e for e in index.entities if index.kind(e) == "entry"]
    records = sorted((oai_record(index, e) for e in entries),
                     key=lambda r: (r.datestamp, r.local_id))
    return write_oai_records(records)
