"""The blob flow's core: image bytes and their blob name in, the result document out.

An image written to container `images` at `{name}` gets `results/{name}.json`:
the item fields of the HTTP API plus `model_version` and `processed_at`, or an
`error` object for a blob that is not a usable image. A bad blob is answered,
never raised: raising would make the platform retry a file that cannot get
better. Plain Python with no Azure imports, so tests call it directly.
"""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime

from imageauth.predict import default_settings, get_detector, predict_or_error
from imageauth.settings import Settings

IMAGES_CONTAINER = "images"
RESULTS_CONTAINER = "results"
RESULT_SUFFIX = ".json"
# Azure caps blob names at 1024 characters; room is kept for the suffixes.
MAX_RESULT_STEM = 960
CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f]")


def image_name(trigger_path: str) -> str:
    """The image's name inside `images`, from the trigger's `images/{name}` path."""
    prefix = IMAGES_CONTAINER + "/"
    return trigger_path[len(prefix) :] if trigger_path.startswith(prefix) else trigger_path


def result_blob_name(name: str) -> str:
    """Where the result of image `name` goes inside the `results` container.

    Usually `{name}.json`. Storage clients resolve `.` and `..` segments in a
    URL, so a name such as `../x.jpg` would otherwise write outside the
    container; such segments (and empty ones, trailing dots, backslashes and
    control characters) are neutralised, and a short hash of the original name
    keeps two rewritten names from colliding.
    """
    segments = CONTROL_CHARACTERS.sub("_", name).replace("\\", "/").split("/")
    safe = [_safe_segment(segment) for segment in segments if segment not in ("", ".")]
    stem = "/".join(safe)
    if stem == name and len(stem) <= MAX_RESULT_STEM:
        return stem + RESULT_SUFFIX
    digest = hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()[:12]
    return f"{stem[:MAX_RESULT_STEM]}~{digest}{RESULT_SUFFIX}"


def _safe_segment(segment: str) -> str:
    # A segment that ends in a dot ("..", "a.") is what URL normalisation eats.
    return segment if not segment.endswith(".") else segment.rstrip(".") + "_"


def process_blob(
    data: bytes,
    name: str,
    settings: Settings | None = None,
    now: datetime | None = None,
) -> dict:
    """The result document for one image blob; never raises for a bad image.

    `data` may be cut at `max_bytes + 1` bytes by the caller, which is enough
    to know that the blob is over the limit.
    """
    settings = settings or default_settings()
    item = predict_or_error(data, name, settings)
    processed_at = (now or datetime.now(UTC)).isoformat(timespec="seconds")
    return {**item, "model_version": get_detector(settings).version, "processed_at": processed_at}
