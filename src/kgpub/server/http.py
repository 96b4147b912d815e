"""The HTTP/1.1 layer: uvicorn on httptools (llhttp), with the request head bounded.

llhttp frames requests strictly (RFC 9112): a request with both Content-Length and
Transfer-Encoding, duplicate Content-Length headers or an unknown transfer coding is answered
400 and the connection closed, so a proxy in front cannot be desynchronised (request
smuggling). h11, uvicorn's other parser, accepts such requests; it is not used.

What llhttp does not bound is the request head: uvicorn buffers header bytes for as long as a
client sends them. This protocol answers 431 and closes the connection once the head passes
MAX_HEAD_BYTES, and closes a connection whose head is not complete within HEAD_TIMEOUT seconds
(slow clients hold no more than a socket each).

A response's head (status line and headers) goes out with the first piece of its body, in one
write: one packet and one wake-up of the client rather than two (most answers are one piece).
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

MAX_HEAD_BYTES = 64 * 1024  # request line + headers
HEAD_TIMEOUT = 30.0  # seconds from a request's first byte to the end of its headers


def _plain(status: bytes, text: str) -> bytes:
    body = text.encode()
    return (b"HTTP/1.1 " + status + b"\r\ncontent-type: text/plain; charset=utf-8\r\n"
            b"connection: close\r\ncontent-length: " + str(len(body)).encode()
            + b"\r\n\r\n" + body)


class BoundedHttpToolsProtocol(HttpToolsProtocol):
    max_head_bytes = MAX_HEAD_BYTES
    head_timeout = HEAD_TIMEOUT

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head_bytes = 0
        self._in_head = True  # until a request's headers are complete
        self._head_timer: asyncio.TimerHandle | None = None

    def data_received(self, data: bytes) -> None:
        was_in_head = self._in_head
        if was_in_head and self._head_timer is None and not self.transport.is_closing():
            self._head_timer = self.loop.call_later(self.head_timeout,
                                                    self._head_timed_out)
        super().data_received(data)
        # Count only data fed while no request's headers completed: a chunk that finished a
        # head (and carries its body) is not the head growing.
        if was_in_head and self._in_head:
            self._head_bytes += len(data)
            if self._head_bytes > self.max_head_bytes and not self.transport.is_closing():
                self._refuse(b"431 Request Header Fields Too Large", "The request line and "
                             f"headers are over {self.max_head_bytes} bytes.\n")

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._in_head = True
        self._head_bytes = 0

    def on_headers_complete(self) -> None:
        self._in_head = False
        self._cancel_timer()
        super().on_headers_complete()
        if self.cycle is not None:
            self.cycle.transport = HeadWithBody(  # type: ignore[assignment]
                self.transport, self.cycle, self.loop)

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._in_head = True  # the next request's head, on a kept-alive connection
        self._head_bytes = 0

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_timer()
        super().connection_lost(exc)

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if self._in_head and not self.transport.is_closing():
            self._refuse(b"408 Request Timeout",
                         f"The request headers took longer than {self.head_timeout:g} s.\n")

    def _cancel_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _refuse(self, status: bytes, text: str) -> None:
        self._cancel_timer()
        if self.cycle is None or not self.cycle.response_started:
            self.transport.write(_plain(status, text))
        self.transport.close()


class HeadWithBody:
    """The transport as one request's response cycle writes to it: the response head is held
    until the body's first write and both are written at once. What is held goes out anyway
    at the end of the event loop's turn (a body that comes later, a HEAD answer without
    one), and before the connection closes; a 100 Continue is never held."""

    def __init__(self, transport: asyncio.Transport, cycle: Any,
                 loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._cycle = cycle
        self._loop = loop
        self._held: bytes | None = None
        self._wrote_head = False

    def write(self, data: bytes) -> None:
        if not self._wrote_head and self._cycle.response_started:
            self._wrote_head = True
            self._held = data
            self._loop.call_soon(self.flush)
            return
        if self._held is not None:
            data, self._held = self._held + data, None
        self._transport.write(data)

    def flush(self) -> None:
        if self._held is not None:
            held, self._held = self._held, None
            if not self._transport.is_closing():
                self._transport.write(held)

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)
