"""Serving settings, read from the environment once per process.

Azure Functions passes app settings as environment variables, and so do the
local server, the CLI and the tests; one reader keeps their defaults equal.
The decision threshold (`IMAGEAUTH_THRESHOLD`) is read by `Detector` itself,
because the export stage evaluates models through that class too; it is checked
here as well, so that a malformed one stops startup like every other setting.
Whether the unsure band holds the model's threshold is known only once the model
is loaded: `imageauth.api` checks it then, at startup (`verdict.policy_for`).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

from imageauth import decode_limits
from imageauth.admission import default_decode_budget, process_share
from imageauth.decode_limits import DEFAULT_MAX_DECODE_BYTES
from imageauth.preprocess import DEFAULT_MAX_PIXELS

MEBIBYTE = 1024 * 1024
# The folder that is the deployed package's root (function_app/ here, wwwroot in Azure).
APP_ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Settings:
    """Limits and model location for one serving process."""

    model_dir: Path | None = None  # None: the Detector's default (the bundled model)
    max_bytes: int = 20 * MEBIBYTE  # one image
    max_files: int = 16  # images in one request
    max_pixels: int = DEFAULT_MAX_PIXELS  # one image, checked before decoding
    # The whole request body: several images plus multipart overhead. It stays
    # under the Functions host's own 100 MB limit so that ours answers first.
    max_request_bytes: int = 64 * MEBIBYTE
    # LiteRT threads per process. None runs one: ai-edge-litert passes `num_threads or 1`,
    # and one thread per worker process serves most images per second (docs/serving.md).
    num_threads: int | None = None
    # Memory one image's decode may hold (imageauth.decode_limits); more is 413 decode_too_large.
    max_decode_bytes: int = DEFAULT_MAX_DECODE_BYTES
    # Decode memory all requests of this process may hold at once (imageauth.admission).
    # IMAGEAUTH_DECODE_BUDGET_BYTES is the instance's, shared by its Functions worker
    # processes; unset, it is half the instance's memory.
    decode_budget_bytes: int | None = None
    # How long a request waits for room in that budget before it is answered 503.
    admission_wait_s: float = 2.0
    # Decoding and scoring all files of one request must end within this, or 503.
    request_deadline_s: float = 30.0
    # The unsure band (imageauth.verdict); None keeps the model card's.
    unsure_low: float | None = None
    unsure_high: float | None = None
    # PEM file of C2PA trust anchors (imageauth.provenance); None: no signer is trusted.
    c2pa_trust_anchors: Path | None = None

    @classmethod
    def from_env(cls) -> Settings:
        """Build settings from `IMAGEAUTH_*` variables; a malformed value fails loudly at startup."""
        defaults = cls()
        model_dir = _from_env("IMAGEAUTH_MODEL_DIR", Path, lambda path: path.is_dir(), "name a folder")
        # Read by `Detector` when the model loads (after startup checks); checked here by the same rule.
        _from_env("IMAGEAUTH_THRESHOLD", float, lambda value: 0.0 < value < 1.0, "be a number between 0 and 1")
        max_bytes = _positive_int("IMAGEAUTH_MAX_BYTES", defaults.max_bytes)
        # A request must be able to carry one image of the largest allowed size.
        request_floor = max_bytes + MEBIBYTE
        max_request_bytes = _positive_int("IMAGEAUTH_MAX_REQUEST_BYTES", max(defaults.max_request_bytes, request_floor))
        if max_request_bytes < max_bytes:
            raise ValueError("IMAGEAUTH_MAX_REQUEST_BYTES must be at least IMAGEAUTH_MAX_BYTES")
        max_decode_bytes = _positive_int("IMAGEAUTH_MAX_DECODE_BYTES", defaults.max_decode_bytes)
        unsure_low = _optional_probability("IMAGEAUTH_UNSURE_LOW")
        unsure_high = _optional_probability("IMAGEAUTH_UNSURE_HIGH")
        if unsure_low is not None and unsure_high is not None and unsure_low > unsure_high:
            raise ValueError(
                f"IMAGEAUTH_UNSURE_LOW must not be above IMAGEAUTH_UNSURE_HIGH, got {unsure_low} > {unsure_high}"
            )
        return cls(
            model_dir=model_dir,
            max_bytes=max_bytes,
            max_files=_positive_int("IMAGEAUTH_MAX_FILES", defaults.max_files),
            max_pixels=_positive_int("IMAGEAUTH_MAX_PIXELS", defaults.max_pixels),
            max_request_bytes=max_request_bytes,
            num_threads=_optional_positive_int("IMAGEAUTH_NUM_THREADS"),
            unsure_low=unsure_low,
            unsure_high=unsure_high,
            c2pa_trust_anchors=_optional_file("IMAGEAUTH_C2PA_TRUST_ANCHORS"),
            max_decode_bytes=max_decode_bytes,
            # None when unset: `budget_bytes()` holds the default, for these and for directly built settings.
            decode_budget_bytes=process_share(_optional_positive_int("IMAGEAUTH_DECODE_BUDGET_BYTES")),
            admission_wait_s=_positive_float("IMAGEAUTH_ADMISSION_WAIT_S", defaults.admission_wait_s),
            request_deadline_s=_positive_float("IMAGEAUTH_REQUEST_DEADLINE_S", defaults.request_deadline_s),
        )

    def limits(self) -> dict[str, int | float]:
        """The limits a client needs to know, as `/api/model` reports them."""
        return {
            "max_bytes": self.max_bytes,
            "max_files": self.max_files,
            "max_pixels": self.max_pixels,
            "max_request_bytes": self.max_request_bytes,
            "max_decode_bytes": self.max_decode_bytes,
            "decode_budget_bytes": self.budget_bytes(),
            "admission_wait_s": self.admission_wait_s,
            "request_deadline_s": self.request_deadline_s,
            **decode_limits.structure_limits(),
        }

    def budget_bytes(self) -> int:
        """The worker's decode budget: the setting, or the default for this instance."""
        if self.decode_budget_bytes is not None:
            return self.decode_budget_bytes
        return default_decode_budget(self.max_decode_bytes + self.max_bytes)


def _positive_int(name: str, default: int) -> int:
    value = _optional_positive_int(name)
    return default if value is None else value


def _from_env(name: str, convert, accept, expected: str):
    """`convert` of the variable's value, None when it is unset; a value `accept` refuses fails startup."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return None
    try:
        value = convert(raw)
    except ValueError:
        value = None
    if value is None or not accept(value):
        raise ValueError(f"{name} must {expected}, got {raw!r}")
    return value


def _optional_positive_int(name: str) -> int | None:
    return _from_env(name, lambda raw: int(raw.replace("_", "")), lambda value: value > 0, "be a positive integer")


def _positive_float(name: str, default: float) -> float:
    # Finite: "inf" parses as a float, and /api/model could not report it in JSON.
    value = _from_env(name, float, lambda value: math.isfinite(value) and value > 0, "be a positive number of seconds")
    return default if value is None else value


def _optional_probability(name: str) -> float | None:
    return _from_env(name, float, lambda value: 0.0 <= value <= 1.0, "be a number between 0 and 1")


def _optional_file(name: str) -> Path | None:
    return _from_env(name, _app_path, lambda path: path.is_file(), "name a readable file")


def _app_path(raw: str) -> Path:
    """A relative path that is no file from the working directory is taken inside the app's package.

    Why: the Functions host's working directory is not documented, but a file
    shipped in the package (e.g. `trust/anchors.pem`) is always beside `imageauth/`.
    """
    path = Path(raw)
    if path.is_absolute() or path.is_file():
        return path
    return APP_ROOT / path
