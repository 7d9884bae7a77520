"""The HTTP API's response shapes, for the OpenAPI document at /api/openapi.json.

The routes build plain dicts from the core; these models describe them to
clients (and generated SDKs) without a second copy of the logic.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class ErrorDetail(BaseModel):
    code: str = Field(description="Stable machine-readable code, listed in docs/api.md.")
    message: str = Field(description="Human-readable explanation; never contains file contents.")


class ErrorResponse(BaseModel):
    error: ErrorDetail


class Prediction(BaseModel):
    filename: str | None
    sha256: str = Field(description="SHA-256 of the uploaded bytes.")
    label: Literal["real", "fake"]
    probability_fake: float = Field(ge=0.0, le=1.0)
    threshold: float = Field(description="`label` is fake when probability_fake >= threshold.")
    width: int
    height: int


class ItemError(BaseModel):
    """One file of a multi-file request that got no verdict; the others are unaffected."""

    filename: str | None
    sha256: str | None = Field(description="Null when the file was not read (over the byte limit).")
    error: ErrorDetail


class PredictResponse(BaseModel):
    model_version: str
    results: list[Prediction | ItemError]


class Health(BaseModel):
    status: Literal["ok"]
    model_version: str


class Limits(BaseModel):
    max_bytes: int = Field(description="Largest image file, in bytes.")
    max_files: int = Field(description="Most files in one request.")
    max_pixels: int = Field(description="Largest image, in pixels (width x height), checked before decoding.")
    max_request_bytes: int = Field(description="Largest request body, in bytes.")


class ModelInfo(BaseModel):
    model_version: str
    image_size: int
    threshold: float
    labels: list[str]
    card: dict = Field(description="The model card (model.json) as exported with the model.")
    limits: Limits
