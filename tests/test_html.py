"""The HTML pages, parsed with a real HTML5 parser (html5lib): the topic page shows the seed,
links resolve inside the build, every page offers its data, and data cannot inject markup."""

from __future__ import annotations

import json
import posixpath
import re
from urllib.parse import unquote, urlsplit

import pytest
from rdflib import URIRef
from rdflib.namespace import DCTERMS

from kgpub.config import load_project
from kgpub.site import build
from kgtest import (
    BASE,
    COMMENTARY_TYPE,
    TOPIC,
    Page,
    copy_project,
    edit_file,
    norm,
    page_path,
    parse_pages,
)

TOPIC_PAGE = page_path(TOPIC)
RDF_ALTERNATES = {"text/turtle", "application/ld+json", "application/n-triples"}
CREDIT = "“Green bean farmer in Asawn” by USAID Egypt (CC BY 2.0 via Flickr)"


def section(soup, heading: str):
    """The <section> whose first heading has this text."""
    for h in soup.find_all(["h2", "h3"]):
        if norm(h.get_text()) == heading:
            return h.find_parent("section")
    raise AssertionError(f"no section headed {heading!r}")


def cards(sec) -> list[tuple[str, str, str]]:
    """(title, href, summary) of each card of a listing."""
    out = []
    for art in sec.find_all("article"):
        link = art.find(["h3", "h4"]).find("a")
        summary = [p for p in art.find_all("p") if "meta" not in (p.get("class") or [])]
        out.append(
            (norm(link.get_text()), link["href"], norm(summary[-1].get_text()) if summary else "")
        )
    return out


def resolve(page: str, href: str) -> str:
    """The site path a link on `page` points to (root-relative links from the site root)."""
    path = unquote(urlsplit(href).path)
    if path.startswith("/"):
        target = path.lstrip("/") or "index.html"
    else:
        target = posixpath.normpath(posixpath.join(posixpath.dirname(page), path))
    return target


def is_external(href: str) -> bool:
    return bool(urlsplit(href).scheme) or href.startswith("//")


# ---- the topic page --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def topic_page(html_pages) -> Page:
    return html_pages[TOPIC_PAGE]


def test_topic_page_heading_description_and_credit(topic_page, seed):
    soup = topic_page.soup
    (h1,) = soup.find_all("h1")
    assert norm(h1.get_text()) == seed.topic_title == "Institutional capacity and coordination"
    main_text = norm(soup.find("main").get_text())
    assert seed.definition in main_text
    credit = soup.find(class_="credit")
    assert credit is not None
    assert CREDIT in norm(credit.get_text())
    links = {norm(a.get_text()): a["href"] for a in credit.find_all("a")}
    assert (
        resolve(TOPIC_PAGE, links["Green bean farmer in Asawn"])
        == "image/green-bean-farmer-in-asawn.html"
    )
    assert resolve(TOPIC_PAGE, links["USAID Egypt"]) == "agent/usaid-egypt.html"
    assert links["CC BY 2.0"] == "https://creativecommons.org/licenses/by/2.0/"
    assert urlsplit(links["Flickr"]).netloc.endswith("flickr.com")


def entries_by_title(kg) -> dict[str, URIRef]:
    return {
        str(t): s
        for s, t in kg.subject_objects(DCTERMS.title)
        if (s, DCTERMS.subject, URIRef(TOPIC)) in kg
    }


@pytest.mark.parametrize(
    "heading, commentary", [("Expert Commentaries", True), ("Resources", False)]
)
def test_topic_page_listings(topic_page, seed, kg, heading, commentary):
    items = [i for i in seed.items if i.commentary == commentary]
    listed = cards(section(topic_page.soup, heading))
    assert len(listed) == len(items) == (3 if commentary else 7)
    assert {t for t, _, _ in listed} == {i.title for i in items}
    by_title = entries_by_title(kg)
    for item in items:
        (title, href, summary) = next(c for c in listed if c[0] == item.title)
        iri = by_title[item.title]
        assert resolve(TOPIC_PAGE, href) == page_path(str(iri))
        assert summary == item.abstract
        assert ((iri, DCTERMS.type, URIRef(COMMENTARY_TYPE)) in kg) == commentary


def test_topic_page_shows_its_place_in_the_hierarchy(topic_page):
    crumbs = topic_page.soup.find("nav", attrs={"aria-label": "Breadcrumb"})
    hrefs = [resolve(TOPIC_PAGE, a["href"]) for a in crumbs.find_all("a")]
    assert hrefs == ["index.html", "topics.html",
                     "topic/governance-accountability-and-democracy.html"]
    assert crumbs.find_all("li")[-1].get_text(strip=True) == "Institutional capacity and coordination"


# ---- every page --------------------------------------------------------------------------------


def test_relative_links_and_stylesheets_resolve(built_site, html_pages):
    broken, checked, stylesheets = [], 0, 0
    for path, page in html_pages.items():
        for el in page.soup.find_all(["a", "link"], href=True):
            href = el["href"]
            is_stylesheet = el.name == "link" and "stylesheet" in (el.get("rel") or [])
            if is_external(href) or href.startswith(("mailto:", "#")):
                continue
            if href.startswith("/") and not is_stylesheet:
                continue  # root-relative: only the 404 page uses them, for the server
            if urlsplit(resolve(path, href)).path == "sparql":
                continue  # the SPARQL endpoint is the server's, not a file
            target = resolve(path, href)
            checked += 1
            stylesheets += is_stylesheet
            if not (built_site / target).is_file():
                broken.append(f"{path}: {href}")
                continue
            fragment = urlsplit(href).fragment
            if fragment and target.endswith(".html"):
                if html_pages[target].soup.find(id=fragment) is None:
                    broken.append(f"{path}: {href} (no #{fragment})")
    assert broken == []
    # One stylesheet a page, and the search pages the search UI's too.
    searches = sum(p.endswith("search.html") for p in html_pages)
    assert stylesheets == len(html_pages) + searches
    assert checked > 10 * len(html_pages)


def test_not_found_page_links_resolve_from_the_site_root(built_site, html_pages):
    page = html_pages["404.html"].soup
    hrefs = [el["href"] for el in page.find_all(["a", "link"], href=True)]
    local = [h for h in hrefs if h.startswith("/") and not h.startswith("//")]
    assert "/_assets/style.css" in local
    missing = [
        h for h in local if h != "/sparql" and not (built_site / resolve("404.html", h)).is_file()
    ]
    assert missing == []


def test_entity_pages_offer_their_data(html_pages, entity_iris):
    missing = []
    for iri in entity_iris:
        path = page_path(iri)
        soup = html_pages[path].soup
        alternates = {
            link.get("type"): link["href"]
            for link in soup.find_all("link", href=True)
            if "alternate" in (link.get("rel") or [])
        }
        if not RDF_ALTERNATES <= set(alternates):
            missing.append(f"{path}: {sorted(RDF_ALTERNATES - set(alternates))}")
            continue
        doc = path[: -len(".html")]
        assert resolve(path, alternates["text/turtle"]) == doc + ".ttl"
        assert resolve(path, alternates["application/ld+json"]) == doc + ".jsonld"
        assert resolve(path, alternates["application/n-triples"]) == doc + ".nt"
    assert missing == []


def test_home_page_offers_the_dataset_description(built_site, html_pages):
    soup = html_pages["index.html"].soup
    alternates = {
        link.get("type"): link["href"]
        for link in soup.find_all("link", href=True)
        if "alternate" in (link.get("rel") or [])
    }
    assert RDF_ALTERNATES <= set(alternates)
    for media_type in RDF_ALTERNATES:
        assert (built_site / resolve("index.html", alternates[media_type])).is_file()


def test_every_page_has_schema_org_json_ld(html_pages):
    for path, page in html_pages.items():
        scripts = page.soup.find_all("script", type="application/ld+json")
        assert len(scripts) == 1, path
        data = json.loads(scripts[0].string)
        assert data["@context"] == "https://schema.org", path
        assert data.get("@type"), path


def test_entity_json_ld_describes_the_entity(html_pages, entity_iris):
    for iri in entity_iris:
        data = json.loads(
            html_pages[page_path(iri)].soup.find("script", type="application/ld+json").string
        )
        assert data["@id"] == iri


def test_every_page_is_structured(html_pages):
    for path, page in html_pages.items():
        soup = page.soup
        lang = path.split("/")[0] if path.startswith(("fr/", "es/")) else "en"
        assert soup.html.get("lang") == lang, path
        assert len(soup.find_all("main")) == 1, path
        assert len(soup.find_all("h1")) == 1, path
        assert norm(soup.find("h1").get_text()), path
        assert soup.find("title") and norm(soup.find("title").get_text()), path


def test_no_raw_iri_as_link_text_in_main(html_pages):
    raw = []
    for path, page in html_pages.items():
        for a in page.soup.find("main").find_all("a"):
            if BASE in a.get_text():
                raw.append(f"{path}: {norm(a.get_text())}")
    assert raw == []


def test_entity_pages_show_their_persistent_identifier_in_the_footer(html_pages, entity_iris):
    for iri in entity_iris:
        footer = html_pages[page_path(iri)].soup.find("footer")
        assert footer is not None and iri in norm(footer.get_text()), iri


def test_entry_pages_link_back_to_their_topics(html_pages, kg):
    entries = sorted(set(kg.subjects(DCTERMS.subject, None)))
    assert len(entries) == 10
    for entry in entries:
        path = page_path(str(entry))
        hrefs = {
            resolve(path, a["href"])
            for a in html_pages[path].soup.find("main").find_all("a", href=True)
        }
        for topic in kg.objects(entry, DCTERMS.subject):
            assert page_path(str(topic)) in hrefs, (path, topic)


def test_entry_page_shows_title_summary_and_date(html_pages, kg):
    path = (
        "resource/inter-sectoral-coordination-social-protection-human-rights-virtuous-circle.html"
    )
    soup = html_pages[path].soup
    assert norm(soup.find("h1").get_text()) == (
        "Inter-sectoral Coordination, Social Protection and Human Rights: A virtuous circle"
    )
    main = norm(soup.find("main").get_text())
    assert "3 March 2016" in main
    assert "Alexandra Barrantes" in main
    (abstract,) = kg.objects(URIRef(BASE + path[: -len(".html")]), DCTERMS.abstract)
    assert str(abstract) in main


# ---- data cannot inject markup ---------------------------------------------------------------

SCRIPT_TITLE = "<script>alert(1)</script>"
IMG_ABSTRACT = '"><img src=x onerror=alert(1)>'
XSS_ENTRY = "resource/social-protection-a-key-to-a-fair-society"


@pytest.fixture(scope="module")
def xss_site(tmp_path_factory):
    root = copy_project(tmp_path_factory.mktemp("xss") / "project")
    entries = root / "data/entries/publications.ttl"
    edit_file(
        entries, '"Social Protection: A Key to a Fair Society"@en', '"<script>alert(1)</script>"@en'
    )
    text = entries.read_text(encoding="utf-8")
    start = text.index("Social protection is essential for social justice")
    end = text.index('"@en', start)
    entries.write_text(
        text[:start] + '\\"><img src=x onerror=alert(1)>' + text[end:], encoding="utf-8"
    )
    edit_file(
        root / "data/agents.ttl",
        'foaf:name "USAID Egypt"@en',
        'foaf:name "USAID</script><svg onload=alert(1)>"@en',
    )
    out = root.parent / "site"
    build(load_project(root), out)
    return out, parse_pages(out)


def test_injected_markup_stays_text(xss_site):
    site, pages = xss_site
    assert len(pages) >= 45
    for path, page in pages.items():
        soup = page.soup
        scripts = soup.find_all("script")
        # Data only; the search page alone runs code, from files of the site itself.
        code = [s["src"].rsplit("/", 1)[-1] for s in scripts if s.get("src")]
        assert [s.get("type") for s in scripts if not s.get("src")] == ["application/ld+json"], path
        assert code == (["pagefind-ui.js", "search.js"] if path.endswith("search.html") else [])
        with_handlers = [
            el.name
            for el in soup.find_all(True)
            if any(a.lower().startswith("on") for a in el.attrs)
        ]
        assert with_handlers == [], path
        assert soup.find("img") is None and soup.find("svg") is None, path
        assert len(re.findall(r"</script", page.raw, re.I)) == 1 + len(code), path
        json.loads(scripts[0].string)


def test_injected_markup_is_shown_verbatim(xss_site):
    _, pages = xss_site
    soup = pages[XSS_ENTRY + ".html"].soup
    assert norm(soup.find("h1").get_text()) == SCRIPT_TITLE
    assert IMG_ABSTRACT in soup.find("main").get_text()
    data = json.loads(soup.find("script", type="application/ld+json").string)
    assert data["name"] == SCRIPT_TITLE
    assert data["abstract"].startswith(IMG_ABSTRACT)
    topic = pages[TOPIC_PAGE].soup
    assert SCRIPT_TITLE in [t for t, _, _ in cards(section(topic, "Resources"))]
    assert "USAID</script><svg onload=alert(1)>" in norm(topic.find(class_="credit").get_text())


def test_xml_outputs_stay_well_formed(xss_site):
    """Feeds, sitemaps and RDF/XML carry the same titles: they must still parse as XML."""
    from xml.etree import ElementTree

    site, _ = xss_site
    files = [p for p in site.rglob("*") if p.suffix in (".xml", ".atom", ".rdf")]
    assert any(p.suffix == ".rdf" for p in files)
    for p in files:
        ElementTree.parse(p)
