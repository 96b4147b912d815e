"""The public URL a request came to, from values a client controls, made safe to echo.

The scheme comes from the connection (or X-Forwarded-Proto, which uvicorn honours only from the
trusted proxies, `kgpub serve --forwarded-allow-ips`) and is http or https, nothing else; the
host comes from the Host header when it is a valid host[:port] (RFC 3986 reg-name or IP
literal), else from the socket the request arrived on. Nothing here can raise on hostile
input, so a URL built from a request never turns into a 500."""

from __future__ import annotations

import re
from typing import Any

Scope = dict[str, Any]  # an ASGI scope

_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_HOST = re.compile(
    rf"(?:{_LABEL}(?:\.{_LABEL})*\.?|\[[0-9A-Fa-f:.]{{2,45}}\])(?::[0-9]{{1,5}})?\Z"
)


def origin(scope: Scope) -> str:
    """scheme://host[:port] of the request, safe to put in a document."""
    scheme = "https" if scope.get("scheme") in ("https", "wss") else "http"
    host = None
    for name, value in scope.get("headers", ()):
        if name == b"host":
            text = value.decode("latin-1")
            host = text if len(text) <= 300 and _HOST.match(text) else None
            break
    if host is None:
        server = scope.get("server") or ("localhost", None)
        name, port = server[0], server[1]
        name = f"[{name}]" if ":" in str(name) else str(name)
        host = name if port in (None, 80 if scheme == "http" else 443) else f"{name}:{port}"
    return f"{scheme}://{host}"


def public_url(scope: Scope, path: str) -> str:
    """The absolute URL of one of our own routes (path: a constant like "/oai")."""
    return origin(scope) + path
