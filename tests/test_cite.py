"""'Cite this': the Work read from the index, the formatted reference in each language, and the
BibTeX and RIS exports read back with real parsers (bibtexparser, rispy)."""

from __future__ import annotations

import dataclasses
import re

import bibtexparser
import pyoxigraph as ox
import pytest
import rispy
from bibtexparser.middlewares import SeparateCoAuthors
from pylatexenc.latex2text import LatexNodes2Text, MacroTextSpec, get_default_latex_context_db

from kgpub.config import load_project
from kgpub.index import Index
from kgpub.render.cite import Work, bibtex, reference, ris, work_from_index
from kgtest import BASE, REPO

BARRANTES = (
    BASE + "resource/inter-sectoral-coordination-social-protection-human-rights-virtuous-circle"
)
BARRANTES_TITLE = (
    "Inter-sectoral Coordination, Social Protection and Human Rights: A virtuous circle"
)
SURVEY = BASE + "resource/ilo-general-survey-2019-universal-social-protection"
SITE = "Social Protection and Human Rights"
LANGS = ("en", "fr", "es")
RIS_LINE = re.compile(r"[A-Z][A-Z0-9]  - .*")

# pylatexenc drops \textbraceleft/\textbraceright and renders \textasciicircum as a modifier
# letter; LaTeX prints these characters, so teach the decoder what LaTeX does.
_LATEX = get_default_latex_context_db()
_LATEX.add_context_category(
    "cite-test",
    prepend=True,
    macros=[
        MacroTextSpec("textbraceleft", "{"),
        MacroTextSpec("textbraceright", "}"),
        MacroTextSpec("textasciicircum", "^"),
    ],
)
DECODE = LatexNodes2Text(latex_context=_LATEX)


# The bundled settings' BibTeX and RIS types of each resource type ([site.entry_types]).
ENTRY_TYPES = load_project(REPO).entry_type


def work(**changes) -> Work:
    """A hand-made Work: a dated commentary by one person, changed as the test needs. Its BibTeX
    and RIS types are those the bundled kgpub.toml gives its kind (its resource type's slug)."""
    kind = changes.get("kind", "expert-commentary")
    types = ENTRY_TYPES(BASE + "type/" + kind if kind else None)
    changes = {"bibtex_type": types.bibtex, "ris_type": types.ris, **changes}
    base = Work(
        iri=BASE + "resource/x",
        title="A Title",
        title_lang="en",
        kind="expert-commentary",
        kind_label="Expert commentary",
        creators=("Alexandra Barrantes",),
        publishers=(),
        date="2016-03-03",
        page=None,
        abstract=None,
        keywords=(),
        site_title=SITE,
        persons=frozenset({"Alexandra Barrantes"}),
    )
    return dataclasses.replace(base, **changes)


def braces_balanced(text: str) -> bool:
    """BibTeX's own rule: every brace counts, backslash or not (bibtexparser is more lenient)."""
    depth = 0
    for c in text:
        depth += {"{": 1, "}": -1}.get(c, 0)
        if depth < 0:
            return False
    return depth == 0


def parse_bibtex(text: str):
    assert braces_balanced(text), text
    lib = bibtexparser.parse_string(text, append_middleware=[SeparateCoAuthors()])
    assert not lib.failed_blocks, text
    assert len(lib.entries) == 1 and not lib.strings and not lib.comments, text
    return lib.entries[0]


def field(entry, name: str) -> str | None:
    f = entry.fields_dict.get(name)
    return None if f is None else DECODE.latex_to_text(f.value)


def parse_ris(text: str) -> dict:
    assert text.endswith("ER  - \r\n") and "\n" not in text.replace("\r\n", ""), repr(text)
    lines = text.split("\r\n")[:-1]
    assert lines[0].startswith("TY  - ") and all(RIS_LINE.fullmatch(x) for x in lines), lines
    records = rispy.loads(text)
    assert len(records) == 1
    return records[0]


@pytest.fixture(scope="module")
def index(bundled_project, bundled_sources) -> Index:
    return Index(bundled_project, bundled_sources)


def index_with(bundled_project, bundled_sources, turtle: str) -> Index:
    """The bundled index plus some triples (Turtle, relative IRIs against the base)."""
    prefixes = "@prefix dcterms: <http://purl.org/dc/terms/> . @prefix foaf: <http://xmlns.com/foaf/0.1/> .\n"
    extra = [
        q.triple for q in ox.parse(prefixes + turtle, format=ox.RdfFormat.TURTLE, base_iri=BASE)
    ]
    return Index(
        bundled_project, dataclasses.replace(bundled_sources, data=bundled_sources.data + extra)
    )


# ---- reading the bundled data -----------------------------------------------------------


def test_work_from_index_reads_the_entry(index):
    w = work_from_index(index, BARRANTES, "fr")
    assert w == Work(
        iri=BARRANTES,
        title=BARRANTES_TITLE,
        title_lang="en",
        kind="expert-commentary",
        kind_label="Commentaire d'expert",
        creators=("Alexandra Barrantes",),
        publishers=(),
        date="2016-03-03",
        page=None,
        abstract=w.abstract,
        keywords=("Institutional capacity and coordination",),
        site_title=SITE,
        persons=frozenset({"Alexandra Barrantes"}),
        bibtex_type="misc",
        ris_type="ELEC",
    )
    assert w.abstract and w.abstract.startswith("Social protection has become")


def test_organisations_and_year(index):
    w = work_from_index(index, SURVEY, "en")
    assert w.creators == (
        "ILO Committee of Experts on the Application of Conventions and Recommendations",
    )
    assert w.publishers == ("International Labour Organization",)
    assert (w.kind, w.date, w.persons) == ("report", "2019", frozenset())


def test_every_entry_round_trips(index):
    """Each live entry, in each language: both exports parse and carry exactly the data's values."""
    for iri in index.live_entries:
        for lang in LANGS:
            w = work_from_index(index, iri, lang)
            creators = index.values(iri, "http://purl.org/dc/terms/creator")
            dates = index.values(iri, "http://purl.org/dc/terms/date")
            assert len(w.creators) == len(creators)
            assert w.date == (dates[0].value if dates else None)
            entry = parse_bibtex(bibtex(w))
            assert field(entry, "title") == w.title
            assert field(entry, "url") == iri
            assert ("author" in entry.fields_dict) == bool(creators)
            assert ("year" in entry.fields_dict) == bool(dates)
            rec = parse_ris(ris(w))
            assert (rec["title"], rec["urls"]) == (w.title, [iri])
            assert len(rec.get("authors", [])) == len(creators)
            assert ("date" in rec) == bool(dates)
            ref = reference(w, lang)
            assert ref.endswith(iri) and w.title in ref


def test_extra_data(bundled_project, bundled_sources):
    """foaf:page keeps http(s) only; a literal or blank-node creator keeps its own name; a
    dateTime keeps its date; an invalid date is dropped, never guessed."""
    ix = index_with(
        bundled_project,
        bundled_sources,
        """
        <resource/t1> dcterms:title "Titre"@fr , "Title"@en ;
            foaf:page <urn:isbn:123> , <https://example.org/landing> ;
            dcterms:creator "Some Group" , [ foaf:name "Ann Lee" ] , [ ] ;
            dcterms:date "2016-03-03T10:00:00Z"^^<http://www.w3.org/2001/XMLSchema#dateTime> .
        <resource/t2> dcterms:title "T2" ; dcterms:date "2016-13" .
        """,
    )
    w = work_from_index(ix, BASE + "resource/t1", "fr")
    assert (w.title, w.title_lang, w.page, w.date) == (
        "Titre",
        "fr",
        "https://example.org/landing",
        "2016-03-03",
    )
    assert sorted(w.creators) == ["Ann Lee", "Some Group"] and w.persons == frozenset()
    assert (w.kind, w.kind_label) == ("", None)
    assert work_from_index(ix, BASE + "resource/t2", "en").date is None


# ---- the formatted reference ------------------------------------------------------------


@pytest.mark.parametrize(
    ("lang", "when", "kind"),
    [
        ("en", "2016, March 3", "Expert commentary"),
        ("fr", "2016, 3 mars", "Commentaire d'expert"),
        ("es", "2016, 3 de marzo", "Comentario de experto"),
    ],
)
def test_reference_barrantes(index, lang, when, kind):
    ref = reference(work_from_index(index, BARRANTES, lang), lang)
    assert ref == f"Barrantes, A. ({when}). {BARRANTES_TITLE} [{kind}]. {SITE}. {BARRANTES}"


def test_reference_organisations(index):
    assert reference(work_from_index(index, SURVEY, "en"), "en") == (
        "ILO Committee of Experts on the Application of Conventions and Recommendations. (2019). "
        "Universal social protection for human dignity, social justice and sustainable development: "
        "General Survey concerning the Social Protection Floors Recommendation, 2012 (No. 202) "
        f"[Report]. International Labour Organization. {SITE}. {SURVEY}"
    )


@pytest.mark.parametrize(
    ("changes", "lang", "expected"),
    [
        ({"date": "2016-03"}, "en", "Barrantes, A. (2016, March). A Title [Expert commentary]."),
        ({"date": "2016-03"}, "fr", "Barrantes, A. (2016, mars). A Title [Expert commentary]."),
        ({"date": "2016-03"}, "es", "Barrantes, A. (2016, marzo). A Title [Expert commentary]."),
        ({"date": "2016"}, "en", "Barrantes, A. (2016). A Title"),
        ({"date": None}, "en", "Barrantes, A. (n.d.). A Title"),
        ({"date": None}, "fr", "Barrantes, A. (s.d.). A Title"),
        ({"date": None}, "es", "Barrantes, A. (s. f.). A Title"),
        ({"date": "garbage"}, "en", "Barrantes, A. (n.d.). A Title"),
        ({"date": "2016-03-03"}, "de", "Barrantes, A. (2016, March 3)."),  # English words otherwise
        # No creator: the title takes the author's place.
        ({"creators": ()}, "en", "A Title [Expert commentary]. (2016, March 3). Social"),
        ({"creators": (), "date": None}, "fr", "A Title [Expert commentary]. (s.d.). Social"),
        ({"kind_label": None, "title": "Why?"}, "en", "Barrantes, A. (2016, March 3). Why? Social"),
        # Organisations and non-plain names stay verbatim; persons get initials.
        ({"creators": ("USAID Egypt",), "persons": frozenset()}, "en", "USAID Egypt. (2016"),
        (
            {"creators": ("Maria de la Cruz",), "persons": frozenset({"Maria de la Cruz"})},
            "en",
            "Maria de la Cruz. (",
        ),
        (
            {"creators": ("Jean-Pierre Dupont",), "persons": frozenset({"Jean-Pierre Dupont"})},
            "en",
            "Dupont, J.-P. (",
        ),
        (
            {"creators": ("Ann Lee", "ILO", "Bo Ek"), "persons": frozenset({"Ann Lee", "Bo Ek"})},
            "en",
            "Lee, A., ILO, & Ek, B. (",
        ),
        (
            {"creators": ("Ann Lee", "Bo Ek"), "persons": frozenset({"Ann Lee", "Bo Ek"})},
            "fr",
            "Lee, A., et Ek, B. (",
        ),
        (
            {"creators": ("Ann Lee", "Bo Ek"), "persons": frozenset({"Ann Lee", "Bo Ek"})},
            "es",
            "Lee, A., y Ek, B. (",
        ),
        (
            {"title": "Line one\n  line\ttwo"},
            "en",
            "Barrantes, A. (2016, March 3). Line one line two [",
        ),
    ],
)
def test_reference_variants(changes, lang, expected):
    ref = reference(work(**changes), lang)
    assert ref.startswith(expected), ref
    assert "\n" not in ref and ref.endswith(BASE + "resource/x")


def test_reference_publishers():
    w = work(creators=("ILO",), publishers=("ILO", "ISSA", SITE), persons=frozenset())
    assert (
        reference(w, "en")
        == f"ILO. (2016, March 3). A Title [Expert commentary]. ISSA. {SITE}. {w.iri}"
    )


# ---- BibTeX -------------------------------------------------------------------------------


def test_bibtex_barrantes(index):
    entry = parse_bibtex(bibtex(work_from_index(index, BARRANTES, "en")))
    assert (entry.entry_type, entry.key) == ("misc", "barrantes2016intersectoral")
    assert entry["author"] == ["Barrantes, Alexandra"]
    expected = {
        "title": BARRANTES_TITLE,
        "year": "2016",
        "month": "mar",
        "date": "2016-03-03",
        "url": BARRANTES,
        "note": SITE,
        "keywords": "Institutional capacity and coordination",
        "language": "en",
        "type": "Expert commentary",
    }
    assert {k: field(entry, k) for k in expected} == expected
    assert BARRANTES in entry["howpublished"]


def test_bibtex_organisations(index):
    entry = parse_bibtex(bibtex(work_from_index(index, SURVEY, "en")))
    assert (entry.entry_type, entry.key) == ("techreport", "ilo2019universal")
    assert entry["author"] == [
        "{ILO Committee of Experts on the Application of Conventions and Recommendations}"
    ]
    assert field(entry, "institution") == "International Labour Organization"
    assert "month" not in entry.fields_dict


HOSTILE_TITLES = [
    "Braces { and } unbalanced }{",
    "Lone { brace",
    "Lone } brace",
    r"Back\slash \textbf{bold} \\ \{",
    "100% & #1 $5 a_b ~tilde^caret",
    "Line one\nline two\r\n\ttabbed",
    "Ünïcödé — “quotes” 社会保障 الحماية",
    'Quote " and @misc{x, at',
    "} , author = {Evil",
    "%",
]


@pytest.mark.parametrize("title", HOSTILE_TITLES)
def test_hostile_titles(title):
    w = work(title=title, abstract=title, keywords=(title, "k"), publishers=(title,), kind="report")
    flat = " ".join(title.split())
    text = bibtex(w)
    if not any(c in flat for c in "{}\\%&#_$~^"):
        assert flat in text  # UTF-8 kept as is, nothing escaped needlessly
    entry = parse_bibtex(text)
    assert entry.entry_type == "techreport"
    assert field(entry, "title") == flat
    assert field(entry, "abstract") == flat
    assert field(entry, "institution") == flat
    assert entry.key.isascii() and re.fullmatch(r"[a-z0-9]+", entry.key)
    rec = parse_ris(ris(w))
    assert (rec["title"], rec["abstract"], rec["publisher"]) == (flat, flat, flat)
    assert rec["keywords"] == [flat, "k"]
    assert flat in reference(w, "en")


@pytest.mark.parametrize(
    ("kind", "publishers", "bib_type", "ris_type", "publisher_field"),
    [
        ("expert-commentary", (), "misc", "ELEC", None),
        ("report", ("ILO",), "techreport", "RPRT", "institution"),
        ("report", (), "misc", "RPRT", None),  # no institution: not a techreport
        ("policy-paper", ("ILO",), "techreport", "RPRT", "institution"),
        ("article", ("ILO",), "article", "JOUR", "publisher"),
        ("guide", ("ISSA",), "manual", "GEN", "organization"),
        ("publication", ("ILO",), "misc", "GEN", "publisher"),
        ("", (), "misc", "GEN", None),
        ("something-new", (), "misc", "GEN", None),
    ],
)
def test_type_mapping(kind, publishers, bib_type, ris_type, publisher_field):
    w = work(kind=kind, publishers=publishers)
    entry = parse_bibtex(bibtex(w))
    assert entry.entry_type == bib_type
    if publisher_field:
        assert field(entry, publisher_field) == publishers[0]
    assert ("howpublished" in entry.fields_dict) == (bib_type == "misc")
    assert parse_ris(ris(w))["type_of_reference"] == ris_type


@pytest.mark.parametrize(
    ("changes", "key"),
    [
        ({}, "barrantes2016title"),
        (
            {"creators": (), "title": "The Inter-sectoral Coordination"},
            "intersectoral2016coordination",
        ),
        ({"creators": (), "date": None, "title": "Good Governance"}, "goodgovernance"),
        ({"creators": ("José Núñez",), "persons": frozenset({"José Núñez"})}, "nunez2016title"),
        (
            {"creators": ("International Labour Organization",), "persons": frozenset()},
            "international2016title",
        ),
        ({"creators": (), "title": "الحماية الاجتماعية", "date": "2019"}, "x2019"),
        ({"creators": ("社会",), "persons": frozenset(), "title": "社会"}, "x2016"),
    ],
)
def test_bibtex_key(changes, key):
    entry = parse_bibtex(bibtex(work(**changes)))
    assert entry.key == key


def test_bibtex_people_and_organisations():
    w = work(
        creators=(
            "Ann Lee",
            "Ministry of Labour and Social Affairs",
            "Maria de la Cruz",
            "Smith, Inc.",
        ),
        persons=frozenset({"Ann Lee", "Maria de la Cruz"}),
    )
    entry = parse_bibtex(bibtex(w))
    # " and " or a comma inside an organisation's name does not split it: it is braced.
    assert entry["author"] == [
        "Lee, Ann",
        "{Ministry of Labour and Social Affairs}",
        "{Maria de la Cruz}",
        "{Smith, Inc.}",
    ]


def test_bibtex_missing_creator_and_date():
    entry = parse_bibtex(bibtex(work(creators=(), date=None, kind_label=None, title_lang=None)))
    assert not {"author", "year", "month", "date", "type", "language"} & set(entry.fields_dict)
    assert field(entry, "title") == "A Title"


def test_bibtex_keywords_with_commas():
    w = work(keywords=("Governance, accountability and democracy", "Kenya"))
    assert "keywords = {{Governance, accountability and democracy}, Kenya}" in bibtex(w)


# ---- RIS ----------------------------------------------------------------------------------


def test_ris_barrantes(index):
    w = dataclasses.replace(work_from_index(index, BARRANTES, "en"), page="https://example.org/p")
    rec = parse_ris(ris(w))
    assert rec == {
        "type_of_reference": "ELEC",
        "title": BARRANTES_TITLE,
        "authors": ["Barrantes, Alexandra"],
        "year": "2016",
        "date": "2016/03/03/",
        "type_of_work": "Expert commentary",
        "name_of_database": SITE,
        "urls": [BARRANTES],
        "file_attachments2": "https://example.org/p",
        "abstract": w.abstract,
        "keywords": ["Institutional capacity and coordination"],
        "language": "en",
    }


@pytest.mark.parametrize(
    ("changes", "year", "date", "authors"),
    [
        ({"date": "2016-03"}, "2016", "2016/03//", ["Barrantes, Alexandra"]),
        ({"date": "2016"}, "2016", "2016///", ["Barrantes, Alexandra"]),
        ({"date": None}, None, None, ["Barrantes, Alexandra"]),
        ({"creators": ()}, "2016", "2016/03/03/", None),
        (
            {"creators": ("ILO", "Ann Lee"), "persons": frozenset({"Ann Lee"})},
            "2016",
            "2016/03/03/",
            ["ILO", "Lee, Ann"],
        ),
        (
            {"creators": ("Maria de la Cruz",), "persons": frozenset({"Maria de la Cruz"})},
            "2016",
            "2016/03/03/",
            ["Maria de la Cruz"],
        ),
    ],
)
def test_ris_variants(changes, year, date, authors):
    rec = parse_ris(ris(work(**changes)))
    assert (rec.get("year"), rec.get("date"), rec.get("authors")) == (year, date, authors)


# ---- determinism --------------------------------------------------------------------------


def test_deterministic(bundled_project, bundled_sources, index):
    fresh = Index(bundled_project, bundled_sources)
    for iri in index.live_entries:
        for lang in LANGS:
            a, b = work_from_index(index, iri, lang), work_from_index(fresh, iri, lang)
            assert a == b
            assert (reference(a, lang), bibtex(a), ris(a)) == (
                reference(b, lang),
                bibtex(b),
                ris(b),
            )
