"""kgpub's negotiation rules (kgpub.server.conneg) as regular expressions a web server evaluates.

nginx `map`s and Apache `RewriteCond`s cannot compute, only match. So negotiation runs in two
steps, both plain PCRE matches (case-insensitive):

1. For each offer, its *level* (one letter) from the header: the q-value of the most specific
   range that names it (an exact type; else type/*; else */*; aliases only when named exactly),
   in 12 steps: `a` not acceptable (q=0, or not named), `b` 0 < q < 0.1, `c` 0.1 <= q < 0.2, ...
   `k` 0.9 <= q < 1, `l` q = 1. Patterns are tried from `l` down, so the first that matches is
   the offer's best level (the highest of its ranges, as `quality` takes).
2. The offers' letters in offer order (`-` for an offer the resource does not have) form a key;
   the winner is the first offer with the highest letter (ties go to offer order).

The one approximation: q-values are compared to one decimal place (0.55 and 0.5 tie, broken in
offer order, where kgpub serve prefers 0.55). Language ranges that extend a site language
(fr-CH, fr-BE for fr) count as equally specific.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

LEVELS = "abcdefghijkl"  # a: not acceptable ... l: q=1
TOP = len(LEVELS) - 1
UNAVAILABLE = "-"

_QVALUE = {TOP: r"0*[1-9][0-9]*(?:\.[0-9]*)?",  # 1 and above (clipped to 1)
           1: r"0*\.0[0-9]*[1-9][0-9]*"}  # 0 < q < 0.1
_QVALUE.update({k: rf"0*\.{k - 1}[0-9]*" for k in range(2, TOP)})  # 0.1 <= q < 0.2 ...
# A parameter `q=` in the element the pattern stands in (up to the next comma).
_HAS_Q = r"[^,]*;\s*q\s*="


def _element(token: str) -> str:
    """One element of a comma-separated header naming `token` (a regex), any parameters."""
    return rf"(?:^|,)\s*{token}\s*(?=[;,]|$)"


def _element_at(token: str, level: int) -> str:
    q = rf"(?={_HAS_Q}\s*\x22?{_QVALUE[level]}\x22?\s*(?:[;,]|$))"
    if level == TOP:  # no q parameter means q=1
        q = rf"(?:(?!{_HAS_Q})|{q})"
    return _element(token) + q


def _tiers_at(tiers: Sequence[Sequence[str]], level: int) -> list[str]:
    """Alternatives for "the most specific tier that names the offer is at `level`": tiers from
    the most specific; a tier counts only when no more specific one is named at all."""
    out = []
    for i, tier in enumerate(tiers):
        absent = "".join(rf"(?!.*{_element(t)})" for higher in tiers[:i] for t in higher)
        for token in tier:
            out.append(f"^{absent}(?=.*{_element_at(token, level)})" if absent
                       else _element_at(token, level))
    return out


def _level_patterns(tiers: Sequence[Sequence[str]], exact: Sequence[str] = (),
                    empty_is_top: bool = False) -> list[tuple[str, str]]:
    """(regex, level letter) from q=1 down to the lowest acceptable level."""
    out = []
    for level in range(TOP, 0, -1):
        alternatives = _tiers_at(tiers, level) + [_element_at(t, level) for t in exact]
        if level == TOP and empty_is_top:
            alternatives.append(r"^\s*$")  # no Accept header: anything is acceptable
        out.append(("|".join(alternatives), LEVELS[level]))
    return out


def media_levels(offer: Sequence[str]) -> list[tuple[str, str]]:
    """The level patterns of an offer over an Accept header: its registered type first, then
    aliases (conneg.negotiate: aliases count only when named exactly)."""
    name, *aliases = offer
    kind, _, _ = name.partition("/")
    tiers = [[re.escape(name)], [re.escape(kind) + r"/\*"], [r"\*/\*"]]
    return _level_patterns(tiers, [re.escape(a) for a in aliases], empty_is_top=True)


def language_levels(lang: str) -> list[tuple[str, str]]:
    """The level patterns of a site language over an Accept-Language header (basic filtering,
    conneg.negotiate_language): ranges extending it, the tag itself, its prefixes, `*`."""
    lang = lang.lower()
    parts = lang.split("-")
    prefixes = [re.escape("-".join(parts[:i])) for i in range(len(parts) - 1, 0, -1)]
    tiers = [[re.escape(lang) + r"-[a-z0-9-]+"], [re.escape(lang)], prefixes, [r"\*"]]
    return _level_patterns([t for t in tiers if t])


def winner_patterns(count: int) -> list[tuple[str, int]]:
    """(regex over the key of `count` letters, index of the winning offer): the first offer
    with the highest acceptable level."""
    out = []
    for level in range(TOP, 0, -1):
        below = "[" + UNAVAILABLE + LEVELS[:level] + "]"
        not_above = "[" + UNAVAILABLE + LEVELS[: level + 1] + "]"
        for i in range(count):
            out.append((f"^{below * i}{LEVELS[level]}{not_above * (count - i - 1)}$", i))
    return out


def nothing_available(count: int) -> str:
    return f"^{re.escape(UNAVAILABLE) * count}$"


def negotiate(patterns: Sequence[Sequence[tuple[str, str]]], header: str | None,
              available: Sequence[bool] | None = None) -> int | None:
    """Evaluate the patterns as a web server does (for tests and checks): the index of the
    winning offer, or None."""
    text = header or ""
    key = ""
    for i, levels in enumerate(patterns):
        if available is not None and not available[i]:
            key += UNAVAILABLE
            continue
        key += next((lv for rx, lv in levels if re.search(rx, text, re.I)), LEVELS[0])
    return next((i for rx, i in winner_patterns(len(patterns)) if re.search(rx, key)), None)
