"""Browsing: listings (topic, type, place, organisation, year), pagination, A-Z, breadcrumbs,
related topics, languages, citations and "Query this". Pages are read with a real HTML parser;
expectations come from the graph (rdflib), not from kgpub's own index."""

from __future__ import annotations

import posixpath
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import bibtexparser
import pytest
import rispy
from rdflib import Literal, URIRef
from rdflib.namespace import DCTERMS, RDF, SKOS

from kgpub.config import load_project
from kgpub.site import build
from kgtest import BASE, copy_project, edit_file, norm, parse_pages

TOPIC = "topic/institutional-capacity-and-coordination"
PARENT = "topic/governance-accountability-and-democracy"
ENTRY = "resource/inter-sectoral-coordination-social-protection-human-rights-virtuous-circle"
PAGE_SIZE = 3


def resolve(page: str, href: str) -> str:
    return posixpath.normpath(posixpath.join(posixpath.dirname(page), unquote(urlsplit(href).path)))


@pytest.fixture(scope="module")
def small_pages_site(tmp_path_factory) -> tuple[Path, dict]:
    """The bundled project with 3 entries per listing page, so listings paginate."""
    root = copy_project(tmp_path_factory.mktemp("paged") / "project")
    edit_file(root / "kgpub.toml", "[site]\n", f"[site]\npage_size = {PAGE_SIZE}\n")
    out = root.parent / "site"
    build(load_project(root), out)
    return out, parse_pages(out)


def live_entries(kg) -> set[URIRef]:
    from rdflib.namespace import OWL

    entries = set(kg.subjects(DCTERMS.title, None)) & {
        s for s in kg.subjects(RDF.type, None) if str(s).startswith(BASE + "resource/")}
    return {e for e in entries if (e, OWL.deprecated, Literal(True)) not in kg}


def sort_key(kg, e):
    d = kg.value(e, DCTERMS.date)
    title = next(str(t) for t in kg.objects(e, DCTERMS.title) if t.language in ("en", None))
    return (d is None, "".join(chr(0x10FFFF - ord(c)) for c in str(d or "").ljust(10, "0")),
            title.casefold(), str(e))


def listing(pages: dict, first: str) -> tuple[list[str], list[str]]:
    """Follow a listing's "Next" links from its first page: (entry paths in order, pages)."""
    seen, entries, path = [], [], first
    while path:
        seen.append(path)
        soup = pages[path].soup
        entries += [resolve(path, h.a["href"]) for h in soup.select("main ul.cards h3")]
        nxt = soup.select_one('nav.pager a[rel="next"]')
        path = resolve(path, nxt["href"]) if nxt else None
    return entries, seen


def narrower_closure(kg, topic: URIRef) -> set[URIRef]:
    out, stack = set(), [topic]
    while stack:
        t = stack.pop()
        if t not in out:
            out.add(t)
            stack.extend(kg.subjects(SKOS.broader, t))
    return out


# ---- listings -----------------------------------------------------------------------------------


def test_topic_listing_includes_narrower_topics_sorted_and_paginated(small_pages_site, kg):
    _, pages = small_pages_site
    topic = URIRef(BASE + PARENT)
    expected = sorted({e for t in narrower_closure(kg, topic) for e in kg.subjects(DCTERMS.subject, t)}
                      & live_entries(kg), key=lambda e: sort_key(kg, e))
    entries, seen = listing(pages, f"browse/{PARENT}.html")
    assert entries == [str(e)[len(BASE):] + ".html" for e in expected]
    assert len(seen) == -(-len(expected) // PAGE_SIZE) > 1
    assert seen[1] == f"browse/{PARENT}/2.html"
    # Each page links its neighbours in <head> too, and says which page is current.
    second = pages[seen[1]].soup
    assert resolve(seen[1], second.find("link", rel="prev")["href"]) == seen[0]
    assert second.select_one("nav.pager a[aria-current=page]").get_text() == "2"
    status = norm(second.select_one("main [role=status]").get_text())
    assert status == f"Resources {PAGE_SIZE + 1}–{min(2 * PAGE_SIZE, len(expected))} of {len(expected)}, newest first"


@pytest.mark.parametrize("facet, prop, key", [
    ("type", DCTERMS.type, "type/report"),
    ("place", DCTERMS.spatial, "place/south-asia"),
    ("organisation", DCTERMS.publisher, "agent/ilo"),
])
def test_facet_listings_match_the_graph(small_pages_site, kg, facet, prop, key):
    _, pages = small_pages_site
    value = URIRef(BASE + key)
    # Places include their parts (a country is in its region).
    values = {value} | set(kg.subjects(DCTERMS.isPartOf, value))
    expected = {e for v in values for e in kg.subjects(prop, v)}
    if facet == "organisation":
        expected |= set(kg.subjects(DCTERMS.creator, value))
    expected &= live_entries(kg)
    entries, _ = listing(pages, f"browse/{key}.html")
    assert sorted(entries) == sorted(str(e)[len(BASE):] + ".html" for e in expected)
    assert entries == [str(e)[len(BASE):] + ".html"
                       for e in sorted(expected, key=lambda e: sort_key(kg, e))]


def test_year_listings_and_counts(small_pages_site, kg):
    _, pages = small_pages_site
    years = {}
    for e in live_entries(kg):
        d = kg.value(e, DCTERMS.date)
        if d is not None:
            years.setdefault(str(d)[:4], set()).add(str(e)[len(BASE):] + ".html")
    index = pages["browse/years.html"].soup
    shown = {a.get_text(): a for a in index.select("main ul.counted a")}
    assert list(shown) == sorted(years, reverse=True)
    for year, entries in years.items():
        count = shown[year].find_next_sibling("span").get_text()
        assert count == f"({len(entries)})"
        found, _ = listing(pages, resolve("browse/years.html", shown[year]["href"]))
        assert set(found) == entries


def test_topic_tree_counts_and_a_to_z(built_site, html_pages, kg):
    topics = set(kg.subjects(RDF.type, URIRef(BASE + "ontology#Topic")))
    az = html_pages["browse/a-z.html"].soup
    links = {resolve("browse/a-z.html", a["href"]) for a in az.select("main section a")}
    assert links == {str(t)[len(BASE):] + ".html" for t in topics}
    for section in az.select("main section"):
        letter = section.h2.get_text()
        assert all(norm(a.get_text())[0].upper() == letter for a in section.select("a"))
    tree = html_pages["topics.html"].soup
    for a in tree.select("main ul.tree a"):
        t = URIRef(BASE + resolve("topics.html", a["href"])[: -len(".html")])
        n = len({e for x in narrower_closure(kg, t) for e in kg.subjects(DCTERMS.subject, x)}
                & live_entries(kg))
        assert a.find_next_sibling("span").get_text() == f"({n})"


def test_home_has_topics_newest_and_browse_links(html_pages, kg):
    home = html_pages["index.html"].soup
    newest = [resolve("index.html", h.a["href"]) for h in home.select("#newest ~ ul.cards h3")]
    expected = sorted(live_entries(kg), key=lambda e: sort_key(kg, e))[:10]
    assert newest == [str(e)[len(BASE):] + ".html" for e in expected]
    hrefs = {resolve("index.html", a["href"]) for a in home.select("main a")}
    assert {f"{PARENT}.html", "browse/types.html", "browse/places.html",
            "browse/organisations.html", "browse/years.html", "browse/a-z.html"} <= hrefs
    form = home.select_one("form[role=search]")
    assert form["action"] == "search.html" and form.select_one("input[name=q]")


def test_breadcrumbs_follow_broader(html_pages):
    soup = html_pages[f"{ENTRY}.html"].soup
    crumbs = soup.find("nav", attrs={"aria-label": "Breadcrumb"})
    hrefs = [resolve(f"{ENTRY}.html", a["href"]) for a in crumbs.find_all("a")]
    assert hrefs == ["index.html", "topics.html", f"{PARENT}.html", f"{TOPIC}.html"]
    current = crumbs.find_all("li")[-1].find(attrs={"aria-current": "page"})
    assert norm(current.get_text()).startswith("Inter-sectoral Coordination")


def test_entry_page_has_more_in_this_topic(html_pages):
    soup = html_pages[f"{ENTRY}.html"].soup
    more = soup.find("aside")
    assert "More in this topic" in more.h2.get_text()
    links = [resolve(f"{ENTRY}.html", h.a["href"]) for h in more.select("ul.cards h3")]
    assert links and f"{ENTRY}.html" not in links and len(links) <= 5


def test_related_topics_come_from_shared_entries_and_skos_related(tmp_path):
    root = copy_project(tmp_path / "project")
    (root / "data/extra-topics.ttl").write_text(
        '@prefix sphr: <ontology#> . @prefix skos: <http://www.w3.org/2004/02/skos/core#> .\n'
        + "".join(f'<topic/t{n}> a sphr:Topic ; skos:prefLabel "Topic {n}"@en ; '
                  f'skos:definition "Test topic {n}."@en ; skos:inScheme <topics> ; '
                  f'skos:topConceptOf <topics> .\n' for n in (1, 2))
        + f"<{TOPIC}> skos:related <topic/t2> .\n"
        + f"<{ENTRY}> <http://purl.org/dc/terms/subject> <topic/t1> .\n",
        encoding="utf-8")
    out = tmp_path / "site"
    build(load_project(root), out)
    soup = parse_pages(out)[f"{TOPIC}.html"].soup
    related = [resolve(f"{TOPIC}.html", a["href"])
               for a in soup.find("h2", id="related").find_next("ul").find_all("a")]
    # skos:related first, then topics filed on the same entries; never its broader topic.
    assert related == ["topic/t2.html", "topic/t1.html"]


# ---- languages ----------------------------------------------------------------------------------


@pytest.mark.parametrize("lang, search, topics", [
    ("en", "Search", "Topics"), ("fr", "Rechercher", "Thèmes"), ("es", "Buscar", "Temas")])
def test_every_page_exists_in_every_language(html_pages, lang, search, topics):
    prefix = "" if lang == "en" else f"{lang}/"
    # (404.html links from the site root: it is served at any path; checked by the server tests.)
    english = [p for p in html_pages if not p.startswith(("fr/", "es/")) and p != "404.html"]
    for path in english:
        page = html_pages[prefix + path].soup
        assert page.html["lang"] == lang
        nav = page.find("nav", attrs={"class": "site-nav"})
        assert [norm(a.get_text()) for a in nav.find_all("a")][:3][0] == topics, path
        assert search in [norm(a.get_text()) for a in nav.find_all("a")], path
        # hreflang alternates point at the same page in each language, and back.
        alts = {link["hreflang"]: resolve(prefix + path, link["href"])
                for link in page.find_all("link", rel="alternate", hreflang=True)}
        assert alts == {"en": path, "fr": "fr/" + path, "es": "es/" + path, "x-default": path}


def test_french_page_marks_english_values_and_keeps_french_labels(html_pages, kg):
    soup = html_pages[f"fr/{TOPIC}.html"].soup
    labels = {lit.language: str(lit) for lit in kg.objects(URIRef(BASE + TOPIC), SKOS.prefLabel)}
    h1 = soup.h1
    if "fr" in labels:
        assert norm(h1.get_text()) == labels["fr"] and not h1.find(attrs={"lang": "en"})
    else:
        assert h1.find(attrs={"lang": "en"}) is not None
    # An entry known only in English keeps its title, marked as English, on the French page.
    card = soup.select_one("ul.cards h3 a")
    assert card.get("lang") == "en"
    assert not soup.find(string=lambda t: t and t.strip() in ("Search", "Topics", "Home"))


# ---- for researchers -----------------------------------------------------------------------------


def test_cite_this_downloads_parse(built_site, html_pages, kg):
    soup = html_pages[f"{ENTRY}.html"].soup
    cite = soup.find("section", class_="cite")
    reference = norm(cite.select_one(".reference").get_text())
    assert reference.startswith("Barrantes, A. (2016, March 3). Inter-sectoral Coordination")
    assert reference.endswith(BASE + ENTRY)
    bib_href = cite.find("a", type="application/x-bibtex")["href"]
    ris_href = cite.find("a", type="application/x-research-info-systems")["href"]
    bib = (built_site / resolve(f"{ENTRY}.html", bib_href)).read_text("utf-8")
    library = bibtexparser.parse_string(bib)
    assert len(library.entries) == 1 and not library.failed_blocks
    fields = library.entries[0].fields_dict
    assert "Inter-sectoral Coordination" in fields["title"].value
    assert fields["year"].value == "2016"
    ris = rispy.loads((built_site / resolve(f"{ENTRY}.html", ris_href)).read_text("utf-8"))
    assert ris[0]["urls"] == [BASE + ENTRY] and ris[0]["authors"] == ["Barrantes, Alexandra"]


def test_query_this_runs_on_the_endpoint(built_site, bundled_project, html_pages, kg):
    from starlette.testclient import TestClient

    from kgpub.server.app import create_app

    soup = html_pages[f"{ENTRY}.html"].soup
    href = soup.select_one("a.query-this")["href"]
    assert resolve(f"{ENTRY}.html", href) == "sparql"
    query = parse_qs(urlsplit(href).query)["query"][0]
    assert f"<{BASE}{ENTRY}>" in query
    with TestClient(create_app(bundled_project, built_site)) as client:  # the site's server
        r = client.get("/sparql", params={"query": query},
                       headers={"Accept": "application/sparql-results+json"})
    assert r.status_code == 200, r.text
    rows = r.json()["results"]["bindings"]
    titles = {b["value"]["value"] for b in rows if b["property"]["value"] == str(DCTERMS.title)}
    assert titles == {str(t) for t in kg.objects(URIRef(BASE + ENTRY), DCTERMS.title)}


def test_open_graph_and_schema_org(html_pages):
    import json

    soup = html_pages[f"{ENTRY}.html"].soup
    og = {m["property"]: m["content"] for m in soup.find_all("meta", property=True)}
    assert og["og:type"] == "article" and og["og:url"] == BASE + ENTRY + ".html"
    assert og["article:published_time"] == "2016-03-03" and og["og:title"].startswith("Inter-sectoral")
    data = json.loads(soup.find("script", type="application/ld+json").string)
    assert data["@type"] == "Article" and data["datePublished"] == "2016-03-03"
    assert data["author"][0]["@type"] == "Person"


def test_pages_are_small(built_site):
    sizes = {p.relative_to(built_site).as_posix(): p.stat().st_size
             for p in built_site.rglob("*.html")}
    assert max(sizes.values()) < 100_000, max(sizes, key=sizes.get)


def test_open_graph_names_each_page_and_its_locale(html_pages):
    """og:url is the page's own URL (not the home page's), og:locale is language_TERRITORY."""
    expected_locale = {"": "en_US", "fr/": "fr_FR", "es/": "es_ES"}
    for path in ("browse/types.html", "fr/browse/types.html", "index.html", "es/index.html",
                 f"fr/{ENTRY}.html", "topics.html"):
        soup = html_pages[path].soup
        og = {m["property"]: m["content"] for m in soup.find_all("meta", property=True)}
        assert og["og:url"] == BASE + path, path
        lang = path[:3] if path[:3] in ("fr/", "es/") else ""
        assert og["og:locale"] == expected_locale[lang], path
