"""Reach: how far from a focus node the shapes read, so that after an edit only the focus nodes
whose result can have changed are validated again, on the part of the graph that decides them.

A SHACL Core result about a focus node depends on the focus node's own statements (its targets:
sh:targetClass, sh:targetSubjectsOf), on the statements of the nodes its property paths reach
(value nodes, their classes for sh:class, nested shapes through sh:node, sh:property,
sh:qualifiedValueShape, sh:or...) and on the ontology (rdfs:subClassOf, always validated whole).
The shapes' depth is the longest chain of path steps; a step along sh:zeroOrMorePath or
sh:oneOrMorePath costs nothing, since it can be taken any number of times, and so does one along
rdf:type or rdfs:subClassOf (a class and its superclasses are read by targets and sh:class, and
may be described in the data). A focus node's result
can then change only when a subject that changed is reachable from it within that depth: those are
found backwards from the changed subjects, and validated on the statements of the nodes reachable
from them within the depth, which are all their results read.

What this does not cover gives None (validate everything): paths read backwards
(sh:inversePath), targets that are not the focus node's own statements (sh:targetObjectsOf,
sh:targetNode), shapes that nest without end, anything outside SHACL Core.
"""

from __future__ import annotations

from collections import defaultdict, deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pyoxigraph as ox

SH = "http://www.w3.org/ns/shacl#"
RDF_FIRST = "http://www.w3.org/1999/02/22-rdf-syntax-ns#first"
RDF_REST = "http://www.w3.org/1999/02/22-rdf-syntax-ns#rest"
RDF_NIL = "http://www.w3.org/1999/02/22-rdf-syntax-ns#nil"
# Shapes applied to the same node (the focus or a value node): no step along the graph.
_SAME_NODE = ("node", "not", "qualifiedValueShape")
_LISTS = ("or", "and", "xone")
# Whatever the shapes say with these, the dependencies are not the focus node's neighbourhood.
_UNCOVERED = {SH + p for p in ("inversePath", "targetObjectsOf", "targetNode", "sparql",
                               "target", "rule", "select", "ask", "js", "jsFunctionName")}
_STAR = (SH + "zeroOrMorePath", SH + "oneOrMorePath")
# Targets and sh:class read a node's classes and their superclasses: free steps, so that a
# class described in the data, or its rdfs:subClassOf, reaches every instance.
CLASS_STEPS = frozenset({"http://www.w3.org/1999/02/22-rdf-syntax-ns#type",
                         "http://www.w3.org/2000/01/rdf-schema#subClassOf"})


@dataclass(frozen=True)
class Reach:
    depth: int  # the most path steps a result reads from its focus node
    free: frozenset[str]  # predicates a path may follow any number of times


class _Unbounded(Exception):
    """The shapes nest without end, or use what the analysis does not cover."""


def reach(shapes: Iterable[ox.Triple]) -> Reach | None:
    """How far the shapes read from a focus node, or None when that cannot be told."""
    about: dict[Any, dict[str, list[Any]]] = defaultdict(lambda: defaultdict(list))
    for t in shapes:
        if t.predicate.value in _UNCOVERED:
            return None
        about[t.subject][t.predicate.value].append(t.object)
    free: set[str] = set()

    def items(node: Any) -> list[Any]:  # an RDF list's members
        out, seen = [], set()
        while isinstance(node, ox.BlankNode | ox.NamedNode) and node.value != RDF_NIL:
            if node in seen:
                raise _Unbounded
            seen.add(node)
            out += about[node].get(RDF_FIRST, [])
            node = next(iter(about[node].get(RDF_REST, [])), None)
        return out

    def path_length(path: Any) -> int:
        if isinstance(path, ox.NamedNode):
            return 1
        props = about[path]
        for star in _STAR:
            for inner in props.get(star, []):
                if not isinstance(inner, ox.NamedNode):
                    raise _Unbounded  # a repeated complex path: its steps are not known
                free.add(inner.value)
                return 0
        for inner in props.get(SH + "zeroOrOnePath", []):
            return path_length(inner)
        for alternatives in props.get(SH + "alternativePath", []):
            return max((path_length(p) for p in items(alternatives)), default=0)
        if RDF_FIRST in props:  # a sequence
            return sum(path_length(p) for p in items(path))
        raise _Unbounded

    def depth(shape: Any, stack: tuple = ()) -> int:
        if shape in stack or len(stack) > 32:
            raise _Unbounded
        stack += (shape,)
        props = about.get(shape, {})
        found = 0
        for name in _SAME_NODE:
            for nested in props.get(SH + name, []):
                found = max(found, depth(nested, stack))
        for name in _LISTS:
            for members in props.get(SH + name, []):
                for nested in items(members):
                    found = max(found, depth(nested, stack))
        for prop in props.get(SH + "property", []):
            found = max(found, depth(prop, stack))
        for path in props.get(SH + "path", []):
            found += path_length(path)
        return found

    try:
        deepest = max((depth(s) for s in list(about)), default=0)
    except _Unbounded:
        return None
    return Reach(deepest, frozenset(free) | CLASS_STEPS)


# subject -> property -> objects; object IRI -> (subject, property) of what links to it
Statements = Callable[[str], Mapping[str, Sequence[Any]]]
LinksTo = Callable[[str], Sequence[tuple[str, str]]]


def affected(changed: Iterable[str], links_to: LinksTo, shape_reach: Reach) -> set[str]:
    """The nodes whose results can have changed: those from which a changed subject is
    reachable within the shapes' depth (found backwards, along what links to each)."""
    return _within(changed, shape_reach, links_to)


def neighbourhood(focus: Iterable[str], statements: Statements, shape_reach: Reach) -> set[str]:
    """The nodes reachable from the focus nodes within the shapes' depth: whose statements
    decide their results."""
    def forward(node: str):
        for p, objects in statements(node).items():
            for o in objects:
                if type(o) is ox.NamedNode:
                    yield o.value, p
    return _within(focus, shape_reach, forward)


def _within(start: Iterable[str], shape_reach: Reach, steps) -> set[str]:
    # Fewest counted steps to each node (a step along a free predicate costs none): 0-1 BFS.
    best = dict.fromkeys(start, 0)
    todo = deque(best)
    while todo:
        node = todo.popleft()
        here = best[node]
        for other, p in steps(node):
            cost = here + (0 if p in shape_reach.free else 1)
            if cost <= shape_reach.depth and cost < best.get(other, shape_reach.depth + 1):
                best[other] = cost
                if cost == here:
                    todo.appendleft(other)
                else:
                    todo.append(other)
    return set(best)
