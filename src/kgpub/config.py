"""The project: its directory, its kgpub.toml settings and where its sources live."""

from __future__ import annotations

import difflib
import re
import tomllib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from .errors import ConfigError

CONFIG_FILE = "kgpub.toml"
DEFAULT_BASE = "https://w3id.org/sphr/"
# The generic types: what a resource type not listed in [site.entry_types] is described as.
GENERIC_SCHEMA_ORG = "CreativeWork"
GENERIC_BIBTEX = "misc"
GENERIC_RIS = "GEN"


@dataclass(frozen=True)
class EntryType:
    """How entries of one resource type (their dcterms:type) are described to search engines
    (schema.org) and reference managers (BibTeX entry type, RIS TY)."""

    schema_org: str = GENERIC_SCHEMA_ORG
    bibtex: str = GENERIC_BIBTEX
    ris: str = GENERIC_RIS


GENERIC_ENTRY_TYPE = EntryType()


@dataclass(frozen=True)
class Project:
    root: Path
    base: str = DEFAULT_BASE
    title: str = "Social Protection and Human Rights"
    description: str = ""
    languages: tuple[str, ...] = ("en",)
    license: str | None = None
    page_size: int = 20  # entries per listing page
    shard_pages: int = 10_000  # pages per search bundle ([search] shard_pages; kgpub.search)
    # A rebuild whose search shards to index hold at least this many pages publishes the edit
    # first and its index in a second generation (when its caller allows: kgpub build does
    # unless --search-now); below, Pagefind takes less than the second generation costs.
    publish_first_pages: int = 1000
    repository: dict[str, Any] = field(default_factory=dict)
    # Query limits of the SPARQL endpoint ([sparql] in kgpub.toml).
    sparql: dict[str, Any] = field(default_factory=dict)
    # [sparql] store: the query URL of a SPARQL 1.1 store that answers /sparql
    # (kgpub.server.store); None: the embedded engine.
    store: str | None = None
    # What the site needs to know about its graph ([site]). IRIs may be written relative to the
    # base: they are resolved when the project is made (__post_init__), so these hold absolute ones.
    topic_scheme: str = "topics"  # the topics' skos:ConceptScheme: the topic index and tree
    type_scheme: str = "types"  # the resource types' scheme
    # Where a thing's name is found, in order of preference.
    label_properties: tuple[str, ...] = (
        "http://www.w3.org/2004/02/skos/core#prefLabel",
        "http://purl.org/dc/terms/title",
        "http://xmlns.com/foaf/0.1/name",
        "http://www.w3.org/2000/01/rdf-schema#label",
    )
    # The resource type a topic page shows first, in a section of its own (None: no such section),
    # and that section's heading (None: the UI's translated "Expert Commentaries").
    commentary_type: str | None = None
    commentary_heading: str | None = None
    # [site.entry_types]: resource type IRI -> how its entries are described (others: generic).
    entry_types: Mapping[str, EntryType] = field(default_factory=dict)

    def __post_init__(self) -> None:
        resolve = self.resolve
        for name in ("topic_scheme", "type_scheme"):
            object.__setattr__(self, name, resolve(getattr(self, name)))
        if self.commentary_type is not None:
            object.__setattr__(self, "commentary_type", resolve(self.commentary_type))
        object.__setattr__(self, "label_properties",
                           tuple(resolve(p) for p in self.label_properties))
        object.__setattr__(self, "entry_types",
                           {resolve(k): v for k, v in self.entry_types.items()})

    def resolve(self, ref: str) -> str:
        """An IRI of the settings: absolute as written, or relative to the base (a path under it:
        the check refuses the '/', '.' and '..' forms that resolve elsewhere)."""
        return ref if _ABSOLUTE.match(ref) else self.base + ref

    def entry_type(self, type_iri: str | None) -> EntryType:
        """How entries of a resource type are described (the generic types if it is unlisted)."""
        return self.entry_types.get(type_iri or "", GENERIC_ENTRY_TYPE)

    @property
    def default_language(self) -> str:
        return self.languages[0]

    @property
    def ontology_dir(self) -> Path:
        return self.root / "ontology"

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def shapes_dir(self) -> Path:
        return self.root / "shapes"

    @property
    def vocab(self) -> str:
        """Namespace of the project's vocabulary (a hash namespace: terms live in one document)."""
        return self.base + "ontology#"

    def rel(self, path: Path) -> str:
        """A path as shown to the user: relative to the project when possible."""
        try:
            return str(path.resolve().relative_to(self.root.resolve()))
        except ValueError:
            return str(path)


# ---- the schema of kgpub.toml: every section, every key, its type and its check -----------------

Check = Callable[[object], str | None]  # the value -> what is wrong with it, or None


def _text(value: object) -> str | None:
    if not isinstance(value, str):
        return "expected a string"
    if any(ord(c) < 0x20 and c not in "\t\n\r" or c in "\ufffe\uffff" for c in value):
        return "contains a control character"
    return None


def _int(low: int, high: int) -> Check:
    def check(value: object) -> str | None:
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            return f"expected a whole number from {low} to {high}"
        return None
    return check


def _http_url(value: object) -> str | None:
    if (problem := _text(value)) is not None or not isinstance(value, str):
        return problem
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc or " " in value:
        return "expected an http(s) URL"
    return None


def _base(value: object) -> str | None:
    problem = _http_url(value)
    if problem is None and isinstance(value, str) and not value.endswith("/"):
        problem = "must end with '/'"
    return problem


def _languages(value: object) -> str | None:
    if not isinstance(value, list) or not value or not all(
            isinstance(x, str) and _LANG_TAG.fullmatch(x) for x in value):
        return "expected a non-empty list of language tags, e.g. ['en', 'fr']"
    if len(set(value)) != len(value):
        return "lists a language twice"
    from .render.i18n import catalogue_languages

    missing = [x for x in value if x not in catalogue_languages()]
    if missing:
        return (f"lists {', '.join(missing)}, which has no UI translation (available: "
                f"{', '.join(catalogue_languages())}); remove it, or add "
                "src/kgpub/locale/<lang>/LC_MESSAGES/kgpub.po (see the README, 'Languages')")
    return None


def _emails(value: object) -> str | None:
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not items or not all(
            isinstance(e, str) and _EMAIL.fullmatch(e) for e in items):
        return "expected an e-mail address (or a list of them)"
    return None


def _repository_id(value: object) -> str | None:
    if not isinstance(value, str) or not _REPOSITORY_ID.fullmatch(value):
        return "expected a domain-like name, e.g. 'example.org' (OAI identifiers use it)"
    return None


def _datetime(value: object) -> str | None:
    from datetime import datetime

    if not isinstance(value, str):
        return "expected an ISO 8601 date-time, e.g. '2024-01-01T00:00:00Z'"
    try:
        datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return "expected an ISO 8601 date-time, e.g. '2024-01-01T00:00:00Z'"
    return None


def _iri_ref(value: object) -> str | None:
    if (problem := _text(value)) is not None or not isinstance(value, str):
        return problem
    if _ABSOLUTE.match(value):
        return None if not any(c in value for c in ' <>"{}|\\^`') else "expected an IRI"
    if not value or value.startswith(("/", "?")) or any(
            s in (".", "..") for s in value.split("#")[0].split("/")) or " " in value:
        return "expected an IRI: absolute, or a path under [site] base such as 'topics'"
    return None


def _iri_list(value: object) -> str | None:
    if not isinstance(value, list) or not value:
        return "expected a non-empty list of IRIs"
    if len(set(map(str, value))) != len(value):
        return "lists an IRI twice"
    return next((p for p in map(_iri_ref, value) if p), None)


def _name(pattern: str, example: str) -> Check:
    rule = re.compile(pattern)

    def check(value: object) -> str | None:
        if not isinstance(value, str) or not rule.fullmatch(value):
            return f"expected a type name such as {example!r}"
        return None
    return check


_ENTRY_TYPE_KEYS: dict[str, Check] = {
    "schema_org": _name(r"[A-Z][A-Za-z0-9]*", "Report"),  # a schema.org type
    "bibtex": _name(r"[a-z]+", "techreport"),  # a BibTeX entry type
    "ris": _name(r"[A-Z][A-Z0-9]{1,3}", "RPRT"),  # a RIS TY code
}


def _entry_types(value: object) -> str | None:
    if not isinstance(value, dict):
        return "expected a table: resource type IRI = { schema_org = ..., bibtex = ..., ris = ... }"
    for iri, spec in value.items():
        if problem := _iri_ref(iri):
            return f"{iri!r}: {problem}"
        if not isinstance(spec, dict):
            return f"{iri!r}: expected a table such as {{ schema_org = \"Report\", bibtex = " \
                   "\"techreport\", ris = \"RPRT\" }"
        for key, item in spec.items():
            if key not in _ENTRY_TYPE_KEYS:
                return f"{iri!r}: {key}: unknown key{_nearest(key, _ENTRY_TYPE_KEYS)}"
            if problem := _ENTRY_TYPE_KEYS[key](item):
                return f"{iri!r}: {key} = {item!r}: {problem}"
    return None


def _secret(value: object) -> str | None:
    if not isinstance(value, str) or len(value) < 16:
        return "expected a string of at least 16 characters"
    return None


_ABSOLUTE = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:")  # an IRI with a scheme
_LANG_TAG = re.compile(r"[a-z]{2,3}(?:-[A-Za-z0-9]{2,8})*")
_EMAIL = re.compile(r"[^\s@<>&\"]+@(?:[^\s@.<>&\"]+\.)+[^\s@.<>&\"]+")
_REPOSITORY_ID = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9\-]*(?:\.[a-zA-Z0-9][a-zA-Z0-9\-]*)+")

SCHEMA: dict[str, dict[str, Check]] = {
    "site": {
        "base": _base,
        "title": _text,
        "description": _text,
        "languages": _languages,
        "license": _http_url,
        "page_size": _int(1, 500),
        # the longest text value, in bytes (kgpub.load: default 1 MiB); at most 8 MiB, half of
        # what the Turtle parser can read in one term
        "max_literal_bytes": _int(1024, 8 * 1024 * 1024),
        # the graph's own terms (Project: what each is for, and the defaults)
        "topic_scheme": _iri_ref,
        "type_scheme": _iri_ref,
        "label_properties": _iri_list,
        "commentary_type": _iri_ref,
        "commentary_heading": _text,
        "entry_types": _entry_types,
    },
    "search": {"shard_pages": _int(1, 10_000_000), "publish_first_pages": _int(0, 10_000_000)},
    "repository": {
        "name": _text,
        "admin_email": _emails,
        "oai_repository_identifier": _repository_id,
        "publisher": _text,
        "oai_page_size": _int(1, 10_000),
        "default_datestamp": _datetime,
        "oai_base_url": _http_url,
        "oai_token_secret": _secret,
    },
    # [sparql]: these keys, and the endpoint's limits, checked by kgpub.sparql.QueryLimits
    # (one definition).
    "sparql": {"store": _http_url},
}


def _nearest(name: str, known: Iterable[str]) -> str:
    known = list(known)
    close = difflib.get_close_matches(name, list(known), n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else f"; known: {', '.join(known)}"


def check_config(cfg: dict[str, Any], where: str) -> None:
    """Refuse unknown sections and keys (naming the nearest valid one) and values of the wrong
    type or range: once, at load, for every command alike."""
    for section, table in cfg.items():
        if section not in SCHEMA:
            raise ConfigError(f"{where}: [{section}] is not a section{_nearest(section, SCHEMA)}")
        if not isinstance(table, dict):
            raise ConfigError(f"{where}: {section} must be a [{section}] table")
        keys = SCHEMA[section]
        if section == "sparql":
            from .sparql import QueryLimits

            try:
                QueryLimits.from_config({k: v for k, v in table.items() if k not in keys})
            except ConfigError as exc:
                raise ConfigError(f"{where}: {exc}") from None
            table = {k: v for k, v in table.items() if k in keys}
        for key, value in table.items():
            if key not in keys:
                raise ConfigError(f"{where}: [{section}] {key}: unknown key{_nearest(key, keys)}")
            problem = keys[key](value)
            if problem:
                raise ConfigError(f"{where}: [{section}] {key} = {value!r}: {problem}")


def load_project(root: str | Path = ".") -> Project:
    root = Path(root)
    cfg_path = root / CONFIG_FILE
    if not root.is_dir():
        raise ConfigError(f"project directory {root} does not exist")
    if not cfg_path.is_file():
        raise ConfigError(
            f"{cfg_path}: not found. Run kgpub in a project directory or pass --project DIR."
        )
    try:
        cfg = tomllib.loads(cfg_path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{cfg_path}: not valid TOML: {exc}") from exc
    check_config(cfg, str(cfg_path))
    site = cfg.get("site", {})
    base = site.get("base", DEFAULT_BASE)
    languages = site.get("languages", ["en"])
    page_size = site.get("page_size", Project.page_size)
    shard_pages = cfg.get("search", {}).get("shard_pages", Project.shard_pages)
    publish_first = cfg.get("search", {}).get("publish_first_pages", Project.publish_first_pages)
    sparql = dict(cfg.get("sparql", {}))
    store = sparql.pop("store", Project.store)
    project = Project(
        root=root,
        page_size=page_size,
        shard_pages=shard_pages,
        publish_first_pages=publish_first,
        base=base,
        title=site.get("title", Project.title),
        description=site.get("description", ""),
        languages=tuple(languages),
        license=site.get("license"),
        repository=dict(cfg.get("repository", {})),
        sparql=sparql,
        store=store,
    )
    return _with_graph_terms(project, site, str(cfg_path))


def _with_graph_terms(project: Project, site: dict[str, Any], where: str) -> Project:
    """The project with the [site] settings that name the graph's own terms (defaults: Project)."""
    terms: dict[str, Any] = {k: site[k] for k in ("topic_scheme", "type_scheme",
                                                   "commentary_type", "commentary_heading")
                             if k in site}
    if "label_properties" in site:
        terms["label_properties"] = tuple(site["label_properties"])
    if "entry_types" in site:
        terms["entry_types"] = {k: EntryType(**v) for k, v in site["entry_types"].items()}
    project = replace(project, **terms)
    for key in ("topic_scheme", "type_scheme"):  # their pages are the topic and type indexes
        if not getattr(project, key).startswith(project.base):
            raise ConfigError(f"{where}: [site] {key} = {site[key]!r}: the scheme must be "
                              f"under [site] base ({project.base}), which publishes its page")
    return project
