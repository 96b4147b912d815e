"""The catalogue description at /.well-known/void: VoID (statistics, dumps, the SPARQL endpoint)
and DCAT, conforming to DCAT-AP 3.0, in every RDF format."""

from __future__ import annotations

import weakref
from collections import Counter

import pyoxigraph as ox

from ..formats import DUMP_FORMATS, RDF_FORMATS, serialize
from ..index import DCT, FOAF, RDF_TYPE, SKOS, VOID, XSD, Index
from ..layout import HOME, SPARQL, dump_path, void_path
from ..layout import VOID as VOID_DOC
from .datestamps import datestamp, default_datestamp

DCAT = "http://www.w3.org/ns/dcat#"


def dataset_iri(index: Index) -> str:
    return index.base + VOID_DOC + "#dataset"


_statistics: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def statistics(index: Index) -> dict:
    """Counts over the published graph, exactly as SPARQL counts them on the endpoint (once per
    index: VoID and the server's site.json both give them)."""
    if index not in _statistics:
        _statistics[index] = _count(index)
    return _statistics[index]


def _count(index: Index) -> dict:
    # From each subject's property -> objects map (one pass, no set of 1M triples): a subject
    # without ":" is a blank node's label (kgpub.index).
    triples, properties, objects = 0, set(), set()
    classes: Counter = Counter()
    entities = subjects = 0
    for subject, preds in index.statements():
        subjects += 1
        if ":" in subject and subject.startswith(index.base):
            entities += 1
        for prop, values in preds.items():
            distinct = set(values)
            triples += len(distinct)
            properties.add(prop)
            objects.update(distinct)
            if prop == RDF_TYPE:
                classes.update(o.value for o in distinct)
    return {
        "triples": triples,
        "entities": entities,
        "distinctSubjects": subjects,
        "properties": len(properties),
        "distinctObjects": len(objects),
        "classes": dict(sorted(classes.items())),
    }


# EU Vocabularies' named authority lists, which DCAT-AP 3.0 asks for: languages (by the ISO 639-1
# code of a site language; another code falls back to the Library of Congress' ISO 639-1 IRI),
# file types (dcterms:format of a distribution) and planned availability.
EU_AUTHORITY = "http://publications.europa.eu/resource/authority/"
EU_LANGUAGES = {
    "ar": "ARA", "bg": "BUL", "cs": "CES", "da": "DAN", "de": "DEU", "el": "ELL", "en": "ENG",
    "es": "SPA", "et": "EST", "fi": "FIN", "fr": "FRA", "ga": "GLE", "hr": "HRV", "hu": "HUN",
    "it": "ITA", "ja": "JPN", "lt": "LIT", "lv": "LAV", "mt": "MLT", "nl": "NLD", "pl": "POL",
    "pt": "POR", "ro": "RON", "ru": "RUS", "sk": "SLK", "sl": "SLV", "sv": "SWE", "tr": "TUR",
    "uk": "UKR", "zh": "ZHO",
}
EU_FILE_TYPES = {"ttl": "RDF_TURTLE", "nt": "RDF_N_TRIPLES", "jsonld": "JSON_LD",
                 "rdf": "RDF_XML"}
IANA_MEDIA_TYPES = "https://www.iana.org/assignments/media-types/"
DCATAP = "http://data.europa.eu/r5r/"
VCARD = "http://www.w3.org/2006/vcard/ns#"
RDFS_RESOURCE = "http://www.w3.org/2000/01/rdf-schema#Resource"


def language_iri(tag: str) -> str:
    code = tag.split("-")[0].lower()
    if code in EU_LANGUAGES:
        return f"{EU_AUTHORITY}language/{EU_LANGUAGES[code]}"
    return f"http://id.loc.gov/vocabulary/iso639-1/{code}"


def void_triples(index: Index, modified_at: str | None = None) -> list[ox.Triple]:
    """The catalogue description at /.well-known/void: VoID (statistics, dumps, the SPARQL
    endpoint) and DCAT, conforming to DCAT-AP 3.0 (its mandatory properties and the
    recommended ones the project knows). What the DCAT-AP shapes check the class of (the
    publisher, the licence, media types, pages, URLs, the theme scheme) is typed here too, so a
    harvester that does not infer (or fetch) finds it. modified_at: the newest entry's
    datestamp, when known (kgpub.render.pieces)."""
    project = index.project
    doc = index.base + VOID_DOC
    ds = ox.NamedNode(dataset_iri(index))
    catalog = ox.NamedNode(doc + "#catalog")
    service = ox.NamedNode(doc + "#sparql")
    publisher = ox.NamedNode(doc + "#publisher")
    contact = ox.NamedNode(doc + "#contact")
    sparql = ox.NamedNode(index.base + SPARQL)
    home = ox.NamedNode(index.base + HOME)
    lang = project.default_language
    out: list[ox.Triple] = []

    def add(s, p: str, o) -> None:
        out.append(ox.Triple(s, ox.NamedNode(p), o))

    def a(s, *classes: str) -> None:
        for cls in classes:
            add(s, RDF_TYPE, ox.NamedNode(cls))

    def text(value: str) -> ox.Literal:
        return ox.Literal(value, language=lang)

    def integer(n: int) -> ox.Literal:
        return ox.Literal(str(n), datatype=ox.NamedNode(XSD + "integer"))

    stats = statistics(index)
    description = text(project.description or project.title)
    publisher_name = project.repository.get("publisher", project.title)
    license_ = ox.NamedNode(project.license) if project.license else None
    languages = [ox.NamedNode(language_iri(tag)) for tag in project.languages]
    if modified_at is None:
        entries = [e for e in index.entities if index.kind(e) == "entry"]
        modified_at = max([datestamp(index, e) for e in entries] or [default_datestamp(index)])
    modified = ox.Literal(modified_at, datatype=ox.NamedNode(XSD + "dateTime"))
    scheme = project.topic_scheme  # [site] topic_scheme: the catalogue's theme taxonomy
    taxonomy = ox.NamedNode(scheme) if index.kind(scheme) == "scheme" else None

    a(catalog, DCAT + "Catalog")
    add(catalog, DCT + "title", text(project.repository.get("name", project.title)))
    add(catalog, DCT + "description", description)
    add(catalog, DCT + "publisher", publisher)
    add(catalog, FOAF + "homepage", home)
    add(catalog, DCAT + "dataset", ds)
    add(catalog, DCAT + "service", service)
    for language in languages:
        add(catalog, DCT + "language", language)
    if license_:
        add(catalog, DCT + "license", license_)
    add(catalog, DCT + "modified", modified)
    if taxonomy:
        add(catalog, DCAT + "themeTaxonomy", taxonomy)

    a(ds, VOID + "Dataset", DCAT + "Dataset")
    add(ds, DCT + "title", text(project.title))
    add(ds, DCT + "description", description)
    add(ds, DCT + "publisher", publisher)
    if license_:
        add(ds, DCT + "license", license_)
    for language in languages:
        add(ds, DCT + "language", language)
    add(ds, DCT + "modified", modified)
    add(ds, FOAF + "homepage", home)
    add(ds, DCAT + "landingPage", home)
    emails = project.repository.get("admin_email")
    if emails:
        add(ds, DCAT + "contactPoint", contact)
    if taxonomy:
        for top in index.incoming(scheme, SKOS + "topConceptOf"):
            if not index.is_tombstone(top):
                add(ds, DCAT + "theme", ox.NamedNode(top))
    add(ds, VOID + "sparqlEndpoint", sparql)
    add(ds, VOID + "uriSpace", ox.Literal(index.base))
    add(ds, VOID + "feature", ox.NamedNode("http://www.w3.org/ns/formats/Turtle"))
    if taxonomy:
        add(ds, VOID + "rootResource", taxonomy)
    for vocab in sorted(_vocabularies(index)):
        add(ds, VOID + "vocabulary", ox.NamedNode(vocab))
    for example in _examples(index):
        add(ds, VOID + "exampleResource", ox.NamedNode(example))
    for key in ("triples", "entities", "distinctSubjects", "properties", "distinctObjects"):
        add(ds, VOID + key, integer(stats[key]))
    add(ds, VOID + "classes", integer(len(stats["classes"])))
    for cls, count in stats["classes"].items():
        part = ox.NamedNode(f"{doc}#class-{_slug(cls, index.prefixes)}")
        add(ds, VOID + "classPartition", part)
        add(part, VOID + "class", ox.NamedNode(cls))
        add(part, VOID + "entities", integer(count))
    gzip = ox.NamedNode(IANA_MEDIA_TYPES + "application/gzip")
    stable = ox.NamedNode(EU_AUTHORITY + "planned-availability/STABLE")
    for fmt in DUMP_FORMATS:
        url = ox.NamedNode(index.base + dump_path(fmt))
        dist = ox.NamedNode(f"{doc}#dump-{fmt.name}")
        add(ds, VOID + "dataDump", url)
        add(ds, DCAT + "distribution", dist)
        a(dist, DCAT + "Distribution")
        add(dist, DCT + "title", text(f"The whole graph as gzipped {fmt.label}"))
        add(dist, DCT + "description", text(
            f"Every statement of the knowledge graph (the vocabulary, the data and the "
            f"statements derived from them) in one gzipped {fmt.label} file."))
        add(dist, DCAT + "accessURL", url)
        add(dist, DCAT + "downloadURL", url)
        media = ox.NamedNode(IANA_MEDIA_TYPES + fmt.media_type)
        add(dist, DCAT + "mediaType", media)
        a(media, DCT + "MediaType")
        add(dist, DCAT + "compressFormat", gzip)
        if fmt.name in EU_FILE_TYPES:
            file_type = ox.NamedNode(f"{EU_AUTHORITY}file-type/{EU_FILE_TYPES[fmt.name]}")
            add(dist, DCT + "format", file_type)
            a(file_type, DCT + "MediaTypeOrExtent")
        add(dist, DCATAP + "availability", stable)
        if license_:
            add(dist, DCT + "license", license_)
        a(url, RDFS_RESOURCE)
    a(gzip, DCT + "MediaType")
    a(stable, SKOS + "Concept")
    add(stable, SKOS + "prefLabel", ox.Literal("stable", language="en"))

    a(service, DCAT + "DataService")
    add(service, DCT + "title", text(f"SPARQL endpoint of {project.title}"))
    add(service, DCT + "publisher", publisher)
    add(service, DCAT + "endpointURL", sparql)
    add(service, DCAT + "endpointDescription", sparql)  # its service description (Accept: RDF)
    add(service, DCAT + "servesDataset", ds)
    protocol = ox.NamedNode("https://www.w3.org/TR/sparql11-protocol/")
    add(service, DCT + "conformsTo", protocol)
    a(protocol, DCT + "Standard")
    add(protocol, DCT + "title", ox.Literal("SPARQL 1.1 Protocol", language="en"))
    a(sparql, RDFS_RESOURCE)

    # What the description points to, typed as DCAT-AP's ranges require.
    a(publisher, FOAF + "Agent", FOAF + "Organization")
    add(publisher, FOAF + "name", text(publisher_name))
    a(home, FOAF + "Document")
    if license_:
        a(license_, DCT + "LicenseDocument")
    for language in languages:
        a(language, DCT + "LinguisticSystem")
    if emails:
        a(contact, VCARD + "Kind", VCARD + "Organization")
        add(contact, VCARD + "fn", text(publisher_name))
        for email in [emails] if isinstance(emails, str) else emails:
            add(contact, VCARD + "hasEmail", ox.NamedNode("mailto:" + email))
    if taxonomy:
        a(taxonomy, SKOS + "ConceptScheme")
        for label in index.values(scheme, SKOS + "prefLabel"):
            add(taxonomy, DCT + "title", label)
        for top in index.incoming(scheme, SKOS + "topConceptOf"):
            if not index.is_tombstone(top):
                node = ox.NamedNode(top)
                a(node, SKOS + "Concept")
                for label in index.values(top, SKOS + "prefLabel"):
                    add(node, SKOS + "prefLabel", label)
                add(node, SKOS + "inScheme", taxonomy)
    return out


def _slug(iri: str, prefixes: dict[str, str]) -> str:
    for prefix, ns in sorted(prefixes.items()):
        if iri.startswith(ns) and len(iri) > len(ns):
            return f"{prefix}-{iri[len(ns):]}"
    return "".join(c if c.isalnum() else "-" for c in iri)


def _vocabularies(index: Index) -> set[str]:
    # The properties and classes used, a subject at a time (a pass over the triples made a
    # string of every predicate, twice).
    used: set[str] = set()
    for _subject, preds in index.statements():
        used.update(preds)
        used.update(o.value for o in preds.get(RDF_TYPE, ()))
    known = [index.vocab, SKOS, DCT, FOAF, "http://www.w3.org/ns/org#",
             "http://www.w3.org/2002/07/owl#", "http://www.w3.org/2000/01/rdf-schema#"]
    return {ns for ns in known if any(u.startswith(ns) for u in used)}


def _examples(index: Index) -> list[str]:
    """The first live entity of each of these kinds, in one pass that stops when all are found."""
    kinds = ("topic", "entry", "agent", "place")
    first: dict[str, str] = {}
    for e in index.entities:
        kind = index.kind(e)
        if kind in kinds and kind not in first and not index.is_tombstone(e):
            first[kind] = e
            if len(first) == len(kinds):
                break
    return [first[k] for k in kinds if k in first]


def void_documents(index: Index, modified_at: str | None = None) -> list[tuple[str, bytes]]:
    triples = void_triples(index, modified_at)
    prefixes = {**index.prefixes, "dcat": DCAT, "dcatap": DCATAP, "vcard": VCARD}
    return [(void_path(f), serialize(triples, f, prefixes)) for f in RDF_FORMATS]

