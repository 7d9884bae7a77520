"""An ASGI middleware that caps the request body before it is read in full.

A declared `Content-Length` over the limit is refused before any body byte is
read. A chunked upload (no `Content-Length`) is counted as it arrives, and the
first chunk past the limit stops the read: the route's `receive` raises a
`RequestError`, which the app's handler turns into a 413 `request_too_large`.
Memory per request is therefore bounded by the limit, whatever the client sends.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from imageauth.errors import error_response, request_too_large


class BodyLimitMiddleware:
    """Refuse HTTP request bodies larger than `max_bytes` (413 `request_too_large`)."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.max_bytes:
            error = request_too_large(self.max_bytes)
            response = error_response(error.code, error.message, error.status)
            # The body stays unread; the server closes or drains the connection.
            response.headers["Connection"] = "close"
            await response(scope, receive, send)
            return
        received = 0

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise request_too_large(self.max_bytes)
            return message

        await self.app(scope, counting_receive, send)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name.lower() == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None  # The server rejects a malformed length itself; the counter still applies.
    return None
