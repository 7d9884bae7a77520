"""Run the API and the web page locally: `python -m imageauth.serve`.

The app is the very FastAPI app the Functions host runs in Azure (same routes
under /api, same limits from the same `IMAGEAUTH_*` settings), served here by
uvicorn on http://127.0.0.1:7071, the port `func start` uses. The page in
`static_site/` is mounted at `/` when that folder exists, so the page and the
API share one origin and need no CORS.
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

import uvicorn
from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from starlette.routing import Match, Mount
from starlette.types import Scope

from imageauth.api import create_app
from imageauth.memory import pin_mmap_threshold
from imageauth.settings import Settings

# function_app/imageauth/serve.py -> the repository root, where the page lives.
DEFAULT_STATIC_DIR = Path(__file__).resolve().parents[2] / "static_site"


class SiteMount(Mount):
    """The page at `/`, blind to `/api`: API paths keep their own 404 and 405 answers."""

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        path = scope.get("path", "")
        if path == "/api" or path.startswith("/api/"):
            return Match.NONE, {}
        return super().matches(scope)


def build_app(model_dir: Path | None = None, static_dir: Path | None = DEFAULT_STATIC_DIR) -> FastAPI:
    """The API app, plus the static page at `/` if `static_dir` exists."""
    settings = Settings.from_env()
    if model_dir is not None:
        settings = dataclasses.replace(settings, model_dir=model_dir)
    app = create_app(settings)
    if static_dir is not None and static_dir.is_dir():
        app.router.routes.append(SiteMount("/", app=StaticFiles(directory=static_dir, html=True), name="site"))
    return app


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1", help="interface to listen on (default: loopback only)")
    parser.add_argument("--port", type=int, default=7071)
    parser.add_argument("--model-dir", type=Path, help="folder with model.tflite and model.json")
    parser.add_argument("--static-dir", type=Path, default=DEFAULT_STATIC_DIR, help="the web page to serve at /")
    parser.add_argument("--log-level", default="info")
    args = parser.parse_args(argv)
    app = build_app(args.model_dir, args.static_dir)
    pin_mmap_threshold()
    uvicorn.run(app, host=args.host, port=args.port, log_level=args.log_level)


if __name__ == "__main__":
    main()
