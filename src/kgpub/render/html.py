"""Render HTML pages from the index with Jinja2 (autoescaped). Links between pages are relative,
so the site browses from any host or from disk."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import pyoxigraph as ox

from ..formats import HTML, RDF_FORMATS
from ..index import DCT, FOAF, ORG, OWL, RDF_TYPE, RDFS, SKOS, XSD, Index, Label
from .templates import chrome, environment, json_for_script, rel, safe_url

# Properties shown in the page header, not repeated in the metadata table.
HEADER_PROPS = {
    DCT + "title",
    DCT + "abstract",
    SKOS + "prefLabel",
    SKOS + "definition",
    FOAF + "name",
    RDFS + "label",
    DCT + "description",
}
# Order of the metadata table; other properties follow, by label.
PROP_ORDER = [
    RDF_TYPE,
    DCT + "type",
    DCT + "subject",
    DCT + "creator",
    DCT + "contributor",
    DCT + "publisher",
    DCT + "date",
    DCT + "spatial",
    "concerns",
    DCT + "isPartOf",
    ORG + "subOrganizationOf",
    SKOS + "altLabel",
    SKOS + "notation",
    SKOS + "broader",
    SKOS + "inScheme",
    SKOS + "topConceptOf",
    FOAF + "depiction",
    DCT + "license",
    DCT + "source",
    FOAF + "page",
    DCT + "modified",
    DCT + "isReplacedBy",
]
MONTHS = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
]
SCHEMA_TYPES = {
    "expert-commentary": "Article",
    "report": "Report",
    "article": "ScholarlyArticle",
    "policy-paper": "Report",
    "guide": "CreativeWork",
    "publication": "CreativeWork",
}


@dataclass
class Value:
    text: str
    href: str | None = None
    lang: str | None = None
    external: bool = False


@dataclass
class EntryCard:
    iri: str
    href: str
    title: Label
    abstract: Label | None
    type_label: str | None
    date: str | None
    sort_key: tuple = field(default_factory=tuple)


def format_date(lit: ox.Literal) -> str:
    dt = lit.datatype.value if lit.datatype else ""
    try:
        if dt == XSD + "date":
            d = date.fromisoformat(lit.value)
            return f"{d.day} {MONTHS[d.month - 1]} {d.year}"
        if dt == XSD + "gYearMonth":
            year, month = lit.value.split("-")[:2]
            return f"{MONTHS[int(month) - 1]} {year}"
    except (ValueError, IndexError):
        pass
    return lit.value


class HtmlRenderer:
    def __init__(self, index: Index, lang: str | None = None):
        self.index = index
        self.project = index.project
        self.lang = lang or self.project.default_language
        self.env = environment()
        self._cards: dict[tuple[str, str], EntryCard] = {}

    # ---- helpers used while rendering one page ------------------------------------------------

    def _rel(self, page: str, target: str) -> str:
        return rel(page, target)

    def href(self, page: str, iri: str) -> str | None:
        ix = self.index
        if iri.startswith(ix.vocab):
            return self._rel(page, "ontology.html") + "#" + iri[len(ix.vocab) :]
        if ix.is_published(iri):
            return self._rel(page, ix.path(iri) + HTML.suffix)
        return None

    def label(self, iri: str) -> Label:
        return self.index.label(iri, self.lang)

    def value(self, page: str, term) -> Value:
        if isinstance(term, ox.Literal):
            if (
                term.datatype
                and term.datatype.value.startswith(XSD + "g")
                or (term.datatype and term.datatype.value == XSD + "date")
            ):
                return Value(format_date(term))
            return Value(term.value, lang=term.language)
        if isinstance(term, ox.BlankNode):
            return Value("(unnamed node)")
        iri = term.value
        internal = self.href(page, iri)
        if internal:
            lab = self.label(iri)
            return Value(lab.text, internal, lab.lang)
        if self.index.has_label(iri):
            lab = self.label(iri)
            return Value(lab.text, safe_url(iri), lab.lang, external=True)
        return Value(iri, safe_url(iri), external=True)

    def properties(
        self, page: str, iri: str, skip: set[str] = frozenset()
    ) -> list[tuple[Label, list[Value]]]:
        ix = self.index
        preds = [p for p in ix.out.get(iri, {}) if p not in HEADER_PROPS and p not in skip]
        order = {p: i for i, p in enumerate(PROP_ORDER)}
        order[ix.vocab + "concerns"] = order["concerns"]

        def key(p):
            return (order.get(p, len(order)), ix.label(p, self.lang).text.lower(), p)

        rows = []
        for p in sorted(preds, key=key):
            values = [self.value(page, o) for o in ix.values(iri, p)]
            rows.append((ix.label(p, self.lang),
                         sorted(values, key=lambda v: (v.text.lower(), v.text, v.href or ""))))
        return rows

    def card(self, page: str, iri: str) -> EntryCard:
        # A card is the same on every page of a directory: entries appear on many listings.
        key = (iri, page.rpartition("/")[0])
        if key not in self._cards:
            self._cards[key] = self._card(page, iri)
        return self._cards[key]

    def _card(self, page: str, iri: str) -> EntryCard:
        ix = self.index
        title = self.label(iri)
        abstract = ix.text(iri, DCT + "abstract", self.lang)
        type_iri = ix.value(iri, DCT + "type")
        date_lit = ix.value(iri, DCT + "date")
        return EntryCard(
            iri=iri,
            href=self.href(page, iri) or "",
            title=title,
            abstract=abstract,
            type_label=self.label(type_iri.value).text
            if isinstance(type_iri, ox.NamedNode)
            else None,
            date=format_date(date_lit) if isinstance(date_lit, ox.Literal) else None,
            # Newest first; undated last; then by title.
            sort_key=(
                0 if date_lit is not None else 1,
                _negated(date_lit.value) if date_lit is not None else "",
                title.text.lower(),
            ),
        )

    def cards(self, page: str, iris) -> list[EntryCard]:
        # The IRI breaks ties, so equal dates and titles keep one order across builds.
        return sorted((self.card(page, i) for i in set(iris)), key=lambda c: (c.sort_key, c.iri))

    def entries_linking(self, iri: str, prop: str | None = None) -> list[str]:
        ix = self.index
        return [
            s for s in ix.incoming(iri, prop) if ix.kind(s) == "entry" and not ix.is_tombstone(s)
        ]

    def breadcrumbs(self, page: str, topic: str) -> list[Value]:
        """The chain of broader topics up to a key issue (first broader at each step)."""
        chain, seen, node = [], {topic}, topic
        while True:
            broader = [o.value for o in self.index.values(node, SKOS + "broader")]
            if not broader or broader[0] in seen:
                break
            node = broader[0]
            seen.add(node)
            chain.append(self.value(page, ox.NamedNode(node)))
        return list(reversed(chain))

    def narrower(self, topic: str) -> list[str]:
        return sorted(
            (s for s in self.index.incoming(topic, SKOS + "broader")),
            key=lambda i: (self.label(i).text.lower(), i),
        )

    def tree(self, page: str, topics: list[str], depth: int = 0) -> list[dict]:
        return [
            {
                "link": self.value(page, ox.NamedNode(t)),
                "count": len(self.entries_linking(t, DCT + "subject")),
                "children": self.tree(page, self.narrower(t), depth + 1) if depth < 10 else [],
            }
            for t in sorted(topics, key=lambda i: (self.label(i).text.lower(), i))
        ]

    def top_topics(self) -> list[str]:
        scheme = self.project.base + "topics"
        return self.index.incoming(scheme, SKOS + "topConceptOf")

    # ---- pages ----------------------------------------------------------------------------------

    def render_entity(self, iri: str) -> tuple[str, str]:
        """(file path in the site, HTML) for an entity's page."""
        ix = self.index
        path = ix.path(iri) + HTML.suffix
        kind = ix.kind(iri)
        ctx = self._common(path, iri)
        ctx.update(kind=kind, iri=iri)
        if kind == "topic":
            entries = self.entries_linking(iri, DCT + "subject")
            commentary = self.project.base + "type/expert-commentary"
            ec = [
                e for e in entries if any(o.value == commentary for o in ix.values(e, DCT + "type"))
            ]
            ctx.update(
                definition=ix.text(iri, SKOS + "definition", self.lang),
                breadcrumbs=self.breadcrumbs(path, iri),
                narrower=[self.value(path, ox.NamedNode(n)) for n in self.narrower(iri)],
                picture=self._picture(path, iri),
                commentaries=self.cards(path, ec),
                resources=self.cards(path, [e for e in entries if e not in ec]),
            )
            template = "topic.html"
        elif kind == "entry" and ix.is_tombstone(iri):
            replacement = ix.replacement(iri)
            ctx.update(
                replaced_by=self.value(path, ox.NamedNode(replacement)) if replacement else None,
                properties=self.properties(path, iri, skip={RDF_TYPE}),
            )
            template = "tombstone.html"
        elif kind == "entry":
            ctx.update(
                abstract=ix.text(iri, DCT + "abstract", self.lang),
                topics=[self.value(path, o) for o in ix.values(iri, DCT + "subject")],
                properties=self.properties(path, iri, skip={RDF_TYPE}),
            )
            template = "entry.html"
        elif kind == "ontology":
            ctx.update(**self._ontology(path))
            template = "ontology.html"
        else:
            related = self.entries_linking(iri)
            ctx.update(
                description=ix.text(iri, SKOS + "definition", self.lang)
                or ix.text(iri, DCT + "description", self.lang),
                properties=self.properties(path, iri, skip={RDF_TYPE}),
                entries=self.cards(path, related),
                tree=self.tree(path, self.top_topics())
                if iri == self.project.base + "topics"
                else [],
                members=self._members(path, iri) if kind == "scheme" else [],
                picture=self._picture_of(path, iri) if kind == "image" else None,
            )
            template = "entity.html"
        return path, self.env.get_template(template).render(ctx)

    def render_home(self) -> tuple[str, str]:
        path = "index.html"
        ix = self.index
        ctx = self._common(path, None)
        entries = ix.live_entries
        ctx.update(
            kind="home",
            tree=self.tree(path, self.top_topics()),
            newest=self.cards(path, entries)[:10],
            entry_count=len(entries),
            topic_count=len(ix.of_kind("topic")),
            types=self._members(path, self.project.base + "types"),
            dumps=self.dumps(path),
            # The home page stands for the dataset: its data is the VoID/DCAT description.
            alternates=[
                {"href": f".well-known/void{f.suffix}", "type": f.media_type, "label": f.label}
                for f in RDF_FORMATS
            ],
        )
        return path, self.env.get_template("home.html").render(ctx)

    def render_not_found(self) -> tuple[str, str]:
        # Served for any missing path, so its links are absolute from the site root.
        path = "404.html"
        ctx = self._common(path, None)
        ctx.update(chrome(self.project, path, absolute=True), kind="notfound")
        return path, self.env.get_template("404.html").render(ctx)

    def dumps(self, page: str) -> list[Value]:
        from ..formats import DUMP_FORMATS

        return [
            Value(f"{f.label} (gzip)", self._rel(page, f"dumps/dataset{f.suffix}.gz"))
            for f in DUMP_FORMATS
        ]

    # ---- pieces ----------------------------------------------------------------------------------

    def _common(self, path: str, iri: str | None) -> dict:
        doc = path[: -len(HTML.suffix)]
        ctx = chrome(self.project, path)
        ctx.update(
            lang=self.lang,
            title=self.label(iri) if iri else Label(self.project.title, None),
            canonical=iri or self.project.base,
            alternates=[
                {"href": self._rel(path, doc + f.suffix), "type": f.media_type, "label": f.label}
                for f in RDF_FORMATS
            ]
            if iri
            else [],
            kind_label=self._kind_label(iri) if iri else None,
            jsonld=json_for_script(self.schema_org(iri) if iri else self._schema_site()),
        )
        return ctx

    def _kind_label(self, iri: str) -> str | None:
        ix = self.index
        types = ix.types(iri)
        if not types:
            return "Vocabulary" if iri == ix.ontology_iri else None
        # The most specific class: one that is not a superclass of another of its types.
        specific = [t for t in types if not any(o != t and ix._subclass(o, t) for o in types)]
        return self.label(sorted(specific)[0]).text

    def _picture(self, page: str, topic: str):
        pic = self.index.value(topic, FOAF + "depiction")
        return self._picture_of(page, pic.value) if isinstance(pic, ox.NamedNode) else None

    def _picture_of(self, page: str, image: str) -> dict:
        ix = self.index

        def first(prop):
            v = ix.value(image, prop)
            return self.value(page, v) if v is not None else None

        return {
            "link": self.value(page, ox.NamedNode(image)),
            "title": self.label(image),
            "creator": first(DCT + "creator"),
            "license": first(DCT + "license"),
            "source": first(DCT + "source"),
        }

    def _members(self, page: str, scheme: str) -> list[dict]:
        ix = self.index
        members = ix.incoming(scheme, SKOS + "inScheme")
        return [
            {"link": self.value(page, ox.NamedNode(m)), "count": len(self.entries_linking(m))}
            for m in sorted(set(members), key=lambda i: (self.label(i).text.lower(), i))
        ]

    def _ontology(self, page: str) -> dict:
        ix = self.index
        terms = sorted(s for s in ix.out if s.startswith(ix.vocab) and len(s) > len(ix.vocab))

        def term(t):
            return {
                "id": t[len(ix.vocab) :],
                "iri": t,
                "label": self.label(t),
                "definition": ix.text(t, SKOS + "definition", self.lang),
                "properties": self.properties(page, t),
            }

        owl_class = OWL + "Class"
        return {
            "ontology_title": ix.text(ix.ontology_iri, DCT + "title", self.lang),
            "ontology_description": ix.text(ix.ontology_iri, DCT + "description", self.lang),
            "classes": [term(t) for t in terms if owl_class in ix.types(t)],
            "properties_terms": [term(t) for t in terms if owl_class not in ix.types(t)],
            "schemes": [self.value(page, ox.NamedNode(s)) for s in ix.of_kind("scheme")],
        }

    # ---- schema.org ------------------------------------------------------------------------------

    def _schema_site(self) -> dict:
        return {
            "@context": "https://schema.org",
            "@type": "WebSite",
            "@id": self.project.base,
            "name": self.project.title,
            "description": self.project.description,
            "url": self.project.base,
        }

    def schema_org(self, iri: str) -> dict:
        """schema.org description of the page's entity, for search engines."""
        ix = self.index
        kind = ix.kind(iri)
        doc: dict = {"@context": "https://schema.org", "@id": iri, "url": iri + HTML.suffix}
        name = self.label(iri).text
        lang = self.lang

        def agent(a: str) -> dict:
            typ = "Person" if ix.has_type(a, FOAF + "Person") else "Organization"
            return {"@type": typ, "@id": a, "name": self.label(a).text}

        def linked(prop: str) -> list[str]:
            return [o.value for o in ix.values(iri, prop) if isinstance(o, ox.NamedNode)]

        if kind == "topic":
            doc.update(
                {
                    "@type": "DefinedTerm",
                    "name": name,
                    "inDefinedTermSet": self.project.base + "topics",
                }
            )
            definition = ix.text(iri, SKOS + "definition", lang)
            if definition:
                doc["description"] = definition.text
        elif kind == "entry":
            type_iri = ix.value(iri, DCT + "type")
            slug = type_iri.value.rsplit("/", 1)[-1] if type_iri is not None else ""
            doc.update(
                {
                    "@type": SCHEMA_TYPES.get(slug, "CreativeWork"),
                    "name": name,
                    "headline": name[:110],
                }
            )
            abstract = ix.text(iri, DCT + "abstract", lang)
            if abstract:
                doc["abstract"] = abstract.text
            if self.label(iri).lang:
                doc["inLanguage"] = self.label(iri).lang
            if creators := linked(DCT + "creator"):
                doc["author"] = [agent(a) for a in creators]
            if publishers := linked(DCT + "publisher"):
                doc["publisher"] = [agent(a) for a in publishers]
            if (d := ix.value(iri, DCT + "date")) is not None:
                doc["datePublished"] = d.value
            if topics := linked(DCT + "subject"):
                doc["about"] = [
                    {"@type": "DefinedTerm", "@id": t, "name": self.label(t).text} for t in topics
                ]
            if places := linked(DCT + "spatial"):
                doc["spatialCoverage"] = [
                    {"@type": "Place", "@id": p, "name": self.label(p).text} for p in places
                ]
            if type_iri is not None:
                doc["genre"] = self.label(type_iri.value).text
        elif kind == "agent":
            doc.update(agent(iri))
            doc["@context"] = "https://schema.org"
            doc["url"] = iri + HTML.suffix
            if alt := [o.value for o in ix.values(iri, SKOS + "altLabel")]:
                doc["alternateName"] = alt
        elif kind == "place":
            doc.update({"@type": "Place", "name": name})
            if parts := linked(DCT + "isPartOf"):
                doc["containedInPlace"] = [
                    {"@type": "Place", "@id": p, "name": self.label(p).text} for p in parts
                ]
        elif kind == "image":
            doc.update({"@type": "ImageObject", "name": name})
            if creators := linked(DCT + "creator"):
                doc["creator"] = [agent(a) for a in creators]
            if lic := linked(DCT + "license"):
                doc["license"] = lic[0]
            pic = self._picture_of(iri + HTML.suffix, iri)
            if pic["creator"]:
                doc["creditText"] = pic["creator"].text
        elif kind in ("type",):
            doc.update(
                {
                    "@type": "DefinedTerm",
                    "name": name,
                    "inDefinedTermSet": self.project.base + "types",
                }
            )
        elif kind in ("scheme", "ontology"):
            doc.update({"@type": "DefinedTermSet", "name": name})
        elif kind == "instrument":
            doc.update({"@type": "Legislation", "name": name})
        else:
            doc.update({"@type": "Thing", "name": name})
        return doc


def _negated(value: str) -> str:
    """A sort key that orders ISO dates (and years) newest first."""
    return "".join(chr(0x10FFFF - ord(c)) for c in value.ljust(10, "0"))
