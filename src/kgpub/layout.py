"""The site contract: where each file of a built site is, and the facts the build hands the server.

Every site path kgpub writes or reads is named here, once: an entity's documents (its IRI under
the base -> a path P, then P.html, P.ttl...), the listing pages under browse/, the site-wide
files (home, 404, search page, dumps, VoID, feed, sitemaps, robots.txt, assets, the search
index) and the build's own files in .kgpub/ (never served: the static server refuses hidden
paths except .well-known/). An entity cannot take a path the site uses (RESERVED, derived from
SITE_WIDE; kgpub.index.path_problem).

What the build hands the server is typed: OAI-PMH records (HarvestRecord) and sets
(kgpub.oaipmh.OaiSet), tombstones (Tombstone) and build facts (BuildFacts), each with the
function that writes it (to bytes: kgpub.render.meta_files) and the one that reads it back
(kgpub.server). Both sides use these, so the files' format lives in one place.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .formats import DUMP_FORMATS, HTML, Format

if TYPE_CHECKING:  # imported when read (kgpub.oaipmh needs lxml: the CLI starts without it)
    from .oaipmh import OaiSet

# ---- entity documents ---------------------------------------------------------------------------


ONTOLOGY = "ontology"  # the vocabulary's one document ({base}ontology#Term)


def entity_path(iri: str, base: str, vocab: str) -> str:
    """The document path (without suffix) of an IRI under the base: {base}topic/x -> topic/x.
    Vocabulary terms (under vocab, a hash namespace) resolve to the ontology document."""
    if iri.startswith(vocab):
        return ONTOLOGY
    return iri[len(base):]


def document(path: str, fmt: Format) -> str:
    """An entity's document in a format: topic/x -> topic/x.ttl."""
    return path + fmt.suffix


def html_page(path: str) -> str:
    """An entity's page: topic/x -> topic/x.html."""
    return path + HTML.suffix


BIBTEX = ".bib"  # an entry's citations, beside its documents
RIS = ".ris"
CITATION_SUFFIXES = (BIBTEX, RIS)


def language_prefix(lang: str, languages: tuple[str, ...]) -> str:
    """Where a language's pages live: '' for the default language, 'fr/' for French..."""
    return "" if lang == languages[0] else f"{lang}/"


# ---- pages of the site --------------------------------------------------------------------------

HOME = "index.html"
NOT_FOUND = "404.html"
SEARCH_PAGE = "search.html"
BROWSE = "browse/"  # listing pages and the facets' pages
BROWSE_INDEX = BROWSE + "index.html"
AZ = BROWSE + "a-z.html"


def listing_page(key: str, n: int) -> str:
    """A listing's page n: browse/type/report.html, then browse/type/report/2.html..."""
    return f"{BROWSE}{key}.html" if n == 1 else f"{BROWSE}{key}/{n}.html"


def facet_page(name: str) -> str:
    """A facet's page of values: browse/types.html..."""
    return f"{BROWSE}{name}.html"


# ---- site-wide files ----------------------------------------------------------------------------

ASSETS = "_assets"  # kgpub/static/, copied as is
STYLESHEET = f"{ASSETS}/style.css"
RDF_WRAPPER = f"{ASSETS}/rdf-wrapper.xsd"  # the OAI-PMH `rdf` format's schema
SEARCH_DIR = "_pagefind"  # the search index (kgpub.search)
DUMPS = "dumps"
DUMP_NAME = "dataset"
FEED = "feed.atom"
WELL_KNOWN = ".well-known"
VOID = f"{WELL_KNOWN}/void"  # the VoID + DCAT description (its IRI, and its documents' stem)
SITEMAP = "sitemap.xml"
ROBOTS = "robots.txt"
SPARQL = "sparql"  # served by the server, no file
OAI = "oai"


def remove_dot_segments(segments: list[str], floor: int = 0) -> tuple[str, bool]:
    """RFC 3986 5.2.4 over a path's segments: the resolved path, and whether a '..' would climb
    above the first `floor` segments (out of the base for a relative path, floor 0; an absolute
    path keeps its leading empty segment, floor 1)."""
    out: list[str] = []
    outside = False
    for i, segment in enumerate(segments):
        last = i == len(segments) - 1
        if segment == "..":
            if len(out) > floor:
                out.pop()
            else:
                outside = True
            if last:
                out.append("")
        elif segment == ".":
            if last:
                out.append("")
        else:
            out.append(segment)
    return "/".join(out), outside


def dump_path(fmt: Format) -> str:
    """The whole graph in a format, gzipped: dumps/dataset.nt.gz..."""
    return f"{DUMPS}/{DUMP_NAME}{fmt.suffix}.gz"


def void_path(fmt: Format) -> str:
    return VOID + fmt.suffix


def sitemap_part(n: int) -> str:
    """The numbered sitemaps a sitemap index lists (past 50,000 URLs)."""
    return f"sitemap-{n}.xml"


def asset_path(name: str) -> str:
    return f"{ASSETS}/{name}"


# ---- the build's own files (not served) ---------------------------------------------------------

META_DIR = ".kgpub"
OAI_RECORDS = f"{META_DIR}/oai-records.jsonl"
OAI_SETS = f"{META_DIR}/oai-sets.json"
TOMBSTONES = f"{META_DIR}/tombstones.json"
BUILD_FACTS = f"{META_DIR}/site.json"
BUILD_STATE = f"{META_DIR}/build-state.json"  # kgpub.incremental
VALIDATION = f"{META_DIR}/validation.json"  # kgpub.validate.cache
DUMP_MEMBERS = f"{META_DIR}/dump-members.json"  # the dumps' gzip members (kgpub.render.rdf)
SITE_PIECES = f"{META_DIR}/site-pieces.tsv"  # per-entity facts of the site-wide files
SEARCH_PENDING = f"{META_DIR}/search-pending.json"  # shards a later generation indexes again
META_FILES = (OAI_RECORDS, OAI_SETS, TOMBSTONES, BUILD_FACTS, BUILD_STATE, VALIDATION,
              DUMP_MEMBERS, SITE_PIECES)
OLD_JOURNAL = ".kgpub-journal.json"  # in staging directories of kgpub before generations
# Served only by `kgpub serve --watch` (kgpub.server.preview), never written into a site: under
# the meta folder, which no entity can take and the static files never answer for.
PREVIEW_EVENTS = f"{META_DIR}/events"  # server-sent events: the published build, the problems
PREVIEW_SCRIPT = f"{META_DIR}/preview.js"
PREVIEW_STYLE = f"{META_DIR}/preview.css"

# ---- what entities may not be named ---------------------------------------------------------------

# The site's own paths, by kind: a file (its name with any suffix is reserved: "index" for
# index.html, "sitemap" for sitemap-2.xml) or a folder (ending with "/": it and what is in it).
SITE_WIDE: dict[str, str] = {
    "home": HOME,
    "not found": NOT_FOUND,
    "sitemap": SITEMAP,
    "robots": ROBOTS,
    "feed": FEED,
    "sparql": SPARQL,
    "oai": OAI,
    "search page": SEARCH_PAGE,
    "dumps": DUMPS + "/",
    "assets": ASSETS + "/",
    "search index": SEARCH_DIR + "/",
    "browse": BROWSE,
    "well-known": WELL_KNOWN + "/",
    "meta": META_DIR + "/",
}


def _reserved_stem(path: str) -> str:
    return path if path.endswith("/") else path.split(".", 1)[0]


# What an entity's path may not be or start with (kgpub.index.path_problem).
RESERVED = tuple(_reserved_stem(p) for p in SITE_WIDE.values())


def site_wide_kind(path: str, languages: Iterable[str] = ()) -> str | None:
    """The kind (a key of SITE_WIDE) of a site-relative path the site itself uses, or None (an
    entity's document, say). A page of another language ('fr/index.html') is of the kind of
    the default language's page."""
    for lang in tuple(languages)[1:]:
        if path.startswith(f"{lang}/"):
            path = path[len(lang) + 1:]
            break
    for kind, site_path in SITE_WIDE.items():
        if site_path.endswith("/"):
            if path.startswith(site_path):
                return kind
        elif path == site_path:
            return kind
    if path.startswith("sitemap-") and path == sitemap_part(_number(path[8:-4])):
        return "sitemap"
    return None


def _number(text: str) -> int:
    return int(text) if text.isdigit() else -1


def dump_paths() -> list[str]:
    return [dump_path(f) for f in DUMP_FORMATS]


# ---- what the build hands the server ------------------------------------------------------------


@dataclass(frozen=True)
class HarvestRecord:
    """An entry as the OAI-PMH provider serves it (kgpub.oaipmh.OaiRecord, but with the site
    path of its RDF/XML document instead of its bytes, and its IRI)."""

    local_id: str  # its path: "resource/x"
    iri: str
    datestamp: str  # UTC "YYYY-MM-DDThh:mm:ssZ"
    sets: tuple[str, ...]  # every level ("topic:a", "topic:a:b")
    deleted: bool
    dc: tuple[tuple[str, str, str | None], ...]  # (element, value, xml:lang or None)
    rdf: str | None  # its RDF/XML document (None when deleted)


@dataclass(frozen=True)
class Tombstone:
    """A withdrawn entity: its path ("/resource/x") and its successor's, if published."""

    path: str
    successor: str | None = None


@dataclass(frozen=True)
class BuildFacts:
    """Facts about a build the server reads (.kgpub/site.json)."""

    base: str
    earliest_datestamp: str
    statistics: dict = field(default_factory=dict)  # kgpub.render.void.statistics


def _json(data) -> bytes:
    return (json.dumps(data, ensure_ascii=False, sort_keys=True, indent=1) + "\n").encode("utf-8")


def write_oai_records(records: Iterable[HarvestRecord]) -> bytes:
    """One JSON object per line, in the order given ((datestamp, id): the provider's order)."""
    lines = [json.dumps({
        "local_id": r.local_id,
        "iri": r.iri,
        "datestamp": r.datestamp,
        "sets": list(r.sets),
        "deleted": r.deleted,
        "dc": [list(d) for d in r.dc],
        "rdf": r.rdf,
    }, ensure_ascii=False, sort_keys=True) for r in records]
    return ("\n".join(lines) + "\n").encode("utf-8")


def read_oai_records(data: bytes) -> list[HarvestRecord]:
    out = []
    for line in data.splitlines():
        if not line:
            continue
        r = json.loads(line)
        out.append(HarvestRecord(
            local_id=r["local_id"],
            iri=r["iri"],
            datestamp=r["datestamp"],
            sets=tuple(r["sets"]),
            deleted=r["deleted"],
            dc=tuple((e, v, lang) for e, v, lang in r["dc"]),
            rdf=r.get("rdf"),
        ))
    return out


def write_oai_sets(sets: Iterable[OaiSet]) -> bytes:
    return _json([{"spec": s.spec, "name": s.name, "description": s.description} for s in sets])


def read_oai_sets(data: bytes) -> list[OaiSet]:
    from .oaipmh import OaiSet

    return [OaiSet(s["spec"], s["name"], s.get("description")) for s in json.loads(data)]


def write_tombstones(tombstones: Iterable[Tombstone]) -> bytes:
    """A JSON object, path -> successor's path or null, sorted by path."""
    return _json({t.path: t.successor for t in tombstones})


def read_tombstones(data: bytes) -> list[Tombstone]:
    return [Tombstone(path, successor) for path, successor in json.loads(data).items()]


def write_build_facts(facts: BuildFacts) -> bytes:
    return _json({"base": facts.base, "earliest_datestamp": facts.earliest_datestamp,
                  "statistics": facts.statistics})


def read_build_facts(data: bytes) -> BuildFacts:
    doc = json.loads(data)
    return BuildFacts(doc["base"], doc["earliest_datestamp"], doc.get("statistics", {}))
