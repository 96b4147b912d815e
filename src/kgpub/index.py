"""Index: the view render code reads the published graph through, recording what it reads.

Knows which IRIs are published (every subject under the base), what kind each is, its label in
a language, and its RDF description, over a Graph (kgpub.graph: the statements by subject and by
object). Every read is recorded while a recording is open (Index.recording): an incremental
build renders a page again only when something the page read changed (kgpub.incremental), so a
read that escaped recording would give a stale rebuild, silently. Hence renderers receive an
Index and never the Graph, which it keeps private; the build's own machinery, which must read
without recording, holds the Graph (Index.over makes the view).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property, lru_cache
from typing import Any
from unicodedata import normalize

import pyoxigraph as ox

from .config import Project
from .graph import DCT as DCT
from .graph import FOAF as FOAF
from .graph import ORG as ORG
from .graph import OWL as OWL
from .graph import RDF as RDF
from .graph import RDF_TYPE as RDF_TYPE
from .graph import RDFS as RDFS
from .graph import SKOS as SKOS
from .graph import STANDARD_PREFIXES as STANDARD_PREFIXES
from .graph import VOID as VOID
from .graph import XSD as XSD
from .graph import Graph
from .layout import RESERVED, entity_path, remove_dot_segments
from .load import Sources

_NONE: dict[str, list[Any]] = {}  # the statements of a subject the graph does not have



@dataclass(frozen=True)
class Label:
    text: str
    lang: str | None


class Index:
    """A recording view over a Graph: what render code reads the graph through."""

    def __init__(self, project: Project, sources: Sources,
                 derived: list[ox.Triple] | None = None):
        """A view over a new Graph of the sources (derived: kgpub.graph.Graph)."""
        self._bind(Graph(project, sources, derived))

    @classmethod
    def over(cls, graph: Graph) -> Index:
        """A view over a graph the caller keeps (the build reads it unrecorded too)."""
        view = cls.__new__(cls)
        view._bind(graph)
        return view

    def _bind(self, graph: Graph) -> None:
        self.project = graph.project
        self.base = graph.base
        self.vocab = graph.vocab
        self.ontology_iri = graph.ontology_iri
        self.prefixes = graph.prefixes
        # Where a thing's name is found, in order of preference ([site] label_properties).
        self.label_properties = graph.project.label_properties
        self._graph = graph
        self._out = graph._out
        self._inc = graph._inc
        self._kinds: dict[str, str] = {}
        self._subclasses: dict[tuple[str, str], bool] = {}  # (class, class) -> _subclass
        # While a page is rendered, the keys of everything it reads (IRIs whose triples it used,
        # incoming_key(iri) for what links to an IRI, navigation keys from kgpub.browse): an
        # incremental build renders a page again only when one of them changed
        # (kgpub.incremental). None: nothing is recorded.
        self.seen: set | None = None

    # ---- dependency recording -----------------------------------------------------------------

    def note(self, key) -> None:
        if self.seen is not None:
            self.seen.add(key)

    def note_all(self, keys: Iterable) -> None:
        if self.seen is not None:
            self.seen.update(keys)

    @contextmanager
    def recording(self) -> Iterator[set]:
        """Record what is read inside the block into a new set (also kept by an enclosing
        recording)."""
        outer, self.seen = self.seen, set()
        try:
            yield self.seen
        finally:
            inner, self.seen = self.seen, outer
            if outer is not None:
                outer.update(inner)

    # ---- the whole graph ------------------------------------------------------------------------

    @property
    def triples(self) -> list[ox.Triple]:
        """Every statement (a read of the whole graph: any edit may change what uses it)."""
        self.note(EVERYTHING)
        return self._graph.triples

    def statements(self) -> Iterator[tuple[str, Mapping[str, Sequence]]]:
        """Every subject (IRIs and blank node labels) with its properties and their values, in
        one pass (a read of the whole graph)."""
        self.note(EVERYTHING)
        return iter(self._out.items())

    # ---- what is published -----------------------------------------------------------------

    @property
    def entities(self) -> list[str]:
        """Every IRI under the base that is described, except vocabulary terms (they live in the
        ontology document, behind its hash namespace). A list over the whole graph."""
        self.note(EVERYTHING)
        return self._entities

    @cached_property
    def _entities(self) -> list[str]:
        found = {
            s
            for s in self._out
            if s.startswith(self.base) and len(s) > len(self.base) and "#" not in s
        }
        found.add(self.ontology_iri)
        return sorted(found)

    def is_published(self, iri: str) -> bool:
        self.note(iri)
        return iri in self._entity_set

    @cached_property
    def _entity_set(self) -> frozenset[str]:
        return frozenset(self._entities)

    def path(self, iri: str) -> str:
        """The document path (without suffix) of an IRI under the base: {base}topic/x -> topic/x.
        Vocabulary terms resolve to the ontology document (kgpub.layout.entity_path)."""
        return entity_path(iri, self.base, self.vocab)

    def iri_for_path(self, path: str) -> str:
        return self.base + path

    def types(self, iri: str) -> list[str]:
        self.note(iri)
        return [o.value for o in self._out.get(iri, _NONE).get(RDF_TYPE, [])]

    def has_type(self, iri: str, cls: str) -> bool:
        return any(self._specialises(t, cls) for t in self.types(iri))

    def _specialises(self, sub: str, sup: str) -> bool:
        # Asked for every entity's every type by kind(): answered once per pair of classes.
        pair = (sub, sup)
        found = self._subclasses.get(pair)
        if found is None:
            found = self._subclasses[pair] = self._subclass(sub, sup)
        return found

    def _subclass(self, sub: str, sup: str, seen: frozenset = frozenset()) -> bool:
        # Not recorded: the class hierarchy is the ontology's, whose change means a full build.
        if sub == sup:
            return True
        if sub in seen:
            return False
        return any(
            self._subclass(o.value, sup, seen | {sub})
            for o in self._out.get(sub, _NONE).get(RDFS + "subClassOf", [])
        )

    def is_subclass(self, sub: str, sup: str) -> bool:
        """sub is sup or below it along rdfs:subClassOf (cycles cut); the classes read are
        recorded, as values() records them."""
        seen, stack = set(), [sub]
        while stack:
            node = stack.pop()
            if node == sup:
                return True
            if node not in seen:
                seen.add(node)
                stack.extend(o.value for o in self.values(node, RDFS + "subClassOf"))
        return False

    def kind(self, iri: str) -> str:
        """A coarse kind that picks the page template."""
        self.note(iri)
        if iri not in self._kinds:
            self._kinds[iri] = self._kind(iri)
        return self._kinds[iri]

    def _kind(self, iri: str) -> str:
        if iri == self.ontology_iri:
            return "ontology"
        v = self.vocab
        checks = (
            (v + "Topic", "topic"),
            (v + "ResourceEntry", "entry"),
            (v + "ResourceType", "type"),
            (SKOS + "ConceptScheme", "scheme"),
            (FOAF + "Agent", "agent"),
            (FOAF + "Person", "agent"),
            (FOAF + "Organization", "agent"),
            (DCT + "Location", "place"),
            (FOAF + "Image", "image"),
            (v + "Instrument", "instrument"),
            (v + "Initiative", "initiative"),
        )
        types = self.types(iri)
        for cls, kind in checks:
            if any(self._specialises(t, cls) for t in types):
                return kind
        return "thing"

    def of_kind(self, kind: str) -> list[str]:
        self.note(EVERYTHING)  # a list over the whole graph: any edit may change it
        return [e for e in self.entities if self.kind(e) == kind]

    def subjects(self) -> list[str]:
        """Every subject of the graph (IRIs and blank node labels)."""
        self.note(EVERYTHING)
        return list(self._out)

    # ---- values and labels ------------------------------------------------------------------

    def values(self, iri: str, prop: str) -> list:
        if self.seen is not None:
            self.seen.add(iri)
        return self._out.get(iri, _NONE).get(prop, [])

    def predicates(self, iri: str) -> list[str]:
        """The properties iri has values for, in source order."""
        self.note(iri)
        return list(self._out.get(iri, _NONE))

    def value(self, iri: str, prop: str):
        vals = self.values(iri, prop)
        return vals[0] if vals else None

    def text(self, iri: str, prop: str, lang: str) -> Label | None:
        """The literal of prop in lang, else in the default language, else untagged, else any."""
        return pick_lang(
            [v for v in self.values(iri, prop) if isinstance(v, ox.Literal)],
            lang,
            self.project.default_language,
        )

    def label(self, iri: str, lang: str) -> Label:
        for prop in self.label_properties:
            found = self.text(iri, prop, lang)
            if found:
                return found
        return Label(fallback_name(iri), None)

    def is_tombstone(self, iri: str) -> bool:
        """A withdrawn entity: kept in the data with owl:deprecated true (and, if it has a
        successor, dcterms:isReplacedBy), so its IRI answers 410 Gone or 301 instead of 404."""
        return any(
            isinstance(v, ox.Literal) and v.value in ("true", "1")
            for v in self.values(iri, OWL + "deprecated")
        )

    def replacement(self, iri: str) -> str | None:
        v = self.value(iri, DCT + "isReplacedBy")
        return v.value if isinstance(v, ox.NamedNode) else None

    @property
    def live_entries(self) -> list[str]:
        """The entries that are not withdrawn. A list over the whole graph."""
        self.note(EVERYTHING)
        return self._live_entries

    @cached_property
    def _live_entries(self) -> list[str]:
        return [e for e in self._entities if self.kind(e) == "entry" and not self.is_tombstone(e)]

    def has_label(self, iri: str) -> bool:
        return any(self.values(iri, p) for p in self.label_properties)

    def incoming(self, iri: str, prop: str | None = None) -> list[str]:
        found = [s for s, p in self._inc.get(iri, []) if prop is None or p == prop]
        if self.seen is not None:  # what links to iri, and each of those
            self.seen.add(incoming_key(iri, prop))
            self.seen.update(found)
        return found

    # ---- RDF descriptions ---------------------------------------------------------------------

    def description(self, iri: str) -> list[ox.Triple]:
        """An entity's document: its own triples (following its blank nodes) plus the labels
        and types of what it links to, so a client can show it without further requests.
        The ontology's document is the whole vocabulary."""
        if iri == self.ontology_iri:
            # What is derived about the vocabulary's subjects may follow from the data (a
            # scheme's top concepts): an incremental build renders it again when that changes.
            self.note_all(self._graph.ontology_subjects)
            return list(self._graph.ontology_triples)
        triples: list[ox.Triple] = []
        seen_nodes: set[str] = set()
        linked: set[str] = set()
        stack = [iri]
        while stack:
            node = stack.pop()
            if node in seen_nodes:
                continue
            seen_nodes.add(node)
            self.note(node)
            subject = ox.BlankNode(node) if _is_bnode_id(node) else ox.NamedNode(node)
            for p, objs in self._out.get(node, _NONE).items():
                for o in objs:
                    triples.append(ox.Triple(subject, ox.NamedNode(p), o))
                    if isinstance(o, ox.BlankNode):
                        stack.append(o.value)
                    elif isinstance(o, ox.NamedNode) and o.value != iri:
                        linked.add(o.value)
        for other in sorted(linked):
            target = ox.NamedNode(other)
            for prop in self.label_properties:
                for v in self.values(other, prop):
                    triples.append(ox.Triple(target, ox.NamedNode(prop), v))
        return triples


# The key noted by a page that reads a list over the whole graph (kgpub.incremental renders such
# pages again after any edit).
EVERYTHING = "*"


def incoming_key(iri: str, prop: str | None = None) -> str:
    """The key noted when a page reads what links to iri (through prop, or any property);
    the IRI itself is the key of what iri says."""
    return f"in\t{iri}\t{prop}" if prop else "in\t" + iri


def _is_bnode_id(node: str) -> bool:
    return ":" not in node


def pick_lang(literals: list, lang: str, default: str) -> Label | None:
    if not literals:
        return None
    for wanted in (lang, default, None):
        for lit in literals:
            if (lit.language or None) == wanted:
                return Label(lit.value, lit.language)
    lit = min(literals, key=lambda x: (x.language or "", x.value))
    return Label(lit.value, lit.language)


def fallback_name(iri: str) -> str:
    """A readable name for an unlabelled IRI (validation makes this rare): its last segment."""
    tail = iri.rstrip("/").rsplit("/", 1)[-1].rsplit("#", 1)[-1]
    return tail.replace("-", " ").replace("_", " ") or iri


# ---- which IRIs can be published as files (`kgpub validate` and the build ask the same) -------

# An entity's path P becomes files P.html, P.jsonld... and folders (browse/P/, fr/P.html): each
# segment a file name with a suffix (".jsonld", 7 bytes, is the longest) or a folder's. Most file
# systems allow 255 bytes a name: a segment may have 200, a margin for longer suffixes. A whole
# path stays far under PATH_MAX (4096) with the output directory and a language folder in front.
MAX_SEGMENT_BYTES = 200
MAX_PATH_BYTES = 1000
# Paths the site itself uses (an entity there would be overwritten by the home page, a dump...):
# kgpub.layout.RESERVED, derived from the site's own paths (layout.SITE_WIDE).
# Characters no file of the site can be found by, and why.
_UNSAFE = {
    "%": "a percent-encoded character: the server decodes an address before it looks for the "
         "file, so a file named with '%' is never found",
    "?": "a query ('?'), which is never part of a file's address",
    "\\": "a backslash, a folder separator on Windows, which the server refuses",
    **{c: f"{c!r}, which Windows does not allow in file names" for c in ':*"<>|'},
}
_PLAIN = re.compile(r"[a-z0-9_-]+(?:/[a-z0-9_-]+)*")  # the usual path: lower-case slugs
_SLUG_FIX = "Use a slug of lower-case letters, digits and hyphens, e.g. <{base}resource/my-entry>."


@dataclass(frozen=True)
class PathProblem:
    """Why an IRI cannot be published as files: what is wrong, the fix, the rule's name."""

    message: str
    fix: str
    rule: str


def path_problem(iri: str, base: str, languages: tuple[str, ...] = ()) -> PathProblem | None:
    """Why the IRI, an entity under the base, cannot be published as the files Index.path
    names (P.html, P.ttl..., browse/P.html, fr/P.html), or None when it can. `kgpub validate`
    refuses what this refuses, and the build refuses it in the same words (kgpub.validate.
    unpublishable_problems). languages: the site's; the others' pages live under 'fr/'..."""
    path = iri[len(base):]
    if len(path) <= MAX_SEGMENT_BYTES and _PLAIN.fullmatch(path):
        return _reserved(path, languages)  # the usual slugs: only the reserved names to check
    segments = path.split("/")
    dots = [s for s in segments if s in (".", "..")]
    if dots:
        resolved, outside = remove_dot_segments(segments)
        if outside:
            where = "outside the site"
        elif resolved == "" or resolved.endswith("/"):
            where = (f"as <{base}{resolved}>, a folder: its files would be hidden ones "
                     f"('{path}.html'...) that no link reaches")
        else:
            where = f"as <{base}{resolved}>, its files written over that address's"
        return PathProblem(
            f"The IRI's path {path!r} has a {dots[0]!r} segment, which browsers and the build "
            f"resolve: it would be published {where}.",
            "Write the IRI without '.' or '..' segments, as a slug under topic/, resource/, "
            "agent/ or place/.",
            "kgpub:UnpublishablePath")
    if "" in segments:
        if path.endswith("/") and "" not in segments[:-1]:
            return PathProblem(
                f"The IRI's path {path!r} ends with '/': its files would be named "
                f"'{path}.html', '{path}.ttl'..., hidden files in a folder that no link reaches.",
                f"Remove the '/' at the end: <{base}{path.rstrip('/')}>.",
                "kgpub:UnpublishablePath")
        return PathProblem(
            f"The IRI's path {path!r} has an empty segment ('//' or a leading '/'): its files "
            "would be written where another address is served.",
            "Remove the extra '/'.", "kgpub:UnpublishablePath")
    reserved = _reserved(path, languages)
    if reserved:
        return reserved
    hidden = next((s for s in segments if s.startswith(".")), None)
    if hidden:
        return PathProblem(
            f"The IRI's path {path!r} has a segment starting with '.' ({hidden!r}): the site "
            "does not serve hidden files, so its pages could not be reached.",
            "Start each segment of the slug with a letter or a digit.", "kgpub:UnpublishablePath")
    unsafe = next((c for c in path if c in _UNSAFE), None)
    if unsafe:
        return PathProblem(f"The IRI's path {path!r} contains {_UNSAFE[unsafe]}.",
                           _SLUG_FIX.format(base=base), "kgpub:UnpublishablePath")
    for segment in segments:
        size = len(segment.encode("utf-8", "surrogatepass"))
        if size > MAX_SEGMENT_BYTES:
            return PathProblem(
                f"A segment of the IRI's path is {size} bytes long ({segment[:40]!r}...): at "
                f"most {MAX_SEGMENT_BYTES} bytes can be published, since its files' names add a "
                "suffix (e.g. '.jsonld') and most file systems allow 255 bytes a name.",
                f"Shorten the slug to at most {MAX_SEGMENT_BYTES} bytes (a few words of the "
                "title are enough).", "kgpub:UnpublishablePath")
    size = len(path.encode("utf-8", "surrogatepass"))
    if size > MAX_PATH_BYTES:
        return PathProblem(
            f"The IRI's path is {size} bytes long: at most {MAX_PATH_BYTES} bytes can be "
            "published as files.", "Shorten the path: fewer or shorter segments.",
            "kgpub:UnpublishablePath")
    return None


def path_key(path: str) -> str:
    """Paths with the same key are one file on macOS and Windows, whose file systems ignore
    case (and, on macOS, how a character is composed)."""
    if path.isascii():
        return path.lower()
    return normalize("NFC", normalize("NFC", path).casefold())


def _reserved(path: str, languages: tuple[str, ...]) -> PathProblem | None:
    # The pages of the site's other languages live under their codes: 'fr/', 'es/'. Compared
    # without case: 'Index.html' is 'index.html' on macOS and Windows.
    folded = path.lower()
    reserved, stems = _reserved_paths(languages)
    if not folded.startswith(stems):  # every clash starts with a stem: one call for most
        return None
    # a folder and what is in it; a file's name with any suffix ("index.html", "sitemap-2.xml")
    clash = next((r for r in reserved if folded == r.rstrip("/") or folded.startswith(
        r if r.endswith("/") else (r + "-", r + "."))), None)
    if clash is None:
        return None
    return PathProblem(
        f"The IRI's path {path!r} is reserved for the site's own files ({clash}).",
        "Give the entity another slug, e.g. under topic/, resource/, agent/ or place/.",
        "kgpub:ReservedPath")


@lru_cache(maxsize=8)
def _reserved_paths(languages: tuple[str, ...]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    reserved = RESERVED + tuple(f"{lang.lower()}/" for lang in languages[1:])
    return reserved, tuple(r.rstrip("/") for r in reserved)
