"""Characters: what XML cannot carry (a violation), and what cannot be seen in names and labels
(a warning), each at the line where the value is written."""

from __future__ import annotations

import re
import unicodedata

import pyoxigraph as ox

from ..load import BIDI_CLASS, FLAGGED, XML_FORBIDDEN_CLASS, ZERO_WIDTH_CLASS, Sources
from .report import Problem

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
            iris, literals = leaves(t)
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


def leaves(t: ox.Triple) -> tuple[list, list]:
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
        iris, literals = leaves(t)
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
