"""Run the API and the web page locally: `python -m imageauth.serve`.

The app is the very FastAPI app the Functions host runs in Azure (same routes
under /api, same limits from the same `IMAGEAUTH_*` settings), served here by
uvicorn on http://127.0.0.1:7071, the port `func start` uses. The page in
`static_site/` is mounted at `/` when that folder exists, so the page and the
API share one origin and need no CORS.

Connections are bounded with uvicorn's own h11 protocol and settings: idle
keep-alive connections close after `KEEP_ALIVE_S`, a header block still
incomplete after a read of the socket gets a 400 once it is over
`MAX_HEADER_BYTES` (one that a single read completes is not counted, so a
block holds at most that plus one read, 256 KiB), and `TimedH11Protocol` adds
the two timeouts uvicorn lacks: a connection must finish its request headers within
`HEADER_TIMEOUT_S`, and a body that stops arriving for `BODY_IDLE_TIMEOUT_S`
is cut (the app sees a client disconnect, logged once at info level).
The answers uvicorn itself gives above the app (a request that is not HTTP, a
header block over the limit, a request past the connection cap) carry the
app's JSON error body instead of uvicorn's plain text, so a client parses one
shape whoever answered.

The page's responses carry the security headers that Azure Static Web Apps
sends for it, read from the page's own `staticwebapp.config.json`
(`globalHeaders`, and the `headers` of its exact `routes`), so the local page
runs under the same Content-Security-Policy as the deployed one.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import logging
from pathlib import Path

import h11
import uvicorn
from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException
from starlette.routing import Match, Mount
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.protocols.http.h11_impl import H11Protocol

from imageauth.admission import RETRY_AFTER_S
from imageauth.api import create_app
from imageauth.errors import error_response, retry_later
from imageauth.memory import pin_mmap_threshold
from imageauth.settings import Settings

# function_app/imageauth/serve.py -> the repository root, where the page lives.
DEFAULT_STATIC_DIR = Path(__file__).resolve().parents[2] / "static_site"
# The page's Azure Static Web Apps configuration, in the page's folder.
SITE_CONFIG_NAME = "staticwebapp.config.json"
KEEP_ALIVE_S = 5
HEADER_TIMEOUT_S = 10.0
BODY_IDLE_TIMEOUT_S = 15.0
MAX_HEADER_BYTES = 16 * 1024
# A request on a connection beyond this many open ones gets a 503 at once instead of queueing
# (uvicorn's `limit_concurrency` rule, answered here in JSON).
MAX_CONNECTIONS = 256
# The app's own error body (imageauth.errors), for the answers uvicorn gives above the app.
MALFORMED_BODY = error_response(
    "malformed_request",
    f"The request is not valid HTTP/1.1, or its header block is over {MAX_HEADER_BYTES} bytes.",
    400,
).body


class TimedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with a deadline for the request headers and an idle limit for the body.

    The header deadline is not extended by data (a client dribbling one byte a
    second still runs out); the body limit is, since a slow upload that keeps
    moving is legitimate. Between requests, uvicorn's keep-alive timeout applies.
    """

    header_timeout_s = HEADER_TIMEOUT_S
    body_idle_timeout_s = BODY_IDLE_TIMEOUT_S
    max_connections = MAX_CONNECTIONS
    _read_timer: asyncio.TimerHandle | None = None
    _header_deadline_armed = False

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # uvicorn's own cap (`limit_concurrency`, left unset) would answer in plain text; this one
        # applies its rule, counting this connection's open siblings and requests in flight.
        self.app = self._capped(self.app)

    def _capped(self, app: ASGIApp) -> ASGIApp:
        async def capped(scope: Scope, receive: Receive, send: Send) -> None:
            # uvicorn's test, made from inside the request's own task, which `tasks` already holds.
            if len(self.connections) >= self.max_connections or len(self.tasks) > self.max_connections:
                self.logger.warning("Exceeded concurrency limit.")
                response = error_response("overloaded", "The server has too many open connections; retry later.", 503)
                retry_later(response, RETRY_AFTER_S).headers["Connection"] = "close"
                await response(scope, receive, send)
                return
            await app(scope, receive, send)

        return capped

    def send_400_response(self, msg: str) -> None:
        """uvicorn's answer to bytes h11 cannot parse, with the app's JSON error body."""
        headers = [(b"content-type", b"application/json"), (b"connection", b"close")]
        response = h11.Response(status_code=400, headers=headers, reason=b"Bad Request")
        for event in (response, h11.Data(data=MALFORMED_BODY), h11.EndOfMessage()):
            self.transport.write(self.conn.send(event))
        self.transport.close()

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_header_deadline()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        state = self.conn.their_state
        if state is h11.SEND_BODY:
            self._header_deadline_armed = False
            self._arm(self.body_idle_timeout_s)
        elif state is h11.IDLE:
            self._arm_header_deadline()  # a new request on a kept-alive connection
        else:
            self._disarm()

    def on_response_complete(self) -> None:
        self._disarm()  # from here on, uvicorn's keep-alive timeout applies
        super().on_response_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm_header_deadline(self) -> None:
        if not self._header_deadline_armed:
            self._header_deadline_armed = True
            self._arm(self.header_timeout_s)

    def _arm(self, seconds: float) -> None:
        if self._read_timer is not None:
            self._read_timer.cancel()
        self._read_timer = self.loop.call_later(seconds, self._on_read_timeout)

    def _disarm(self) -> None:
        self._header_deadline_armed = False
        if self._read_timer is not None:
            self._read_timer.cancel()
            self._read_timer = None

    def _on_read_timeout(self) -> None:
        self._read_timer = None
        if not self.transport.is_closing():
            self.transport.close()


class SiteMount(Mount):
    """The page at `/`, blind to `/api`: API paths keep their own 404 and 405 answers."""

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        path = scope.get("path", "")
        if path == "/api" or path.startswith("/api/"):
            return Match.NONE, {}
        return super().matches(scope)


def site_headers(static_dir: Path) -> tuple[dict[str, str], dict[str, dict[str, str]]]:
    """The headers `staticwebapp.config.json` in `static_dir` gives the page: those for every response,
    and those per route (exact paths only; the file has no wildcard routes). None without the file."""
    path = static_dir / SITE_CONFIG_NAME
    if not path.is_file():
        return {}, {}
    config = json.loads(path.read_text(encoding="utf-8"))
    global_headers = {str(name): str(value) for name, value in config.get("globalHeaders", {}).items()}
    route_headers = {
        str(route["route"]): {str(name): str(value) for name, value in route["headers"].items()}
        for route in config.get("routes", [])
        if "route" in route and "headers" in route
    }
    return global_headers, route_headers


class SiteHeaders:
    """An ASGI wrapper that adds the page's security headers to every response of the page's app."""

    def __init__(self, app: ASGIApp, global_headers: dict[str, str], route_headers: dict[str, dict[str, str]]):
        self.app = app
        self.global_headers = global_headers
        self.route_headers = route_headers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra = {**self.global_headers, **self.route_headers.get(scope.get("path", ""), {})}

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in extra.items():
                    headers[name] = value
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        except HTTPException as error:
            # StaticFiles raises its 404 (and 405) for the app's handler to answer in JSON: that
            # answer is the page's too, and gets the headers through the exception.
            error.headers = {**(error.headers or {}), **extra}
            raise


def timed_protocol(
    header_timeout_s: float, body_idle_timeout_s: float, max_connections: int = MAX_CONNECTIONS
) -> type[TimedH11Protocol]:
    """`TimedH11Protocol` with these limits (uvicorn creates one protocol object per connection)."""
    attributes = {
        "header_timeout_s": header_timeout_s,
        "body_idle_timeout_s": body_idle_timeout_s,
        "max_connections": max_connections,
    }
    return type("TimedH11Protocol", (TimedH11Protocol,), attributes)


def build_app(model_dir: Path | None = None, static_dir: Path | None = DEFAULT_STATIC_DIR) -> FastAPI:
    """The API app, plus the static page at `/` if `static_dir` exists."""
    settings = Settings.from_env()
    if model_dir is not None:
        settings = dataclasses.replace(settings, model_dir=model_dir)
    app = create_app(settings)
    if static_dir is not None and static_dir.is_dir():
        site = SiteHeaders(StaticFiles(directory=static_dir, html=True), *site_headers(static_dir))
        app.router.routes.append(SiteMount("/", app=site, name="site"))
    return app


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1", help="interface to listen on (default: loopback only)")
    parser.add_argument("--port", type=int, default=7071)
    parser.add_argument("--model-dir", type=Path, help="folder with model.tflite and model.json")
    parser.add_argument("--static-dir", type=Path, default=DEFAULT_STATIC_DIR, help="the web page to serve at /")
    parser.add_argument("--log-level", default="info")
    parser.add_argument("--header-timeout", type=float, default=HEADER_TIMEOUT_S, help="seconds to send headers")
    parser.add_argument("--body-timeout", type=float, default=BODY_IDLE_TIMEOUT_S, help="seconds a body may stall")
    parser.add_argument("--max-connections", type=int, default=MAX_CONNECTIONS, help="open connections before 503")
    args = parser.parse_args(argv)
    # The app's own loggers (imageauth.*) at the same level as uvicorn's.
    logging.basicConfig(level=args.log_level.upper(), format="%(levelname)s:     %(name)s: %(message)s")
    app = build_app(args.model_dir, args.static_dir)
    pin_mmap_threshold()
    uvicorn.run(
        app,
        host=args.host,
        port=args.port,
        log_level=args.log_level,
        http=timed_protocol(args.header_timeout, args.body_timeout, args.max_connections),
        timeout_keep_alive=KEEP_ALIVE_S,
        h11_max_incomplete_event_size=MAX_HEADER_BYTES,
    )


if __name__ == "__main__":
    main()
