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


class Action(BaseModel):
    action: str | None
    digitalSourceType: str | None = Field(description="The IPTC digital source type's last path segment.")


class Evidence(BaseModel):
    """One thing the file says about its origin (docs/evidence.md); `kind` decides which other fields it has."""

    kind: Literal["c2pa", "metadata"]
    ai_generated: bool | None = Field(description="True: says AI; false: says captured; null: says neither.")
    generator: str | None
    detail: str = Field(description="One or two plain sentences on what was found and what it proves.")
    status: Literal["valid", "invalid", "unreadable"] | None = Field(
        default=None, description="c2pa only: the manifest store's validation state."
    )
    trusted: bool | None = Field(default=None, description="c2pa only: the signer chains to a configured anchor.")
    codes: list[str] | None = Field(default=None, description="c2pa only: c2pa-rs validation status codes.")
    signer: str | None = None
    claim_generator: str | None = None
    actions: list[Action] | None = None
    source_type: str | None = Field(
        default=None,
        description="c2pa only: the IPTC digital source type that made ai_generated true; else null.",
    )
    ingredient: Literal["parentOf", "componentOf"] | None = Field(
        default=None,
        description="c2pa only: the relationship of the ingredient whose manifest said AI; null: the image's own did.",
    )
    source: str | None = Field(default=None, description="metadata only: where, e.g. png:parameters.")


class Prediction(BaseModel):
    filename: str | None
    sha256: str = Field(description="SHA-256 of the uploaded bytes.")
    label: Literal["real", "fake"]
    probability_fake: float = Field(ge=0.0, le=1.0)
    threshold: float = Field(description="`label` is fake when probability_fake >= threshold.")
    width: int
    height: int
    verdict: Literal["ai_generated_by_credentials", "likely_ai", "unsure", "likely_real"] = Field(
        description="What this service claims from the score, its unsure band and scope, and the evidence."
    )
    note: str | None = Field(description="What the model saw, when the scope rule or band applied; else null.")
    evidence: list[Evidence] = Field(description="Content Credentials and generator metadata; empty if none.")


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
    max_decode_bytes: int = Field(description="Memory one image's decode may hold; more is 413 decode_too_large.")
    decode_budget_bytes: int = Field(description="Decode memory all requests of one worker may hold at once.")
    admission_wait_s: float = Field(description="Wait for room in that budget before 503 overloaded.")
    request_deadline_s: float = Field(description="Decoding and scoring one request's files, before 503.")
    max_parser_reads: int = Field(description="Parser steps (chunks, markers, blocks) one file may need.")
    max_jpeg_scans: int = Field(description="Scans of one JPEG.")
    max_jpeg_scan_blocks: int = Field(description="Scans times 8x8 blocks of one JPEG.")
    max_tiles: int = Field(description="Strips or tiles decoded one by one.")
    max_frames: int = Field(description="Frames of one file.")
    max_aspect_ratio: int = Field(description="Long side over short side, for images over a megapixel.")


class UnsureBand(BaseModel):
    low: float = Field(description="`verdict` is likely_real below this score (inside the scope).")
    high: float = Field(description="`verdict` is likely_ai at or above this score (inside the scope).")
    source: str = Field(description="Where the band in effect comes from: model card, settings, or none.")


class Scope(BaseModel):
    max_short_side: int | None = Field(
        description="Beyond this short side (px) the score alone gives no verdict; null: no limit."
    )
    source: str = Field(description="model card, or default (twice the input size).")


class ModelInfo(BaseModel):
    model_version: str
    image_size: int
    threshold: float
    labels: list[str]
    card: dict = Field(description="The model card (model.json) as exported with the model.")
    limits: Limits
    unsure_band: UnsureBand = Field(description="The band in effect (card figures plus settings overrides).")
    scope: Scope = Field(description="The validated input scope in effect.")
