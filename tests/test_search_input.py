"""What a page sends Pagefind (kgpub.search_input): only the parts it reads, and the index
byte-identical to the one of whole pages, on the bundled site, on a generated project and on
adversarial pages (each either extracted or sent whole, as expected)."""

from __future__ import annotations

from pathlib import Path

import pytest

from kgpub.search import build_search_index, is_searchable
from kgpub.search_input import searchable_part
from kgtest import bench_generator

HEAD = ('<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n<title>{title}</title>\n'
        '<link rel="stylesheet" href="style.css">\n'
        '<script type="application/ld+json">{{"name": "x < y"}}</script>\n'
        '<meta data-pagefind-filter="Topic[content]" content="{title}">\n</head>\n<body>\n')
TAIL = "<footer><p>footerword</p></footer>\n</body>\n</html>\n"


def page(body: str, *, title: str = "A page", head: str = HEAD, tail: str = TAIL) -> str:
    return head.format(title=title) + body + tail


PLAIN_BODY = ('<header><p class="brand"><a href="index.html">navword</a></p></header>\n'
              '<main id="main" data-pagefind-body>\n<h1>Title {n}</h1>\n'
              '<p>bodyword {n} caf\u00e9 &amp; <span data-pagefind-meta="kind">Article</span></p>\n'
              "</main>\n")

# (name, page, extracted): extracted False means the page must be sent whole.
CASES = [
    ("plain", page(PLAIN_BODY.format(n=1)), True),
    ("upper-case", page('<MAIN DATA-PAGEFIND-BODY><H1>Upper</H1><p>upperword</p></MAIN>'), True),
    ("div-body", page('<main><div class="x" data-pagefind-body><h1>Div</h1><p>divword</p></div>'
                      "<p>mainonlyword</p></main>"), True),
    ("title-meta", page(PLAIN_BODY.format(n=2),
                        head=HEAD.replace("<title>", '<title data-pagefind-meta="title">')), True),
    ("no-doctype", page(PLAIN_BODY.format(n=3), head=HEAD.replace("<!DOCTYPE html>\n", "")), True),
    ("script-in-body", page('<main data-pagefind-body><h1>S</h1><script>var a = "x";</script>'
                            "<p>scriptbodyword</p></main>"), True),
    ("nested-main", page('<main data-pagefind-body><h1>N</h1><main><p>innerword</p></main>'
                         "<p>outerword</p></main>"), False),
    ("filter-outside", page('<div data-pagefind-filter="Colour">red</div>'
                            + PLAIN_BODY.format(n=4)), False),
    ("meta-outside", page('<p data-pagefind-meta="extra">outsidemeta</p>'
                          + PLAIN_BODY.format(n=5)), False),
    ("meta-after-body", page(PLAIN_BODY.format(n=6),
                             tail='<meta data-pagefind-filter="Late[content]" content="late">'
                                  + TAIL), False),
    ("ignore-ancestor", page('<div data-pagefind-ignore><main data-pagefind-body><h1>I</h1>'
                             "<p>ignoredword</p></main></div>"), False),
    ("h1-outside", page('<header><h1>Site h1</h1></header><main data-pagefind-body>'
                        "<p>noh1word</p></main>"), False),
    ("img-outside", page('<img src="logo.png" alt="Logo">' + PLAIN_BODY.format(n=7)), False),
    ("comment", page("<!-- <main data-pagefind-body> -->" + PLAIN_BODY.format(n=8)), False),
    ("commented-body", page('<!-- x --><div><main data-pagefind-body><p>cword</p></main></div>'),
     False),
    ("end-in-attribute", page('<main data-pagefind-body><h1>E</h1><a title="</main>">link</a>'
                              "<p>afterattrword</p></main>"), False),
    ("end-in-script", page('<main data-pagefind-body><h1>E</h1><script>"</main>"</script>'
                           "<p>afterscriptword</p></main>"), False),
    ("body-in-quotes", page("<main title='a data-pagefind-body b'><h1>Q</h1><p>quoteword</p>"
                            "</main>"), False),
    ("two-bodies", page('<div data-pagefind-body><p>firstword</p></div>'
                        '<div data-pagefind-body><p>secondword</p></div>'), False),
    ("unclosed", page('<main data-pagefind-body><h1>U</h1><p>unclosedword</p>'), False),
    ("self-closing", page('<main data-pagefind-body/><h1>SC</h1><p>selfword</p>'), False),
    ("gt-in-attribute", page('<p title="a > b">x</p>' + PLAIN_BODY.format(n=9)), False),
    ("textarea", page('<textarea><main data-pagefind-body></textarea><main><p>t</p></main>'),
     False),
    ("template", page("<template><p>tpl</p></template>" + PLAIN_BODY.format(n=10)), False),
    ("script-comment", page("<script><!-- <script> </script>" + PLAIN_BODY.format(n=11)), False),
    ("body-in-script", page('<script>"<main data-pagefind-body>"</script><main>'
                            "<p>scriptmainword</p></main>"), False),
    ("svg", page('<svg><title>t</title></svg>' + PLAIN_BODY.format(n=12)), False),
]


def same_index(site: Path, pages: list[str] | None = None, **options) -> None:
    """The bundles of the parts and of the whole pages are byte-identical."""
    parts = build_search_index(site, pages, **options)
    whole = build_search_index(site, pages, whole_pages=True, **options)
    assert parts.pages > 0
    assert [p for p, _ in parts.files] == [p for p, _ in whole.files]
    for (path, a), (_, b) in zip(parts.files, whole.files, strict=True):
        assert a == b, f"{path} differs when pages are sent in part"


@pytest.mark.parametrize(("name", "html", "extracted"), CASES, ids=[c[0] for c in CASES])
def test_extracted_or_whole(name, html, extracted):
    data = html.encode()
    part = searchable_part(data)
    assert (part != data) is extracted, name
    if extracted:
        assert b"footerword" not in part and b"navword" not in part and b"ld+json" not in part
        assert part.startswith((b"<!DOCTYPE html>\n<html lang", b'<html lang="en">'))


def test_adversarial_pages_same_index(tmp_path):
    for name, html, _ in CASES:
        (tmp_path / f"{name}.html").write_text(html, encoding="utf-8")
    same_index(tmp_path)


def test_bundled_site_same_index_and_extracted(built_site):
    pages = [p.relative_to(built_site).as_posix() for p in sorted(built_site.rglob("*.html"))]
    searchable = [p for p in pages if is_searchable(p, (built_site / p).read_bytes())]
    whole = [p for p in searchable
             if searchable_part((built_site / p).read_bytes()) == (built_site / p).read_bytes()]
    assert len(searchable) >= 10 and not whole, f"sent whole: {whole[:5]}"
    same_index(built_site, searchable)


def test_generated_project_same_index(tmp_path):
    from kgpub.build import build
    from kgpub.config import load_project

    bench_generator().generate(120, tmp_path / "project", seed=7)
    out = tmp_path / "site"
    build(load_project(tmp_path / "project"), out, workers=1)
    same_index(out, shard_pages=100)  # several shards, as a large site has
