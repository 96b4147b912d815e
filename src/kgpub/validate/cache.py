"""Cache: the last build's SHACL problems, kept in the site's .kgpub/ (kgpub.layout.VALIDATION),
so that a rebuild validates again only the focus nodes an edit can change (kgpub.validate.reach)
and takes the others' problems as they were.

The cache names what it was made from: the digest of everything whose change means a full
build (kgpub.incremental.inputs_digest: code, settings, ontology, shapes), the engine asked for
and each data file's digest. Anything else, a file that cannot be read or does not match, and
the whole graph is validated as before.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, fields
from pathlib import Path

from ..layout import VALIDATION
from .report import Problem

FORMAT = 1
_FIELDS = [f.name for f in fields(Problem)]  # a problem is stored as a list, in this order


@dataclass
class Kept:
    """The SHACL problems of a build and what they were found on."""

    key: str  # inputs digest and the engine asked for
    data: dict[str, str]  # data file -> digest of its bytes
    problems: list[Problem]


def dump(kept: Kept) -> bytes:
    doc = {"format": FORMAT, "key": kept.key, "data": kept.data,
           "problems": [[getattr(p, f) for f in _FIELDS] for p in sorted(kept.problems)]}
    return json.dumps(doc, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()


def load(site: Path) -> Kept | None:
    """The cache of the published site; None when it has none. Raises ValueError when it is
    there but cannot be used (unreadable, another format, damaged)."""
    path = site / VALIDATION
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ValueError(f"cannot read it ({exc.strerror})") from None
    try:
        doc = json.loads(raw)
        if doc.get("format") != FORMAT:
            raise ValueError(f"format {doc.get('format')!r}, not {FORMAT}")
        problems = [Problem(*fields) for fields in doc["problems"]]
        data = doc["data"]
        if not isinstance(data, dict) or not isinstance(doc["key"], str):
            raise ValueError("damaged")
        return Kept(doc["key"], {str(k): str(v) for k, v in data.items()}, problems)
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ValueError(f"damaged ({type(exc).__name__})") from None
