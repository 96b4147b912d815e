"""Incremental: which parts of a site a rebuild must render again, from what the last build read.

While a build renders a unit of work (an entity's files, or one listing page in every
language) it records the keys of what the rendering read through its view of the graph
(kgpub.index.Index, which records every read; kgpub.graph is read unrecorded only here): the IRIs
whose triples it used, and navigation keys (kgpub.browse.nav_key) whose value Browse can
digest. The build keeps those keys, a digest of each source file, of each subject's triples
in each data file and of each navigation key in ``.kgpub/build-state.json`` (not served).

Statements the build derives (kgpub.entail: a topic's skos:narrower, a scheme's
skos:hasTopConcept...) are not in any file: the state keeps a digest of each subject's derived
statements too, and a subject whose derived statements changed is dirty like an edited one (a
topic moved under another broader topic makes the old and the new broader topic dirty).

The next build compares. Subjects whose triples changed are dirty, and so is what links to
the IRIs they now link to (a page that read what links to an IRI noted every IRI it was
given, so a link removed is found by its subject), and every navigation key whose digest
changed; a unit is rendered again only when it read a dirty key, or is new. Anything else that can change every page (the configuration,
ontology or shapes, the set of source files, kgpub or the libraries that write the files)
makes it a full build.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
from array import array
from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib.metadata import version
from importlib.resources import files
from pathlib import Path

import pyoxigraph as ox

from .browse import Browse
from .config import Project
from .graph import RDF_TYPE, Graph
from .index import EVERYTHING, incoming_key
from .layout import BUILD_STATE
from .load import Sources

STATE = BUILD_STATE  # kgpub.layout
FORMAT = 2
# Unit names: "e\t<iri>" (an entity), "l\t<listing key>\t<n>" (a listing page), and three
# units written by every build: the site-wide files, the search index and the caches.
SITE, SEARCH = "s\tsite", "s\tsearch"
CACHES = "s\tcaches"  # what the next build reuses besides this state (kgpub.validate.cache)


def entity_unit(iri: str) -> str:
    return "e\t" + iri


def listing_unit(key: str, n: int) -> str:
    return f"l\t{key}\t{n}"


@dataclass
class Unit:
    files: list[str]  # site-relative paths it wrote
    searchable: list[str]  # those of them in the search index
    read: array  # what it read: indexes into State.keys
    # As the state file holds it (files, searchable, read), when it was loaded from one:
    # written again as it is while the key table keeps its numbering (kgpub.incremental.dump).
    stored: list[str] | None = None


@dataclass
class State:
    inputs: str  # digest of everything whose change means a full build
    data: dict[str, str]  # data file -> digest of its bytes
    subjects: dict[str, dict[str, str]]  # data file -> subject -> digest of its triples there
    nav: dict[str, str]  # navigation key -> digest of its value
    derived: dict[str, str] = field(default_factory=dict)  # subject -> digest of what is
    # derived about it (kgpub.entail)
    units: dict[str, Unit] = field(default_factory=dict)
    keys: list[str] = field(default_factory=list)  # every key read, once (units hold indexes)
    ids: dict[str, int] = field(default_factory=dict)

    def add(self, name: str, files_: list[str], searchable: list[str], read: Iterable[str]) -> None:
        ids = array("I")
        for k in read:
            i = self.ids.get(k)
            if i is None:
                i = self.ids[k] = len(self.keys)
                self.keys.append(k)
            ids.append(i)
        self.units[name] = Unit(files_, searchable, ids)


def inputs_digest(project: Project, sources: Sources) -> str:
    """What every page may depend on besides the data files' content."""
    h = hashlib.blake2b(digest_size=16)
    parts = [f"format {FORMAT}", repr(dataclasses.replace(project, root=Path(".")))]
    parts += [f"{f} {d}" if f not in sources.by_file else f for f, d in sources.digests.items()]
    parts += [f"{lib} {version(lib)}" for lib in ("pyoxigraph", "jinja2", "pagefind", "Babel")]
    for part in parts:
        h.update(part.encode() + b"\0")
    package = files("kgpub")
    for path in sorted(_package_files(Path(str(package)))):
        h.update(path.as_posix().encode() + b"\0" + path.read_bytes())
    return h.hexdigest()


def _package_files(root: Path) -> Iterable[Path]:
    for path in root.rglob("*"):
        if path.is_file() and "__pycache__" not in path.parts:
            yield path


def subject_digests(triples: list[ox.Triple]) -> dict[str, str]:
    """Per subject, a digest of its triples in one file."""
    by: dict[str, list[str]] = {}
    for t in triples:
        by.setdefault(t.subject.value, []).append(str(t))  # type: ignore[union-attr]
    return {
        s: hashlib.blake2b("\n".join(sorted(lines)).encode(), digest_size=12).hexdigest()
        for s, lines in sorted(by.items())
    }


def new_state(project: Project, sources: Sources, graph: Graph, browse: Browse) -> State:
    return State(
        inputs=inputs_digest(project, sources),
        data={f: sources.digests[f] for f in sources.by_file},
        subjects={f: subject_digests(t) for f, t in sources.by_file.items()},
        nav=browse.fingerprints(),
        derived=derived_digests(graph),
    )


def derived_digests(graph: Graph) -> dict[str, str]:
    """Per subject, a digest of the statements derived about it that can change with another
    subject's statements. Derived classes are left out: they follow from the subject's own
    rdf:type and the ontology (whose change means a full build)."""
    return subject_digests([t for t in graph.derived if t.predicate.value != RDF_TYPE])


@dataclass
class Plan:
    state: State  # this build's, units still to be filled in
    render: list[str]  # units to render again (or for the first time)
    had: set[str]  # the files of the last build
    searchable: list[str]  # the pages the last build's search index has, sorted


def plan(previous: State, project: Project, sources: Sources, graph: Graph,
         browse: Browse, units: list[str]) -> Plan | None:
    """What to render again, or None when only a full build is right. units: this build's.
    graph: read unrecorded (this is the build's machinery, not a page)."""
    inputs = inputs_digest(project, sources)
    if inputs != previous.inputs or set(sources.by_file) != set(previous.data):
        return None
    state = State(inputs=inputs, data={f: sources.digests[f] for f in sources.by_file},
                  subjects=dict(previous.subjects), nav=browse.fingerprints(),
                  derived=derived_digests(graph))
    changed: set[str] = set()
    for f in sources.by_file:
        if state.data[f] == previous.data[f]:
            continue
        new, old = subject_digests(sources.by_file[f]), previous.subjects.get(f, {})
        state.subjects[f] = new
        changed |= {s for s in new.keys() | old.keys() if new.get(s) != old.get(s)}
    # What is derived about a subject can change with another subject's statements (a topic
    # moved: the old and the new broader topic's skos:narrower), wherever it is written.
    new, old = state.derived, previous.derived
    changed |= {s for s in new.keys() | old.keys() if new.get(s) != old.get(s)}
    # A page that listed what links to an IRI noted each IRI it was given: a changed subject
    # that no longer links there is found by its own key; one that now does, by the target's.
    dirty = set(changed) | ({EVERYTHING} if changed else set())
    for s in changed:
        for prop, objects in graph.statements(s).items():
            for o in objects:
                if isinstance(o, ox.NamedNode | ox.BlankNode):
                    dirty.update((incoming_key(o.value), incoming_key(o.value, prop)))
    dirty |= {k for k in state.nav.keys() | previous.nav.keys()
              if state.nav.get(k) != previous.nav.get(k)}
    dirty_ids = {previous.ids[k] for k in dirty if k in previous.ids}
    render = [u for u in units if u not in previous.units
              or not dirty_ids.isdisjoint(previous.units[u].read)]
    now = set(units) | {SITE, SEARCH, CACHES}
    state.keys, state.ids = previous.keys, previous.ids
    state.units = {u: unit for u, unit in previous.units.items() if u in now}
    return Plan(
        state=state, render=render,
        had={p for unit in previous.units.values() for p in unit.files} | {STATE},
        searchable=sorted(p for name, unit in previous.units.items() if name != SEARCH
                          for p in unit.searchable))


# ---- the state file: JSON, keys read stored once in a table and per unit as indexes ----------


def dump(state: State) -> bytes:
    used_ids: set[int] = set()
    for unit in state.units.values():
        used_ids.update(unit.read)  # C speed: a unit reads hundreds of keys
    used = sorted(used_ids, key=state.keys.__getitem__)
    # Most rebuilds read no key the last build did not: the table then keeps its numbering
    # and the units not rendered again are written as they were read.
    same = used == list(range(len(used)))
    renumber = {old: new for new, old in enumerate(used)}
    units = {}
    for name, unit in sorted(state.units.items()):
        if same and unit.stored is not None:
            units[name] = unit.stored
            continue
        read = array("I", sorted(unit.read if same else map(renumber.__getitem__, unit.read)))
        units[name] = ["\n".join(unit.files), "\n".join(unit.searchable),
                       base64.b64encode(read.tobytes()).decode("ascii")]
    doc = {"format": FORMAT, "inputs": state.inputs, "data": state.data,
           "subjects": state.subjects, "nav": state.nav, "derived": state.derived,
           "units": units,
           "keys": [state.keys[i] for i in used]}
    return json.dumps(doc, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()


def load(site: Path) -> State | None:
    """The last build's state, or None (no state, another format, unreadable)."""
    try:
        doc = json.loads((site / STATE).read_bytes())
        if doc.get("format") != FORMAT:
            return None
        keys = doc["keys"]
        units = {}
        for name, stored in doc["units"].items():
            files_, searchable, read = stored
            ids = array("I")
            ids.frombytes(base64.b64decode(read))
            if ids and max(ids) >= len(keys):
                return None
            units[name] = Unit(files_.split("\n") if files_ else [],
                               searchable.split("\n") if searchable else [], ids, stored)
        return State(inputs=doc["inputs"], data=doc["data"], subjects=doc["subjects"],
                     nav=doc["nav"], derived=doc["derived"], units=units, keys=keys,
                     ids={k: i for i, k in enumerate(keys)})
    except (OSError, ValueError, KeyError, TypeError):
        return None
