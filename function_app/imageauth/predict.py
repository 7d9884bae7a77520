"""Image bytes in, verdict out: the one core behind the HTTP API, the blob trigger and the CLI.

Every entry point calls `predict_bytes` (or `predict_or_error`), so a file gets
the same probability whichever way it arrives. The detector is loaded once per
process and shared: loading per request is what makes a serverless function slow.
"""

from __future__ import annotations

import hashlib
import threading
from functools import lru_cache
from pathlib import Path

from imageauth.admission import admitted, worker_budget
from imageauth.model import DEFAULT_MODEL_DIR, Detector
from imageauth.preprocess import ImageError, open_image
from imageauth.provenance import examine
from imageauth.settings import Settings
from imageauth.verdict import Policy, decide, policy_for

_detectors: dict[tuple[Path, int | None], Detector] = {}
_detectors_lock = threading.Lock()


@lru_cache(maxsize=1)
def default_settings() -> Settings:
    """The process's settings from the environment, read once."""
    return Settings.from_env()


def get_detector(settings: Settings | None = None) -> Detector:
    """The process-wide detector for these settings, loaded on first use."""
    settings = settings or default_settings()
    model_dir = Path(settings.model_dir or DEFAULT_MODEL_DIR).resolve()
    key = (model_dir, settings.num_threads)
    # The lock makes concurrent first requests share one load instead of racing.
    with _detectors_lock:
        detector = _detectors.get(key)
        if detector is None:
            detector = Detector.from_dir(model_dir, num_threads=settings.num_threads)
            _detectors[key] = detector
    return detector


def get_policy(settings: Settings | None = None) -> Policy:
    """The unsure band and validated scope in effect for the detector of these settings."""
    settings = settings or default_settings()
    detector = get_detector(settings)
    return policy_for(detector.card, detector.image_size, detector.threshold, settings.unsure_low, settings.unsure_high)


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def predict_bytes(
    data: bytes,
    filename: str | None = None,
    settings: Settings | None = None,
    *,
    admission_wait_s: float | None = None,
) -> dict:
    """The verdict for one image; raises `ImageError` for anything that is not a usable image.

    The decode waits for room in the worker's decode budget (imageauth.admission):
    at most `admission_wait_s` seconds, then `Overloaded`; None waits as long as it takes.
    """
    settings = settings or default_settings()
    detector = get_detector(settings)
    opened = open_image(
        data,
        detector.image_size,
        max_pixels=settings.max_pixels,
        max_bytes=settings.max_bytes,
        max_decode_bytes=settings.max_decode_bytes,
    )
    with admitted(opened, len(data), worker_budget(settings.budget_bytes()), admission_wait_s) as image:
        probability = float(detector.predict(image.pixels)[0])
    # The decoded file's metadata goes before `examine` reads the file again: PNG text chunks are
    # decompressed when read (up to 64 MiB a file, from a 66 kB upload), and were held twice.
    del opened
    threshold = detector.threshold
    # What the file says about itself, and what this service will claim from all of it (imageauth.verdict).
    facts = examine(data, settings.c2pa_trust_anchors)
    verdict, note = decide(probability, image.width, image.height, facts, get_policy(settings))
    return {
        "filename": filename,
        "sha256": sha256_hex(data),
        "label": "fake" if probability >= threshold else "real",
        "probability_fake": probability,
        "threshold": threshold,
        "width": image.width,
        "height": image.height,
        "verdict": verdict,
        "note": note,
        "evidence": facts.evidence,
    }


def error_item(filename: str | None, error: ImageError, sha256: str | None = None) -> dict:
    """The result item for an input that got no verdict: same keys as the caller knows, plus `error`."""
    return {"filename": filename, "sha256": sha256, "error": error.to_dict()}


def predict_or_error(data: bytes, filename: str | None = None, settings: Settings | None = None) -> dict:
    """Like `predict_bytes`, but a bad image becomes an error item instead of an exception.

    Server faults (a missing model, a broken interpreter) still raise: they are
    not the input's fault, and a caller such as the blob trigger must retry them.
    """
    try:
        return predict_bytes(data, filename, settings)
    except ImageError as error:
        # Bytes over the limit may be a truncated read; their hash would name the wrong content.
        digest = None if error.code == "file_too_large" else sha256_hex(data)
        return error_item(filename, error, digest)
