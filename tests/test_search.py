"""The Pagefind search index (kgpub.search) on a small hand-made site in English and French:
the bundle's files, what is and is not indexed, facets, byte-identical output, errors, and
(when node is installed) real queries through Pagefind's own search engine."""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from kgpub import search
from kgpub.errors import KgpubError
from kgpub.search import SEARCH_DIR, SearchIndex, _canonical, _uncbor, build_search_index

NODE = shutil.which("node")
FILTERS = ["organisation", "region", "topic", "type", "year"]


def page(
    lang: str, title: str, body: str, filters: dict[str, list[str]], *, searchable=True
) -> str:
    """A page as the templates write it: facets and title as metas in <main>."""
    metas = "".join(
        f'<meta data-pagefind-filter="{name}[content]" content="{value}">'
        for name, values in filters.items()
        for value in values
    )
    body_attr = " data-pagefind-body" if searchable else ""
    return (
        f'<!doctype html>\n<html lang="{lang}"><head><meta charset="utf-8"><title>{title} | Site'
        f"</title></head><body><nav><a href='/'>Home navigation</a></nav>"
        f'<main id="main"{body_attr}>{metas}<meta data-pagefind-meta="title[content]" '
        f'content="{title}"><h1>{title}</h1>{body}</main><footer>Footer words</footer></body></html>'
    )


HOSTILE = (
    '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>x</title>'
    "<script>var s = '</main><main data-pagefind-body>quokkaonly'; alert(1)</script></head>"
    '<body><main data-pagefind-body><meta data-pagefind-filter="type[content]" '
    'content="Odd &quot;type&quot; &lt;b&gt; &amp; ünïcødé, comma"><h1>Hostile 🦜 ‮page</h1>'
    "<p>hostileword naïve café \u00a0 \u200b zero\u200bwidth &lt;script&gt;alert(2)&lt;/script&gt;"
    " ,,, ;;; \\ \" ' ` {{ }} ${x} 中文字符 العربية</p>"
    "<script>document.write('quokkaonly')</script><style>.x{content:'styleonlyword'}</style>"
    "<!-- <main data-pagefind-body>commentonlyword</main> -->"
    "<p>" + "longword" * 200 + "</p></main></body></html>"
)

# site-relative path -> HTML
PAGES = {
    "index.html": page("en", "Home", "<p>Welcome homepage</p>", {}, searchable=False),
    "about.html": page("en", "About", "<p>zanzibarique is only here</p>", {}, searchable=False),
    "search.html": page("en", "Search", "<p>Type words</p>", {}, searchable=False),
    "resource/pensions.html": page(
        "en",
        "Pension reform in Kenya",
        "<p>Pension coverage for informal workers expanded.</p>",
        {
            "type": ["Expert commentary"],
            "topic": ["Pensions", "Informal economy"],
            "region": ["Africa"],
            "organisation": ["ILO"],
            "year": ["2021"],
        },
    ),
    "resource/health/index.html": page(
        "en",
        "Health insurance",
        "<p>Universal health insurance and pension links.</p>",
        {"type": ["Report"], "topic": ["Health"], "region": ["Asia"], "year": ["2019"]},
    ),
    "resource/hostile.html": HOSTILE,
    "resource/escaped.html": page(
        "en", "Escaped", "<p>&lt;div data-pagefind-body&gt; escapedword</p>", {}, searchable=False
    ),
    "fr/index.html": page("fr", "Accueil", "<p>Bienvenue</p>", {}, searchable=False),
    "fr/resource/pensions.html": page(
        "fr",
        "Réforme des retraites au Kenya",
        "<p>La couverture des retraites des travailleurs informels.</p>",
        {"type": ["Commentaire d'expert"], "topic": ["Retraites"], "year": ["2021"]},
    ),
    "fr/resource/health/index.html": page(
        "fr",
        "Assurance maladie",
        "<p>Assurance maladie universelle et retraites.</p>",
        {"type": ["Rapport"], "topic": ["Santé"], "year": ["2019"]},
    ),
    "_assets/style.css": "body{}",
    ".kgpub/hidden.html": page("en", "Hidden", "<p>hiddenword</p>", {}),
}
SEARCHABLE = {
    "/resource/pensions.html",
    "/resource/health/",
    "/resource/hostile.html",
    "/fr/resource/pensions.html",
    "/fr/resource/health/",
}


def write_site(root: Path, reverse=False) -> Path:
    items = sorted(PAGES.items(), reverse=reverse)  # creation order: readdir order on tmpfs
    for path, html in items:
        target = root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(html, encoding="utf-8")
    return root


def listing(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def unframe(content: bytes) -> bytes:
    """An index file's payload: "pagefind_dcd" then the data, gzipped or (the files kgpub
    rewrites) not."""
    if not content.startswith(b"pagefind_dcd"):
        content = gzip.decompress(content)
    assert content.startswith(b"pagefind_dcd")
    return content[len(b"pagefind_dcd") :]


def fragments(index: SearchIndex) -> dict[str, dict]:
    """url -> the page's record (JSON)."""
    out = {}
    for path, content in index.files:
        if path.endswith(".pf_fragment"):
            record = json.loads(unframe(content))
            out[record["url"]] = record
    return out


def entry(index: SearchIndex) -> dict:
    return json.loads(dict(index.files)[f"{SEARCH_DIR}/pagefind-entry.json"])


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    return write_site(tmp_path_factory.mktemp("site"))


@pytest.fixture(scope="module")
def built(site) -> SearchIndex:
    before = listing(site)
    index = build_search_index(site)
    assert listing(site) == before, "build_search_index wrote into the site"
    return index


def test_bundle_files(built):
    index = built
    paths = [p for p, _ in index.files]
    assert paths == sorted(paths) and len(set(paths)) == len(paths)
    assert all(p.startswith(f"{SEARCH_DIR}/") for p in paths)
    for name in (
        "pagefind-entry.json",
        "pagefind.js",
        "pagefind-worker.js",
        "pagefind-ui.js",
        "pagefind-ui.css",
        "wasm.en.pagefind",
        "wasm.fr.pagefind",
    ):
        assert f"{SEARCH_DIR}/{name}" in paths
    assert all(isinstance(c, bytes) and c for _, c in index.files)
    assert not any(".." in p or "playground" in p for p in paths)


def test_entry_lists_languages_and_pages(built):
    index = built
    assert index.languages == ["en", "fr"]
    assert index.pages == len(SEARCHABLE) == 5
    data = entry(index)
    assert data["version"] == "1.5.2"
    assert list(data["languages"]) == ["en", "fr"]  # sorted, as written (determinism)
    assert {k: v["page_count"] for k, v in data["languages"].items()} == {"en": 3, "fr": 2}


def test_indexed_pages_facets_and_titles(built):
    index = built
    pages = fragments(index)
    assert set(pages) == SEARCHABLE
    pension = pages["/resource/pensions.html"]
    assert pension["meta"]["title"] == "Pension reform in Kenya"
    assert sorted(pension["filters"]) == FILTERS
    assert pension["filters"]["topic"] == ["Pensions", "Informal economy"]  # multi-valued
    assert pages["/fr/resource/health/"]["filters"]["topic"] == ["Santé"]
    # Only <main> is indexed: not the navigation nor the footer.
    assert "navigation" not in pension["content"] and "Footer" not in pension["content"]
    names = set()
    for path, content in index.files:
        if path.endswith(".pf_meta"):
            names |= {n for n in FILTERS if n.encode() in unframe(content)}
    assert names == set(FILTERS)


def test_pages_without_body_are_not_indexed(built):
    index = built
    pages = fragments(index)
    everything = " ".join(p["content"] for p in pages.values())
    for word in ("zanzibarique", "homepage", "escapedword", "hiddenword", "Bienvenue"):
        assert word not in everything
    assert "/about.html" not in pages and "/resource/escaped.html" not in pages


def test_hostile_page(built):
    index = built
    hostile = fragments(index)["/resource/hostile.html"]
    text = hostile["content"]
    assert "hostileword" in text and "naïve café" in text and "中文字符" in text
    for word in ("quokkaonly", "styleonlyword", "commentonlyword"):
        assert word not in text
    assert hostile["filters"]["type"] == ['Odd "type" <b> & ünïcødé, comma']


def sha1_name(payload: bytes, length: int) -> str:
    """Pagefind's naming: SHA-1 bytes as unpadded hex, cut."""
    return "".join(f"{b:x}" for b in hashlib.sha1(payload).digest())[:length]


def test_rewritten_files_sorted_and_named_by_content(built):
    """The files kgpub rewrites for determinism: filter values and filters in sorted order,
    each file named by its content as Pagefind names files, the entry pointing at them."""
    index = built
    files = dict(index.files)
    for lang, info in entry(index)["languages"].items():
        meta_path = f"{SEARCH_DIR}/pagefind.{info['hash']}.pf_meta"
        payload = unframe(files[meta_path])
        assert info["hash"] == f"{lang}_{sha1_name(payload, len(lang) + 8)}"
        meta, _ = _uncbor(payload, 0)
        assert [name for name, _ in meta[3]] == sorted(FILTERS if lang == "en" else FILTERS[2:])
        for name, chunk in meta[3]:
            body = unframe(files[f"{SEARCH_DIR}/filter/{chunk}.pf_filter"])
            assert chunk == f"{lang}_{sha1_name(body, 7)}"
            filter_name, values = _uncbor(body, 0)[0]
            assert filter_name == name
            assert [v[0] for v in values] == sorted(v[0] for v in values)
    referenced = {
        f"{SEARCH_DIR}/filter/{chunk}.pf_filter"
        for lang in ("en", "fr")
        for _, chunk in _uncbor(
            unframe(
                files[f"{SEARCH_DIR}/pagefind.{entry(index)['languages'][lang]['hash']}.pf_meta"]
            ),
            0,
        )[0][3]
    }
    assert referenced == {p for p in files if p.startswith(f"{SEARCH_DIR}/filter/")}


def test_unexpected_layout_is_an_error(built):
    files = {p.removeprefix(f"{SEARCH_DIR}/"): c for p, c in built.files}
    meta = next(p for p in files if p.endswith(".pf_meta"))
    with pytest.raises(KgpubError, match=r"not laid out as kgpub expects.*1\.5\.2"):
        _canonical({**files, meta: b"pagefind_dcd\xff"})
    with pytest.raises(KgpubError, match="not laid out as kgpub expects"):
        _canonical({p: c for p, c in files.items() if p != meta})


def test_no_searchable_page(tmp_path):
    (tmp_path / "index.html").write_text(PAGES["index.html"], encoding="utf-8")
    index = build_search_index(tmp_path)
    assert (index.pages, index.languages) == (0, [])
    assert f"{SEARCH_DIR}/pagefind-ui.js" in dict(index.files)
    assert entry(index)["languages"] == {}


def test_deterministic_across_directories_and_order(built, tmp_path):
    """Another directory, pages created in the reverse order (on tmpfs, where that reverses
    the directory listing, when there is one) and another process with another hash seed."""
    index = built
    other = build_search_index(write_site(tmp_path / "elsewhere" / "deeper", reverse=True))
    assert other.files == index.files
    if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK):
        with tempfile.TemporaryDirectory(dir="/dev/shm") as shm:
            assert build_search_index(write_site(Path(shm), reverse=True)).files == index.files
    code = (
        "import hashlib, json, sys, pathlib\n"
        "from kgpub.search import build_search_index\n"
        "i = build_search_index(pathlib.Path(sys.argv[1]))\n"
        "print(json.dumps([[p, hashlib.sha256(c).hexdigest()] for p, c in i.files]))\n"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    out = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path / "elsewhere" / "deeper")],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    assert json.loads(out) == [[p, hashlib.sha256(c).hexdigest()] for p, c in index.files]


def test_runs_inside_an_event_loop(tmp_path):
    write_site(tmp_path)

    async def main():
        return build_search_index(tmp_path)

    assert asyncio.run(main()).pages == 5


def test_missing_binary(tmp_path, monkeypatch):
    monkeypatch.setenv("PAGEFIND_BINARY_PATH", str(tmp_path / "no-pagefind"))
    with pytest.raises(KgpubError, match=r"Pagefind binary was not found.*pagefind\[bin\]"):
        build_search_index(tmp_path)


def test_failing_binary(tmp_path, monkeypatch):
    fake = tmp_path / "pagefind"
    fake.write_text("#!/bin/sh\necho 'exploded, sorry' >&2\nexit 3\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PAGEFIND_BINARY_PATH", str(fake))
    write_site(tmp_path / "site")
    with pytest.raises(KgpubError, match=r"Pagefind failed.*exploded, sorry"):
        build_search_index(tmp_path / "site")


def test_not_a_directory(tmp_path):
    with pytest.raises(KgpubError, match="not a directory"):
        build_search_index(tmp_path / "nothing")


# ---- real queries with Pagefind's own search engine (pagefind.js + WebAssembly) in node ----

# pagefind.js fetches its files: served here from the disk. Without a window it searches in the
# main thread (no worker); its language is <html lang>, faked through `document`.
QUERY_JS = r"""
import { readFile } from "node:fs/promises";
import { pathToFileURL } from "node:url";
const [root, lang, queries] = [process.argv[2], process.argv[3], JSON.parse(process.argv[4])];
globalThis.document = { currentScript: null, querySelector: () => ({ getAttribute: () => lang }) };
globalThis.fetch = async (url) => {
  const path = root + String(url).replace(/^[a-z]+:\/\/[^/]+/, "").split("?")[0];
  const buf = await readFile(path);
  const body = buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength);
  return { ok: true, status: 200, arrayBuffer: async () => body,
           json: async () => JSON.parse(buf.toString("utf8")) };
};
const pagefind = await import(pathToFileURL(root + "/_pagefind/pagefind.js").href);
await pagefind.options({ basePath: "/_pagefind/" });
// What the search page does (static/search.js): merge the shards listed in shards.json.
const { shards } = JSON.parse(await readFile(root + "/_pagefind/shards.json", "utf8"));
for (const dir of shards) await pagefind.mergeIndex("/_pagefind/" + dir);
const out = { filters: await pagefind.filters(), results: [] };
for (const [term, filters] of queries) {
  const search = await pagefind.search(term || null, { filters });
  const data = await Promise.all(search.results.map((r) => r.data()));
  out.results.push(data.map((d) => d.url).sort());
}
console.log(JSON.stringify(out));
"""


@pytest.fixture(scope="module")
def bundle_dir(built, tmp_path_factory) -> Path:
    index = built
    root = tmp_path_factory.mktemp("bundle")
    for path, content in index.files:
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_bytes(content)
    (root / "query.mjs").write_text(QUERY_JS, encoding="utf-8")
    return root


def query(root: Path, lang: str, queries: list) -> dict:
    result = subprocess.run(
        [NODE, str(root / "query.mjs"), str(root), lang, json.dumps(queries)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return json.loads(result.stdout)


@pytest.mark.skipif(NODE is None, reason="node is not installed: queries not run")
def test_query_english(bundle_dir):
    out = query(
        bundle_dir,
        "en",
        [
            ["pension", {}],
            ["pension", {"type": "Report"}],
            ["", {"region": "Africa"}],
            ["hostileword", {}],
            ["quokkaonly", {}],  # (Pagefind also finds words that begin a query's word)
            ["zanzibarique", {}],
            ["retraites", {}],
        ],
    )
    assert out["results"] == [
        ["/resource/health/", "/resource/pensions.html"],
        ["/resource/health/"],
        ["/resource/pensions.html"],
        ["/resource/hostile.html"],
        [],
        [],
        [],  # French pages are in the French index only
    ]
    assert sorted(out["filters"]) == FILTERS
    assert out["filters"]["topic"] == {"Pensions": 1, "Informal economy": 1, "Health": 1}


@pytest.mark.skipif(NODE is None, reason="node is not installed: queries not run")
def test_query_french(bundle_dir):
    out = query(bundle_dir, "fr", [["retraites", {}], ["assurance", {"year": "2019"}]])
    assert out["results"] == [
        ["/fr/resource/health/", "/fr/resource/pensions.html"],
        ["/fr/resource/health/"],
    ]
    assert out["filters"]["type"] == {"Commentaire d'expert": 1, "Rapport": 1}


@pytest.fixture(scope="module")
def sharded(site, tmp_path_factory) -> tuple[SearchIndex, Path]:
    """The same pages split into shards of at most two pages."""
    index = build_search_index(site, shard_pages=2)
    root = tmp_path_factory.mktemp("sharded")
    for path, content in index.files:
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_bytes(content)
    (root / "query.mjs").write_text(QUERY_JS, encoding="utf-8")
    return index, root


def test_shards_split_the_pages_and_are_listed(sharded, built, site):
    index, root = sharded
    assert index.shards == 3 and index.pages == built.pages == len(SEARCHABLE)
    listed = json.loads((root / SEARCH_DIR / search.SHARDS_FILE).read_bytes())["shards"]
    assert listed == [search.shard_dir(i) for i in (1, 2)
                      if (root / SEARCH_DIR / f"shard-{i}").is_dir()]
    per_shard = {}
    for path, _ in index.files:
        per_shard.setdefault(search.shard_of_file(path), []).append(path)
    assert set(per_shard) == {None, 0, *(int(d[6:-1]) for d in listed)}
    # Indexing one shard again gives exactly that shard's files.
    again = build_search_index(site, only={0}, shard_pages=2)
    assert [p for p, _ in again.files if search.shard_of_file(p) is not None] == sorted(per_shard[0])


@pytest.mark.skipif(NODE is None, reason="node is not installed: queries not run")
def test_query_across_shards(site, tmp_path):
    """Searching the merged shards finds what one index finds. (A site's index holds its
    default language's pages only, so every shard has the one language, as here.)"""
    english = sorted(p.relative_to(site).as_posix() for p in site.rglob("*.html")
                     if not p.relative_to(site).as_posix().startswith("fr/"))
    roots = []
    for name, size in (("one", 100), ("sharded", 2)):
        index = build_search_index(site, [p for p in english if _is_page(site, p)],
                                   shard_pages=size)
        root = tmp_path / name
        for path, content in index.files:
            (root / path).parent.mkdir(parents=True, exist_ok=True)
            (root / path).write_bytes(content)
        (root / "query.mjs").write_text(QUERY_JS, encoding="utf-8")
        roots.append(root)
    assert json.loads((roots[1] / SEARCH_DIR / search.SHARDS_FILE).read_bytes())["shards"]
    queries = [["pension", {}], ["pension", {"type": "Report"}], ["", {"region": "Africa"}],
               ["hostileword", {}]]
    one, merged = (query(root, "en", queries) for root in roots)
    assert merged["results"] == one["results"] and one["results"][0]
    assert merged["filters"] == one["filters"]


def _is_page(site: Path, page: str) -> bool:
    return search.is_searchable(page, (site / page).read_bytes())
