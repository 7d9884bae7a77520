"""Azure Functions entry points (Python v2 programming model): plumbing only.

- HTTP: the whole FastAPI app (`imageauth.api`) behind one ASGI function, so
  Azure and the local server (`python -m imageauth.serve`) answer the same routes.
- Blob: `process_image` runs on every image written to `images/{name}` (Event
  Grid source, as the Flex Consumption plan requires) and writes
  `results/{name}.json`. A bad image gets an error result; only a failure to
  read the image or write the result raises, so that the platform retries it.
  The trigger binds to a `BlobClient` (the SDK-type binding of
  azurefunctions-extensions-bindings-blob), not to the blob's bytes: with an
  `InputStream` the host downloads the whole blob and hands it to the worker
  before any code runs, so a 2 GB blob in `images` would be held in memory
  twice before its 413-style result. Through the client the function reads at
  most `IMAGEAUTH_MAX_BYTES` + 1 bytes of it.
- Poison queue: `record_failed_blob` gives an image whose every try failed a
  result that says so, so that no image is left without one.
"""

from __future__ import annotations

import logging

import azure.functions as func
import azurefunctions.extensions.bindings.blob as blob_sdk

from imageauth.api import app as fastapi_app
from imageauth.blob import failure_result, names_no_storable_blob, process_blob, result_blob_name
from imageauth.memory import pin_mmap_threshold
from imageauth.predict import default_settings
from imageauth.storage import (
    CONNECTION_SETTING,
    read_head,
    results_container,
    still_current,
    write_failure,
    write_result,
)

# One worker process serves many uploads: keep its memory flat (see imageauth/memory.py).
pin_mmap_threshold()

app = func.AsgiFunctionApp(app=fastapi_app, http_auth_level=func.AuthLevel.ANONYMOUS)


@app.function_name(name="process_image")
@app.blob_trigger(
    arg_name="client",
    path="images/{name}",
    connection=CONNECTION_SETTING,
    source=func.BlobSource.EVENT_GRID,
)
def process_image(client: blob_sdk.BlobClient) -> None:
    name = client.blob_name  # inside `images`, as stored (the InputStream's name had the container in front)
    if names_no_storable_blob(name):
        logging.warning("%r names no blob that can exist (dot segments): not read, no result", name)
        return
    settings = default_settings()
    # One byte past the limit is enough to know that the blob is too large.
    read = read_head(client, settings.max_bytes + 1)
    if read is None:
        logging.warning("%s was deleted before it could be read: nothing to judge, no result", name)
        return
    data, etag = read
    result = process_blob(data, name, settings)
    target = result_blob_name(name)
    if not still_current(client, etag):
        logging.info("%s changed or went while it was judged: its newer version's event writes the result", name)
        return
    written = write_result(results_container(), target, result)
    outcome = result["error"]["code"] if "error" in result else f"{result['verdict']} (label {result['label']})"
    logging.info("%s -> results/%s: %s (%s)", name, target, outcome, "written" if written else "unchanged")


# Where the Functions host puts a blob's trigger message once every try has failed (host.json's
# `extensions.queues.maxDequeueCount`), in the trigger connection's storage account.
POISON_QUEUE = "webjobs-blobtrigger-poison"


@app.function_name(name="record_failed_blob")
@app.queue_trigger(arg_name="message", queue_name=POISON_QUEUE, connection=CONNECTION_SETTING)
def record_failed_blob(message: func.QueueMessage) -> None:
    """A blob whose every try failed gets an `internal_error` result, so that no image is left
    without one. Its message names the container and the blob (the WebJobs blob trigger's format)."""
    try:
        blob = message.get_json()
    except ValueError:
        blob = None
    if not isinstance(blob, dict) or blob.get("ContainerName") != "images" or not isinstance(blob.get("BlobName"), str):
        logging.warning("poison message not from the images trigger, left alone: %.200r", message.get_body())
        return
    name = blob["BlobName"]
    target = result_blob_name(name)
    written = write_failure(results_container(), target, failure_result(name))
    logging.error(
        "%s: every try failed -> results/%s: internal_error (%s)",
        name,
        target,
        "written" if written else "a verdict was already there",
    )
