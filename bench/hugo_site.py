"""The Hugo peer's site: a kgpub project (its RDF: ontology/ + data/) as an equivalent Hugo site.

    python bench/hugo_site.py --project DIR --out HUGO_SITE

bench/hugo.py builds it beside kgpub. Adapted from ../shared/peers/hugo/kg2hugo.py (the converter
that measured the issue's figures) with its templates (bench/hugo_layouts/), so the benchmark
needs nothing outside the repository.

Reads every Turtle file of the project with pyoxigraph (base IRI from kgpub.toml) and writes
a Hugo 0.111 site:

  config.toml               multilingual (en default at the root, fr/ and es/), ugly URLs
                            (resource/x.html, resource/x.ttl ... like kgpub), relative links,
                            8 taxonomies, 6 custom output formats standing in for kgpub's
                            per-entity documents (.ttl .jsonld .nt .rdf) and citations (.bib .ris)
  i18n/{en,fr,es}.toml      UI strings, translated from kgpub's own gettext catalogues
  data/classes.json         labels of the classes (from the ontology), for kind labels and RDF
  content/{en,fr,es}/...    one page per entity and language: resource/, topic/, agent/,
                            place/, instrument/, initiative/, image/, type/ (+ home, browse,
                            A-Z, hidden section pages so that templates can list a section)
  layouts/, static/         copied from hugo_layouts/ (next to this file) and kgpub's assets

Data values fall back as in kgpub: page language -> en -> untagged -> any (chosen here, so
that each language's page carries the value shown; *_lang says which language it is in).
Entries carry two kinds of links: the direct ones shown on the page (topics_direct,
places_direct, creators, ...) and taxonomy terms used for listings, which like kgpub's
listings include the broader topics and the regions a place is part of.

The only derived data computed here rather than in Hugo templates: the ancestor expansion of
the topics/places taxonomy terms, and each topic's "related topics" (skos:related, then the
topics most often filed on the same entries; kgpub computes the same before rendering).
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
import time
import tomllib
from collections import defaultdict
from pathlib import Path

import pyoxigraph as ox

HERE = Path(__file__).resolve().parent
LAYOUTS = HERE / "hugo_layouts"
REPO = HERE.parent  # kgpub's assets and UI catalogues

RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
RDFS = "http://www.w3.org/2000/01/rdf-schema#"
OWL = "http://www.w3.org/2002/07/owl#"
XSD = "http://www.w3.org/2001/XMLSchema#"
SKOS = "http://www.w3.org/2004/02/skos/core#"
DCT = "http://purl.org/dc/terms/"
FOAF = "http://xmlns.com/foaf/0.1/"
ORG = "http://www.w3.org/ns/org#"
LABEL_PROPS = (SKOS + "prefLabel", DCT + "title", FOAF + "name", RDFS + "label")
LANGS = ("en", "fr", "es")
SECTIONS = ("resource", "topic", "agent", "place", "instrument", "initiative", "image", "type")
RDF_OUT = ["HTML", "TTL", "JSONLD", "NT", "RDFXML"]
ENTRY_OUT = RDF_OUT + ["BIB", "RIS"]


def q(s: str) -> str:
    """A YAML double-quoted scalar (JSON's string syntax is valid YAML)."""
    return json.dumps(s, ensure_ascii=False)


def yaml_list(items) -> str:
    return "[" + ", ".join(q(i) for i in items) + "]"


class Graph:
    def __init__(self, project: Path):
        cfg = tomllib.loads((project / "kgpub.toml").read_text(encoding="utf-8"))
        self.base = cfg["site"]["base"]
        self.title = cfg["site"]["title"]
        self.description = cfg["site"].get("description", "")
        self.vocab = self.base + "ontology#"
        self.out: dict[str, dict[str, list]] = defaultdict(lambda: defaultdict(list))
        files = sorted((project / "ontology").rglob("*.ttl")) + sorted((project / "data").rglob("*.ttl"))
        n = 0
        for f in files:
            with open(f, "rb") as fh:
                for t in ox.parse(fh, format=ox.RdfFormat.TURTLE, base_iri=self.base):
                    s = t.subject
                    if isinstance(s, ox.NamedNode):
                        self.out[s.value][t.predicate.value].append(t.object)
                        n += 1
        self.triples = n
        self.files = len(files)

    def iris(self, s: str, p: str) -> list[str]:
        return [o.value for o in self.out.get(s, {}).get(p, []) if isinstance(o, ox.NamedNode)]

    def lits(self, s: str, p: str) -> list:
        return [o for o in self.out.get(s, {}).get(p, []) if isinstance(o, ox.Literal)]

    def lit(self, s: str, p: str):
        v = self.lits(s, p)
        return v[0] if v else None

    def types(self, s: str) -> list[str]:
        return self.iris(s, RDF + "type")

    def text(self, s: str, p: str, lang: str):
        """(text, lang) by the chain lang -> en -> untagged -> any, or None."""
        lits = self.lits(s, p)
        if not lits:
            return None
        for wanted in (lang, "en", None):
            for lit in lits:
                if (lit.language or None) == wanted:
                    return lit.value, lit.language or ""
        lit = min(lits, key=lambda x: (x.language or "", x.value))
        return lit.value, lit.language or ""

    def label(self, s: str, lang: str):
        for p in LABEL_PROPS:
            found = self.text(s, p, lang)
            if found:
                return found
        tail = s.rstrip("/").rsplit("/", 1)[-1]
        return tail.replace("-", " "), ""

    def labels(self, s: str) -> tuple[str, dict]:
        """The label property used and every language's label (for the RDF outputs)."""
        for p in LABEL_PROPS:
            lits = self.lits(s, p)
            if lits:
                return p, {(lit.language or ""): lit.value for lit in lits}
        return "", {}


def local(iri: str, base: str) -> tuple[str, str]:
    """(section, slug) of an IRI under the base: resource/x -> ('resource', 'x')."""
    rest = iri[len(base):]
    sec, _, slug = rest.partition("/")
    return sec, slug


def build(project: Path, out: Path) -> dict:
    t0 = time.perf_counter()
    g = Graph(project)
    base = g.base
    ents: dict[str, list[str]] = defaultdict(list)  # section -> IRIs
    for s in g.out:
        if s.startswith(base) and not s.startswith(g.vocab):
            sec, tail = local(s, base)
            if sec in SECTIONS and tail and "/" not in tail:
                ents[sec].append(s)
    for sec in ents:
        ents[sec].sort()

    def slug(iri: str) -> str:
        return local(iri, base)[1]

    def ancestors(iri: str, prop: str) -> list[str]:
        seen, stack = [], [iri]
        while stack:
            node = stack.pop()
            if node in seen:
                continue
            seen.append(node)
            stack.extend(g.iris(node, prop))
        return seen

    def is_tombstone(e: str) -> bool:
        return any(lit.value in ("true", "1") for lit in g.lits(e, OWL + "deprecated"))

    def is_org(a: str) -> bool:
        return FOAF + "Organization" in g.types(a)

    # related topics (as kgpub's Browse.related): skos:related, then co-occurrence, at most 5
    live = [e for e in ents["resource"] if not is_tombstone(e)]
    together: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for e in live:
        ts = sorted(set(g.iris(e, DCT + "subject")))
        for a in ts:
            for b in ts:
                if a != b:
                    together[a][b] += 1
    related = {}
    for t in ents["topic"]:
        chosen = sorted(set(g.iris(t, SKOS + "related")))
        near = set(ancestors(t, SKOS + "broader"))
        for other, _n in sorted(together[t].items(), key=lambda kv: (-kv[1], kv[0])):
            if len(chosen) >= 5:
                break
            if other not in chosen and other not in near:
                chosen.append(other)
        related[t] = chosen[:5]

    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    written = 0

    def write(path: Path, text: str) -> None:
        nonlocal written
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        written += 1

    def class_of(e: str) -> str:
        """The most specific class's qname-ish key: sphr:Publication -> 'sphr:Publication'."""
        for t in g.types(e):
            if t.startswith(g.vocab):
                return "sphr:" + t[len(g.vocab):]
            for pre, ns in (("foaf", FOAF), ("dcterms", DCT), ("skos", SKOS)):
                if t.startswith(ns):
                    return f"{pre}:{t[len(ns):]}"
        return ""

    for sec, iris in ents.items():
        for e in iris:
            s = slug(e)
            label_prop, labels = g.labels(e)
            cls = class_of(e)
            tomb = sec == "resource" and is_tombstone(e)
            common: list[str] = [f"class: {q(cls)}"]
            extra_en: list[str] = []
            if labels:
                extra_en.append(f"label_prop: {q(label_prop)}")
                extra_en.append("labels: {" + ", ".join(f"{q(k)}: {q(v)}" for k, v in sorted(labels.items())) + "}")
            per_lang: dict[str, list[str]] = {lang: [] for lang in LANGS}
            if sec == "resource":
                topics = g.iris(e, DCT + "subject")
                places = g.iris(e, DCT + "spatial")
                creators = g.iris(e, DCT + "creator")
                publishers = g.iris(e, DCT + "publisher")
                contributors = g.iris(e, DCT + "contributor")
                concerns = g.iris(e, g.vocab + "concerns")
                rtype = g.iris(e, DCT + "type")
                date = g.lit(e, DCT + "date")
                common += [
                    f"rtype: {q(slug(rtype[0]) if rtype else '')}",
                    f"topics_direct: {yaml_list(slug(t) for t in topics)}",
                ]
                if places:
                    common.append(f"places_direct: {yaml_list(slug(p) for p in places)}")
                for name, vals in (("creators", creators), ("publishers", publishers),
                                   ("contributors", contributors)):
                    if vals:
                        common.append(f"{name}: {yaml_list(slug(a) for a in vals)}")
                if concerns:
                    common.append(f"concerns: {yaml_list(local(c, base)[0] + '/' + slug(c) for c in concerns)}")
                if date is not None:
                    lex = date.value
                    kind = date.datatype.value[len(XSD):] if date.datatype else "string"
                    # sort date: kgpub orders a year (or month) before the days inside it
                    y = int(lex[:4])
                    if kind == "gYear":
                        sort = f"{y:04d}-12-31T23:59:59Z"
                    elif kind == "gYearMonth":
                        m = int(lex[5:7])
                        days = [31, 29 if y % 4 == 0 and (y % 100 or y % 400 == 0) else 28, 31, 30,
                                31, 30, 31, 31, 30, 31, 30, 31][m - 1]
                        sort = f"{lex[:7]}-{days:02d}T23:59:58Z"
                    else:
                        sort = f"{lex[:10]}T00:00:00Z"
                    common += [f"date: {q(sort)}", f"date_lex: {q(lex)}", f"date_kind: {q(kind)}"]
                mod = g.lit(e, DCT + "modified")
                if mod is not None:
                    common.append(f"lastmod: {q(mod.value)}")
                    common.append(f"dct_modified: {q(mod.value)}")
                page = g.iris(e, FOAF + "page")
                if page:
                    common.append(f"page: {q(page[0])}")
                if tomb:
                    common.append("withdrawn: true")
                    common.append('layout: "tombstone"')
                    rep = g.iris(e, DCT + "isReplacedBy")
                    if rep:
                        common.append(f"replaced_by: {q(slug(rep[0]))}")
                else:
                    # taxonomies (listings): like kgpub's, topics with their broader topics,
                    # places with the regions they are part of
                    tt = []
                    for t in topics:
                        for a in ancestors(t, SKOS + "broader"):
                            if a not in tt:
                                tt.append(a)
                    pp = []
                    for p in places:
                        for a in ancestors(p, DCT + "isPartOf"):
                            if a not in pp:
                                pp.append(a)
                    agents = creators + publishers + contributors
                    orgs = [a for a in agents if is_org(a)]
                    people = [a for a in agents if not is_org(a)]
                    common.append(f"topics: {yaml_list(slug(t) for t in tt)}")
                    if rtype:
                        common.append(f"types: {yaml_list([slug(rtype[0])])}")
                    if pp:
                        common.append(f"places: {yaml_list(slug(p) for p in pp)}")
                    if orgs:
                        common.append(f"organisations: {yaml_list(dict.fromkeys(slug(a) for a in orgs))}")
                    if people:
                        common.append(f"people: {yaml_list(dict.fromkeys(slug(a) for a in people))}")
                    ins = [slug(c) for c in concerns if local(c, base)[0] == "instrument"]
                    ini = [slug(c) for c in concerns if local(c, base)[0] == "initiative"]
                    if ins:
                        common.append(f"instruments: {yaml_list(ins)}")
                    if ini:
                        common.append(f"initiatives: {yaml_list(ini)}")
                    if date is not None:
                        common.append(f"years: {yaml_list([date.value[:4]])}")
                for lang in LANGS:
                    ab = g.text(e, DCT + "abstract", lang)
                    if ab:
                        per_lang[lang] += [f"summary: {q(ab[0])}", f"summary_lang: {q(ab[1])}"]
            elif sec == "topic":
                broader = g.iris(e, SKOS + "broader")
                if broader:
                    common.append(f"broader: {q(slug(broader[0]))}")
                else:
                    common.append("top: true")
                dep = g.iris(e, FOAF + "depiction")
                if dep:
                    common.append(f"depiction: {q(slug(dep[0]))}")
                if related[e]:
                    common.append(f"related: {yaml_list(slug(r) for r in related[e])}")
                defs = g.lits(e, SKOS + "definition")
                if defs:
                    extra_en.append("definitions: {" + ", ".join(
                        f"{q(d.language or '')}: {q(d.value)}" for d in defs) + "}")
                for lang in LANGS:
                    d = g.text(e, SKOS + "definition", lang)
                    if d:
                        per_lang[lang] += [f"definition: {q(d[0])}", f"definition_lang: {q(d[1])}"]
            elif sec == "agent":
                alt = [lit.value for lit in g.lits(e, SKOS + "altLabel")]
                if alt:
                    common.append(f"alt: {yaml_list(alt)}")
                sub = g.iris(e, ORG + "subOrganizationOf")
                if sub:
                    common.append(f"suborg_of: {q(slug(sub[0]))}")
                common.append(f"org: {'true' if is_org(e) else 'false'}")
            elif sec == "place":
                alt = [lit.value for lit in g.lits(e, SKOS + "altLabel")]
                if alt:
                    common.append(f"alt: {yaml_list(alt)}")
                part = g.iris(e, DCT + "isPartOf")
                if part:
                    common.append(f"part_of: {q(slug(part[0]))}")
            elif sec in ("instrument", "initiative"):
                nota = g.lit(e, SKOS + "notation")
                if nota is not None:
                    common.append(f"notation: {q(nota.value)}")
                cr = g.iris(e, DCT + "creator")
                if cr:
                    common.append(f"creator: {q(slug(cr[0]))}")
                d = g.lit(e, DCT + "date")
                if d is not None:
                    common += [f"date_lex: {q(d.value)}", 'date_kind: "gYear"']
            elif sec == "type":
                broader = g.iris(e, SKOS + "broader")
                if broader:
                    common.append(f"broader: {q(slug(broader[0]))}")
                if g.iris(e, SKOS + "topConceptOf"):
                    common.append("top: true")
                alt = [lit.value for lit in g.lits(e, SKOS + "altLabel")]
                if alt:
                    common.append(f"alt: {yaml_list(alt)}")
                defs = g.lits(e, SKOS + "definition")
                if defs:
                    extra_en.append("definitions: {" + ", ".join(
                        f"{q(d.language or '')}: {q(d.value)}" for d in defs) + "}")
                for lang in LANGS:
                    d = g.text(e, SKOS + "definition", lang)
                    if d:
                        per_lang[lang] += [f"definition: {q(d[0])}", f"definition_lang: {q(d[1])}"]
            elif sec == "image":
                cr = g.iris(e, DCT + "creator")
                if cr:
                    common.append(f"creator: {q(slug(cr[0]))}")
                for name, prop in (("license", DCT + "license"), ("source", DCT + "source")):
                    v = g.iris(e, prop)
                    if v:
                        lab = g.label(v[0], "en")
                        common.append(f"{name}: {{iri: {q(v[0])}, label: {q(lab[0])}}}")
            en_title = g.label(e, "en")[0]
            for lang in LANGS:
                title, tlang = g.label(e, lang)
                lines = ["---", f"title: {q(title)}", f"title_lang: {q(tlang)}"]
                if sec == "resource" and title != en_title:
                    # kgpub lists entries in one order in every language: date, then the title
                    # in the default language; Hugo breaks date ties by linkTitle
                    lines.append(f"linkTitle: {q(en_title)}")
                lines += common + per_lang[lang]
                if lang == "en":
                    lines += extra_en
                    outs = (RDF_OUT if tomb else ENTRY_OUT) if sec == "resource" else RDF_OUT
                else:
                    outs = ["HTML"]
                lines.append(f"outputs: {yaml_list(outs)}")
                lines.append("---\n")
                write(out / "content" / lang / sec / f"{s}.md", "\n".join(lines))

    # sections: listable by templates (GetPage "/topic"), never rendered themselves
    for lang in LANGS:
        for sec in SECTIONS:
            write(out / "content" / lang / sec / "_index.md",
                  f"---\ntitle: {q(sec)}\n_build:\n  render: never\n  list: always\n---\n")
        write(out / "content" / lang / "_index.md", f"---\ntitle: {q(g.title)}\n---\n")
        write(out / "content" / lang / "browse.md", "---\ntitle: \"browse\"\nlayout: \"browse\"\n---\n")
        write(out / "content" / lang / "a-z.md", "---\ntitle: \"a-z\"\nlayout: \"az\"\n---\n")

    # class labels (kind labels, RDF outputs) from the ontology
    classes = {}
    for s, preds in g.out.items():
        if RDFS + "label" in preds and (s.startswith(g.vocab) or s.startswith(FOAF) or s.startswith(DCT)):
            for pre, ns in (("sphr", g.vocab), ("foaf", FOAF), ("dcterms", DCT)):
                if s.startswith(ns) and s[len(ns):][:1].isupper():
                    labs = {(lit.language or ""): lit.value for lit in g.lits(s, RDFS + "label")}
                    classes[f"{pre}:{s[len(ns):]}"] = {"iri": s, "labels": labs}
    write(out / "data" / "classes.json", json.dumps(classes, ensure_ascii=False, indent=0))
    schemes = {}
    for name in ("topics", "types"):
        iri = base + name
        schemes[name] = {"iri": iri, "labels": {(lit.language or ""): lit.value
                                                for lit in g.lits(iri, SKOS + "prefLabel")}}
    write(out / "data" / "schemes.json", json.dumps(schemes, ensure_ascii=False, indent=0))

    root = base.split("/", 3)
    write(out / "config.toml", CONFIG.replace("@ROOT@", "/".join(root[:3]) + "/").replace("@BASE@", base).replace("@TITLE@", g.title)
          .replace("@DESC@", g.description))
    write_i18n(out, g, write)
    shutil.copytree(LAYOUTS, out / "layouts")
    static = out / "static" / "_assets"
    static.mkdir(parents=True)
    for name in ("style.css", "favicon.svg"):
        shutil.copyfile(REPO / "src" / "kgpub" / "static" / name, static / name)
    return {"triples": g.triples, "sources": g.files, "entities": sum(len(v) for v in ents.values()),
            "by_section": {k: len(v) for k, v in sorted(ents.items())}, "files": written,
            "seconds": round(time.perf_counter() - t0, 2)}


CONFIG = """\
baseURL = "@ROOT@"
title = "@TITLE@"
defaultContentLanguage = "en"
defaultContentLanguageInSubdir = false
uglyURLs = true
relativeURLs = true
paginate = 20
rssLimit = 50
buildFuture = true
enableRobotsTXT = true
disableAliases = true
timeout = "600s"
disableKinds = []

[frontmatter]
date = ["date"]

[params]
description = "@DESC@"
base = "@BASE@"

[languages]
[languages.en]
languageName = "English"
weight = 1
contentDir = "content/en"
[languages.fr]
languageName = "Français"
weight = 2
contentDir = "content/fr"
[languages.es]
languageName = "Español"
weight = 3
contentDir = "content/es"

[taxonomies]
topic = "topics"
rtype = "types"
place = "places"
organisation = "organisations"
person = "people"
instrument = "instruments"
initiative = "initiatives"
year = "years"

[outputs]
home = ["HTML", "RSS"]
section = ["HTML"]
taxonomy = ["HTML"]
term = ["HTML"]
page = ["HTML"]

[mediaTypes]
[mediaTypes."text/turtle"]
suffixes = ["ttl"]
[mediaTypes."application/ld+json"]
suffixes = ["jsonld"]
[mediaTypes."application/n-triples"]
suffixes = ["nt"]
[mediaTypes."application/rdf+xml"]
suffixes = ["rdf"]
[mediaTypes."application/x-bibtex"]
suffixes = ["bib"]
[mediaTypes."application/x-research-info-systems"]
suffixes = ["ris"]

[outputFormats]
[outputFormats.TTL]
mediaType = "text/turtle"
isPlainText = true
[outputFormats.JSONLD]
mediaType = "application/ld+json"
isPlainText = true
[outputFormats.NT]
mediaType = "application/n-triples"
isPlainText = true
[outputFormats.RDFXML]
mediaType = "application/rdf+xml"
isPlainText = true
[outputFormats.BIB]
mediaType = "application/x-bibtex"
isPlainText = true
notAlternative = true
[outputFormats.RIS]
mediaType = "application/x-research-info-systems"
isPlainText = true
notAlternative = true

[sitemap]
changefreq = ""
priority = -1
"""

# i18n key -> kgpub msgid (translations are read from kgpub's .po catalogues)
UI = {
    "skip": "Skip to content", "site": "Site", "topics": "Topics", "browse": "Browse",
    "search": "Search", "vocabulary": "Vocabulary", "language": "Language",
    "breadcrumb": "Breadcrumb", "home": "Home", "feed": "New and changed entries",
    "page_as_data": "This page as data:", "pid": "Persistent identifier:",
    "published_with": "published with kgpub", "feed_link": "Feed of new and changed entries",
    "summary": "Summary", "details": "Details", "cite": "Cite this", "bibtex": "BibTeX",
    "ris": "RIS", "use_data": "Use the data", "query_this": "Query this entry in SPARQL",
    "as_data": "As data:",
    "pid_long": "Persistent identifier (cite and link to this; it will not change):",
    "more_topic": "More in this topic:", "all_on_topic": "All resources on this topic",
    "topics_colon": "Topics:", "narrower": "Narrower topics", "ec": "Expert Commentaries",
    "resources": "Resources", "showing": "Showing %(shown)s of %(total)s.",
    "all_topic_narrower": "All %(n)s resources on this topic and its narrower topics",
    "related": "Related topics", "photo_credit": "Photo credit:", "by": "by", "via": "via",
    "resources_n": "Resources (%(n)s)", "all_n": "All %(n)s resources",
    "about": "About:", "range": "Resources %(first)s–%(last)s of %(total)s, newest first",
    "pages": "Pages", "previous": "Previous", "next": "Next", "page_n": "Page %(n)s",
    "title_page": "{title} (page {n})",
    "h_topic": "Resources on {name}", "h_type": "{name}: all resources of this type",
    "h_place": "Resources about {name}", "h_organisation": "Resources by {name}",
    "h_year": "Resources from {name}", "h_person": "Resources by {name}",
    "h_instrument": "Resources concerning {name}", "h_initiative": "Resources concerning {name}",
    "f_topics": "Topics", "f_types": "Resource types", "f_places": "Places and regions",
    "f_organisations": "Organisations", "f_years": "Years", "all_what": "All: %(what)s",
    "counts": "%(topics)s topics · %(entries)s resources", "search_resources": "Search the resources",
    "all_topics": "All topics", "az": "Topics A–Z", "az_short": "A–Z", "letters": "Letters",
    "newest": "Newest resources", "the_data": "The data", "the_vocabulary": "The vocabulary",
    "sparql_endpoint": "SPARQL endpoint", "downloads": "Whole-graph downloads:",
    "every_page": "Every page is also available as Turtle, JSON-LD, N-Triples and RDF/XML (see the links at the bottom of each page).",
    "topic_hierarchy": "Topic hierarchy", "in_scheme": "In this scheme",
    "not_found": "Not found", "nothing_here": "There is nothing at this address.",
    "withdrawn": "withdrawn",
    "withdrawn_text": "This entry has been withdrawn from the knowledge graph.",
    "replaced": "It is replaced by:",
    "reserved": "Its identifier stays reserved and will not be reused.",
    "record": "Record of the withdrawn entry",
}
# property and kind labels: data in kgpub (the ontology's rdfs:label), UI strings here
PROPS = {
    "p_type": DCT + "type", "p_subject": DCT + "subject", "p_creator": DCT + "creator",
    "p_contributor": DCT + "contributor", "p_publisher": DCT + "publisher", "p_date": DCT + "date",
    "p_spatial": DCT + "spatial", "p_modified": DCT + "modified", "p_page": FOAF + "page",
    "p_ispartof": DCT + "isPartOf", "p_altlabel": SKOS + "altLabel", "p_notation": SKOS + "notation",
    "p_broader": SKOS + "broader", "p_license": DCT + "license", "p_source": DCT + "source",
    "p_replaced": DCT + "isReplacedBy", "p_suborg": ORG + "subOrganizationOf", "p_inscheme": SKOS + "inScheme",
}
DATE_LAYOUTS = {"en": ("2 January 2006", "January 2006"), "fr": ("2 January 2006", "January 2006"),
                "es": ("2 de January de 2006", "January de 2006")}


def write_i18n(out: Path, g: Graph, write) -> None:
    from babel.messages.pofile import read_po

    cats = {}
    for lang in ("fr", "es"):
        with open(REPO / "src/kgpub/locale" / lang / "LC_MESSAGES/kgpub.po", "rb") as f:
            cats[lang] = read_po(f, locale=lang)

    def go(text: str) -> str:
        text = re.sub(r"%\((\w+)\)s", r"{{ .\1 }}", text)
        return re.sub(r"\{(\w+)\}", r"{{ .\1 }}", text)

    for lang in LANGS:
        lines = []
        for key, msgid in UI.items():
            text = msgid
            if lang != "en":
                m = cats[lang].get(msgid)
                if m is not None and isinstance(m.string, str) and m.string:
                    text = m.string
            lines.append(f"[{key}]\nother = {q(go(text))}\n")
        lines.append(f"[p_concerns]\nother = {q(g.text(g.vocab + 'concerns', RDFS + 'label', lang)[0])}\n")
        for key, prop in PROPS.items():
            t = g.text(prop, RDFS + "label", lang)
            lines.append(f"[{key}]\nother = {q(t[0] if t else prop.rsplit('/', 1)[-1])}\n")
        day, month = DATE_LAYOUTS[lang]
        lines.append(f"[date_day]\nother = {q(day)}\n[date_month]\nother = {q(month)}\n")
        write(out / "i18n" / f"{lang}.toml", "\n".join(lines))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--project", type=Path, required=True)
    ap.add_argument("--out", type=Path, required=True)
    a = ap.parse_args(argv)
    print(json.dumps(build(a.project, a.out)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
