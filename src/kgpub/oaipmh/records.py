"""What a provider serves: records, sets and the repository's description, checked when the
provider is made (a bad build must fail loudly here, not produce schema-invalid responses).
Free of lxml: the build writes these without it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from .tokens import DEFAULT_TOKEN_SECRET
from .values import (
    DC_ELEMENTS,
    EMAIL_RE,
    GRANULARITY,
    LANG_RE,
    LOCAL_ID_RE,
    NOT_XML_CHAR,
    REPO_ID_RE,
    SECONDS_RE,
    SETSPEC_RE,
    URI_RE,
    seconds,
    valid_datetime,
)


@dataclass(frozen=True)
class OaiRecord:
    local_id: str  # e.g. "resource/some-slug" -> identifier "oai:{repository_id}:resource/some-slug"
    datestamp: str  # UTC "YYYY-MM-DDThh:mm:ssZ"
    sets: tuple[str, ...]  # setSpecs, all levels already expanded ("topic:a", "topic:a:b")
    deleted: bool
    dc: tuple[tuple[str, str, str | None], ...]  # (element, value, xml:lang or None), in order
    rdf_xml: bytes | None = None  # the record's RDF/XML document (an rdf:RDF root)


@dataclass(frozen=True)
class OaiSet:
    spec: str
    name: str
    description: str | None = None


@dataclass(frozen=True)
class RepositoryInfo:
    name: str
    base_url: str
    admin_emails: tuple[str, ...]
    repository_id: str  # e.g. "socialprotection-humanrights.org"
    earliest_datestamp: str
    sample_local_id: str
    page_size: int = 100
    token_secret: bytes = DEFAULT_TOKEN_SECRET
    # Where the site serves the `rdf` format's schema (its path, at the base URL's origin): the
    # web layer's to say (kgpub.layout), never the protocol's.
    rdf_schema_path: str = field(kw_only=True)


def check_info(info: RepositoryInfo) -> None:
    if not REPO_ID_RE.fullmatch(info.repository_id):
        raise ValueError(f"repository_id {info.repository_id!r} is not a domain-like name")
    if not LOCAL_ID_RE.fullmatch(info.sample_local_id):
        raise ValueError(f"sample_local_id {info.sample_local_id!r} is not a legal local id")
    if not info.admin_emails or not all(EMAIL_RE.fullmatch(e) and not NOT_XML_CHAR.search(e)
                                        for e in info.admin_emails):
        raise ValueError(f"admin_emails {info.admin_emails!r}: at least one address is needed")
    if not URI_RE.fullmatch(info.base_url) or urlsplit(info.base_url).scheme not in (
            "http", "https"):
        raise ValueError(f"base_url {info.base_url!r} is not an http(s) URL")
    if info.page_size < 1:
        raise ValueError("page_size must be positive")
    seconds(info.earliest_datestamp)


def check_sets(sets: Sequence[OaiSet]) -> None:
    seen: set[str] = set()
    for s in sets:
        if not SETSPEC_RE.fullmatch(s.spec) or s.spec in seen:
            raise ValueError(f"setSpec {s.spec!r} is illegal or listed twice")
        seen.add(s.spec)


def check_record(record: OaiRecord, checked: set[str | None]) -> None:
    """`checked` caches datestamps and language tags found valid: most repeat, regexes cost."""
    if not LOCAL_ID_RE.fullmatch(record.local_id):
        raise ValueError(f"OAI record id {record.local_id!r} has characters an OAI identifier "
                         "cannot carry (percent-encode them)")
    if record.datestamp not in checked:
        match = SECONDS_RE.fullmatch(record.datestamp)
        if not match or not valid_datetime(*(int(g) for g in match.groups())):
            raise ValueError(f"OAI record {record.local_id!r}: datestamp {record.datestamp!r} "
                             f"is not {GRANULARITY}")
        checked.add(record.datestamp)
    for name, _value, lang in record.dc:
        if name not in DC_ELEMENTS:
            raise ValueError(f"OAI record {record.local_id!r}: {name!r} is no DC element")
        if lang not in checked:
            if not LANG_RE.fullmatch(lang):  # type: ignore[arg-type]
                raise ValueError(f"OAI record {record.local_id!r}: bad language tag {lang!r}")
            checked.add(lang)
