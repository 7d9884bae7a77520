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

from imageauth.predict import default_settings, error_item, get_detector, predict_or_error, sha256_hex
from imageauth.preprocess import ImageError
from imageauth.settings import Settings

RESULTS_CONTAINER = "results"
RESULT_SUFFIX = ".json"
# Azure's blob-name limits: 1024 characters, counted as .NET (the service) and
# JavaScript (Azurite) count string length, in UTF-16 code units (an emoji is
# two), and at most 254 path segments.
MAX_BLOB_NAME_UNITS = 1024
MAX_BLOB_SEGMENTS = 254
CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f]")
# Rewritten result names, and only they, end in `~` + this many hex digits of
# the image name's SHA-256 (128 bits), before `.json`.
DIGEST_CHARS = 32
REWRITTEN = re.compile(rf"~[0-9a-f]{{{DIGEST_CHARS}}}$")
TOO_LONG_STEM = "too-long"


def names_no_storable_blob(name: str) -> bool:
    """True for a name with `.` or `..` path segments (`/` or `\\` between them), which no blob can have.

    Storage clients and the service resolve such segments in the URL (`a/../b.jpg` is `b.jpg`),
    so a blob is never stored under that name, and reading it would read some other blob, perhaps
    outside `images`. The trigger leaves such a name alone instead of judging another blob.
    """
    return any(segment in (".", "..") for segment in name.replace("\\", "/").split("/"))


def result_blob_name(name: str) -> str:
    """Where the result of image `name` goes inside the `results` container; never the same for two names.

    Usually `{name}.json`. Storage clients resolve `.` and `..` segments in a
    URL, so a name such as `../x.jpg` would otherwise write outside the
    container; such segments (and empty ones, trailing dots, backslashes and
    control characters) are neutralised, and the name is rewritten to
    `{neutralised}~{digest}.json`, the digest being 32 hex digits of the
    original name's SHA-256. A name that itself ends in `~` and 32 hex digits
    is rewritten too, so no image name can produce a rewritten result name
    verbatim. A result name over Azure's limits becomes `too-long~{digest}.json`
    (`result_name_too_long` tells the caller to write an error there).
    """
    return _result_name(name)[0]


def result_name_too_long(name: str) -> bool:
    """True when no result name derived from `name` fits Azure's limits (the result goes to `too-long~…`)."""
    return _result_name(name)[1]


def _result_name(name: str) -> tuple[str, bool]:
    segments = CONTROL_CHARACTERS.sub("_", name).replace("\\", "/").split("/")
    stem = "/".join(_safe_segment(segment) for segment in segments if segment not in ("", "."))
    if stem == name and not REWRITTEN.search(name) and _fits(name + RESULT_SUFFIX):
        return name + RESULT_SUFFIX, False
    digest = hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()[:DIGEST_CHARS]
    rewritten = f"{stem}~{digest}{RESULT_SUFFIX}"
    if _fits(rewritten):
        return rewritten, False
    return f"{TOO_LONG_STEM}~{digest}{RESULT_SUFFIX}", True


def _fits(blob_name: str) -> bool:
    units = len(blob_name.encode("utf-16-le", "surrogatepass")) // 2
    return units <= MAX_BLOB_NAME_UNITS and blob_name.count("/") < MAX_BLOB_SEGMENTS


def _safe_segment(segment: str) -> str:
    # A segment that ends in a dot ("..", "a.") is what URL normalisation eats.
    return segment if not segment.endswith(".") else segment.rstrip(".") + "_"


def failure_result(name: str, now: datetime | None = None) -> dict:
    """The result for a blob whose every try failed (its message reached the poison queue).

    Without it the image would have no result at all, and nothing would say why. It carries no
    verdict and no model version (the model may be what failed), only that processing failed.
    """
    message = "Every try to process this image failed (the function's logs say why); upload it again to retry."
    item = error_item(name, ImageError("internal_error", message, 500))
    processed_at = (now or datetime.now(UTC)).isoformat(timespec="seconds")
    return {**item, "model_version": None, "processed_at": processed_at}


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
    if result_name_too_long(name):
        # No name derived from this one fits Azure's limits: the result goes to a hashed
        # name and says why, instead of failing (and being retried) forever.
        error = ImageError("name_too_long", "The blob name is too long for a result name; see docs/api.md.", 422)
        item = error_item(name, error, sha256_hex(data))
    else:
        item = predict_or_error(data, name, settings)
    processed_at = (now or datetime.now(UTC)).isoformat(timespec="seconds")
    return {**item, "model_version": get_detector(settings).version, "processed_at": processed_at}
