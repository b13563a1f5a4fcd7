"""Request bodies are refused above MAX_REQUEST_BYTES before anything buffers them.

Daphne (`runserver`) reads a whole request body, and then queues all of it
for the application, before the application sees the request: a limit inside
Django comes too late, after the memory is spent. So the limit sits in two
places: in Daphne's request object, where the declared length (and, for
chunked bodies, every chunk) is checked as it arrives, and as ASGI middleware
for the production server (uvicorn, which reads a body only as the
application asks for it) and any other.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import orjson

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def too_large_body(max_bytes: int) -> bytes:
    message = f"The request body is larger than {max_bytes} bytes (MAX_REQUEST_BYTES); send a smaller one."
    return orjson.dumps({"error": {"code": "request_too_large", "message": message, "fields": {}}})


class RequestSizeLimit:
    """ASGI middleware: 413 with the JSON error shape for bodies over `max_bytes`, declared or streamed."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if _declared_length(scope) > self.max_bytes:
            await _refuse(send, self.max_bytes)
            return
        await _Counted(self.app, self.max_bytes, receive, send).run(scope)


class _Counted:
    """One request whose body is counted as the application reads it: past the limit the client gets
    the 413 and the application a disconnect (Django then abandons the request, reading and storing
    nothing more), and whatever the application still sends is dropped."""

    def __init__(self, app: ASGIApp, max_bytes: int, receive: Receive, send: Send) -> None:
        self.app, self.max_bytes, self.receive, self.send = app, max_bytes, receive, send
        self.seen_bytes = 0
        self.refused = False

    async def run(self, scope: Scope) -> None:
        await self.app(scope, self.counted_receive, self.guarded_send)

    async def counted_receive(self) -> Message:
        if self.refused:
            return {"type": "http.disconnect"}
        message = await self.receive()
        self.seen_bytes += len(message.get("body", b""))
        if self.seen_bytes > self.max_bytes:
            self.refused = True
            await _refuse(self.send, self.max_bytes)
            return {"type": "http.disconnect"}
        return message

    async def guarded_send(self, message: Message) -> None:
        if not self.refused:
            await self.send(message)


def _declared_length(scope: Scope) -> int:
    for name, value in scope.get("headers", []):
        if name == b"content-length" and value.isdigit():
            return int(value)
    return 0


async def _refuse(send: Send, max_bytes: int) -> None:
    body = too_large_body(max_bytes)
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()), (b"connection", b"close")]
    await send({"type": "http.response.start", "status": 413, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def limit_daphne_request_bodies(max_bytes: int) -> None:
    """Make Daphne answer 413 and close the connection as soon as a body is known to be too large."""
    try:
        from daphne.http_protocol import WebRequest
    except ImportError:  # another server: the middleware alone applies
        return
    if getattr(WebRequest, "k6intel_max_bytes", None) == max_bytes:
        return
    got_length, handle_chunk, process = WebRequest.gotLength, WebRequest.handleContentChunk, WebRequest.process

    def limited_got_length(self: Any, length: int | None) -> None:
        self.k6intel_body_bytes = 0
        self.k6intel_refused = length is not None and length > max_bytes
        # A refused body is never stored: the content file stays empty.
        got_length(self, None if self.k6intel_refused else length)
        if self.k6intel_refused:
            _refuse_connection(self, max_bytes)

    def limited_chunk(self: Any, data: bytes) -> None:
        if getattr(self, "k6intel_refused", False):
            return
        self.k6intel_body_bytes = getattr(self, "k6intel_body_bytes", 0) + len(data)
        if self.k6intel_body_bytes > max_bytes:  # a chunked body with no declared length
            self.k6intel_refused = True
            _refuse_connection(self, max_bytes)
            return
        handle_chunk(self, data)

    def limited_process(self: Any) -> Any:
        if getattr(self, "k6intel_refused", False):
            return None
        return process(self)

    WebRequest.gotLength, WebRequest.handleContentChunk, WebRequest.process = limited_got_length, limited_chunk, limited_process
    WebRequest.k6intel_max_bytes = max_bytes


def _refuse_connection(request: Any, max_bytes: int) -> None:
    body = too_large_body(max_bytes)
    head = (
        b"HTTP/1.1 413 Request Entity Too Large\r\nContent-Type: application/json\r\n"
        + f"Content-Length: {len(body)}\r\n".encode()
        + b"Connection: close\r\n\r\n"
    )
    transport = request.channel.transport if request.channel else None
    if transport is not None:
        transport.write(head + body)
        transport.loseConnection()
