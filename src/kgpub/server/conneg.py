"""Content negotiation: pick a representation from an Accept header (RFC 9110 section 12.5.1).

q-values and wildcards are honoured; the most specific matching range sets a type's quality;
ties go to the order of the offered list (HTML first, so browsers get pages)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class MediaRange:
    type: str
    subtype: str
    q: float
    params: tuple[tuple[str, str], ...] = ()

    def matches(self, media_type: str) -> int:
        """Specificity of the match (3 exact, 2 type/*, 1 */*), or 0."""
        t, _, s = media_type.partition("/")
        if self.type == "*" and self.subtype == "*":
            return 1
        if self.type == t and self.subtype == "*":
            return 2
        if self.type == t and self.subtype == s:
            return 3
        return 0


def parse_accept(header: str | None) -> list[MediaRange]:
    """Parse an Accept header; a missing or empty header accepts anything."""
    if not header or not header.strip():
        return [MediaRange("*", "*", 1.0)]
    ranges = []
    for part in header.split(","):
        pieces = [p.strip() for p in part.split(";")]
        media = pieces[0].lower()
        if "/" not in media:
            continue
        t, _, s = media.partition("/")
        if not t or not s or (t == "*" and s != "*"):
            continue
        q, params = 1.0, []
        for p in pieces[1:]:
            key, _, val = p.partition("=")
            key, val = key.strip().lower(), val.strip().strip('"')
            if key == "q":
                try:
                    q = min(max(float(val), 0.0), 1.0)
                except ValueError:
                    q = 0.0
            elif key:
                params.append((key, val))
        ranges.append(MediaRange(t, s, q, tuple(params)))
    return ranges


def quality(ranges: list[MediaRange], media_type: str, exact_only: bool = False) -> float:
    best, best_q = 0, 0.0
    for r in ranges:
        spec = r.matches(media_type)
        if exact_only and spec < 3:
            continue
        if spec > best or (spec == best and spec and r.q > best_q):
            best, best_q = spec, r.q
    return best_q if best else 0.0


def negotiate(header: str | None, offered: list[tuple[str, ...]]) -> int | None:
    """Index of the best offer, or None when nothing is acceptable (406).

    Each offer is a tuple of media types that name it (its registered type first, then
    aliases such as application/json for JSON-LD). Aliases count only when named exactly, so
    wildcards like application/* rank offers by their registered type alone."""
    ranges = parse_accept(header)
    best_i, best_q = None, 0.0
    for i, (name, *aliases) in enumerate(offered):
        q = max([quality(ranges, name)] + [quality(ranges, a, exact_only=True) for a in aliases])
        if q > best_q:
            best_i, best_q = i, q
    return best_i


def negotiate_language(header: str | None, languages: tuple[str, ...]) -> str:
    """The site language an Accept-Language header prefers (RFC 9110 section 12.5.4, basic
    filtering: 'fr-CH' matches 'fr'); the default (first) language when none is acceptable."""
    best, best_q = languages[0], 0.0
    ranges = []
    for item in (header or "").split(","):
        tag, _, params = item.strip().partition(";")
        tag = tag.strip().lower()
        if not tag:
            continue
        q = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        ranges.append((tag, max(0.0, min(q, 1.0))))
    for lang in languages:
        # The most specific range that matches sets the language's quality.
        matching = [(len(tag), q) for tag, q in ranges
                    if tag == "*" or tag == lang.lower()
                    or tag.startswith(lang.lower() + "-") or lang.lower().startswith(tag + "-")]
        if not matching:
            continue
        q = max(matching)[1]
        if q > best_q:
            best, best_q = lang, q
    return best
