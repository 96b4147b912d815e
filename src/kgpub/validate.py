"""Validate: SHACL over ontology + data, turned into a report an editor can act on.

Two engines (see kgpub.shacl_engines): pySHACL, the reference, and the much faster `shacl`
(Rust); `engine="auto"` takes the fast one when it is installed and working. Both give the same
report.

After either engine, kgpub's own checks, the same whichever ran: text values over
[site] max_literal_bytes, typed values outside their datatype's lexical space ("2021-13"^^
xsd:gYearMonth), IRIs that cannot be published as files (kgpub.index.path_problem), things
described in more than one place, and characters XML cannot carry. Each problem points at the
line of the statement at fault (a missing statement: where the subject's description starts),
and the problems several rules find in one statement are reported once.
"""

from __future__ import annotations

import calendar
import json
import re
import unicodedata
from collections import defaultdict
from dataclasses import asdict, dataclass, field, replace

import pyoxigraph as ox
from rdflib import BNode, Graph, Literal, URIRef
from rdflib.collection import Collection
from rdflib.namespace import RDF, SH

from .index import path_key, path_problem
from .layout import RESERVED
from .load import BIDI_CLASS, FLAGGED, XML_FORBIDDEN_CLASS, ZERO_WIDTH_CLASS, Location, Sources
from .shacl_engines import ENGINES, EngineError, Finding, run, to_rdflib, to_rdflib_term

__all__ = [
    "ENGINES", "EngineError", "HINTS", "RESERVED", "Problem", "Report", "character_problems",
    "description_problems", "literal_problems", "reserved_path_problems", "to_rdflib",
    "to_rdflib_term", "unpublishable_problems", "validate_sources",
]

RDF_TYPE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"
SUBCLASS_OF = "http://www.w3.org/2000/01/rdf-schema#subClassOf"
XSD = "http://www.w3.org/2001/XMLSchema#"

# How to fix a failure of each SHACL constraint component, when the shape gives no sh:description.
HINTS = {
    "MinCountConstraintComponent": "add the missing statement",
    "MaxCountConstraintComponent": "keep one value and remove the others",
    "DatatypeConstraintComponent": "write the value with the expected datatype",
    "ClassConstraintComponent": "point to an entity of the expected class (check the IRI's spelling)",
    "NodeKindConstraintComponent": "use an IRI (<...>), not a string",
    "PatternConstraintComponent": "correct the value's form",
    "UniqueLangConstraintComponent": "keep one value per language tag",
    "InConstraintComponent": "use one of the allowed values",
    "HasValueConstraintComponent": "add the required value",
    "MinLengthConstraintComponent": "write a non-empty value",
    "LanguageInConstraintComponent": "tag the text with one of the site's languages",
    "SPARQLConstraintComponent": "correct the value",
}


@dataclass(frozen=True, order=True)
class Problem:
    file: str
    line: int
    focus: str
    path: str
    severity: str  # "violation" | "warning" | "info"
    message: str
    value: str | None = None
    hint: str = ""
    rule: str = ""

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}" if self.line else self.file


@dataclass
class Report:
    problems: list[Problem] = field(default_factory=list)
    engine: str = field(default="", compare=False)  # the SHACL engine that ran

    @property
    def violations(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "violation"]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity != "violation"]

    @property
    def conforms(self) -> bool:
        return not self.violations

    def to_json(self) -> str:
        return json.dumps(
            {
                "conforms": self.conforms,
                "violations": [asdict(p) for p in self.violations],
                "warnings": [asdict(p) for p in self.warnings],
            },
            indent=2,
            ensure_ascii=False,
        )

    def to_text(self) -> str:
        out: list[str] = []
        for title, items in (("Violations", self.violations), ("Warnings", self.warnings)):
            if not items:
                continue
            out.append(f"{title} ({len(items)}):")
            for p in items:
                focus = f"<{p.focus}>" if ":" in p.focus else "[a blank node]"
                out.append(f"{p.where}: {p.severity}: {focus}" + (f" {p.path}" if p.path else ""))
                out.append(f"    {p.message}")
                if p.value is not None:
                    out.append(f"    value: {p.value}")
                if p.hint:
                    out.append(f"    fix: {p.hint}")
                out.append(f"    rule: {p.rule}")
            out.append("")
        verdict = "conforms" if self.conforms else "does NOT conform"
        out.append(
            f"The data {verdict}: {len(self.violations)} violation(s), {len(self.warnings)} warning(s)."
        )
        return "\n".join(out)


def _shortener(prefixes: dict[str, str]):
    known = sorted(prefixes.items(), key=lambda kv: -len(kv[1]))

    def short(iri: str) -> str:
        for prefix, ns in known:
            if prefix and iri.startswith(ns) and len(iri) > len(ns):
                return f"{prefix}:{iri[len(ns) :]}"
        return f"<{iri}>" if "://" in iri else iri

    return short


def unpublishable_problems(sources: Sources, iris=None) -> list[Problem]:
    """A violation for each entity whose IRI cannot be published as files (kgpub.index.
    path_problem: dot-segments, a trailing '/', segments too long, a reserved path...), and for
    IRIs whose paths differ only in case (one file on macOS and Windows). iris: the entities
    to check, by default every subject under the base (the build passes its index's, in
    kgpub.site: the same words refuse it there)."""
    base = sources.base
    if not base:
        return []
    if iris is None:
        iris = [i for i in sources.locations
                if i.startswith(base) and len(i) > len(base) and "#" not in i]
    short = _shortener(sources.prefixes)
    problems: list[Problem] = []
    keys: dict[str, list[str]] = defaultdict(list)
    languages = sources.languages
    for iri in iris:
        found = path_problem(iri, base, languages)
        if found:
            loc = sources.locate(iri)
            problems.append(Problem(
                file=loc.file if loc else "(derived)", line=(loc.line or 0) if loc else 0,
                focus=iri, path="", severity="violation", message=found.message,
                value=short(iri), hint=found.fix, rule=found.rule))
        else:
            keys[path_key(iri[len(base):])].append(iri)
    for same in keys.values():
        if len(same) < 2:
            continue
        order = {f: n for n, f in enumerate(sources.files)}
        places = sorted(((sources.locate(i) or Location("(derived)", None), i) for i in same),
                        key=lambda p: (order.get(p[0].file, len(order)), p[0].line or 0, p[1]))
        (loc, iri), others = places[-1], places[:-1]
        named = ", ".join(f"<{o}> ({where})" for where, o in others)
        problems.append(Problem(
            file=loc.file, line=loc.line or 0, focus=iri, path="", severity="violation",
            message=f"The IRI differs from {named} only in case: on macOS and Windows their "
                    "files are the same files, and one entity's pages would replace the "
                    "other's.",
            value=short(iri),
            hint="Give one of them another slug; slugs are lower-case letters, digits and "
                 "hyphens.",
            rule="kgpub:CaseCollision"))
    return problems


def reserved_path_problems(sources: Sources, base: str) -> list[Problem]:
    """The entities that cannot be published as files (see unpublishable_problems)."""
    return unpublishable_problems(replace(sources, base=base))


# ---- characters: what XML cannot carry, and what cannot be seen -------------------------------

XML_FORBIDDEN = re.compile(f"[{XML_FORBIDDEN_CLASS}]")
INVISIBLE = re.compile(f"[{BIDI_CLASS}{ZERO_WIDTH_CLASS}]")
_BIDI = re.compile(f"[{BIDI_CLASS}]")
# Names and labels, where an invisible character changes what people see or find: the label
# properties ([site] label_properties) and these.
OTHER_NAMES = frozenset({"http://www.w3.org/2004/02/skos/core#altLabel"})
_C0_NAMES = ("NUL SOH STX ETX EOT ENQ ACK BEL BS HT LF VT FF CR SO SI DLE DC1 DC2 DC3 DC4 NAK SYN "
             "ETB CAN EM SUB ESC FS GS RS US").split()


def _char_name(char: str) -> str:
    code = ord(char)
    if code < 0x20:
        return f"U+{code:04X} ({_C0_NAMES[code]}, a control character)"
    if 0xD800 <= code <= 0xDFFF:
        return f"U+{code:04X} (a lone surrogate)"
    if code in (0xFFFE, 0xFFFF):
        return f"U+{code:04X} (a noncharacter)"
    return f"U+{code:04X} ({unicodedata.name(char, 'unnamed')})"


def _listed(chars: list[str]) -> str:
    names = [_char_name(c) for c in dict.fromkeys(chars)]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _escape_hint(chars: list[str]) -> str:
    spelled = {"\b": "\\b", "\f": "\\f"}
    return ", ".join(spelled.get(c, f"\\u{ord(c):04X}") for c in dict.fromkeys(chars))


def character_problems(sources: Sources, short) -> list[Problem]:
    """A violation for every literal or IRI holding a character XML 1.0 forbids (NUL, the other
    C0 controls but TAB, LF and CR, U+FFFE, U+FFFF, lone surrogates): no feed, RDF/XML document
    or OAI-PMH record could carry it. A warning for bidirectional controls and zero-width
    characters in names and labels. Each at the line where the value is written (else where
    the file's statements about its subject start). A shape's pattern that refuses the same
    value (shape:Literals: a control character in a title) is merged into this problem by
    validate_sources, which names every character."""
    problems: list[Problem] = []
    labels = OTHER_NAMES | set(sources.label_properties)
    for file, flagged in sources.flagged.items():
        lines = _literal_lines(flagged)
        for position, t in enumerate(flagged.triples):
            iris, literals = _leaves(t)
            if not any(FLAGGED.search(term.value) for term in iris + literals):
                continue
            subject = getattr(t.subject, "value", str(t.subject))
            path = short(t.predicate.value)
            loc = sources.locate(subject)
            line = lines.get(position) or flagged.subject_lines.get(subject) or (
                loc.line if loc and loc.file == file else 0) or 0
            for term in iris:  # the parser refuses these in IRIs: a last line of defence
                bad = XML_FORBIDDEN.findall(term.value)
                if bad:
                    problems.append(Problem(
                        file=file, line=line, focus=subject, path=path, severity="violation",
                        message=f"An IRI contains {_listed(bad)}, which XML 1.0 forbids.",
                        value=repr(term.value), hint="Remove the character from the IRI.",
                        rule="kgpub:XmlCharacter"))
            for literal in literals:
                problems += _character_problems(literal.value, file, line, subject, path,
                                                t.predicate.value in labels)
    return problems


def _character_problems(text: str, file: str, line: int, subject: str, path: str,
                        label: bool) -> list[Problem]:
    problems = []
    value = repr(text)
    bad = XML_FORBIDDEN.findall(text)
    if bad:
        one = len(set(bad)) == 1
        problems.append(Problem(
            file=file, line=line, focus=subject, path=path, severity="violation",
            message=f"The text contains {_listed(bad)}, "
                    f"{'a character' if one else 'characters'} XML 1.0 forbids: feeds, "
                    f"RDF/XML documents and OAI-PMH records cannot carry "
                    f"{'it' if one else 'them'}.",
            value=value,
            hint="Remove the character; it is invisible and usually comes from pasting "
                 "out of a PDF or a word processor (in Turtle it may also be written as "
                 f"{_escape_hint(bad)}).",
            rule="kgpub:XmlCharacter"))
    invisible = INVISIBLE.findall(text) if label else []
    if invisible:
        kinds = {bool(_BIDI.match(c)) for c in invisible}
        kind = "; ".join(
            ("bidirectional controls are invisible and can make text display in another "
             "order than it is stored") if bidi else
            ("zero-width characters are invisible, yet searches and links do not match "
             "text that holds them") for bidi in sorted(kinds, reverse=True))
        problems.append(Problem(
            file=file, line=line, focus=subject, path=path, severity="warning",
            message=f"The title or label contains {_listed(invisible)}: {kind}.",
            value=value,
            hint="Remove the character unless the script needs it (a zero-width joiner "
                 "in some scripts, a direction mark in mixed right-to-left text): retype "
                 "the text or paste it as plain text.",
            rule="kgpub:InvisibleCharacter"))
    return problems


def _leaves(t: ox.Triple) -> tuple[list, list]:
    """(IRIs, literals) of a triple, datatypes included, triple terms (RDF 1.2) opened."""
    iris: list = []
    literals: list = []
    todo = [t.subject, t.predicate, t.object]
    while todo:
        term = todo.pop(0)
        if isinstance(term, ox.NamedNode):
            iris.append(term)
        elif isinstance(term, ox.Literal):
            literals.append(term)
            if term.datatype is not None:
                iris.append(term.datatype)
        elif isinstance(term, ox.Triple):
            todo[:0] = [term.subject, term.predicate, term.object]
    return iris, literals


def _literal_lines(flagged) -> dict[int, int]:
    """Triple position -> line of the first flagged character of its literal, when the
    characters found in the text line up one to one with those in the file's literals (in
    parse order, which is text order). A flagged character the text holds elsewhere (in a
    comment, in an IRI, a literal a triple term repeats) makes them not line up: then no line
    is known this way."""
    expected: list[tuple[int, list[str]]] = []
    for position, t in enumerate(flagged.triples):
        iris, literals = _leaves(t)
        if any(FLAGGED.search(term.value) for term in iris):
            return {}
        chars = [c for literal in literals for c in FLAGGED.findall(literal.value)]
        if chars:
            expected.append((position, chars))
    marks = flagged.marks
    if sum(len(chars) for _, chars in expected) != len(marks):
        return {}
    lines: dict[int, int] = {}
    at = 0
    for position, chars in expected:
        if [c for _, c in marks[at:at + len(chars)]] != chars:
            return {}
        lines[position] = marks[at][0]
        at += len(chars)
    return lines


def validate_sources(sources: Sources, engine: str = "auto") -> Report:
    """Validate ontology + data against the shapes, then with kgpub's own checks. Ontology
    classes take part, so sh:class follows rdfs:subClassOf without inference.

    engine: "pyshacl" (the reference), "fast" (the `shacl` package), or "auto" (fast when it is
    installed and working, else pyshacl). Raises EngineError for an unknown or unusable engine."""
    ran, findings = run(sources, engine)
    short = _shortener(sources.prefixes)
    statements = _Statements(sources, {str(f.focus) for f in findings if _at_statement(f)}
                             | {i for i in sources.repeats})
    problems = [_problem(f, sources, short, statements) for f in findings]
    literals = literal_problems(sources, short)
    # An ill-typed value fails the shapes' sh:datatype too, as the engines read it (pySHACL
    # reports "yes"^^xsd:boolean as 'false'): its own problem says more, once.
    ill_typed = {(p.focus, p.path, p.file, p.line) for p in literals
                 if p.rule == "kgpub:InvalidLiteral"}
    problems = [p for p in problems
                if p.rule not in _ILL_TYPED or (p.focus, p.path, p.file, p.line) not in ill_typed]
    problems += literals
    problems += unpublishable_problems(sources)
    problems += description_problems(sources, short, statements)
    problems += character_problems(sources, short)
    return Report(sorted(_merged(problems)), engine=ran)


# ---- where a problem points ----------------------------------------------------------------------

# Results that name no value because a statement is missing: they point where the subject's
# description starts. Every other result of a property points at the statement at fault (the
# first of its property when no value is named: a second value, a second language).
MISSING = frozenset({"MinCountConstraintComponent", "QualifiedMinCountConstraintComponent",
                     "HasValueConstraintComponent"})


def _at_statement(f: Finding) -> bool:
    return isinstance(f.path, URIRef) and f.component not in MISSING


class _Statements:
    """Where the statements about some subjects are written: (file, position in the file's
    triples), found in one pass over the files, and their lines (Sources.statement_lines)."""

    def __init__(self, sources: Sources, subjects: set[str]):
        self.sources = sources
        self.found: dict[str, list[tuple[str, int, ox.Triple]]] = defaultdict(list)
        if not subjects:
            return
        for file, triples in sources.file_triples.items():
            for position, t in enumerate(triples):
                if t.subject.value in subjects:
                    self.found[t.subject.value].append((file, position, t))

    def of(self, subject: str) -> list[tuple[str, int, ox.Triple]]:
        return self.found.get(subject, [])

    def line(self, file: str, position: int) -> int | None:
        lines = self.sources.statement_lines(file)
        return lines[position] if lines else None

    def place(self, focus: str, predicate: str, value) -> Location | None:
        """Where the statement (focus, predicate, value) is written; the first one of
        (focus, predicate) when value is None or matches none exactly (a value the engine
        reports normalised, "1" for "01")."""
        candidates = [(f, n, t) for f, n, t in self.of(focus) if t.predicate.value == predicate]
        if not candidates:
            return None
        if value is not None:
            exact = [c for c in candidates if _same(c[2].object, value)]
            similar = [c for c in candidates
                       if isinstance(value, Literal) and type(c[2].object) is ox.Literal]
            candidates = exact or similar or candidates
        file, position, _t = candidates[0]
        line = self.line(file, position)
        if line is None:
            loc = self.sources.locate(focus)
            line = loc.line if loc and loc.file == file else None
        return Location(file, line)


def _same(term, value) -> bool:
    if isinstance(value, URIRef):
        return type(term) is ox.NamedNode and term.value == str(value)
    if isinstance(value, BNode):
        return type(term) is ox.BlankNode and term.value == str(value)
    return type(term) is ox.Literal and term.value == str(value)


# ---- one problem a statement ---------------------------------------------------------------------

# Shape results an ill-typed value causes: its kgpub:InvalidLiteral problem says more, and the
# engines differ in which ill-typed values they notice.
_ILL_TYPED = ("sh:DatatypeConstraintComponent", "sh:OrConstraintComponent")


def _merged(problems: list[Problem]) -> list[Problem]:
    """Problems about one statement (focus, path, value), of one severity, as one: kgpub's own
    (the most specific) first, its message and fix, with every rule named."""
    groups: dict[tuple, list[Problem]] = defaultdict(list)
    for n, p in enumerate(problems):
        # a value cut out for its size is not shown: two of them are two statements
        alone = n if p.rule == "kgpub:LiteralSize" else None
        groups[(p.focus, p.path, p.value, p.severity, alone)].append(p)
    out = []
    for same in groups.values():
        if len(same) == 1:
            out.append(same[0])
            continue
        ordered = sorted(set(same), key=lambda p: (not p.rule.startswith("kgpub:"), p.message,
                                                    p.rule, p.file, p.line))
        rules = list(dict.fromkeys(r for p in ordered for r in p.rule.split(", ")))
        if "kgpub:InvalidLiteral" in rules:
            rules = [r for r in rules if r not in _ILL_TYPED]
        out.append(replace(ordered[0], rule=", ".join(rules)))
    return out


# ---- things described in more than one place -----------------------------------------------------


def description_problems(sources: Sources, short, statements: _Statements | None = None
                         ) -> list[Problem]:
    """An entity described in more than one place (as a subject in several files, or in two
    blocks of one file) is published as one: a warning naming every place; a violation when
    the places give it classes neither of which is a kind of the other (an entry that is a
    sphr:ExpertCommentary in one file and a sphr:Publication in another)."""
    base = sources.base
    repeated = [i for i in sources.repeats
                if i.startswith(base) and len(i) > len(base) and "#" not in i]
    if not repeated:
        return []
    statements = statements or _Statements(sources, set(repeated))
    supers = None
    problems = []
    for iri in sorted(repeated):
        blocks = _blocks(sources, statements, iri)
        if len(blocks) < 2:
            continue
        first = blocks[0][0]
        where = ", ".join(str(loc) for loc, _ in blocks[:-1]) + f" and {blocks[-1][0]}"
        classes = sorted({c for _, cs in blocks for c in cs})
        if len(classes) > 1:
            supers = supers or _superclasses(sources)
            apart = [c for c in classes
                     if not any(c != d and d in supers(c) for d in classes)
                     and not any(c != d and c in supers(d) for d in classes)]
        else:
            apart = []
        if len(apart) > 1:
            described = ", ".join(
                f"a {' and a '.join(short(c) for c in sorted(cs))} at {loc}"
                for loc, cs in blocks if cs)
            problems.append(Problem(
                file=first.file, line=first.line or 0, focus=iri, path="rdf:type",
                severity="violation",
                message=f"The entity is described in {len(blocks)} places as things of "
                        f"different classes ({described}): it would be published as one "
                        f"entity that is both ({', '.join(short(c) for c in apart)}).",
                hint="If these are different things, give each its own IRI (slug); if they are "
                     f"one, keep one description with one class, at {first}.",
                rule="kgpub:ConflictingDescriptions"))
        else:
            problems.append(Problem(
                file=first.file, line=first.line or 0, focus=iri, path="",
                severity="warning",
                message=f"The entity is described in {len(blocks)} places: {where}. They are "
                        "published as one description, in which a statement written in both "
                        "places shows twice.",
                hint=f"Keep one description: move its statements to {first} and delete the "
                     f"other block{'s' if len(blocks) > 2 else ''}.",
                rule="kgpub:SplitDescription"))
    return problems


def _blocks(sources: Sources, statements: _Statements, iri: str
            ) -> list[tuple[Location, set[str]]]:
    """Where each block describing iri starts, with the classes it gives: a run of its
    statements in a file, which only blank nodes' statements (its nested values) interrupt.
    One block a file when the lines are not known."""
    by_file: dict[str, list[tuple[int, ox.Triple]]] = defaultdict(list)
    for file, position, t in statements.of(iri):
        by_file[file].append((position, t))
    firsts = {loc.file: loc for loc in sources.repeats.get(iri, [])}
    blocks: list[tuple[Location, set[str]]] = []
    for file in sorted(by_file, key=lambda f: sources.files.index(f)):
        found = by_file[file]
        triples = sources.file_triples[file]
        lines = sources.statement_lines(file)
        runs: list[list[tuple[int, ox.Triple]]] = []
        for position, t in found:
            if runs and (lines is None or file.endswith(".nt") or all(
                    type(u.subject) is ox.BlankNode or u.subject.value == iri
                    for u in triples[runs[-1][-1][0] + 1: position])):
                runs[-1].append((position, t))
            else:
                runs.append([(position, t)])
        for block in runs:
            line = lines[block[0][0]] if lines else (
                firsts[file].line if file in firsts else None)
            classes = {t.object.value for _, t in block
                       if t.predicate.value == RDF_TYPE and type(t.object) is ox.NamedNode}
            blocks.append((Location(file, line), classes))
    return blocks


def _superclasses(sources: Sources):
    """class -> its superclasses (itself included), through rdfs:subClassOf in the graph."""
    direct: dict[str, set[str]] = defaultdict(set)
    for t in sources.graph:
        if t.predicate.value == SUBCLASS_OF and type(t.object) is ox.NamedNode:
            direct[t.subject.value].add(t.object.value)
    known: dict[str, set[str]] = {}

    def supers(cls: str) -> set[str]:
        if cls not in known:
            found, todo = {cls}, [cls]
            while todo:
                for sup in direct.get(todo.pop(), ()):
                    if sup not in found:
                        found.add(sup)
                        todo.append(sup)
            known[cls] = found
        return known[cls]

    return supers


# ---- literals: their size, and their datatype's lexical space ------------------------------------


def literal_problems(sources: Sources, short) -> list[Problem]:
    """A violation for each text value over [site] max_literal_bytes (cut out when loading),
    and for each typed value outside its datatype's lexical space: "abc"^^xsd:gYear,
    "2021-13"^^xsd:gYearMonth, "2021-02-30"^^xsd:date (the calendar is checked), "1,5"^^
    xsd:decimal... Each at the line of its statement."""
    problems = [Problem(
        file=o.file, line=o.line, focus=o.subject, path=short(o.predicate), severity="violation",
        message=f"The text{f' in @{o.language}' if o.language else ''} is {o.size:,} bytes "
                f"long, over the limit of "
                f"{sources.literal_limit:,} bytes ([site] max_literal_bytes in kgpub.toml): it "
                "would be copied into every page and document of the entity, its listings and "
                "the dumps. It was not read.",
        hint="Shorten it (a summary is a few sentences) and link the full text with foaf:page; "
             "or, if such texts are intended, raise [site] max_literal_bytes (at most 8 MiB).",
        rule="kgpub:LiteralSize") for o in sources.oversized]
    literal, lexical = ox.Literal, _LEXICAL_NODES.get
    for file, triples in sources.file_triples.items():
        bad = []
        for t in triples:  # ~120k statements at 10,000 entries: kept to the bare minimum
            o = t.object
            if type(o) is literal:
                check = lexical(o.datatype)
                if check is not None:
                    reason = check(o.value)
                    if reason is not None:
                        bad.append((t, reason))
        if not bad:
            continue
        lines = sources.statement_lines(file) or []
        for t, reason in bad:
            position = triples.index(t)
            o, datatype = t.object, t.object.datatype.value
            subject = t.subject.value
            loc = sources.locate(subject)
            line = lines[position] if lines else (loc.line if loc and loc.file == file else 0)
            name = "xsd:" + datatype[len(XSD):]
            problems.append(Problem(
                file=file, line=line or 0, focus=subject, path=short(t.predicate.value),
                severity="violation", message=f"{o.value!r} is not a valid {name}: {reason}.",
                value=repr(o.value), hint=FIXES.get(datatype, f"Write a valid {name}."),
                rule="kgpub:InvalidLiteral"))
    return problems


_TZ = r"(Z|[+-]\d\d:\d\d)?"
_YEAR = r"(-?\d{4,})"
_TIME = r"(\d\d):(\d\d):(\d\d)(\.\d+)?"
# What is surely valid (a day up to 28), checked in one match; the rest is looked at closely.
_OK_ZONE = r"(?:Z|[+-](?:(?:0\d|1[0-3]):[0-5]\d|14:00))"
_OK_TZ = _OK_ZONE + "?"
_OK_DATE = r"-?(?:[1-9]\d{3,}|0\d{3})-(?:0[1-9]|1[0-2])-(?:0[1-9]|1\d|2[0-8])"
_OK_TIME = r"(?:[01]\d|2[0-3]):[0-5]\d:[0-5]\d(?:\.\d+)?"
_SURELY = {
    "gYear": re.compile(r"-?(?:[1-9]\d{3,}|0\d{3})" + _OK_TZ),
    "gYearMonth": re.compile(r"-?(?:[1-9]\d{3,}|0\d{3})-(?:0[1-9]|1[0-2])" + _OK_TZ),
    "date": re.compile(_OK_DATE + _OK_TZ),
    "dateTime": re.compile(_OK_DATE + "T" + _OK_TIME + _OK_TZ),
    "dateTimeStamp": re.compile(_OK_DATE + "T" + _OK_TIME + _OK_ZONE),
    "time": re.compile(_OK_TIME + _OK_TZ),
}
_DATE_FORMS = {
    "gYear": (re.compile(_YEAR + _TZ), 'a year is four digits, e.g. "2021"'),
    "gYearMonth": (re.compile(_YEAR + r"-(\d\d)" + _TZ), 'a month is written YYYY-MM, e.g. '
                   '"2021-03"'),
    "date": (re.compile(_YEAR + r"-(\d\d)-(\d\d)" + _TZ), 'a date is written YYYY-MM-DD, e.g. '
             '"2021-03-15"'),
    "dateTime": (re.compile(_YEAR + r"-(\d\d)-(\d\d)T" + _TIME + _TZ),
                 'a date and time is written YYYY-MM-DDThh:mm:ss with an optional time zone, '
                 'e.g. "2021-03-15T09:30:00Z"'),
    "dateTimeStamp": (re.compile(_YEAR + r"-(\d\d)-(\d\d)T" + _TIME + r"(Z|[+-]\d\d:\d\d)"),
                      'a time stamp is written YYYY-MM-DDThh:mm:ss with a time zone, e.g. '
                      '"2021-03-15T09:30:00Z"'),
    "time": (re.compile(_TIME + _TZ), 'a time is written hh:mm:ss, e.g. "09:30:00"'),
}


def _calendar(kind: str):
    form, how = _DATE_FORMS[kind]
    surely = _SURELY[kind].fullmatch

    def check(value: str) -> str | None:
        if surely(value):
            return None
        m = form.fullmatch(value)
        if m is None:
            stripped = form.fullmatch(value.strip())
            return "it has spaces around it" if stripped else how
        parts = list(m.groups())
        tz = parts.pop()
        if kind != "time":
            year = parts.pop(0)
            if len(year.lstrip("-")) > 4 and year.lstrip("-").startswith("0"):
                return f"the year {year} has a leading zero"
            if kind != "gYear":
                month = int(parts.pop(0))
                if not 1 <= month <= 12:
                    return f"there is no month {month:02d}"
                if kind != "gYearMonth":
                    day = int(parts.pop(0))
                    days = calendar.monthrange(_leap_proxy(year), month)[1]
                    if not 1 <= day <= 31:
                        return f"there is no day {day:02d}"
                    if day > days:
                        return (f"{calendar.month_name[month]} {year} has {days} "
                                "days" if month == 2 else
                                f"{calendar.month_name[month]} has {days} days")
        if parts:
            hour, minute, second, fraction = parts
            if hour == "24":
                if minute != "00" or second != "00" or fraction and fraction.strip(".0"):
                    return "hour 24 is only 24:00:00 (the end of the day)"
            elif int(hour) > 23:
                return f"there is no hour {hour}"
            if int(minute) > 59:
                return f"there is no minute {minute}"
            if int(second) > 59:
                return f"there is no second {second}"
        if tz and tz != "Z":
            hours, minutes = int(tz[1:3]), int(tz[4:6])
            if minutes > 59 or hours > 14 or (hours == 14 and minutes):
                return f"the time zone {tz} is out of range (-14:00 to +14:00)"
        return None

    return check


def _leap_proxy(year: str) -> int:
    """A year of the calendar module's range that is a leap year when `year` is (XSD years are
    proleptic Gregorian, 0000 is 1 BCE and a leap year; calendar takes 1 to 9999)."""
    n = int(year)
    leap = n % 4 == 0 and (n % 100 != 0 or n % 400 == 0)
    return 2000 if leap else 2001


def _pattern(regex: str, how: str, low: int | None = None, high: int | None = None):
    form = re.compile(regex)

    def check(value: str) -> str | None:
        if form.fullmatch(value) is None:
            if form.fullmatch(value.strip()):
                return "it has spaces around it"
            return how
        if low is not None or high is not None:
            n = int(value)
            if (low is not None and n < low) or (high is not None and n > high):
                lo = "" if low is None else f"{low:,}"
                hi = "" if high is None else f"{high:,}"
                return (f"it must be at least {lo}" if high is None else
                        f"it must be at most {hi}" if low is None else
                        f"it must be from {lo} to {hi}")
        return None

    return check


def _any_uri(value: str) -> str | None:
    bad = next((c for c in value if c.isspace() or c in '<>"{}|\\^`' or ord(c) < 0x20), None)
    if bad is None:
        return None
    if bad.isspace():
        return "an address cannot hold spaces (write a space as %20)"
    return f"an address cannot hold {bad!r} (percent-encode it)"


_INTEGER = r"[+-]?\d+"
_WHOLE = "a whole number is digits with an optional sign, e.g. \"42\""
LEXICAL = {
    **{XSD + kind: _calendar(kind) for kind in _DATE_FORMS},
    XSD + "integer": _pattern(_INTEGER, _WHOLE),
    XSD + "nonNegativeInteger": _pattern(_INTEGER, _WHOLE, 0),
    XSD + "positiveInteger": _pattern(_INTEGER, _WHOLE, 1),
    XSD + "nonPositiveInteger": _pattern(_INTEGER, _WHOLE, None, 0),
    XSD + "negativeInteger": _pattern(_INTEGER, _WHOLE, None, -1),
    XSD + "long": _pattern(_INTEGER, _WHOLE, -2**63, 2**63 - 1),
    XSD + "int": _pattern(_INTEGER, _WHOLE, -2**31, 2**31 - 1),
    XSD + "short": _pattern(_INTEGER, _WHOLE, -2**15, 2**15 - 1),
    XSD + "byte": _pattern(_INTEGER, _WHOLE, -128, 127),
    XSD + "unsignedLong": _pattern(_INTEGER, _WHOLE, 0, 2**64 - 1),
    XSD + "unsignedInt": _pattern(_INTEGER, _WHOLE, 0, 2**32 - 1),
    XSD + "unsignedShort": _pattern(_INTEGER, _WHOLE, 0, 2**16 - 1),
    XSD + "unsignedByte": _pattern(_INTEGER, _WHOLE, 0, 255),
    XSD + "decimal": _pattern(r"[+-]?(\d+(\.\d*)?|\.\d+)",
                              "a decimal is digits with an optional sign and a decimal point "
                              "(no comma, no exponent), e.g. \"3.14\""),
    XSD + "double": _pattern(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?|[+-]?INF|NaN",
                             "a number is written like \"3.14\", \"1.5E3\", \"INF\" or "
                             "\"NaN\""),
    XSD + "float": _pattern(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?|[+-]?INF|NaN",
                            "a number is written like \"3.14\", \"1.5E3\", \"INF\" or \"NaN\""),
    XSD + "boolean": _pattern(r"true|false|1|0", "a boolean is true, false, 1 or 0"),
    XSD + "anyURI": _any_uri,
}
_LEXICAL_NODES = {ox.NamedNode(datatype): check for datatype, check in LEXICAL.items()}
_DATES = ('Write the date as "2021"^^xsd:gYear, "2021-03"^^xsd:gYearMonth or '
          '"2021-03-15"^^xsd:date, with a month from 01 to 12 and a day the month has.')
FIXES = {
    XSD + "gYear": _DATES,
    XSD + "gYearMonth": _DATES,
    XSD + "date": _DATES,
    XSD + "dateTime": 'Write the date and time as "2021-03-15T09:30:00Z"^^xsd:dateTime '
                      '(a time zone, Z or +01:00, is recommended).',
    XSD + "dateTimeStamp": 'Write the time stamp as "2021-03-15T09:30:00Z"^^xsd:dateTimeStamp.',
    XSD + "time": 'Write the time as "09:30:00"^^xsd:time.',
    XSD + "boolean": "Write true or false, without quotes.",
    XSD + "anyURI": 'Write the address percent-encoded, e.g. "https://example.org/a%20b"'
                    '^^xsd:anyURI, or as an IRI <https://example.org/a%20b>.',
    XSD + "decimal": 'Write the number with a decimal point, e.g. "3.14"^^xsd:decimal '
                     '(or 3.14 without quotes).',
    XSD + "double": 'Write the number as "1.5E3"^^xsd:double (or 1.5E3 without quotes).',
    XSD + "float": 'Write the number as "1.5E3"^^xsd:float.',
    **{XSD + t: f'Write a whole number in range, e.g. "42"^^xsd:{t} (or 42 without quotes).'
       for t in ("integer", "nonNegativeInteger", "positiveInteger", "nonPositiveInteger",
                 "negativeInteger", "long", "int", "short", "byte", "unsignedLong",
                 "unsignedInt", "unsignedShort", "unsignedByte")},
}


def _path_text(g: Graph, path, short) -> str:
    """A SHACL property path in SPARQL syntax: skos:broader*, ^dcterms:subject, a/b, (a|b)."""
    if isinstance(path, URIRef):
        return short(str(path))
    for prop, suffix in ((SH.zeroOrMorePath, "*"), (SH.oneOrMorePath, "+"),
                         (SH.zeroOrOnePath, "?")):
        inner = g.value(path, prop)
        if inner is not None:
            return _path_text(g, inner, short) + suffix
    inverse = g.value(path, SH.inversePath)
    if inverse is not None:
        return "^" + _path_text(g, inverse, short)
    alternatives = g.value(path, SH.alternativePath)
    if alternatives is not None:
        return "(" + "|".join(_path_text(g, p, short) for p in Collection(g, alternatives)) + ")"
    if g.value(path, RDF.first) is not None:
        return "/".join(_path_text(g, p, short) for p in Collection(g, path))
    return "(path)"


def _problem(f: Finding, sources: Sources, short, statements: _Statements) -> Problem:
    loc = sources.locate(str(f.focus))
    if _at_statement(f):
        value = None if f.value == f.focus else f.value
        loc = statements.place(str(f.focus), str(f.path), value) or loc
    sev = {SH.Violation: "violation", SH.Warning: "warning"}.get(f.severity, "info")
    value = f.value
    return Problem(
        file=loc.file if loc else "(unknown file)",
        line=(loc.line or 0) if loc else 0,
        focus=str(f.focus),
        path="" if f.path is None else _path_text(f.graph, f.path, short),
        severity=sev,
        message=" ".join(f.messages) or f.component,
        value=None
        if value is None
        else (short(str(value)) if isinstance(value, URIRef) else repr(str(value))),
        hint=f.hint or HINTS.get(f.component, ""),
        rule=f"sh:{f.component}",
    )
