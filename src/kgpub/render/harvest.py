"""Files for crawlers and harvesters: sitemap(s), robots.txt, the VoID + DCAT description, an Atom
feed, and the OAI-PMH records the server's provider answers from.

Every XML file here is well-formed whatever the data: a character XML 1.0 forbids (NUL, another
C0 control, U+FFFE, U+FFFF, a lone surrogate) that got past validation is written as U+FFFD
(kgpub.formats.xml_safe)."""

from __future__ import annotations

import weakref
from collections import Counter
from datetime import UTC, datetime
from xml.sax.saxutils import escape, quoteattr

import pyoxigraph as ox

from ..formats import DUMP_FORMATS, HTML, RDF_FORMATS, RDFXML, serialize, xml_safe
from ..index import DCT, FOAF, RDF_TYPE, SKOS, VOID, XSD, Index
from ..layout import (
    BUILD_FACTS,
    HOME,
    OAI_RECORDS,
    OAI_SETS,
    SITEMAP,
    SPARQL,
    TOMBSTONES,
    TOPICS,
    BuildFacts,
    HarvestRecord,
    Tombstone,
    document,
    dump_path,
    sitemap_part,
    void_path,
    write_build_facts,
    write_oai_records,
    write_oai_sets,
    write_tombstones,
)
from ..layout import FEED as FEED_PATH
from ..layout import VOID as VOID_DOC
from ..oaipmh import OaiSet

SITEMAP_LIMIT = 50_000
FEED_SIZE = 50
DCAT = "http://www.w3.org/ns/dcat#"
DEFAULT_DATESTAMP = "2026-11-27T00:00:00Z"


def dataset_iri(index: Index) -> str:
    return index.base + VOID_DOC + "#dataset"


# ---- datestamps ---------------------------------------------------------------------------------


def utc_datestamp(value: str) -> str | None:
    """An xsd:dateTime as UTC 'YYYY-MM-DDThh:mm:ssZ' (no fractions), or None if unreadable."""
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def default_datestamp(index: Index) -> str:
    configured = index.project.repository.get("default_datestamp", DEFAULT_DATESTAMP)
    return utc_datestamp(configured) or DEFAULT_DATESTAMP


def datestamp(index: Index, iri: str) -> str:
    """Last modification of an entity: its dcterms:modified, else the project's stable default."""
    stamps = [utc_datestamp(v.value) for v in index.values(iri, DCT + "modified")]
    stamps = [s for s in stamps if s]
    return max(stamps) if stamps else default_datestamp(index)


def page_lastmod(index: Index, iri: str, known: dict[str, str] | None = None) -> str:
    """A page changes when its entity or an entry shown on it changes. known: datestamps
    already computed (an entry is shown on many pages)."""
    known = {} if known is None else known

    def stamp(node: str) -> str:
        found = known.get(node)
        if found is None:
            found = known[node] = datestamp(index, node)
        return found

    return max([stamp(iri)] + [stamp(s) for s, _ in index.inc.get(iri, [])
                               if index.kind(s) == "entry"])


# ---- sitemap and robots -------------------------------------------------------------------------


def sitemaps(
    index: Index, extra_pages: list[str], prefixes: list[str] = ("",)
) -> list[tuple[str, bytes]]:
    """sitemap.xml for every HTML page (each language's: prefixes '', 'fr/'...); past 50,000
    URLs a sitemap index over numbered files."""
    base = index.base
    entries = [(base + p, default_datestamp(index)) for p in extra_pages]
    known: dict[str, str] = {}
    lastmod = {iri: page_lastmod(index, iri, known) for iri in index.entities
               if not index.is_tombstone(iri)}
    entries += [
        (base + lang + document(index.path(iri), HTML), stamp)
        for lang in prefixes
        for iri, stamp in lastmod.items()
    ]
    chunks = [entries[i : i + SITEMAP_LIMIT] for i in range(0, len(entries), SITEMAP_LIMIT)]
    if len(chunks) <= 1:
        return [(SITEMAP, _urlset(entries))]
    files = [(sitemap_part(n), _urlset(chunk)) for n, chunk in enumerate(chunks, 1)]
    lastmods = [max(stamp for _, stamp in chunk) for chunk in chunks]
    index_xml = ['<?xml version="1.0" encoding="UTF-8"?>',
                 '<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">']
    for (name, _), lastmod in zip(files, lastmods, strict=True):
        index_xml.append(
            f"<sitemap><loc>{escape(base + name)}</loc><lastmod>{lastmod}</lastmod></sitemap>"
        )
    index_xml.append("</sitemapindex>\n")
    return [(SITEMAP, xml_safe("\n".join(index_xml)).encode("utf-8"))] + files


def _urlset(entries: list[tuple[str, str]]) -> bytes:
    lines = ['<?xml version="1.0" encoding="UTF-8"?>',
             '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">']
    lines += [f"<url><loc>{escape(loc)}</loc><lastmod>{lastmod}</lastmod></url>"
              for loc, lastmod in entries]
    lines.append("</urlset>\n")
    return xml_safe("\n".join(lines)).encode("utf-8")


def robots_txt(index: Index) -> bytes:
    return (
        "# kgpub: every page is listed in the sitemap. The SPARQL endpoint is for people and\n"
        "# programs asking questions, not for crawling.\n"
        "User-agent: *\n"
        f"Disallow: /{SPARQL}\n"
        "Allow: /\n"
        f"Sitemap: {index.base}{SITEMAP}\n"
    ).encode()


# ---- VoID + DCAT --------------------------------------------------------------------------------


_statistics: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def statistics(index: Index) -> dict:
    """Counts over the published graph, exactly as SPARQL counts them on the endpoint (once per
    index: VoID and the server's site.json both give them)."""
    if index not in _statistics:
        _statistics[index] = _count(index)
    return _statistics[index]


def _count(index: Index) -> dict:
    # From the index's subject -> property -> objects map (one pass, no set of 1M triples):
    # a subject key without ":" is a blank node's label (kgpub.index).
    triples, properties, objects = 0, set(), set()
    classes: Counter = Counter()
    entities = 0
    for subject, preds in index.out.items():
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
        "distinctSubjects": len(index.out),
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


def void_triples(index: Index) -> list[ox.Triple]:
    """The catalogue description at /.well-known/void: VoID (statistics, dumps, the SPARQL
    endpoint) and DCAT, conforming to DCAT-AP 3.0 (its mandatory properties and the
    recommended ones the project knows). What the DCAT-AP shapes check the class of (the
    publisher, the licence, media types, pages, URLs, the theme scheme) is typed here too, so a
    harvester that does not infer (or fetch) finds it."""
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
    entries = [e for e in index.entities if index.kind(e) == "entry"]
    modified = ox.Literal(max([datestamp(index, e) for e in entries]
                              or [default_datestamp(index)]),
                          datatype=ox.NamedNode(XSD + "dateTime"))
    scheme = index.base + TOPICS
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
    used = {t.predicate.value for t in index.triples}
    used |= {t.object.value for t in index.triples if t.predicate.value == RDF_TYPE}
    known = [index.vocab, SKOS, DCT, FOAF, "http://www.w3.org/ns/org#",
             "http://www.w3.org/2002/07/owl#", "http://www.w3.org/2000/01/rdf-schema#"]
    return {ns for ns in known if any(u.startswith(ns) for u in used)}


def _examples(index: Index) -> list[str]:
    picks = []
    for kind in ("topic", "entry", "agent", "place"):
        found = [e for e in index.of_kind(kind) if not index.is_tombstone(e)]
        if found:
            picks.append(found[0])
    return picks


def void_documents(index: Index) -> list[tuple[str, bytes]]:
    triples = void_triples(index)
    prefixes = {**index.prefixes, "dcat": DCAT, "dcatap": DCATAP, "vcard": VCARD}
    return [(void_path(f), serialize(triples, f, prefixes)) for f in RDF_FORMATS]


# ---- Atom feed ----------------------------------------------------------------------------------


TOMBSTONES_NS = "http://purl.org/atompub/tombstones/1.0"  # RFC 6721


def atom_feed(index: Index) -> bytes:
    """RFC 4287 feed of the newest and latest changed entries (withdrawals included)."""
    entries = [e for e in index.entities if index.kind(e) == "entry"]
    dated = sorted(entries, key=lambda e: (datestamp(index, e), _date(index, e), e), reverse=True)
    newest = dated[:FEED_SIZE]
    project = index.project
    lang = project.default_language
    updated = datestamp(index, newest[0]) if newest else default_datestamp(index)
    out = [
        '<?xml version="1.0" encoding="utf-8"?>',
        f'<feed xmlns="http://www.w3.org/2005/Atom" xmlns:at="{TOMBSTONES_NS}" '
        f"xml:lang={quoteattr(lang)}>",
        f"<id>{escape(index.base + FEED_PATH)}</id>",
        f"<title>{escape(project.title)}: new and changed entries</title>",
        f"<updated>{updated}</updated>",
        f'<link rel="self" type="application/atom+xml" href={quoteattr(index.base + FEED_PATH)}/>',
        f'<link rel="alternate" type="text/html" href={quoteattr(index.base + HOME)}/>',
        f"<author><name>{escape(project.repository.get('publisher', project.title))}</name></author>",
        "<generator>kgpub</generator>",
    ]
    for iri in newest:
        out.append(_deleted_entry(index, iri) if index.is_tombstone(iri)
                   else _feed_entry(index, iri, lang))
    out.append("</feed>\n")
    return xml_safe("\n".join(out)).encode("utf-8")


def _date(index: Index, iri: str) -> str:
    v = index.value(iri, DCT + "date")
    return v.value if v is not None else ""


def _deleted_entry(index: Index, iri: str) -> str:
    """A withdrawn entry as an RFC 6721 tombstone: feed readers drop the entry they had."""
    successor = index.value(iri, DCT + "isReplacedBy")
    parts = [f"<at:deleted-entry ref={quoteattr(iri)} when={quoteattr(datestamp(index, iri))}>"]
    if isinstance(successor, ox.NamedNode):
        parts.append(f"<at:comment>Withdrawn; replaced by {escape(successor.value)}</at:comment>")
        parts.append(f'<link rel="alternate" href={quoteattr(successor.value)}/>')
    else:
        parts.append("<at:comment>Withdrawn</at:comment>")
    parts.append("</at:deleted-entry>")
    return "\n".join(parts)


def _feed_entry(index: Index, iri: str, lang: str) -> str:
    title = index.label(iri, lang)
    page = iri + HTML.suffix
    parts = [
        "<entry>",
        f"<id>{escape(iri)}</id>",
        f"<title>{escape(title.text)}</title>",
        f"<updated>{datestamp(index, iri)}</updated>",
        f'<link rel="alternate" type="text/html" href={quoteattr(page)}/>',
    ]
    for fmt in RDF_FORMATS:
        parts.append(f'<link rel="alternate" type="{fmt.media_type}" '
                     f"href={quoteattr(iri + fmt.suffix)}/>")
    for agent in index.values(iri, DCT + "creator"):
        if isinstance(agent, ox.NamedNode):
            parts.append(f"<author><name>{escape(index.label(agent.value, lang).text)}</name></author>")
    for topic in index.values(iri, DCT + "subject"):
        if isinstance(topic, ox.NamedNode):
            parts.append(f"<category term={quoteattr(topic.value)} "
                         f"label={quoteattr(index.label(topic.value, lang).text)}/>")
    abstract = index.text(iri, DCT + "abstract", lang)
    if abstract:
        parts.append(f"<summary>{escape(abstract.text)}</summary>")
    parts.append("</entry>")
    return "\n".join(parts)


# ---- OAI-PMH records ----------------------------------------------------------------------------


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


def meta_files(index: Index) -> list[tuple[str, bytes]]:
    """Build facts the server needs and does not serve: OAI records and sets, tombstones."""
    tombstones = [
        Tombstone("/" + index.path(e), "/" + index.path(r) if (r := index.replacement(e)) and
                  index.is_published(r) else None)
        for e in index.entities
        if index.is_tombstone(e)
    ]
    earliest = min([datestamp(index, e) for e in index.entities if index.kind(e) == "entry"]
                   or [default_datestamp(index)])
    return [
        (OAI_RECORDS, oai_records(index)),
        (OAI_SETS, write_oai_sets(oai_sets(index))),
        (TOMBSTONES, write_tombstones(tombstones)),
        (BUILD_FACTS, write_build_facts(BuildFacts(index.base, earliest, statistics(index)))),
    ]

