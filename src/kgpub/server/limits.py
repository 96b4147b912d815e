"""Request bodies bounded before they are read, on every route.

A declared Content-Length over the route's limit is answered 413 at once, without reading a
byte of the body; a chunked body is counted as it arrives and refused as soon as it passes the
limit. Either way the connection is closed (the rest of the body is never read)."""

from __future__ import annotations

from collections.abc import Callable

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..sparql import QueryLimits

# Bodies of routes that take none (the site answers GET and HEAD) and of OAI-PMH forms.
DEFAULT_MAX_BODY = 64 * 1024


def sparql_body_limit(limits: QueryLimits) -> int:
    """The largest body /sparql reads: a query of [sparql] max_query_bytes, form-encoded (up to
    three bytes a character) with the other parameters."""
    return 3 * limits.max_query_bytes + DEFAULT_MAX_BODY


class BodyTooLarge(Exception):
    def __init__(self, limit: int):
        super().__init__(f"Request body over {limit} bytes.")
        self.limit = limit


async def read_body(request: Request, limit: int) -> bytes:
    """The whole body, or BodyTooLarge as soon as it passes limit bytes (at once when its
    declared Content-Length does)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge(limit)
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge(limit)
        chunks.append(chunk)
    return b"".join(chunks)


class BodyLimit:
    """ASGI middleware: limit_for(path) is the largest body a route takes."""

    def __init__(self, app: ASGIApp, limit_for: Callable[[str], int]) -> None:
        self.app = app
        self.limit_for = limit_for

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        limit = self.limit_for(scope["path"])
        declared = [v for k, v in scope["headers"] if k == b"content-length"]
        if declared:
            value = declared[0].strip()
            if not value.isdigit() or len(declared) > 1:
                return await _refuse(send, 400, "Bad Content-Length.")
            if int(value) > limit:
                return await _refuse(send, 413, f"Request body over {limit} bytes.")
        received = 0
        started = False

        async def bounded_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        async def tracked_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, bounded_receive, tracked_send)
        except BodyTooLarge as exc:
            if not started:
                await _refuse(send, 413, str(exc))


async def _refuse(send: Send, status: int, text: str) -> None:
    body = f"{status} {text}\n".encode()
    await send({"type": "http.response.start", "status": status, "headers": [
        (b"content-type", b"text/plain; charset=utf-8"),
        (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"),
        (b"cache-control", b"no-store"),
    ]})
    await send({"type": "http.response.body", "body": body})
