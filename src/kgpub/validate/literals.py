"""Literals: their size (over [site] max_literal_bytes), and their datatype's lexical space
("2021-13"^^xsd:gYearMonth, "2021-02-30"^^xsd:date, "1,5"^^xsd:decimal), with a fix for each."""

from __future__ import annotations

import calendar
import re

import pyoxigraph as ox

from ..load import Sources
from .report import Problem

XSD = "http://www.w3.org/2001/XMLSchema#"


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
