"""Render HTML pages from the index with Jinja2 (autoescaped). Links between pages are relative,
so the site browses from any host or from disk."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from urllib.parse import quote

import pyoxigraph as ox
from babel.dates import format_date as babel_format_date
from babel.dates import format_skeleton
from markupsafe import Markup, escape

from ..browse import Browse, Listing
from ..formats import HTML, RDF_FORMATS
from ..index import DCT, FOAF, ORG, OWL, RDF_TYPE, RDFS, SKOS, XSD, Index, Label
from ..layout import (
    AZ,
    BROWSE_INDEX,
    HOME,
    NOT_FOUND,
    ONTOLOGY,
    SEARCH_DIR,
    SEARCH_PAGE,
    TOPICS,
    dump_path,
    facet_page,
    html_page,
    void_path,
)
from . import cite
from .i18n import prefix, translations
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
def N_(message: str) -> str:
    """Marks a UI string for the catalogues; it is translated where it is used."""
    return message


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
    """A value as shown: a link (href) or text. lang is set only when it differs from the
    page's language. Renders itself (escaped): templates write {{ value }}, which is much
    cheaper than a macro call on pages with hundreds of values."""

    text: str
    href: str | None = None
    lang: str | None = None
    external: bool = False

    def __html__(self) -> str:
        lang = f' lang="{escape(self.lang)}"' if self.lang else ""
        if self.href:
            rel_attr = ' rel="external"' if self.external else ""
            return f'<a href="{escape(self.href)}"{lang}{rel_attr}>{escape(self.text)}</a>'
        return f"<span{lang}>{escape(self.text)}</span>"


@dataclass
class EntryCard:
    iri: str
    href: str
    title: Label
    abstract: Label | None
    type_label: str | None
    date: str | None
    html: Markup = Markup("")  # the rendered card (cached: entries appear on many pages)


def format_date(lit: ox.Literal, lang: str = "en") -> str:
    """A date as people write it in the page's language: 3 March 2016, 3 mars 2016."""
    dt = lit.datatype.value if lit.datatype else ""
    # International English writes day month year, as the platform does.
    locale = "en_GB" if lang == "en" else lang
    try:
        if dt == XSD + "date":
            return babel_format_date(date.fromisoformat(lit.value), "long", locale=locale)
        if dt == XSD + "gYearMonth":
            year, month = lit.value.split("-")[:2]
            return format_skeleton("yMMMM", date(int(year), int(month), 1), locale=locale)
    except (ValueError, IndexError):
        pass
    return lit.value


class HtmlRenderer:
    """Renders the pages of one language. Page paths carry the language's prefix ('fr/...');
    the `key` of a page is its path without it."""

    def __init__(self, index: Index, lang: str | None = None, browse: Browse | None = None):
        self.index = index
        self.project = index.project
        self.lang = lang or self.project.default_language
        self.prefix = prefix(self.lang, self.project.languages)
        self.browse = browse or Browse(index)
        self.env = environment(self.lang)
        self._ = translations(self.lang).gettext
        self._cards: dict[tuple[str, str], tuple[EntryCard, frozenset | None]] = {}
        self._labels: dict[str, Label] = {}
        # Search indexes each page once, in the default language (data is mostly written in one
        # language; three copies would triple the index). The other languages' search pages
        # use that index and link to their own pages (static/search.js).
        self.indexed = self.lang == self.project.default_language

    # ---- helpers used while rendering one page ------------------------------------------------

    def _rel(self, page: str, target: str) -> str:
        return rel(page, target)

    def here(self, key: str) -> str:
        """This language's path of a page."""
        return self.prefix + key

    def href(self, page: str, iri: str) -> str | None:
        ix = self.index
        if iri.startswith(ix.vocab):
            return rel(page, self.here(html_page(ONTOLOGY))) + "#" + iri[len(ix.vocab) :]
        if ix.is_published(iri):
            return rel(page, self.here(ix.path(iri) + HTML.suffix))
        return None

    def label(self, iri: str) -> Label:
        # Cached: the same topics, types and agents are named on thousands of pages.
        self.index.note(iri)
        found = self._labels.get(iri)
        if found is None:
            found = self._labels[iri] = self.index.label(iri, self.lang)
        return found

    def link(self, page: str, iri: str) -> Value:
        return self.value(page, ox.NamedNode(iri))

    def page_link(self, page: str, key: str, text: str) -> Value:
        return Value(text, rel(page, self.here(key)))

    def value(self, page: str, term) -> Value:
        if isinstance(term, ox.Literal):
            if (
                term.datatype
                and term.datatype.value.startswith(XSD + "g")
                or (term.datatype and term.datatype.value == XSD + "date")
            ):
                return Value(format_date(term, self.lang))
            return Value(term.value, lang=self._other(term.language))
        if isinstance(term, ox.BlankNode):
            return Value(self._("(unnamed node)"))
        iri = term.value
        internal = self.href(page, iri)
        if internal:
            lab = self.label(iri)
            return Value(lab.text, internal, self._other(lab.lang))
        if self.index.has_label(iri):
            lab = self.label(iri)
            return Value(lab.text, safe_url(iri), self._other(lab.lang), external=True)
        return Value(iri, safe_url(iri), external=True)

    def _other(self, lang: str | None) -> str | None:
        """A value's language, when it is not the page's (it then needs its own lang)."""
        return lang if lang and lang != self.lang else None

    def properties(
        self, page: str, iri: str, skip: set[str] = frozenset()
    ) -> list[tuple[Label, list[Value]]]:
        ix = self.index
        preds = [p for p in ix.predicates(iri) if p not in HEADER_PROPS and p not in skip]
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
        # Kept with what it read, which a page that reuses it reads too (kgpub.incremental).
        key = (iri, page.rpartition("/")[0])
        hit = self._cards.get(key)
        if hit is None or (hit[1] is None and self.index.seen is not None):
            if self.index.seen is None:
                hit = (self._card(page, iri), None)
            else:
                with self.index.recording() as read:
                    card = self._card(page, iri)
                hit = (card, frozenset(read))
            self._cards[key] = hit
        if hit[1]:
            self.index.note_all(hit[1])
        return hit[0]

    def _card(self, page: str, iri: str) -> EntryCard:
        ix = self.index
        type_iri = ix.value(iri, DCT + "type")
        date_lit = ix.value(iri, DCT + "date")
        card = EntryCard(
            iri=iri,
            href=self.href(page, iri) or "",
            title=self.label(iri),
            abstract=ix.text(iri, DCT + "abstract", self.lang),
            type_label=self.label(type_iri.value).text
            if isinstance(type_iri, ox.NamedNode)
            else None,
            date=format_date(date_lit, self.lang) if isinstance(date_lit, ox.Literal) else None,
        )
        card.html = self._card_html(card)
        return card

    def _lang_attr(self, label: Label | None) -> str:
        return f' lang="{escape(label.lang)}"' if label and label.lang and label.lang != self.lang \
            else ""

    def _card_html(self, c: EntryCard) -> Markup:
        meta = " · ".join(x for x in (c.type_label, c.date) if x)
        parts = [
            "<li>\n<article>\n",
            f'<h3><a href="{escape(c.href)}"{self._lang_attr(c.title)}>{escape(c.title.text)}</a></h3>\n',
            f'<p class="meta">{escape(meta)}</p>\n' if meta else "",
            f"<p><span{self._lang_attr(c.abstract)}>{escape(c.abstract.text)}</span></p>\n"
            if c.abstract else "",
            "</article>\n</li>\n",
        ]
        return Markup("".join(parts))

    def cards(self, page: str, iris) -> list[EntryCard]:
        """Entry cards in the site's one order: newest first, then title, then IRI."""
        return [self.card(page, i) for i in self.cards_order(iris)]

    def entries_linking(self, iri: str, prop: str | None = None) -> list[str]:
        ix = self.index
        return [
            s for s in ix.incoming(iri, prop) if ix.kind(s) == "entry" and not ix.is_tombstone(s)
        ]

    def crumbs(self, page: str, *trail: Value) -> list[Value]:
        """Home, then the trail (the current page last, without a link)."""
        return [self.page_link(page, HOME, self._("Home")), *trail]

    def topic_chain(self, page: str, topic: str, *, link_last: bool) -> list[Value]:
        """Topics › broader ... › topic, following the first skos:broader at each step."""
        chain, seen, node = [topic], {topic}, topic
        while True:
            broader = [o.value for o in self.index.values(node, SKOS + "broader")]
            if not broader or broader[0] in seen:
                break
            node = broader[0]
            seen.add(node)
            chain.append(node)
        items = [self.link(page, t) for t in reversed(chain)]
        if not link_last:
            last = items[-1]
            items[-1] = Value(last.text, None, last.lang)
        return [self.page_link(page, html_page(TOPICS), self._("Topics")), *items]

    def narrower(self, topic: str) -> list[str]:
        return self._by_label(self.index.incoming(topic, SKOS + "broader"))

    def _by_label(self, iris) -> list[str]:
        return sorted(set(iris), key=lambda i: (self.label(i).text.casefold(), i))

    def tree(self, page: str, topics: list[str], depth: int = 0) -> list[dict]:
        return [
            {
                "link": self.link(page, t),
                "count": self.browse.count(t),
                "children": self.tree(page, self.narrower(t), depth + 1) if depth < 10 else [],
            }
            for t in self._by_label(topics)
        ]

    def top_topics(self) -> list[str]:
        scheme = self.project.base + "topics"
        return self.index.incoming(scheme, SKOS + "topConceptOf")

    # ---- pages ----------------------------------------------------------------------------------

    def render_entity(self, iri: str) -> tuple[str, str]:
        """(file path in the site, HTML) for an entity's page in this language."""
        ix = self.index
        key = ix.path(iri) + HTML.suffix
        path = self.here(key)
        kind = ix.kind(iri)
        ctx = self._common(path, key, iri)
        ctx.update(kind=kind, iri=iri)
        if kind == "topic":
            ctx.update(self._topic(path, iri))
            template = "topic.html"
        elif kind == "entry" and ix.is_tombstone(iri):
            replacement = ix.replacement(iri)
            ctx.update(
                replaced_by=self.link(path, replacement) if replacement else None,
                properties=self.properties(path, iri, skip={RDF_TYPE}),
            )
            template = "tombstone.html"
        elif kind == "entry":
            ctx.update(self._entry(path, iri))
            template = "entry.html"
        elif kind == "ontology":
            ctx.update(**self._ontology(path))
            template = "ontology.html"
        else:
            ctx.update(self._entity(path, iri, kind))
            template = "entity.html"
        return path, self.env.get_template(template).render(ctx)

    def _topic(self, path: str, iri: str) -> dict:
        ix = self.index
        size = self.browse.page_size
        listing = self.browse.listing_of(iri)
        entries = listing.entries if listing else ()
        direct = set(self.entries_linking(iri, DCT + "subject"))
        commentary = self.project.base + "type/expert-commentary"
        mine = [e for e in entries if e in direct]
        ec = [e for e in mine if any(o.value == commentary for o in ix.values(e, DCT + "type"))]
        rest = [e for e in mine if e not in set(ec)]
        return {
            "definition": ix.text(iri, SKOS + "definition", self.lang),
            "breadcrumbs": self.crumbs(path, *self.topic_chain(path, iri, link_last=False)),
            "narrower": [{"link": self.link(path, n), "count": self.browse.count(n)}
                         for n in self.narrower(iri)],
            "related": [self.link(path, t) for t in self.browse.related_of(iri)],
            "picture": self._picture(path, iri),
            "commentaries": self.cards(path, ec[:size]),
            "commentary_count": len(ec),
            "resources": self.cards(path, rest[:size]),
            "resource_count": len(rest),
            "total": len(entries),
            "listing_href": rel(path, self.here(listing.page_path(1))) if listing else None,
            "searchable": self.indexed,
        }

    def _entry(self, path: str, iri: str) -> dict:
        ix = self.index
        topics = self._by_label(o.value for o in ix.values(iri, DCT + "subject")
                                if isinstance(o, ox.NamedNode))
        first = topics[0] if topics else None
        crumbs = self.topic_chain(path, first, link_last=True) if first else []
        more, more_listing = [], None
        if first:
            more_listing, head = self.browse.head(first)
            more = self.cards(path, [e for e in head if e != iri][:5])
        work = cite.work_from_index(ix, iri, self.lang)
        doc = ix.path(iri)
        return {
            "abstract": ix.text(iri, DCT + "abstract", self.lang),
            "breadcrumbs": self.crumbs(path, *crumbs, Value(_clip(self.label(iri).text, 60), None,
                                                            self._other(self.label(iri).lang))),
            "topics": [self.link(path, t) for t in topics],
            "properties": self.properties(path, iri, skip={RDF_TYPE}),
            "more": more,
            "more_topic": self.link(path, first) if first else None,
            "more_href": rel(path, self.here(more_listing.page_path(1))) if more_listing else None,
            "reference": cite.reference(work, self.lang),
            "bibtex_href": rel(path, doc + ".bib"),
            "ris_href": rel(path, doc + ".ris"),
            "query_href": rel(path, "sparql") + "?query=" + quote(_describe_query(iri), safe=""),
            "search_filters": self._filters(iri) if self.indexed else [],
            "searchable": self.indexed,
        }

    def _filters(self, iri: str) -> list[tuple[str, str]]:
        """Pagefind facets of an entry: (filter, value) in the page's language."""
        ix = self.index
        out = []
        names = {"type": self._("Resource type"), "topic": self._("Topic"),
                 "region": self._("Region"), "organisation": self._("Organisation"),
                 "year": self._("Year")}
        for name, prop in (("type", DCT + "type"), ("topic", DCT + "subject"),
                           ("region", DCT + "spatial")):
            for o in ix.values(iri, prop):
                if isinstance(o, ox.NamedNode):
                    out.append((names[name], self.label(o.value).text))
        for prop in (DCT + "creator", DCT + "publisher", DCT + "contributor"):
            for o in ix.values(iri, prop):
                if isinstance(o, ox.NamedNode) and self.browse.is_org(o.value):
                    out.append((names["organisation"], self.label(o.value).text))
        d = ix.value(iri, DCT + "date")
        if isinstance(d, ox.Literal):
            out.append((names["year"], d.value[:4]))
        return sorted(set(out))

    def _entity(self, path: str, iri: str, kind: str) -> dict:
        ix = self.index
        size = self.browse.page_size
        listing = self.browse.listing_of(iri)
        related = list(listing.entries) if listing else self.cards_order(self.entries_linking(iri))
        return {
            "description": ix.text(iri, SKOS + "definition", self.lang)
            or ix.text(iri, DCT + "description", self.lang),
            "properties": self.properties(path, iri, skip={RDF_TYPE}),
            "entries": self.cards(path, related[:size]),
            "entry_count": len(related),
            "listing_href": rel(path, self.here(listing.page_path(1)))
            if listing and len(related) > size else None,
            "tree": self.tree(path, self.top_topics())
            if iri == self.project.base + "topics"
            else [],
            "members": self._members(path, iri) if kind == "scheme" else [],
            "picture": self._picture_of(path, iri) if kind == "image" else None,
            "breadcrumbs": self.crumbs(path, Value(self.label(iri).text, None,
                                                   self._other(self.label(iri).lang))),
        }

    def cards_order(self, iris) -> list[str]:
        """The live entries among iris, in the site's one order."""
        order = self.browse.order
        return sorted((i for i in set(iris) if i in order), key=order.__getitem__)

    def render_home(self) -> tuple[str, str]:
        key = HOME
        path = self.here(key)
        ix = self.index
        ctx = self._common(path, key, None)
        size = self.browse.page_size
        ctx.update(
            kind="home",
            tree=[{**n, "children": [{**c, "children": []} for c in n["children"]]}
                  for n in self.tree(path, self.top_topics())],
            newest=self.cards(path, self.browse.newest[:10]),
            entry_count=len(ix.live_entries),
            topic_count=len(ix.of_kind("topic")),
            facets=self._facet_summaries(path, limit=size // 2),
            dumps=self.dumps(path),
            # The home page stands for the dataset: its data is the VoID/DCAT description.
            alternates=[
                {"href": rel(path, void_path(f)), "type": f.media_type,
                 "label": f.label}
                for f in RDF_FORMATS
            ],
        )
        return path, self.env.get_template("home.html").render(ctx)

    def render_not_found(self) -> tuple[str, str]:
        # Served for any missing path, so its links are absolute from the site root.
        key = NOT_FOUND
        path = self.here(key)
        ctx = self._common(path, key, None)
        ctx.update(chrome(self.project, path, self.lang, absolute=True, page_key=key),
                   kind="notfound", title=Label(self._("Not found"), self.lang))
        return path, self.env.get_template("404.html").render(ctx)

    def render_search(self) -> tuple[str, str]:
        key = SEARCH_PAGE
        path = self.here(key)
        ctx = self._common(path, key, None)
        ctx.update(
            kind="search",
            title=Label(self._("Search"), self.lang),
            breadcrumbs=self.crumbs(path, Value(self._("Search"))),
            bundle_href=rel(path, SEARCH_DIR + "/"),
            result_prefix=self.prefix,
            facets=self._facet_summaries(path, limit=0),
        )
        return path, self.env.get_template("search.html").render(ctx)

    # ---- browsing pages ---------------------------------------------------------------------

    FACET_TITLES = {
        "topic": (N_("Topics"), "topics"),
        "type": (N_("Resource types"), "types"),
        "place": (N_("Places and regions"), "places"),
        "organisation": (N_("Organisations"), "organisations"),
        "year": (N_("Years"), "years"),
    }

    def facet_title(self, facet: str) -> str:
        return self._(self.FACET_TITLES[facet][0])

    def facet_key(self, facet: str) -> str:
        if facet == "topic":
            return html_page(TOPICS)
        return facet_page(self.FACET_TITLES[facet][1])

    def _values(self, page: str, facet: str) -> list[dict]:
        listings = self.browse.listings.get(facet, [])
        rows = [
            {
                "link": Value(x.key.rsplit("/", 1)[-1], rel(page, self.here(x.page_path(1))))
                if x.iri is None
                else Value(self.label(x.iri).text, rel(page, self.here(x.page_path(1))),
                           self._other(self.label(x.iri).lang)),
                "count": len(x.entries),
            }
            for x in listings
        ]
        if facet == "year":
            return sorted(rows, key=lambda r: r["link"].text, reverse=True)
        return sorted(rows, key=lambda r: (r["link"].text.casefold(), r["link"].href))

    def _facet_summaries(self, page: str, limit: int) -> list[dict]:
        out = []
        for facet in ("type", "place", "organisation", "year"):
            values = self._values(page, facet)
            if not values:
                continue
            if limit:
                values = sorted(values, key=lambda r: -r["count"])[:limit] if facet != "year" \
                    else values[:limit]
            out.append({"facet": facet, "title": self.facet_title(facet),
                        "href": rel(page, self.here(self.facet_key(facet))), "values": values})
        return out

    def render_browse_index(self) -> tuple[str, str]:
        key = BROWSE_INDEX
        path = self.here(key)
        ctx = self._common(path, key, None)
        ctx.update(kind="browse", title=Label(self._("Browse"), self.lang),
                   breadcrumbs=self.crumbs(path, Value(self._("Browse"))),
                   facets=self._facet_summaries(path, limit=8),
                   az_count=len(self.index.of_kind("topic")))
        return path, self.env.get_template("browse.html").render(ctx)

    def render_facet(self, facet: str) -> tuple[str, str]:
        key = self.facet_key(facet)
        path = self.here(key)
        ctx = self._common(path, key, None)
        title = self.facet_title(facet)
        ctx.update(kind="facet", title=Label(title, self.lang),
                   breadcrumbs=self.crumbs(path, self.page_link(path, BROWSE_INDEX,
                                                                self._("Browse")), Value(title)),
                   values=self._values(path, facet))
        return path, self.env.get_template("facet.html").render(ctx)

    def render_az(self) -> tuple[str, str]:
        key = AZ
        path = self.here(key)
        ctx = self._common(path, key, None)
        groups: dict[str, list[dict]] = {}
        for t in self._by_label(self.index.of_kind("topic")):
            link = self.link(path, t)
            letter = _initial(link.text)
            groups.setdefault(letter, []).append({"link": link, "count": self.browse.count(t)})
        ctx.update(kind="az", title=Label(self._("Topics A–Z"), self.lang),
                   breadcrumbs=self.crumbs(path, self.page_link(path, html_page(TOPICS),
                                                                self._("Topics")),
                                           Value(self._("A–Z"))),
                   groups=sorted(groups.items()))
        return path, self.env.get_template("az.html").render(ctx)

    def render_listing(self, listing: Listing, n: int) -> tuple[str, str]:
        key = listing.page_path(n)
        path = self.here(key)
        ctx = self._common(path, key, None)
        size = self.browse.page_size
        total = len(listing.entries)
        pages = listing.pages(size)
        name = listing.key.rsplit("/", 1)[-1] if listing.iri is None else None
        subject = Value(name, None) if name else self.link(path, listing.iri or "")
        heading = self._listing_heading(listing.facet, subject.text)
        facet_link = self.page_link(path, self.facet_key(listing.facet),
                                    self.facet_title(listing.facet)) \
            if listing.facet in self.FACET_TITLES else None
        trail = [self.page_link(path, BROWSE_INDEX, self._("Browse"))]
        if facet_link:
            trail.append(facet_link)
        trail.append(Value(subject.text, None, subject.lang))
        first = (n - 1) * size
        on_page = self.browse.page_entries(listing, n)
        ctx.update(
            kind="listing",
            title=Label(heading if n == 1 else self._("{title} (page {n})").format(title=heading,
                                                                                  n=n),
                        self.lang),
            heading=heading,
            subject=subject,
            breadcrumbs=self.crumbs(path, *trail),
            # Not through the card cache: on listing pages each card appears once per directory,
            # and caching them all held every entry's card in memory (GBs at 100k entries).
            entries=[self._card(path, e) for e in on_page],
            first=first + 1 if total else 0,
            last=min(first + size, total),
            total=total,
            pager=self._pager(path, listing, n, pages),
        )
        return path, self.env.get_template("listing.html").render(ctx)

    def _listing_heading(self, facet: str, name: str) -> str:
        titles = {
            "topic": self._("Resources on {name}"),
            "type": self._("{name}: all resources of this type"),
            "place": self._("Resources about {name}"),
            "organisation": self._("Resources by {name}"),
            "year": self._("Resources from {name}"),
            "person": self._("Resources by {name}"),
            "instrument": self._("Resources concerning {name}"),
        }
        return titles.get(facet, self._("Resources linked to {name}")).format(name=name)

    def _pager(self, path: str, listing: Listing, n: int, pages: int) -> dict | None:
        if pages <= 1:
            return None

        def href(k: int) -> str:
            return rel(path, self.here(listing.page_path(k)))

        shown = sorted({1, pages, *range(max(1, n - 2), min(pages, n + 2) + 1)})
        items, last = [], 0
        for k in shown:
            if k - last > 1:
                items.append(None)  # a gap
            items.append({"n": k, "href": href(k), "current": k == n})
            last = k
        return {"n": n, "pages": pages, "items": items,
                "prev": href(n - 1) if n > 1 else None,
                "next": href(n + 1) if n < pages else None}

    def dumps(self, page: str) -> list[Value]:
        from ..formats import DUMP_FORMATS

        return [
            Value(f"{f.label} (gzip)", rel(page, dump_path(f)))
            for f in DUMP_FORMATS
        ]

    # ---- pieces ----------------------------------------------------------------------------------

    def _common(self, path: str, key: str, iri: str | None) -> dict:
        doc = self.index.path(iri) if iri else None
        ctx = chrome(self.project, path, self.lang, page_key=key)
        title = self.label(iri) if iri else Label(self.project.title, None)
        ctx.update(
            title=title,
            canonical=iri or None,
            alternates=[
                {"href": rel(path, doc + f.suffix), "type": f.media_type, "label": f.label}
                for f in RDF_FORMATS
            ]
            if doc
            else [],
            kind_label=self._kind_label(iri) if iri else None,
            jsonld=json_for_script(self.schema_org(iri) if iri else self._schema_site()),
            og=self._open_graph(iri, title, path),
            searchable=False,
        )
        return ctx

    def _open_graph(self, iri: str | None, title: Label, path: str) -> dict:
        ix = self.index
        og = {"title": title.text, "site_name": self.project.title,
              "locale": og_locale(self.lang),
              "url": self.project.base + path,  # this page, in its language
              "type": "website", "description": self.project.description or None}
        if iri:
            kind = ix.kind(iri)
            text = ix.text(iri, DCT + "abstract", self.lang) or \
                ix.text(iri, SKOS + "definition", self.lang)
            if text:
                og["description"] = _clip(text.text, 200)
            if kind == "entry":
                og["type"] = "article"
                d = ix.value(iri, DCT + "date")
                if isinstance(d, ox.Literal):
                    og["published_time"] = d.value
        return og

    def _kind_label(self, iri: str) -> str | None:
        ix = self.index
        types = ix.types(iri)
        if not types:
            return self._("Vocabulary") if iri == ix.ontology_iri else None
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
            "link": self.link(page, image),
            "title": self.label(image),
            "creator": first(DCT + "creator"),
            "license": first(DCT + "license"),
            "source": first(DCT + "source"),
        }

    def _members(self, page: str, scheme: str) -> list[dict]:
        ix = self.index
        members = ix.incoming(scheme, SKOS + "inScheme")
        return [
            {"link": self.link(page, m),
             "count": self.browse.count(m) or len(self.entries_linking(m))}
            for m in self._by_label(members)
        ]

    def _ontology(self, page: str) -> dict:
        ix = self.index
        terms = sorted(s for s in ix.subjects() if s.startswith(ix.vocab) and len(s) > len(ix.vocab))

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
            "schemes": [self.link(page, s) for s in ix.of_kind("scheme")],
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
        # url: the page in this language (inLanguage is only given for works: schema.org has it
        # on CreativeWork, not on Person, Place or DefinedTerm).
        doc: dict = {"@context": "https://schema.org", "@id": iri,
                     "url": self.project.base + self.here(ix.path(iri) + HTML.suffix)}
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
                doc["inLanguage"] = self.label(iri).lang  # the work's, not the page's
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
            doc["url"] = self.project.base + self.here(ix.path(iri) + HTML.suffix)
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


def _describe_query(iri: str) -> str:
    """The "Query this" query: the entity's statements, with labels for what they link to."""
    return (
        "PREFIX skos: <http://www.w3.org/2004/02/skos/core#>\n"
        "PREFIX dcterms: <http://purl.org/dc/terms/>\n"
        "SELECT ?property ?value ?label WHERE {\n"
        f"  <{iri}> ?property ?value .\n"
        "  OPTIONAL { ?value skos:prefLabel|dcterms:title|<http://www.w3.org/2000/01/rdf-schema#label> ?label }\n"
        "}\nORDER BY ?property ?value"
    )


def _clip(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rsplit(" ", 1)[0] + "…"


def _initial(text: str) -> str:
    """The A–Z letter of a label: its first letter without accents, upper case."""
    import unicodedata

    for ch in unicodedata.normalize("NFKD", text):
        if ch.isalnum():
            return ch.upper() if ch.isalpha() else "0–9"
    return "#"


def og_locale(lang: str) -> str:
    """Open Graph's locale form, language_TERRITORY (en -> en_US, pt-BR -> pt_BR), from CLDR's
    likely subtags for a bare language."""
    from babel.core import Locale, UnknownLocaleError, get_global

    tag = lang.replace("-", "_")
    try:
        likely = get_global("likely_subtags").get(tag) if "_" not in tag else None
        locale = Locale.parse(likely or tag)
    except (UnknownLocaleError, ValueError):
        return tag
    return f"{locale.language}_{locale.territory}" if locale.territory else locale.language
