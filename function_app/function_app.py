"""Azure Functions entry points (Python v2 programming model): plumbing only.

- HTTP: the whole FastAPI app (`imageauth.api`) behind one ASGI function, so
  Azure and the local server (`python -m imageauth.serve`) answer the same routes.
- Blob: `process_image` runs on every image written to `images/{name}` (Event
  Grid source, as the Flex Consumption plan requires) and writes
  `results/{name}.json`. A bad image gets an error result; only a failure to
  write the result raises, so that the platform retries it.
"""

from __future__ import annotations

import logging

import azure.functions as func

from imageauth.api import app as fastapi_app
from imageauth.blob import image_name, process_blob, result_blob_name
from imageauth.memory import pin_mmap_threshold
from imageauth.predict import default_settings
from imageauth.storage import CONNECTION_SETTING, results_container, write_result

# One worker process serves many uploads: keep its memory flat (see imageauth/memory.py).
pin_mmap_threshold()

app = func.AsgiFunctionApp(app=fastapi_app, http_auth_level=func.AuthLevel.ANONYMOUS)


@app.function_name(name="process_image")
@app.blob_trigger(
    arg_name="blob",
    path="images/{name}",
    connection=CONNECTION_SETTING,
    source=func.BlobSource.EVENT_GRID,
)
def process_image(blob: func.InputStream) -> None:
    name = image_name(blob.name or "")
    settings = default_settings()
    # One byte past the limit is enough to know that the blob is too large.
    result = process_blob(blob.read(settings.max_bytes + 1), name, settings)
    target = result_blob_name(name)
    written = write_result(results_container(), target, result)
    outcome = result["error"]["code"] if "error" in result else f"{result['verdict']} (label {result['label']})"
    logging.info("%s -> results/%s: %s (%s)", name, target, outcome, "written" if written else "unchanged")
