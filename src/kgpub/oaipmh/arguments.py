"""A request's arguments: the verbs and the arguments each takes, their presence and syntax
(what passes can be echoed in the request element and still validate against OAI-PMH.xsd), and
the protocol errors (badVerb, badArgument...) as a Failure of (code, message) pairs."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .values import (
    GRANULARITY,
    NOT_XML_CHAR,
    PREFIX_RE,
    SETSPEC_RE,
    URI_RE,
    parse_utc,
    show,
)

ARGUMENT_MAX = 1024  # characters of an identifier, metadataPrefix or set: longer is badArgument
MAX_ERRORS = 10  # error elements in one response: a request of 10,000 bad arguments gets 10


@dataclass(frozen=True)
class VerbSpec:
    required: frozenset[str]
    optional: frozenset[str]
    exclusive: str | None = None  # an argument that must stand alone (resumptionToken)

    @property
    def allowed(self) -> frozenset[str]:
        return self.required | self.optional | ({self.exclusive} if self.exclusive else set())


_LIST_ARGS = frozenset({"from", "until", "set"})
VERBS: dict[str, VerbSpec] = {
    "Identify": VerbSpec(frozenset(), frozenset()),
    "ListMetadataFormats": VerbSpec(frozenset(), frozenset({"identifier"})),
    "ListSets": VerbSpec(frozenset(), frozenset(), "resumptionToken"),
    "GetRecord": VerbSpec(frozenset({"identifier", "metadataPrefix"}), frozenset()),
    "ListIdentifiers": VerbSpec(frozenset({"metadataPrefix"}), _LIST_ARGS, "resumptionToken"),
    "ListRecords": VerbSpec(frozenset({"metadataPrefix"}), _LIST_ARGS, "resumptionToken"),
}


class Failure(Exception):
    """One or more OAI-PMH errors, as (code, message) pairs."""

    def __init__(self, errors: list[tuple[str, str]]):
        super().__init__(errors)
        self.errors = errors


def fail(code: str, message: str) -> Failure:
    return Failure([(code, message)])


@dataclass(frozen=True)
class DateRange:
    """A from/until pair as inclusive bounds on seconds-granularity datestamps."""

    lower: str | None
    upper: str | None


def date_range(from_: str | None, until: str | None) -> DateRange:
    lower = parse_utc(from_)[0] if from_ else None  # type: ignore[index]
    upper = parse_utc(until)[1] if until else None  # type: ignore[index]
    return DateRange(lower, upper)


def parse_request(args: Sequence[tuple[str, str]]) -> tuple[str, dict[str, str]]:
    """Check the verb and the arguments' presence and syntax; raise badVerb/badArgument."""
    verbs = [value for key, value in args if key == "verb"]
    if not verbs:
        raise fail("badVerb", "The verb argument is missing.")
    if len(verbs) > 1:
        raise fail("badVerb", "The verb argument is repeated.")
    verb = verbs[0]
    if verb not in VERBS:
        raise fail("badVerb", f"{show(verb)} is not an OAI-PMH verb.")
    spec = VERBS[verb]
    params, errors = _collect_arguments(args, spec)
    errors += _presence_errors(params, spec)
    errors += [e for key, value in params.items() if (e := syntax_error(key, value))]
    if not errors:
        errors += range_errors(params)
    if len(errors) > MAX_ERRORS:
        errors = errors[:MAX_ERRORS - 1] + [f"... and {len(errors) - MAX_ERRORS + 1} more "
                                            "problems with the arguments."]
    if errors:
        raise Failure([("badArgument", message) for message in errors])
    return verb, params


def _collect_arguments(
    args: Sequence[tuple[str, str]], spec: VerbSpec
) -> tuple[dict[str, str], list[str]]:
    params: dict[str, str] = {}
    errors: list[str] = []
    repeated: set[str] = set()
    for key, value in args:
        if key == "verb":
            continue
        if key not in spec.allowed:
            errors.append(f"{show(key)} is not an argument of this verb.")
        elif key in params:
            if key not in repeated:
                errors.append(f"The {key} argument is repeated.")
                repeated.add(key)
        else:
            params[key] = value
    return params, errors


def _presence_errors(params: dict[str, str], spec: VerbSpec) -> list[str]:
    if spec.exclusive and spec.exclusive in params:
        others = sorted(k for k in params if k != spec.exclusive)
        if others:
            return [f"The {spec.exclusive} argument is exclusive; it came with {', '.join(others)}."]
        return []
    return [f"The required argument {key} is missing." for key in sorted(spec.required)
            if key not in params]


def syntax_error(key: str, value: str) -> str | None:
    """What is wrong with an argument's value, or None. What passes can be echoed in the
    request element and still validate against OAI-PMH.xsd. (A resumptionToken's form is
    checked when it is read: a bad one is badResumptionToken, not badArgument.)"""
    if value == "":
        return f"The {key} argument is empty."
    if NOT_XML_CHAR.search(value):
        return f"The {key} argument contains characters that XML cannot carry."
    if key == "resumptionToken":
        return None
    if len(value) > ARGUMENT_MAX:
        return f"The {key} argument is longer than {ARGUMENT_MAX} characters."
    if key in ("from", "until") and parse_utc(value) is None:
        return (f"The {key} argument {show(value)} is not a date in YYYY-MM-DD or "
                f"{GRANULARITY} (ASCII digits, UTC).")
    if key == "metadataPrefix" and not PREFIX_RE.fullmatch(value):
        return f"The metadataPrefix {show(value)} is not a legal metadata prefix."
    if key == "set" and not SETSPEC_RE.fullmatch(value):
        return f"The set {show(value)} is not a legal setSpec."
    if key == "identifier" and not URI_RE.fullmatch(value):
        return (f"The identifier {show(value)} is not a URI (ASCII only, no spaces, "
                "'%' only in %XX escapes).")
    return None


def range_errors(params: dict[str, str]) -> list[str]:
    from_, until = params.get("from"), params.get("until")
    if not (from_ and until):
        return []
    first, last = parse_utc(from_), parse_utc(until)
    assert first and last  # syntax was checked before
    if first[2] != last[2]:
        return ["The from and until arguments have different granularities."]
    if first[0] > last[1]:
        return ["The from argument is later than the until argument."]
    return []
