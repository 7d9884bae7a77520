"""Invoking the blob trigger as the Functions worker does with the SDK-type binding.

On a BlobCreated event the host does not send the blob's bytes: it sends "model binding data"
naming the trigger's connection setting, the container and the blob, and the worker hands it to
azurefunctions-extensions-bindings-blob's converter, which builds a `BlobClient` from that
connection's settings (here `IMAGEAUTH_STORAGE`, an Azurite connection string). These helpers
run that real converter on the message the host would send, then call the function.
"""

from __future__ import annotations

import json
from types import SimpleNamespace

import azurefunctions.extensions.bindings.blob as blob_sdk
from azure.storage.blob import BlobServiceClient
from azurefunctions.extensions.base import Datum
from azurefunctions.extensions.bindings.blob.blobClientConverter import BlobClientConverter

from imageauth.storage import CONNECTION_SETTING


def host_binding_data(name: str, container: str = "images", connection: str = CONNECTION_SETTING) -> Datum:
    """The `model_binding_data` the host sends for blob `name` (the gRPC message's fields)."""
    content = json.dumps({"Connection": connection, "ContainerName": container, "BlobName": name})
    fields = {"version": "1.0", "source": "AzureStorageBlobs", "content_type": "application/json"}
    message = SimpleNamespace(**fields, content=content)
    return Datum(message, "model_binding_data")


def blob_client(name: str) -> blob_sdk.BlobClient:
    """What the worker passes as the trigger's argument for blob `name` in `images`."""
    return BlobClientConverter.decode(host_binding_data(name), trigger_metadata={}, pytype=blob_sdk.BlobClient)


def trigger(process_image, name: str) -> None:
    """The host's invocation for an existing blob `images/{name}`."""
    process_image(blob_client(name))


def upload_and_trigger(process_image, service: BlobServiceClient, name: str, data: bytes) -> None:
    """Store `data` at `images/{name}`, then run the trigger on it, as a BlobCreated event would."""
    service.get_blob_client("images", name).upload_blob(data, overwrite=True)
    trigger(process_image, name)
