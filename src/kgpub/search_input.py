"""What a page sends Pagefind: only the parts Pagefind reads, when that is certain.

Of a page with a ``data-pagefind-body`` element Pagefind reads ``<html lang>``, the
``data-pagefind-*`` attributes (the metas in ``<head>``, anything inside the body element), the
body element's content and, for its default metadata, the first ``<h1>`` and ``<img>``. The rest
(the JSON-LD, the links of ``<head>``, the site's header, navigation and footer: half of an
entry's bytes) only costs Pagefind time to parse. ``searchable_part`` sends ``<html ...>``, the
``<title>`` and ``<meta>`` tags before the body element, and that element, copied byte for byte;
and the whole page whenever it cannot be sure that this is all Pagefind would read:

* the page is not made only of text, tags whose attribute values hold no ``<`` or ``>`` and are
  quoted only right after ``=``, and ``<script>``/``<style>`` without ``<!--``: a comment, CDATA,
  ``<textarea>``, ``<svg>``... (anything the HTML tokenizer could read otherwise than a scan for
  ``<`` and ``>``) means the whole page;
* the body element is not the only start and end tag of its name, or is a void element;
* a ``data-pagefind`` attribute, an ``<h1>`` or an ``<img>`` is outside the body element and
  the metas kept (the words counted in the bytes, wherever they are).

The whole page is always a correct answer: the extraction must never change the index, which
the tests check on whole sites and on adversarial pages (bundles byte-identical either way).
"""

from __future__ import annotations

import re

_WS = rb"[ \t\n\r\f]"
# A tag: "<name" or "</name", then attributes whose values are quoted only right after "=" (where
# HTML starts a quoted value) and hold no "<" or ">", so the tag ends at its first ">" for this
# scan and for an HTML tokenizer alike.
_VALUE = rb"""(?:"[^"<>]*+"|'[^'<>]*+'|[^<>"'=` \t\n\r\f]++)"""
_TAG = (rb"</?[a-zA-Z][^<>\"'=]*+(?:=" + _WS + rb"*+" + _VALUE + rb"[^<>\"'=]*+)*+>")
_PLAIN = re.compile(rb"(?:[^<]++|" + _TAG + rb")*+")
# Elements whose content is not read as tags (or, svg and math, is read otherwise), and the
# markup a plain scan would misread.
_SPECIAL = re.compile(rb"<(?:[!?]|t(?:extarea|emplate)|xmp|iframe|no(?:embed|frames|script)"
                      rb"|plaintext|svg|math)")
_RAW = (b"script", b"style")
_MARK = b"data-pagefind"
_KEPT = re.compile(rb"<meta[ \t\n\r\f/][^>]*+>|<title[ \t\n\r\f>][^<]*+</title" + _WS + rb"*+>")
_DEFAULT_META = re.compile(rb"<(?:h1|img)[ \t\n\r\f/>]")
_VOID = {b"area", b"base", b"br", b"col", b"embed", b"hr", b"img", b"input", b"link", b"meta",
         b"source", b"track", b"wbr", b"html", b"head", b"body", b"title", b"script", b"style"}
_DOCTYPE = b"<!doctype html>"


def searchable_part(page: bytes) -> bytes:
    """The part of a page Pagefind reads, as a page of its own; the page itself when unsure."""
    part = _extract(page)
    return page if part is None else part


def _extract(page: bytes) -> bytes | None:
    low = page.lower()
    doctype = len(_DOCTYPE) if low.startswith(_DOCTYPE) else 0
    if _SPECIAL.search(low, doctype) or low.count(_MARK + b"-body") != 1:
        return None
    raw = _raw_texts(low, doctype)
    if raw is None or not _plain(page, doctype, raw):
        return None
    if any(_MARK in low[a:b] or _DEFAULT_META.search(low, a, b) for a, b in raw):
        return None
    body = _body(low, low.index(_MARK + b"-body"), raw)
    html = _open(low, b"html", doctype)
    if body is None or html < 0 or low[doctype:html].strip() or low.count(b"<html") != 1:
        return None
    start, end = body
    html_end = low.index(b">", html) + 1
    kept = [m for m in _KEPT.finditer(low, html_end, start) if not _within(m.start(), raw)]
    inside = sum(low.count(_MARK, m.start(), m.end()) for m in kept) + low.count(_MARK, start, end)
    if low.count(_MARK) != inside:
        return None  # a data-pagefind attribute outside the body and the metas kept
    if len(_DEFAULT_META.findall(low)) != len(_DEFAULT_META.findall(low, start, end)):
        return None  # Pagefind's default title and image may come from outside the body
    head = b"".join(page[m.start():m.end()] for m in kept)
    return (page[:html_end] + b"<head>" + head + b"</head><body>" + page[start:end]
            + b"</body></html>")


def _raw_texts(low: bytes, pos: int) -> list[tuple[int, int]] | None:
    """Where the contents of script and style elements are (their text is not markup), or None
    when one has no end or holds "<!--" (which can move its end)."""
    spans = []
    while True:
        found = [(i, name) for name in _RAW if (i := _open(low, name, pos)) >= 0]
        if not found:
            return spans
        at, name = min(found)
        start = low.find(b">", at) + 1
        end = _close(low, name, start)
        if start == 0 or end < 0 or low.find(b"<!--", start, end) >= 0:
            return None
        spans.append((start, end))
        pos = end


def _open(low: bytes, name: bytes, pos: int) -> int:
    return _tag_at(low, b"<" + name, pos)


def _close(low: bytes, name: bytes, pos: int) -> int:
    return _tag_at(low, b"</" + name, pos)


def _tag_at(low: bytes, head: bytes, pos: int) -> int:
    """The first "<name" (or "</name") at or after pos that is that tag, not a longer name."""
    while (i := low.find(head, pos)) >= 0:
        if low[i + len(head): i + len(head) + 1] in (b" ", b"\t", b"\n", b"\r", b"\f", b"/", b">"):
            return i
        pos = i + 1
    return -1


def _plain(page: bytes, pos: int, raw: list[tuple[int, int]]) -> bool:
    """Whether the page outside the raw texts is only text and plain tags."""
    for start, end in [*raw, (len(page), len(page))]:
        if _PLAIN.fullmatch(page, pos, start) is None:
            return False
        pos = end
    return True


def _body(low: bytes, mark: int, raw: list[tuple[int, int]]) -> tuple[int, int] | None:
    """Where the element carrying data-pagefind-body starts and ends, when it is the only start
    and end tag of its name and data-pagefind-body is one of its attribute names."""
    lt = low.rfind(b"<", 0, mark)
    gt = low.find(b">", mark)
    name = re.match(rb"<([a-z][a-z0-9-]*+)" + _WS, low[lt:gt + 1])
    if lt < 0 or name is None or name.group(1) in _VOID or low[gt - 1: gt] == b"/":
        return None
    # An attribute name: after white space, before white space, "=", "/" or ">"; and not
    # inside a quoted value (the tag's quotes before it are balanced).
    before = low[lt:mark]
    if (not re.match(rb"data-pagefind-body(?:[ \t\n\r\f=/>])", low[mark:gt + 1])
            or low[mark - 1: mark] not in (b" ", b"\t", b"\n", b"\r", b"\f")
            or before.count(b'"') % 2 or before.count(b"'") % 2):
        return None
    tag = name.group(1)
    end = _close(low, tag, gt)
    if (_open(low, tag, lt + 1) >= 0 or _open(low, tag, 0) != lt or end < 0
            or _close(low, tag, end + 1) >= 0 or _close(low, tag, 0) != end
            or _within(end, raw)):
        return None
    close = low.find(b">", end)
    if re.fullmatch(rb"</" + tag + _WS + rb"*+>", low[end:close + 1]) is None:
        return None
    return lt, close + 1


def _within(pos: int, spans: list[tuple[int, int]]) -> bool:
    return any(a <= pos < b for a, b in spans)
