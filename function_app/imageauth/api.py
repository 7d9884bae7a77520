"""The HTTP API: one FastAPI app, served by the Functions host in Azure and by uvicorn locally.

Routes live under `/api` because the Functions host keeps its `api` route
prefix in the path it hands to the app; locally the same paths are served as
they are, so a client never needs to know which of the two it is talking to.
The contract (shapes, status codes, error codes) is in docs/api.md.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial

import anyio
import anyio.to_thread
from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect
from starlette.responses import JSONResponse, Response
from starlette.routing import Match
from starlette.types import ASGIApp

from imageauth.admission import Overloaded
from imageauth.body_limit import BodyLimitMiddleware
from imageauth.errors import FaultBarrier, RequestError, error_response, internal_error, retry_later
from imageauth.predict import default_settings, error_item, get_detector, get_policy, predict_bytes, sha256_hex
from imageauth.preprocess import ImageError, too_many_bytes
from imageauth.schemas import ErrorResponse, Health, ModelInfo, PredictResponse
from imageauth.settings import Settings
from imageauth.uploads import FILE_FIELD, filename_of, uploaded_files

logger = logging.getLogger("imageauth.api")

ERROR_RESPONSES: dict[int | str, dict] = {
    status: {"model": ErrorResponse, "description": description}
    for status, description in {
        400: "Malformed request, no file, or an empty file.",
        413: "Too large: request body, file bytes, pixel count, or number of files.",
        415: "Unsupported content type, or a file that is not a decodable image.",
        422: "A file that asks for too much decoding work, or whose shape is extreme.",
        503: "Over the worker's decode budget (overloaded) or past the deadline; see Retry-After.",
        500: "Server fault (internal_error); never carries details.",
    }.items()
}
PREDICT_BODY = {
    "required": True,
    "content": {
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "properties": {FILE_FIELD: {"type": "array", "items": {"type": "string", "format": "binary"}}},
                "required": [FILE_FIELD],
            }
        },
        "image/*": {"schema": {"type": "string", "format": "binary"}},
    },
}
HTTP_ERROR_CODES = {404: "not_found", 405: "method_not_allowed"}
# nginx's code for a request whose client went away: never received, it only keeps the request out
# of the 5xx counts.
CLIENT_CLOSED_REQUEST = 499

router = APIRouter(prefix="/api")


def settings_of(request: Request) -> Settings:
    return request.app.state.settings


@router.get("/health", response_model=Health, responses={503: {"model": ErrorResponse}})
def health(request: Request) -> JSONResponse:
    """Liveness plus readiness: "ok" only once the model is loaded."""
    try:
        detector = get_detector(settings_of(request))
    except Exception:
        logger.exception("the model failed to load")
        return error_response("model_unavailable", "The model could not be loaded.", 503)
    return JSONResponse({"status": "ok", "model_version": detector.version})


@router.get("/model", response_model=ModelInfo)
def model_info(request: Request) -> JSONResponse:
    """The model card, the limits a client must respect, and the unsure band and scope in effect."""
    settings = settings_of(request)
    detector = get_detector(settings)
    policy = get_policy(settings)
    return JSONResponse(
        {
            "model_version": detector.version,
            "image_size": detector.image_size,
            "threshold": detector.threshold,
            "labels": detector.labels,
            "card": detector.card,
            "limits": settings.limits(),
            "unsure_band": policy.band,
            "scope": policy.scope,
        }
    )


# HEAD for probes and link checkers: the same routes without a body (the servers drop it), left
# out of the OpenAPI document, which would otherwise list each operation twice.
router.add_api_route("/health", health, methods=["HEAD"], include_in_schema=False)
router.add_api_route("/model", model_info, methods=["HEAD"], include_in_schema=False)


@router.post(
    "/predict",
    response_model=PredictResponse,
    responses=ERROR_RESPONSES,
    openapi_extra={"requestBody": PREDICT_BODY},
)
async def predict(request: Request) -> JSONResponse:
    """Real or fake, for each uploaded image.

    One image that cannot be used answers with its own 4xx; in a request with
    several files, such a file becomes an item with an `error` object and the
    other files still get their verdict.
    """
    settings = settings_of(request)
    detector = await run_in_threadpool(get_detector, settings)
    async with uploaded_files(request, settings) as files:
        # The deadline covers decoding and scoring, not the upload (the body timeouts cover that).
        deadline = anyio.current_time() + settings.request_deadline_s
        outcomes = [await _predict_upload(upload, settings, deadline) for upload in files]
    if len(outcomes) == 1 and outcomes[0][1] is not None:
        raise outcomes[0][1]
    return JSONResponse({"model_version": detector.version, "results": [item for item, _ in outcomes]})


async def _predict_upload(upload: UploadFile, settings: Settings, deadline: float) -> tuple[dict, ImageError | None]:
    filename = filename_of(upload)
    if upload.size is not None and upload.size > settings.max_bytes:
        error = too_many_bytes(upload.size, settings.max_bytes)
        return error_item(filename, error), error
    data = await upload.read()
    work = partial(predict_bytes, data, filename, settings, admission_wait_s=settings.admission_wait_s)
    try:
        # Decoding and inference are CPU work: off the event loop, so other requests keep flowing.
        # Past the deadline the answer goes out; the thread finishes and frees its budget itself.
        with anyio.fail_after(max(0.0, deadline - anyio.current_time())):
            return await anyio.to_thread.run_sync(work, abandon_on_cancel=True), None
    except ImageError as error:
        return error_item(filename, error, sha256_hex(data)), error
    except TimeoutError:
        raise Overloaded(
            "deadline_exceeded",
            f"The images could not be decoded and scored within {settings.request_deadline_s:g} s; retry later.",
        ) from None


async def _on_known_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, ImageError | RequestError)
    return error_response(error.code, error.message, error.status)


async def _on_http_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, HTTPException)
    code = HTTP_ERROR_CODES.get(error.status_code, "http_error")
    response = error_response(code, str(error.detail), error.status_code)
    response.headers.update(error.headers or {})
    if error.status_code == 405:
        # Starlette names the first matching route's methods; HEAD lives on a route of its own.
        response.headers["Allow"] = ", ".join(sorted(_methods_for(request)))
    return response


def _methods_for(request: Request) -> set[str]:
    methods: set[str] = set()
    for route in router.routes:  # this module's routes: the only ones under /api
        match, _ = route.matches({**request.scope, "method": ""})
        if match is not Match.NONE:
            methods |= getattr(route, "methods", None) or set()
    return methods


async def _on_overloaded(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, Overloaded)
    return retry_later(error_response(error.code, error.message, error.status), error.retry_after)


async def _on_disconnect(request: Request, error: Exception) -> Response:
    # The client went away mid-upload: nothing to answer and nothing wrong with the server.
    logger.info("client disconnected during %s %s", request.method, request.url.path)
    return Response(status_code=CLIENT_CLOSED_REQUEST)


async def _on_validation_error(request: Request, error: Exception) -> JSONResponse:
    return error_response("malformed_request", "The request's parameters are invalid.", 400)


async def _on_fault(request: Request, error: Exception) -> JSONResponse:
    return internal_error()


class ImageAuthAPI(FastAPI):
    """FastAPI with `FaultBarrier` outside every middleware (see `imageauth.errors`)."""

    def build_middleware_stack(self) -> ASGIApp:
        return FaultBarrier(super().build_middleware_stack())


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    # Load the model at startup so that the first request does not pay for it;
    # a failure is logged and reported by /api/health rather than killing the server.
    try:
        await run_in_threadpool(get_detector, app.state.settings)
    except Exception:
        logger.exception("the model failed to load at startup")
    else:
        # The unsure band needs the model's threshold and card: settings that make it inconsistent
        # stop startup with their names, as every other malformed setting does, not 500 each request.
        get_policy(app.state.settings)
    yield


def create_app(settings: Settings | None = None) -> FastAPI:
    """A fresh app; `settings` default to the environment (`IMAGEAUTH_*`)."""
    app = ImageAuthAPI(
        title="imageauth",
        summary="Tells a real photograph from an AI-generated image.",
        version="1",
        openapi_url="/api/openapi.json",
        docs_url="/api/docs",
        redoc_url=None,
        lifespan=_lifespan,
        # No 307 from `/api/predict/` to `/api/predict`: Starlette builds that Location from the
        # client's Host header, and a path with no route answers the documented 404 `not_found`.
        redirect_slashes=False,
    )
    app.state.settings = settings or default_settings()
    app.add_middleware(BodyLimitMiddleware, max_bytes=app.state.settings.max_request_bytes)
    app.add_exception_handler(ImageError, _on_known_error)
    app.add_exception_handler(RequestError, _on_known_error)
    app.add_exception_handler(HTTPException, _on_http_error)
    app.add_exception_handler(Overloaded, _on_overloaded)
    app.add_exception_handler(ClientDisconnect, _on_disconnect)
    app.add_exception_handler(RequestValidationError, _on_validation_error)
    app.add_exception_handler(Exception, _on_fault)
    app.include_router(router)
    return app


app = create_app()
