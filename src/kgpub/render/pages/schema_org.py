"""schema.org descriptions of the site and of each entity's page, for search engines.

An entry's schema.org type comes from its resource type ([site.entry_types] in kgpub.toml); a
topic or a resource type is a DefinedTerm of its scheme ([site] topic_scheme, type_scheme).
"""

from __future__ import annotations

import pyoxigraph as ox

from ...config import Project
from ...formats import HTML
from ...index import DCT, FOAF, SKOS
from .picture import picture_of
from .view import Context, View

CONTEXT = "https://schema.org"


def website(project: Project) -> Context:
    """The site itself (on the pages that describe no entity)."""
    return {
        "@context": CONTEXT,
        "@type": "WebSite",
        "@id": project.base,
        "name": project.title,
        "description": project.description,
        "url": project.base,
    }


def describe(v: View, iri: str) -> Context:
    """schema.org description of the page's entity."""
    ix = v.index
    kind = ix.kind(iri)
    # url: the page in this language (inLanguage is only given for works: schema.org has it
    # on CreativeWork, not on Person, Place or DefinedTerm).
    doc: Context = {"@context": CONTEXT, "@id": iri, "url": _url(v, iri)}
    name = v.label(iri).text
    describer = _KINDS.get(kind)
    if describer is None:
        doc.update({"@type": "Thing", "name": name})
    else:
        describer(v, iri, name, doc)
    return doc


def _url(v: View, iri: str) -> str:
    return v.project.base + v.here(v.index.path(iri) + HTML.suffix)


def _agent(v: View, a: str) -> Context:
    typ = "Person" if v.index.has_type(a, FOAF + "Person") else "Organization"
    return {"@type": typ, "@id": a, "name": v.label(a).text}


def _linked(v: View, iri: str, prop: str) -> list[str]:
    return [o.value for o in v.index.values(iri, prop) if isinstance(o, ox.NamedNode)]


def _named(v: View, typ: str, iris: list[str]) -> list[Context]:
    return [{"@type": typ, "@id": i, "name": v.label(i).text} for i in iris]


def _topic(v: View, iri: str, name: str, doc: Context) -> None:
    doc.update({"@type": "DefinedTerm", "name": name,
                "inDefinedTermSet": v.project.topic_scheme})
    definition = v.index.text(iri, SKOS + "definition", v.lang)
    if definition:
        doc["description"] = definition.text


def _entry(v: View, iri: str, name: str, doc: Context) -> None:
    ix = v.index
    type_iri = ix.value(iri, DCT + "type")
    entry_type = v.project.entry_type(type_iri.value if type_iri is not None else None)
    doc.update({"@type": entry_type.schema_org, "name": name, "headline": name[:110]})
    abstract = ix.text(iri, DCT + "abstract", v.lang)
    if abstract:
        doc["abstract"] = abstract.text
    if v.label(iri).lang:
        doc["inLanguage"] = v.label(iri).lang  # the work's, not the page's
    if creators := _linked(v, iri, DCT + "creator"):
        doc["author"] = [_agent(v, a) for a in creators]
    if publishers := _linked(v, iri, DCT + "publisher"):
        doc["publisher"] = [_agent(v, a) for a in publishers]
    if (d := ix.value(iri, DCT + "date")) is not None:
        doc["datePublished"] = d.value
    if topics := _linked(v, iri, DCT + "subject"):
        doc["about"] = _named(v, "DefinedTerm", topics)
    if places := _linked(v, iri, DCT + "spatial"):
        doc["spatialCoverage"] = _named(v, "Place", places)
    if type_iri is not None:
        doc["genre"] = v.label(type_iri.value).text


def _agent_page(v: View, iri: str, name: str, doc: Context) -> None:
    doc.update(_agent(v, iri))
    doc["@context"] = CONTEXT
    doc["url"] = _url(v, iri)
    if alt := [o.value for o in v.index.values(iri, SKOS + "altLabel")]:
        doc["alternateName"] = alt


def _place(v: View, iri: str, name: str, doc: Context) -> None:
    doc.update({"@type": "Place", "name": name})
    if parts := _linked(v, iri, DCT + "isPartOf"):
        doc["containedInPlace"] = _named(v, "Place", parts)


def _image(v: View, iri: str, name: str, doc: Context) -> None:
    doc.update({"@type": "ImageObject", "name": name})
    if creators := _linked(v, iri, DCT + "creator"):
        doc["creator"] = [_agent(v, a) for a in creators]
    if lic := _linked(v, iri, DCT + "license"):
        doc["license"] = lic[0]
    pic = picture_of(v, iri + HTML.suffix, iri)
    if pic["creator"]:
        doc["creditText"] = pic["creator"].text


def _type(v: View, iri: str, name: str, doc: Context) -> None:
    doc.update({"@type": "DefinedTerm", "name": name, "inDefinedTermSet": v.project.type_scheme})


def _scheme(v: View, iri: str, name: str, doc: Context) -> None:
    doc.update({"@type": "DefinedTermSet", "name": name})


def _instrument(v: View, iri: str, name: str, doc: Context) -> None:
    doc.update({"@type": "Legislation", "name": name})


_KINDS = {
    "topic": _topic,
    "entry": _entry,
    "agent": _agent_page,
    "place": _place,
    "image": _image,
    "type": _type,
    "scheme": _scheme,
    "ontology": _scheme,
    "instrument": _instrument,
}
