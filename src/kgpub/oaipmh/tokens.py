"""Resumption tokens, stateless: the signed list arguments, an offset and a fingerprint of the
data, so any worker or restart can continue a harvest and a token from another data version is
refused."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
from dataclasses import dataclass

from .arguments import fail, range_errors, syntax_error

# Publicly known on purpose: the HMAC only detects tampering, tokens carry nothing secret, and a
# fixed default keeps tokens valid across workers and restarts. Deployments may set their own.
DEFAULT_TOKEN_SECRET = b"kgpub-oai-pmh-resumption-token-v1"


TOKEN_RE = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")
TOKEN_MAX = 4096


@dataclass(frozen=True)
class ListQuery:
    verb: str
    prefix: str | None  # None for ListSets
    set_spec: str | None
    from_: str | None
    until: str | None
    offset: int


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Tokens:
    """Stateless, URL-safe tokens: base64url(JSON) "." base64url(HMAC-SHA256, truncated).
    The same list position always yields the same token, so a retried harvest is repeatable."""

    def __init__(self, secret: bytes, fingerprint: str):
        self._secret = secret
        self._fingerprint = fingerprint

    def _sign(self, body: str) -> str:
        return b64(hmac.new(self._secret, body.encode("ascii"), hashlib.sha256).digest()[:18])

    def make(self, query: ListQuery) -> str:
        payload = {"v": query.verb, "m": query.prefix, "s": query.set_spec, "f": query.from_,
                   "u": query.until, "o": query.offset, "d": self._fingerprint}
        payload = {k: v for k, v in payload.items() if v is not None}
        body = b64(json.dumps(payload, sort_keys=True, separators=(",", ":")).encode("utf-8"))
        return f"{body}.{self._sign(body)}"

    def read(self, token: str, verb: str) -> ListQuery:
        """The query a token continues; badResumptionToken for anything we did not issue for
        this verb and this data version."""
        if len(token) > TOKEN_MAX or not TOKEN_RE.fullmatch(token):
            raise fail("badResumptionToken", "The resumptionToken is malformed.")
        body, signature = token.split(".")
        if not hmac.compare_digest(signature, self._sign(body)):
            raise fail("badResumptionToken", "The resumptionToken is not one this repository issued.")
        try:
            payload = json.loads(unb64(body))
        except (binascii.Error, ValueError, RecursionError):  # deep nesting: a forged token
            raise fail("badResumptionToken", "The resumptionToken is malformed.") from None
        if not isinstance(payload, dict) or payload.get("d") != self._fingerprint:
            raise fail("badResumptionToken",
                        "The resumptionToken has expired: the repository has changed since.")
        query = query_from_payload(payload)
        if query is None or query.verb != verb:
            raise fail("badResumptionToken", f"The resumptionToken is not for {verb}.")
        return query


def query_from_payload(payload: dict) -> ListQuery | None:
    """Re-check a signed payload as if it were untrusted input: the default secret is public."""
    verb, offset = payload.get("v"), payload.get("o")
    fields = {key: payload.get(short) for short, key in
              (("m", "metadataPrefix"), ("s", "set"), ("f", "from"), ("u", "until"))}
    if verb not in ("ListSets", "ListIdentifiers", "ListRecords"):
        return None
    if not isinstance(offset, int) or isinstance(offset, bool) or offset < 1:
        return None
    present = {k: v for k, v in fields.items() if v is not None}
    if not all(isinstance(v, str) and syntax_error(k, v) is None for k, v in present.items()):
        return None
    if verb == "ListSets" and present:
        return None
    if verb != "ListSets" and ("metadataPrefix" not in present or range_errors(present)):
        return None
    return ListQuery(verb, fields["metadataPrefix"], fields["set"], fields["from"],
                      fields["until"], offset)
