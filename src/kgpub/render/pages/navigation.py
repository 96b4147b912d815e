"""Where a page is: breadcrumbs, the chain of broader topics, and the topic tree."""

from __future__ import annotations

from ...index import SKOS
from ...layout import HOME, html_page
from .view import Context, Value, View

MAX_DEPTH = 10  # of the topic tree: a cycle of skos:broader cannot make it endless


def crumbs(v: View, page: str, *trail: Value) -> list[Value]:
    """Home, then the trail (the current page last, without a link)."""
    return [v.page_link(page, HOME, v._("Home")), *trail]


def topics_link(v: View, page: str) -> Value:
    """The topic index: the topic scheme's page."""
    return v.page_link(page, topic_index_key(v), v._("Topics"))


def topic_index_key(v: View) -> str:
    return html_page(v.index.path(v.project.topic_scheme))


def topic_chain(v: View, page: str, topic: str, *, link_last: bool) -> list[Value]:
    """Topics › broader ... › topic, following the first skos:broader at each step."""
    chain, seen, node = [topic], {topic}, topic
    while True:
        broader = [o.value for o in v.index.values(node, SKOS + "broader")]
        if not broader or broader[0] in seen:
            break
        node = broader[0]
        seen.add(node)
        chain.append(node)
    items = [v.link(page, t) for t in reversed(chain)]
    if not link_last:
        last = items[-1]
        items[-1] = Value(last.text, None, last.lang)
    return [topics_link(v, page), *items]


def narrower(v: View, topic: str) -> list[str]:
    return v.by_label(v.index.incoming(topic, SKOS + "broader"))


def tree(v: View, page: str, topics: list[str], depth: int = 0) -> list[Context]:
    return [
        {
            "link": v.link(page, t),
            "count": v.browse.count(t),
            "children": tree(v, page, narrower(v, t), depth + 1) if depth < MAX_DEPTH else [],
        }
        for t in v.by_label(topics)
    ]


def top_topics(v: View) -> list[str]:
    """The topic scheme's top concepts ([site] topic_scheme)."""
    return v.index.incoming(v.project.topic_scheme, SKOS + "topConceptOf")
