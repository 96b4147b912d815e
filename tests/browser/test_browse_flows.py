"""End-to-end flows through the browsing pages in headless Chromium, with real clicks and keys:
home -> topic -> narrower topic -> entry and back by the breadcrumbs; the browse index, facet
pages and listings (sorted, paginated: a second site built with page_size = 3); Pagefind search
(typed, from ?q=, filtered by a facet, in French); the language switch; the search page without
JavaScript; axe-core and 375 px on the new page types; the print stylesheet; page weight."""

from __future__ import annotations

import json
import re
import time
import urllib.request
from datetime import date, datetime
from urllib.parse import urlsplit
from xml.etree import ElementTree

import pytest
from browserutil import (
    DESKTOP,
    axe_violations,
    built_and_served,
    log_of,
    sideways_scroll,
    visit,
    watch,
)
from playwright.sync_api import expect

from kgtest import BASE, copy_project, edit_file

pytestmark = pytest.mark.browser

TIMEOUT_MS = 10_000  # as the conftest's contexts: per action, navigation and expect()

PARENT = "Governance, accountability and democracy"
PARENT_PATH = "/topic/governance-accountability-and-democracy.html"
TOPIC = "Institutional capacity and coordination"
TOPIC_PATH = "/topic/institutional-capacity-and-coordination.html"
ENTRY = "Inter-sectoral Coordination, Social Protection and Human Rights: A virtuous circle"
ENTRY_PATH = "/resource/inter-sectoral-coordination-social-protection-human-rights-virtuous-circle.html"
# A word of one entry's summary (dcterms:abstract in data/entries/publications.ttl) and nowhere
# else in the data.
WORD = "vagaries"
WORD_ENTRY = "Social Protection as a Human Right in South Asia"
WORD_PATH = "/resource/social-protection-as-a-human-right-in-south-asia.html"
LISTING_PATH = "/browse/topic/institutional-capacity-and-coordination"  # .html, /2.html, ...
PAGE_SIZE = 3
SHARD_PAGES = 4


def _url(pattern: str):
    """A regex for wait_for_url: the path exactly (anchored after the host), any query."""
    return re.compile(r"^http://127\.0\.0\.1:\d+" + re.escape(pattern) + r"(\?.*)?$")


def _path(page) -> str:
    return urlsplit(page.url).path


def _crumbs(page) -> list[str]:
    return [t.strip() for t in page.locator("nav.breadcrumbs li").all_inner_texts()]


def _current_crumb(page) -> str:
    current = page.locator("nav.breadcrumbs [aria-current=page]")
    expect(current).to_have_count(1)
    return current.inner_text().strip()


def _h1(page) -> str:
    expect(page.locator("h1")).to_have_count(1)
    return page.locator("h1").inner_text().strip()


def _clean(page) -> None:
    problems = log_of(page).problems()
    assert not problems, "\n".join(problems)


@pytest.fixture(scope="module", autouse=True)
def _expect_timeout():
    expect.set_options(timeout=TIMEOUT_MS)
    yield
    expect.set_options(timeout=5_000)  # Playwright's default


@pytest.fixture(scope="module")
def paged_site(tmp_path_factory) -> str:
    """The bundled project with `[site] page_size = 3`, built and served: a topic's ten entries
    fill four listing pages. Its search index is in shards of four pages (`[search]
    shard_pages`), merged by the search page. Yields the base URL."""
    root = copy_project(tmp_path_factory.mktemp("paged") / "project")
    edit_file(root / "kgpub.toml", "[site]\n",
              f"[search]\nshard_pages = {SHARD_PAGES}\n\n[site]\npage_size = {PAGE_SIZE}\n")
    with built_and_served(root, root / "site") as url:
        yield url


@pytest.fixture
def nojs_page(browser):
    context = browser.new_context(**DESKTOP, java_script_enabled=False)
    context.set_default_timeout(TIMEOUT_MS)
    context.set_default_navigation_timeout(TIMEOUT_MS)
    pg = context.new_page()
    watch(pg)
    yield pg
    context.close()


# ---- 1. navigation ----------------------------------------------------------------------------


def test_home_to_topic_to_narrower_topic_to_entry_and_back(page, browser_site):
    visit(page, browser_site, "/")
    tree = page.locator("main section[aria-labelledby=topics] > ul.tree")
    expect(tree.locator("> li > a")).to_have_text([PARENT])
    expect(tree.locator("> li > span.count")).to_have_text(["(10)"])
    expect(tree.locator("> li > ul.tree > li > a")).to_have_text([TOPIC])

    tree.get_by_role("link", name=PARENT, exact=True).click()
    page.wait_for_url(_url(PARENT_PATH))
    assert _h1(page) == PARENT
    assert _crumbs(page) == ["Home", "Topics", PARENT]
    assert _current_crumb(page) == PARENT
    expect(page.locator("nav.breadcrumbs")).to_have_attribute("aria-label", "Breadcrumb")

    narrower = page.locator("section[aria-labelledby=narrower]")
    narrower.get_by_role("link", name=TOPIC, exact=True).click()
    page.wait_for_url(_url(TOPIC_PATH))
    assert _h1(page) == TOPIC
    assert _crumbs(page) == ["Home", "Topics", PARENT, TOPIC]
    assert _current_crumb(page) == TOPIC

    card = page.locator("ul.cards article").filter(has=page.get_by_role("heading", name=ENTRY))
    expect(card).to_have_count(1)
    card.get_by_role("link", name=ENTRY, exact=True).click()
    page.wait_for_url(_url(ENTRY_PATH))
    assert _h1(page) == ENTRY
    crumbs = _crumbs(page)
    assert crumbs[:4] == ["Home", "Topics", PARENT, TOPIC], crumbs
    # The entry's own crumb may be shortened with an ellipsis.
    current = _current_crumb(page)
    assert current == crumbs[4] and ENTRY.startswith(current.removesuffix("…")), current

    # Researchers' tools: the citation downloads and the SPARQL link answer.
    cite = page.locator("section.cite")
    expect(cite.get_by_role("heading", name="Cite this")).to_be_visible()
    for ext in ("bib", "ris"):
        link = cite.locator(f"a[href$='.{ext}']")
        expect(link).to_have_count(1)
        href = link.evaluate("a => a.href")
        assert page.request.get(href).status == 200, href
    query = page.locator("a.query-this")
    href = query.evaluate("a => a.href")
    assert urlsplit(href).path == "/sparql" and "query=" in urlsplit(href).query, href
    assert page.request.get(href, headers={"Accept": "text/html"}).status == 200, href

    # Back to the topic by the breadcrumb, with the keyboard.
    page.locator("nav.breadcrumbs").get_by_role("link", name=TOPIC, exact=True).focus()
    page.keyboard.press("Enter")
    page.wait_for_url(_url(TOPIC_PATH))
    assert _h1(page) == TOPIC
    _clean(page)


# ---- 2. listings ------------------------------------------------------------------------------


_DATE_FORMATS = ("%d %B %Y", "%B %Y", "%Y")


def _card_date(meta: str) -> date | None:
    """The date at the end of an English card's meta line ("Report · 2019", "Expert
    commentary · 3 March 2016"), or None."""
    last = meta.split("·")[-1].strip()
    for fmt in _DATE_FORMATS:
        try:
            return datetime.strptime(last, fmt).date()
        except ValueError:
            continue
    return None


def _cards(page) -> list[tuple[str, date | None]]:
    cards = page.locator("main ul.cards > li > article")
    titles = [t.strip() for t in cards.locator("h3").all_inner_texts()]
    metas = cards.locator("p.meta").all_inner_texts()
    assert len(titles) == len(metas), (titles, metas)
    return [(t, _card_date(m)) for t, m in zip(titles, metas, strict=True)]


def _assert_sorted(cards: list[tuple[str, date | None]]) -> None:
    """Newest first; undated entries after the dated ones, by title."""
    dates = [d for _, d in cards if d is not None]
    assert dates == sorted(dates, reverse=True), cards
    undated_from = next((i for i, (_, d) in enumerate(cards) if d is None), len(cards))
    assert all(d is None for _, d in cards[undated_from:]), f"dated after undated: {cards}"
    titles = [t for t, _ in cards[undated_from:]]
    assert titles == sorted(titles, key=str.casefold), cards


def _count(item) -> int:
    return int(item.locator("span.count").inner_text().strip("() "))


def test_browse_index_to_a_type_listing_and_a_year_listing(page, browser_site):
    visit(page, browser_site, "/browse/index.html")
    assert _h1(page) == "Browse"
    assert _crumbs(page) == ["Home", "Browse"]

    page.get_by_role("link", name="All: Resource types").click()
    page.wait_for_url(_url("/browse/types.html"))
    assert _h1(page) == "Resource types"
    assert _crumbs(page) == ["Home", "Browse", "Resource types"]
    items = page.locator("main ul.counted > li")
    assert items.count() >= 2
    item = items.filter(has_text="Expert commentary")
    expected = _count(item)
    item.get_by_role("link").click()
    page.wait_for_url(_url("/browse/type/expert-commentary.html"))
    assert _h1(page).startswith("Expert commentary")
    assert _crumbs(page) == ["Home", "Browse", "Resource types", "Expert commentary"]
    cards = _cards(page)
    assert len(cards) == expected, cards
    assert any(d is not None for _, d in cards), f"no dated card to check the order with: {cards}"
    _assert_sorted(cards)
    assert all(m.startswith("Expert commentary")
               for m in page.locator("main ul.cards p.meta").all_inner_texts())
    expect(page.locator("main p.meta[role=status]")).to_contain_text(f"of {expected}")
    expect(page.locator("nav.pager")).to_have_count(0)  # one page only

    page.locator("nav.breadcrumbs").get_by_role("link", name="Browse").click()
    page.wait_for_url(_url("/browse/index.html"))
    years = page.locator("section[aria-labelledby=facet-year] ul.counted > li")
    year_texts = years.locator("a").all_inner_texts()
    assert year_texts == sorted(year_texts, reverse=True), year_texts
    year = years.first
    label, expected = year.locator("a").inner_text().strip(), _count(year)
    year.get_by_role("link").click()
    page.wait_for_url(_url(f"/browse/year/{label}.html"))
    assert label in _h1(page)
    assert _crumbs(page)[-1] == label
    cards = _cards(page)
    assert len(cards) == expected, cards
    assert all(d is not None and d.year == int(label) for _, d in cards), cards
    _assert_sorted(cards)
    _clean(page)


def _pager_links(page) -> dict[str, str]:
    links = page.locator("nav.pager a")
    return {a.inner_text().strip(): urlsplit(a.evaluate("a => a.href")).path for a in links.all()}


def test_listing_pages_next_previous_and_keyboard(page, paged_site):
    visit(page, paged_site, TOPIC_PATH)
    more = page.locator("p.more a")
    expect(more).to_have_count(1)
    total = int(re.search(r"\d+", more.inner_text()).group())
    assert total > PAGE_SIZE
    more.click()
    page.wait_for_url(_url(LISTING_PATH + ".html"))
    pages = -(-total // PAGE_SIZE)

    seen: list[tuple[str, date | None]] = []
    for n in range(1, pages + 1):
        path = LISTING_PATH + (".html" if n == 1 else f"/{n}.html")
        assert _path(page) == path
        cards = _cards(page)
        assert len(cards) == min(PAGE_SIZE, total - len(seen)), (n, cards)
        first = len(seen) + 1
        expect(page.locator("main p.meta[role=status]")).to_contain_text(
            f"{first}–{first + len(cards) - 1} of {total}"
        )
        seen += cards
        pager = page.locator("nav.pager")
        expect(pager).to_have_count(1)
        expect(pager.locator("[aria-current=page]")).to_have_text(str(n))
        links = _pager_links(page)
        head = {rel: page.locator(f"head link[rel={rel}]") for rel in ("prev", "next")}
        if n == 1:
            assert "Previous" not in links and head["prev"].count() == 0
        else:
            assert page.locator("nav.pager a[rel=prev]").inner_text().strip() == "Previous"
            assert urlsplit(head["prev"].evaluate("l => l.href")).path == links["Previous"]
        if n == pages:
            assert "Next" not in links and head["next"].count() == 0
            break
        assert page.locator("nav.pager a[rel=next]").inner_text().strip() == "Next"
        assert urlsplit(head["next"].evaluate("l => l.href")).path == links["Next"]
        page.locator("nav.pager").get_by_role("link", name="Next", exact=True).click()
        page.wait_for_url(_url(LISTING_PATH + f"/{n + 1}.html"))
    assert len(seen) == total and len({t for t, _ in seen}) == total, seen
    _assert_sorted(seen)

    page.locator("nav.pager").get_by_role("link", name="Previous", exact=True).click()
    page.wait_for_url(_url(LISTING_PATH + f"/{pages - 1}.html"))

    # Keyboard: Tab from the last card goes to the pager (with a visible focus ring); Tab on to
    # "Next" and Enter opens page 2.
    visit(page, paged_site, LISTING_PATH + ".html")
    page.locator("main ul.cards > li").last.get_by_role("link").focus()
    in_pager = "() => !!document.activeElement?.closest('nav.pager')"
    page.keyboard.press("Tab")
    assert page.evaluate(in_pager), "Tab after the last card does not reach the pager"
    ring = page.evaluate("() => getComputedStyle(document.activeElement).outlineStyle")
    assert ring not in ("none", ""), f"no visible focus on the pager link: outline {ring}"
    for _ in range(pages + 1):
        if page.evaluate("() => document.activeElement.textContent.trim()") == "Next":
            break
        page.keyboard.press("Tab")
        assert page.evaluate(in_pager), "Tab left the pager before reaching Next"
    else:
        pytest.fail("Tab never reached the pager's Next link")
    page.keyboard.press("Enter")
    page.wait_for_url(_url(LISTING_PATH + "/2.html"))
    _clean(page)


# ---- 3. search --------------------------------------------------------------------------------


RESULT_LINKS = "#search .pagefind-ui__result-link"
FILTERS = {"Resource type", "Topic", "Region", "Organisation", "Year"}


def _no_csp_errors(page) -> None:
    csp = [m for m in log_of(page).console_errors if "Content Security Policy" in m]
    assert not csp, csp
    _clean(page)


def _result_titles(page) -> list[str]:
    return [t.strip() for t in page.locator(RESULT_LINKS).all_inner_texts()]


def _wait_for_results(page) -> None:
    expect(page.locator(RESULT_LINKS).first).to_be_visible()


def test_search_filter_by_type_then_find_an_entry_by_a_word_of_its_summary(page, browser_site):
    visit(page, browser_site, "/browse/type/guide.html")
    guides = {t for t, _ in _cards(page)}
    assert guides

    visit(page, browser_site, "/search.html")
    box = page.locator("#search input.pagefind-ui__search-input")
    box.click()
    box.press_sequentially("governance")
    _wait_for_results(page)
    expect(page.locator("#search .pagefind-ui__message")).to_contain_text("governance")
    before = _result_titles(page)
    assert guides <= set(before) and len(before) > len(guides), before
    names = {n.strip() for n in page.locator("#search .pagefind-ui__filter-name").all_inner_texts()}
    assert names == FILTERS, names
    # Filtering by a facet value narrows the results to that type, and unfiltering restores them.
    block = page.locator("#search details.pagefind-ui__filter-block").filter(
        has=page.locator("summary", has_text=re.compile(r"^\s*Resource type\s*$"))
    )
    block.locator("summary").click()
    checkbox = block.get_by_role("checkbox", name=re.compile(r"^Guide \(\d+\)$"))
    label = block.locator("label").filter(has_text=re.compile(r"^Guide \("))
    assert label.inner_text().strip() == f"Guide ({len(guides)})"
    checkbox.click()
    expect(checkbox).to_be_checked()
    expect(page.locator(RESULT_LINKS)).to_have_count(len(guides))
    assert set(_result_titles(page)) == guides, _result_titles(page)
    checkbox.click()
    expect(checkbox).not_to_be_checked()
    expect(page.locator(RESULT_LINKS)).to_have_count(len(before))

    # A word found in one entry's summary only: that entry, and its link opens it.
    box.fill("")
    box.press_sequentially(WORD)
    expect(page.locator(RESULT_LINKS)).to_have_text([WORD_ENTRY])
    assert page.url.endswith(f"?q={WORD}"), page.url  # the search can be bookmarked
    assert urlsplit(page.locator(RESULT_LINKS).get_attribute("href")).path == WORD_PATH
    page.locator(RESULT_LINKS).click()
    page.wait_for_url(_url(WORD_PATH))
    assert _h1(page) == WORD_ENTRY
    _no_csp_errors(page)


# A filter chunk that arrives late: Pagefind counts a search's results per facet value from the
# chunks loaded when the search runs, and the UI keeps those counts, so the page must not let
# the first search run before every bundle's filters are in (seen as counts of 0 on a loaded
# machine before search.js waited for them).
SLOW_FILTER_CHUNKS = ("**/_pagefind/filter/*", "**/_pagefind/shard-1/filter/*")
SLOW_SECONDS = 0.3


def _slow(route) -> None:
    time.sleep(SLOW_SECONDS)  # holds Playwright's dispatcher: the chunks come one by one
    route.continue_()


def test_search_across_shards_finds_what_one_index_finds(page, browser_site, paged_site):
    seen = []
    for base in (browser_site, paged_site):
        for pattern in SLOW_FILTER_CHUNKS:
            page.route(pattern, _slow)
        visit(page, base, "/search.html?q=governance")
        _wait_for_results(page)
        message = page.locator("#search .pagefind-ui__message")
        expect(message).to_contain_text("governance")
        expect(page.locator("#search .pagefind-ui__filter-name")).to_have_count(len(FILTERS))
        # Counted once the results are shown: the counts must already be the final ones.
        facets = sorted(" ".join(label.split()) for label in
                        page.locator("#search .pagefind-ui__filter-label").all_text_contents())
        text = message.inner_text()
        for pattern in SLOW_FILTER_CHUNKS:
            page.unroute(pattern)
        visit(page, base, f"/search.html?q={WORD}")
        _wait_for_results(page)
        expect(page.locator(RESULT_LINKS)).to_have_text([WORD_ENTRY])
        seen.append((text, facets))
        _no_csp_errors(page)
    with urllib.request.urlopen(paged_site + "/_pagefind/shards.json") as response:
        assert len(json.load(response)["shards"]) >= 2
    assert seen[0] == seen[1] and seen[0][1], seen


def test_search_runs_from_the_query_string(page, browser_site):
    response = visit(page, browser_site, f"/search.html?q={WORD}")
    # The policy the CSP checks rely on is on (served by `kgpub serve`).
    assert "script-src 'self'" in response.headers["content-security-policy"], response.headers
    _wait_for_results(page)
    expect(page.locator(RESULT_LINKS)).to_have_text([WORD_ENTRY])
    expect(page.locator("#search input.pagefind-ui__search-input")).to_have_value(WORD)
    _no_csp_errors(page)


def test_french_search_links_to_french_pages(page, browser_site):
    visit(page, browser_site, f"/fr/search.html?q={WORD}")
    _wait_for_results(page)
    link = page.locator(RESULT_LINKS)
    expect(link).to_have_count(1)
    assert urlsplit(link.get_attribute("href")).path == "/fr" + WORD_PATH
    link.click()
    page.wait_for_url(_url("/fr" + WORD_PATH))
    expect(page.locator("html")).to_have_attribute("lang", "fr")
    assert _h1(page) == WORD_ENTRY
    _no_csp_errors(page)


# ---- 4. languages -----------------------------------------------------------------------------


def _switch(page, name: str, lang: str, path: str) -> None:
    languages = page.locator("header.site nav.languages")
    link = languages.get_by_role("link", name=name, exact=True)
    expect(link).to_have_attribute("hreflang", lang)
    # The switch and <link rel=alternate hreflang> agree.
    alternate = page.locator(f"head link[rel=alternate][hreflang={lang}]")
    assert alternate.evaluate("l => l.href") == link.evaluate("a => a.href")
    link.click()
    page.wait_for_url(_url(path))
    expect(page.locator("html")).to_have_attribute("lang", lang)
    current = page.locator("nav.languages [aria-current=page]")
    expect(current).to_have_text(name)
    expect(current).to_have_attribute("hreflang", lang)


def test_language_switch_on_an_entry(page, browser_site):
    visit(page, browser_site, ENTRY_PATH)
    expect(page.locator("html")).to_have_attribute("lang", "en")

    _switch(page, "Français", "fr", "/fr" + ENTRY_PATH)
    site_nav = page.locator("header.site nav.site-nav")
    expect(site_nav.get_by_role("link", name="Rechercher", exact=True)).to_be_visible()
    expect(site_nav.get_by_role("link", name="Parcourir", exact=True)).to_be_visible()
    expect(page.locator("nav.breadcrumbs li").first).to_have_text("Accueil")
    # The title is English data on a French page: it says so.
    assert _h1(page) == ENTRY
    expect(page.locator("h1 [lang]")).to_have_attribute("lang", "en")
    expect(page.locator("section.cite h2")).not_to_have_text("Cite this")

    _switch(page, "Español", "es", "/es" + ENTRY_PATH)
    expect(site_nav.get_by_role("link", name="Buscar", exact=True)).to_be_visible()
    expect(page.locator("h1 [lang]")).to_have_attribute("lang", "en")

    _switch(page, "English", "en", ENTRY_PATH)
    expect(site_nav.get_by_role("link", name="Search", exact=True)).to_be_visible()
    assert page.locator("h1 [lang]").count() == 0
    _clean(page)


# ---- 5. search without JavaScript --------------------------------------------------------------


def test_search_page_without_javascript_offers_the_listings(nojs_page, browser_site):
    page = nojs_page
    visit(page, browser_site, "/search.html")
    # (Playwright's text selectors skip <noscript>, so a CSS one.)
    notice = page.locator("main noscript p")
    expect(notice).to_be_visible()
    expect(notice).to_contain_text("Search needs JavaScript")
    assert page.locator("#search").inner_html().strip() == ""
    links = page.locator("section.search-browse a")
    hrefs = [a.evaluate("a => a.href") for a in links.all()]
    assert len(hrefs) >= 5, hrefs
    for href in hrefs:
        assert page.request.get(href).status == 200, href
    links.filter(has_text=re.compile(r"^Resource types$")).click()
    page.wait_for_url(_url("/browse/types.html"))
    assert _h1(page) == "Resource types"
    _clean(page)


# ---- 6. axe-core and phones on the new page types -------------------------------------------


NEW_PAGES = {
    "browse-index": ("browser_site", "/browse/index.html"),
    "browse-a-z": ("browser_site", "/browse/a-z.html"),
    "browse-types": ("browser_site", "/browse/types.html"),
    "listing-with-pager": ("paged_site", LISTING_PATH + "/2.html"),
    "search-results": ("browser_site", "/search.html?q=social"),
    "fr-entry": ("browser_site", "/fr" + ENTRY_PATH),
    "es-topic": ("browser_site", "/es" + TOPIC_PATH),
}


def _open_new_page(pg, request, name: str) -> None:
    fixture, path = NEW_PAGES[name]
    visit(pg, request.getfixturevalue(fixture), path)
    if name == "search-results":
        _wait_for_results(pg)
        assert len(_result_titles(pg)) >= 2
    elif name == "listing-with-pager":
        expect(pg.locator("nav.pager")).to_be_visible()


# Site bugs found by these tests: page name -> reason (a strict xfail each, so fixing the page
# makes the test fail until its entry is removed here).
AXE_KNOWN: dict[str, str] = {}  # page -> known violation (xfail, strict) while it is fixed


def _axe_param(name: str):
    if name not in AXE_KNOWN:
        return name
    return pytest.param(name, marks=pytest.mark.xfail(strict=True, reason=AXE_KNOWN[name]))


@pytest.mark.parametrize("name", [_axe_param(n) for n in NEW_PAGES])
def test_no_serious_axe_violations_on_new_pages(page, request, name):
    _open_new_page(page, request, name)
    violations = axe_violations(page, impacts=("serious", "critical"))
    assert not violations, f"{name} ({NEW_PAGES[name][1]}): {violations}"
    _clean(page)


@pytest.mark.parametrize("name", NEW_PAGES)
def test_new_pages_do_not_scroll_sideways_on_a_phone(phone_page, request, name):
    _open_new_page(phone_page, request, name)
    overflow = sideways_scroll(phone_page)
    assert overflow is None, f"{name} ({NEW_PAGES[name][1]}) at 375 px: {overflow}"


# ---- 7. print ---------------------------------------------------------------------------------


def test_print_stylesheet_hides_the_site_navigation(page, browser_site):
    visit(page, browser_site, ENTRY_PATH)
    expect(page.locator("header.site nav").first).to_be_visible()
    page.emulate_media(media="print")
    navs = page.locator("header.site nav")
    assert navs.count() == 2
    for i in range(navs.count()):
        expect(navs.nth(i)).to_be_hidden()
    expect(page.locator("h1")).to_be_visible()
    expect(page.locator("section.cite p.reference")).to_be_visible()
    page.emulate_media(media="screen")
    expect(navs.first).to_be_visible()


# ---- 8. page weight ---------------------------------------------------------------------------


MAX_HTML_BYTES = 100_000


def _sitemap_paths(base_url: str) -> list[str]:
    with urllib.request.urlopen(base_url + "/sitemap.xml", timeout=10) as r:
        root = ElementTree.fromstring(r.read())
    ns = "{http://www.sitemaps.org/schemas/sitemap/0.9}"
    locs = [e.text.strip() for e in root.iter(f"{ns}loc")]
    assert locs and all(loc.startswith(BASE) for loc in locs), locs[:3]
    return ["/" + loc.removeprefix(BASE) for loc in locs if loc.endswith(".html")]


@pytest.mark.parametrize("fixture", ["browser_site", "paged_site"])
def test_every_html_page_weighs_less_than_100_kb(request, fixture):
    base_url = request.getfixturevalue(fixture)
    paths = _sitemap_paths(base_url)
    if fixture == "paged_site":  # what this site adds to the other one: more listing pages
        paths = [p for p in paths if "/browse/" in p]
        needed = [LISTING_PATH + "/2.html", "/fr" + LISTING_PATH + "/4.html"]
    else:
        needed = ["/index.html", "/browse/index.html", "/browse/a-z.html", "/browse/types.html",
                  LISTING_PATH + ".html", "/search.html", "/fr/search.html", ENTRY_PATH,
                  TOPIC_PATH, "/fr" + ENTRY_PATH, "/es" + TOPIC_PATH]
    missing = [p for p in needed if p not in paths]
    assert not missing, f"not in the sitemap: {missing}"
    heavy = []
    for path in paths:
        with urllib.request.urlopen(base_url + path, timeout=10) as response:
            assert response.status == 200, path
            assert response.headers["content-type"].startswith("text/html"), path
            size = len(response.read())
        if size >= MAX_HTML_BYTES:
            heavy.append(f"{path}: {size} bytes")
    assert not heavy, "\n".join(heavy)
