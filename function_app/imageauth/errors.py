"""Request-level errors and the one JSON error body every HTTP answer uses.

Image-level problems are `ImageError`s from `preprocess`; the problems here are
about the request itself (no file, too many files, wrong content type). Both
render as `{"error": {"code": ..., "message": ...}}`, so a client handles one
shape; the codes are listed in docs/api.md.
"""

from __future__ import annotations

import logging

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from imageauth.coded_error import CodedError

logger = logging.getLogger("imageauth.api")


class RequestError(CodedError):
    """A request the API cannot serve."""


def error_response(code: str, message: str, status: int) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status)


def retry_later(response: JSONResponse, seconds: int) -> JSONResponse:
    """`response` with `Retry-After`, readable by a page on another origin too.

    A browser hides every response header but the CORS-safelisted ones from a cross-origin
    script unless the answer lists it in `Access-Control-Expose-Headers`, and the function app's
    platform CORS setting has origins and credentials only, no exposed headers: so the API names
    it itself (harmless on the same origin). The page then waits as long as asked.
    """
    response.headers["Retry-After"] = str(seconds)
    response.headers["Access-Control-Expose-Headers"] = "Retry-After"
    return response


def request_too_large(limit: int) -> RequestError:
    return RequestError("request_too_large", f"The request body is larger than the limit of {limit} bytes.", 413)


class FaultBarrier:
    """The outermost ASGI layer: a fault in any layer inside becomes a JSON 500, never a crash.

    Starlette's own error middleware renders the app's 500 handler and then
    re-raises, so that a server can log the fault. Under Azure Functions a
    re-raised exception fails the invocation and the JSON answer is lost; this
    barrier logs the fault once and keeps the answer.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        response_started = False

        async def tracking_send(message: Message) -> None:
            nonlocal response_started
            if message["type"] == "http.response.start":
                response_started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception:
            logger.exception("unhandled fault in %s %s", scope.get("method"), scope.get("path"))
            if not response_started:
                await internal_error()(scope, receive, send)


def internal_error() -> JSONResponse:
    """The answer to a server fault: no exception text, no stack trace."""
    return error_response("internal_error", "The server failed to process the request.", 500)
