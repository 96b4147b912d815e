"""The protocol's values: datestamps (UTC, seconds granularity), the forms OAI-PMH.xsd allows
for prefixes, setSpecs, identifiers and URIs, and text made fit for XML."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from urllib.parse import quote

GRANULARITY = "YYYY-MM-DDThh:mm:ssZ"
DC_ELEMENTS = frozenset({
    "title", "creator", "subject", "description", "publisher", "contributor", "date", "type",
    "format", "identifier", "source", "language", "relation", "coverage", "rights",
})


# Every pattern is used with fullmatch (a "$" would let a final newline through) and spells its
# digits [0-9]: Python's \d also matches fullwidth, Arabic-Indic and other Unicode digits, which
# int() reads but the XSD's dates do not allow - and the request element echoes the arguments.
SECONDS_RE = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})Z")
DAY_RE = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})")
# Patterns from OAI-PMH.xsd and oai-identifier.xsd: what the schema lets through is what we accept.
PREFIX_RE = re.compile(r"[A-Za-z0-9\-_.!~*'()]+")
SETSPEC_RE = re.compile(r"[A-Za-z0-9\-_.!~*'()]+(:[A-Za-z0-9\-_.!~*'()]+)*")
REPO_ID_RE = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9\-]*(\.[a-zA-Z0-9][a-zA-Z0-9\-]*)+")
LOCAL_ID_RE = re.compile(r"[a-zA-Z0-9\-_.!~*'();/?:@&=+$,%]+")
EMAIL_RE = re.compile(r"[^\s@]+@([^\s@.]+\.)+[^\s@.]+")  # a subset of the XSD's
LANG_RE = re.compile(r"[a-zA-Z]{1,8}(-[a-zA-Z0-9]{1,8})*")  # xs:language
NOT_XML_CHAR = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
# An identifier argument must at least be a URI reference (RFC 3986): ASCII, no spaces, no
# <>"{}|\^` and every % starting an escape. Anything else cannot name an item anywhere.
URI_RE = re.compile(r"(?:[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=]|%[0-9A-Fa-f]{2})+")
# UTF-8 bytes of what XML 1.0 forbids (see _sanitized_rdf)
NOT_XML_UTF8 = re.compile(b"[\x00-\x08\x0b\x0c\x0e-\x1f]|\xef\xbf[\xbe\xbf]")


def utc_now() -> datetime:
    return datetime.now(UTC)


def format_datetime(moment: datetime) -> str:
    if moment.tzinfo is None:  # a naive clock is taken to be UTC
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_utc(value: str) -> tuple[str, str, str] | None:
    """A from/until value as (first second, last second, granularity), or None when it is not a
    real date in either granularity. A day covers the whole day."""
    if m := SECONDS_RE.fullmatch(value):
        if valid_datetime(*(int(g) for g in m.groups())):
            return value, value, GRANULARITY
        return None
    if m := DAY_RE.fullmatch(value):
        if valid_datetime(*(int(g) for g in m.groups())):
            return f"{value}T00:00:00Z", f"{value}T23:59:59Z", "YYYY-MM-DD"
    return None


def valid_datetime(*parts: int) -> bool:
    try:
        datetime(*parts)  # type: ignore[misc, arg-type]
    except ValueError:
        return False
    return True


def seconds(datestamp: str) -> str:
    """A datestamp in the repository's (seconds) granularity."""
    parsed = parse_utc(datestamp)
    if parsed is None:
        raise ValueError(f"{datestamp!r} is not a UTC datestamp")
    return parsed[0]


def show(value: str, limit: int = 60) -> str:
    """A request value quoted for an error message: XML-safe and short."""
    clean = NOT_XML_CHAR.sub("\ufffd", value)
    return repr(clean if len(clean) <= limit else clean[:limit] + "…")


def clean(text: str) -> str:
    """Data text as XML can carry it: characters XML 1.0 forbids become U+FFFD."""
    return NOT_XML_CHAR.sub("\ufffd", text)


def as_uri(url: str) -> str:
    """A URL as a URI: characters a URI cannot hold (spaces, non-ASCII, a '%' that starts no
    escape) percent-encoded, so that baseURL and the request element stay valid anyURIs."""
    if URI_RE.fullmatch(url):
        return url
    escaped = re.sub(r"%(?![0-9A-Fa-f]{2})", "%25", NOT_XML_CHAR.sub("", url))
    return quote(escaped, safe="-._~:/?#[]@!$&'()*+,;=%")
