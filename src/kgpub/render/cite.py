"""'Cite this' for resource-entry pages: one formatted reference, a BibTeX entry and a RIS record.

Everything is taken from the data (no author, date or publisher is ever guessed) and the output
is deterministic: the same Work gives the same bytes. `work_from_index` reads an entry once;
the three formatters only look at the resulting Work, so they can be tested on hand-made values.

Which BibTeX entry type and RIS type an entry gets depends on its resource type (dcterms:type):
[site.entry_types] in kgpub.toml (kgpub.config.EntryType), misc and GEN for types it does not
list. A @techreport without a publisher to be its institution is written as @misc.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date

import pyoxigraph as ox
from babel.core import Locale, UnknownLocaleError
from babel.dates import format_date, format_skeleton

from ..config import GENERIC_BIBTEX, GENERIC_RIS
from ..index import DCT, FOAF, Index

# The BibTeX field that names who published it, per entry type.
BIBTEX_PUBLISHER_FIELD = {"techreport": "institution", "manual": "organization"}
BIBTEX_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")

# Words of the reference that are not data, per language (APA 7 and its French/Spanish usage).
NO_DATE = {"en": "n.d.", "fr": "s.d.", "es": "s. f."}
AND = {"en": "&", "fr": "et", "es": "y"}

# LaTeX for the characters that are special in BibTeX or LaTeX. Braces become text commands,
# not \{ \}: BibTeX counts every brace, escaped or not, so a lone \{ would unbalance the field.
TEX_ESCAPES = str.maketrans(
    {
        "\\": r"\textbackslash{}",
        "{": r"\textbraceleft{}",
        "}": r"\textbraceright{}",
        "&": r"\&",
        "%": r"\%",
        "$": r"\$",
        "#": r"\#",
        "_": r"\_",
        "~": r"\textasciitilde{}",
        "^": r"\textasciicircum{}",
    }
)
# Characters a URL field must not carry raw (unbalanced braces, a TeX escape, whitespace).
URL_ESCAPES = str.maketrans({"{": "%7B", "}": "%7D", "\\": "%5C", " ": "%20"})

DATE_RE = re.compile(r"(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?(?:T[\d:.]+)?(?:Z|[+-]\d{2}:\d{2})?")
# "Given Family": two words, each starting with a letter. Anything else is kept verbatim.
PLAIN_NAME_RE = re.compile(r"([^\W\d_][\w'’.-]*) ([^\W\d_][\w'’-]*)")
# Words skipped when a citation key takes the first word of a title.
KEY_STOPWORDS = frozenset(
    "a an the of on in and for to le la les l de des du un une et el los las del y".split()
)


@dataclass(frozen=True)
class Work:
    """What a citation needs to know about an entry, in one page language."""

    iri: str  # the entry's persistent IRI
    title: str
    title_lang: str | None
    kind: str  # the last segment of its dcterms:type ("expert-commentary"...), "" if none
    kind_label: str | None  # that type's label in the page language
    creators: tuple[str, ...]  # display names, persons and organisations
    publishers: tuple[str, ...]
    date: str | None  # "2016-03-03", "2016-03" or "2016"
    page: str | None  # external landing page (foaf:page), http(s) only
    abstract: str | None
    keywords: tuple[str, ...]  # its topics' labels
    site_title: str  # the platform's title
    # Names (among creators and publishers) of foaf:Person agents. Only these are ever split
    # into family and given names; any other name is an organisation's and stays verbatim.
    persons: frozenset[str] = frozenset()
    # Its BibTeX entry type and RIS type, from its resource type ([site.entry_types]).
    bibtex_type: str = GENERIC_BIBTEX
    ris_type: str = GENERIC_RIS


# ---- reading an entry ---------------------------------------------------------------------


def work_from_index(index: Index, iri: str, lang: str) -> Work:
    title = index.text(iri, DCT + "title", lang) or index.label(iri, lang)
    type_iri = next((v.value for v in index.values(iri, DCT + "type") if _is_iri(v)), None)
    creators, creator_persons = _agents(index, iri, DCT + "creator", lang)
    publishers, publisher_persons = _agents(index, iri, DCT + "publisher", lang)
    abstract = index.text(iri, DCT + "abstract", lang)
    topics = {
        index.label(v.value, lang).text for v in index.values(iri, DCT + "subject") if _is_iri(v)
    }
    entry_type = index.project.entry_type(type_iri)
    return Work(
        iri=iri,
        title=title.text,
        title_lang=title.lang,
        kind=_slug(type_iri) if type_iri else "",
        kind_label=index.label(type_iri, lang).text if type_iri else None,
        creators=creators,
        publishers=publishers,
        date=_first_date(index.values(iri, DCT + "date")),
        page=next((v.value for v in index.values(iri, FOAF + "page") if _is_web(v.value)), None),
        abstract=abstract.text if abstract else None,
        keywords=tuple(sorted(topics, key=lambda t: (t.casefold(), t))),
        site_title=index.project.title,
        persons=creator_persons | publisher_persons,
        bibtex_type=entry_type.bibtex,
        ris_type=entry_type.ris,
    )


def _agents(index: Index, iri: str, prop: str, lang: str) -> tuple[tuple[str, ...], frozenset[str]]:
    """Names of the agents in prop (in the index's order, which sorts by IRI) and those of persons.
    A literal counts as an organisation's name: nothing says it is a person's."""
    names: list[str] = []
    persons: set[str] = set()
    for v in index.values(iri, prop):
        if isinstance(v, ox.Literal):
            name = v.value
        elif index.has_label(v.value) or _is_iri(v):  # an unnamed blank node has no name to show
            name = index.label(v.value, lang).text
            if index.has_type(v.value, FOAF + "Person"):
                persons.add(_squash(name))
        else:
            continue
        if _squash(name) and name not in names:
            names.append(name)
    return tuple(names), frozenset(persons)


def _first_date(values: list) -> str | None:
    """The first dcterms:date that is a date, year-month or year (time and zone dropped)."""
    for v in values:
        if isinstance(v, ox.Literal) and (parts := _date_parts(v.value)):
            return _iso(parts)
    return None


def _iso(parts: tuple[int, ...]) -> str:
    return "-".join([f"{parts[0]:04d}", *(f"{p:02d}" for p in parts[1:])])


def _date_parts(value: str | None) -> tuple[int, ...] | None:
    m = DATE_RE.fullmatch(value.strip()) if value else None
    if not m:
        return None
    parts = tuple(int(g) for g in m.groups() if g)
    try:
        date(*parts, *(1,) * (3 - len(parts)))  # a real month and day
    except ValueError:
        return None
    return parts


def _is_iri(term) -> bool:
    return isinstance(term, ox.NamedNode)


def _is_web(url: str) -> bool:
    return url.startswith(("http://", "https://"))


def _slug(iri: str) -> str:
    return re.split(r"[/#]", iri.rstrip("/"))[-1]


# ---- names --------------------------------------------------------------------------------


def _squash(text: str) -> str:
    """One line, single spaces: references, BibTeX fields and RIS lines cannot hold newlines."""
    return " ".join(text.split())


def _split(work: Work, name: str) -> tuple[str, str] | None:
    """(family, given) of a person with a plain two-part name; None keeps the name verbatim."""
    name = _squash(name)
    if name not in {_squash(p) for p in work.persons}:
        return None
    m = PLAIN_NAME_RE.fullmatch(name)
    return (m.group(2), m.group(1)) if m else None


def _initials(given: str) -> str:
    """APA initials: Alexandra -> A., Jean-Pierre -> J.-P."""
    return "-".join(part[0] + "." for part in given.split("-") if part)


# ---- the formatted reference -------------------------------------------------------------


def reference(work: Work, lang: str) -> str:
    """An author-date (APA 7) reference in plain text, with the words of lang (en, fr or es)."""
    lang = lang if lang in NO_DATE else "en"
    title = _squash(work.title) + (f" [{_squash(work.kind_label)}]" if work.kind_label else "")
    when = f"({_reference_date(work.date, lang)})."
    # Without an author the title takes the author's place (APA).
    if work.creators:
        parts = [_sentence(_authors(work, lang)), when, _sentence(title)]
    else:
        parts = [_sentence(title), when]
    # A publisher that is also an author is not repeated (APA), nor is the platform.
    authors = {_squash(c) for c in work.creators}
    sources = [_squash(s) for s in (*work.publishers, work.site_title)]
    parts += [_sentence(s) for s in dict.fromkeys(sources) if s and s not in authors]
    return " ".join([*parts, work.iri])


def _authors(work: Work, lang: str) -> str:
    names = [_reference_name(work, n) for n in work.creators]
    if len(names) == 1:
        return names[0]
    return ", ".join(names[:-1]) + f", {AND[lang]} " + names[-1]


def _reference_name(work: Work, name: str) -> str:
    split = _split(work, name)
    return f"{split[0]}, {_initials(split[1])}" if split else _squash(name)


def _reference_date(value: str | None, lang: str) -> str:
    parts = _date_parts(value)
    if not parts:
        return NO_DATE[lang]
    locale = _locale(lang)
    day = date(*parts, *(1,) * (3 - len(parts)))
    if len(parts) == 3:
        return f"{parts[0]}, {format_skeleton('MMMMd', day, locale=locale)}"
    if len(parts) == 2:
        return f"{parts[0]}, {format_date(day, 'LLLL', locale=locale)}"
    return str(parts[0])


def _locale(lang: str) -> Locale:
    try:
        return Locale.parse(lang.replace("-", "_"))
    except (UnknownLocaleError, ValueError):
        return Locale.parse("en")


def _sentence(text: str) -> str:
    return text if text.endswith((".", "?", "!")) else text + "."


# ---- BibTeX --------------------------------------------------------------------------------


def bibtex(work: Work) -> str:
    """One BibTeX entry (UTF-8; LaTeX specials escaped so any text keeps the file parseable)."""
    entry_type = work.bibtex_type
    if entry_type == "techreport" and not work.publishers:
        entry_type = GENERIC_BIBTEX  # a techreport needs an institution; the data names none
    parts = _date_parts(work.date)
    url = work.iri.translate(URL_ESCAPES)
    fields: list[tuple[str, str | None]] = [
        ("author", " and ".join(_bibtex_name(work, n) for n in work.creators) or None),
        # Doubled braces keep the title's capitals from bibliography styles that lowercase.
        ("title", "{" + _tex(work.title) + "}"),
        ("type", _tex(work.kind_label) if work.kind_label and entry_type != "article" else None),
        (BIBTEX_PUBLISHER_FIELD.get(entry_type, "publisher"), _tex_list(work.publishers, " and ")),
        ("year", str(parts[0]) if parts else None),
        ("date", _iso(parts) if parts else None),
        ("howpublished", f"\\url{{{url}}}" if entry_type == "misc" else None),
        ("url", url),
        ("note", _tex(work.site_title) or None),
        ("abstract", _tex(work.abstract) if work.abstract else None),
        ("keywords", ", ".join(_tex_keyword(k) for k in work.keywords if _squash(k)) or None),
        ("language", work.title_lang),
    ]
    lines = [f"@{entry_type}{{{_key(work)},"]
    for name, value in fields:
        if value:
            lines.append(f"  {name} = {{{value}}},")
        if name == "year" and parts and len(parts) > 1:
            lines.append(f"  month = {BIBTEX_MONTHS[parts[1] - 1]},")  # the standard macro
    lines.append("}")
    return "\n".join(lines) + "\n"


def _tex(text: str | None) -> str:
    return _squash(text or "").translate(TEX_ESCAPES)


def _tex_list(names: tuple[str, ...], sep: str) -> str | None:
    # Each name braced: an organisation's name may hold " and " or a comma.
    return sep.join("{" + _tex(n) + "}" for n in names if _squash(n)) or None


def _tex_keyword(keyword: str) -> str:
    # Keywords are comma-separated: a label with a comma is braced to stay one keyword.
    text = _tex(keyword)
    return "{" + text + "}" if "," in text else text


def _bibtex_name(work: Work, name: str) -> str:
    split = _split(work, name)
    return f"{_tex(split[0])}, {_tex(split[1])}" if split else "{" + _tex(name) + "}"


def _key(work: Work) -> str:
    """An ASCII key: first author's family name (or first title word), year, first title word.
    Titles with no ASCII word fall back on the IRI's last segment."""
    words = [w for w in _ascii_words(work.title) if w not in KEY_STOPWORDS]
    words = words or _ascii_words(_slug(work.iri)) or ["ref"]
    if work.creators:
        split = _split(work, work.creators[0])
        author = _ascii_words(split[0] if split else work.creators[0])
        if author:
            words = [author[0] if split else _first_significant(author), *words]
    parts = _date_parts(work.date)
    year = str(parts[0]) if parts else ""
    return words[0] + year + (words[1] if len(words) > 1 else "")


def _first_significant(words: list[str]) -> str:
    return next((w for w in words if w not in KEY_STOPWORDS), words[0])


def _ascii_words(text: str) -> list[str]:
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    # Hyphens and apostrophes join a word (Inter-sectoral -> intersectoral); the rest splits.
    return re.findall(r"[a-z0-9]+", re.sub(r"[-'’]", "", folded))


# ---- RIS -----------------------------------------------------------------------------------


def ris(work: Work) -> str:
    """One RIS record: "TAG  - value" lines ending in CRLF, TY first and ER last (RIS spec)."""
    parts = _date_parts(work.date)
    tags: list[tuple[str, str | None]] = [
        ("TY", work.ris_type),
        ("TI", work.title),
        *(("AU", _ris_name(work, n)) for n in work.creators),
        ("PY", str(parts[0]) if parts else None),
        ("DA", _ris_date(parts) if parts else None),
        ("PB", "; ".join(_squash(p) for p in work.publishers if _squash(p)) or None),
        ("M3", work.kind_label),  # type of work
        ("DB", work.site_title),  # where it is catalogued
        ("UR", work.iri),
        ("L2", work.page),
        ("AB", work.abstract),
        *(("KW", k) for k in work.keywords),
        ("LA", work.title_lang),
    ]
    lines = [f"{tag}  - {_squash(value)}" for tag, value in tags if value and _squash(value)]
    return "\r\n".join([*lines, "ER  - ", ""])


def _ris_name(work: Work, name: str) -> str:
    split = _split(work, name)
    return f"{split[0]}, {split[1]}" if split else name


def _ris_date(parts: tuple[int, ...]) -> str:
    """YYYY/MM/DD/ with empty unknown parts: 2016/03//, 2016///."""
    padded = [str(parts[0]), *(f"{p:02d}" for p in parts[1:])] + [""] * (3 - len(parts))
    return "/".join(padded) + "/"
