"""Reading the triggering blob's head and writing its result, with the connection the trigger uses.

The connection is the Functions setting `IMAGEAUTH_STORAGE`: in Azure the
identity-based form (`IMAGEAUTH_STORAGE__blobServiceUri`,
`IMAGEAUTH_STORAGE__credential=managedidentity`, `IMAGEAUTH_STORAGE__clientId`),
locally a connection string (Azurite). The result is written with the SDK
rather than an output binding because the binding's path would be
`results/{name}.json` verbatim: the SDK lets `result_blob_name` keep every
result inside `results`, and lets a rerun on the same content leave the
existing result untouched.

The Azure SDK is imported on first use, so the local server and the CLI never load it. (In
Azure, function_app.py's blob binding imports it at start-up: docs/serving.md says what that costs.)
"""

from __future__ import annotations

import json
import os
from functools import lru_cache
from typing import TYPE_CHECKING

from imageauth.blob import RESULTS_CONTAINER

if TYPE_CHECKING:
    from azure.storage.blob import BlobClient, BlobServiceClient, ContainerClient

CONNECTION_SETTING = "IMAGEAUTH_STORAGE"
# Fields that differ between two runs on the same content; ignored when comparing results.
VOLATILE_FIELDS = ("processed_at",)


def results_container(setting: str = CONNECTION_SETTING) -> ContainerClient:
    """The `results` container, through the connection named by `setting`."""
    environment = {key: value for key, value in os.environ.items() if key.startswith(setting)}
    return _service_client(setting, tuple(sorted(environment.items()))).get_container_client(RESULTS_CONTAINER)


@lru_cache(maxsize=4)
def _service_client(setting: str, environment: tuple[tuple[str, str], ...]) -> BlobServiceClient:
    # Cached per process and per connection settings: clients keep their HTTP connections alive.
    from azure.storage.blob import BlobServiceClient

    values = dict(environment)
    if values.get(setting):
        return BlobServiceClient.from_connection_string(values[setting])
    service_uri = values.get(f"{setting}__blobServiceUri") or values.get(f"{setting}__serviceUri")
    if not service_uri:
        raise RuntimeError(f"Set {setting} (a connection string) or {setting}__blobServiceUri (identity-based).")
    return BlobServiceClient(service_uri, credential=_credential(values, setting))


def _credential(values: dict[str, str], setting: str) -> object:
    if values.get(f"{setting}__credential", "").lower() == "managedidentity":
        from azure.identity import ManagedIdentityCredential

        return ManagedIdentityCredential(client_id=values.get(f"{setting}__clientId"))
    from azure.identity import DefaultAzureCredential

    return DefaultAzureCredential()


def read_head(blob: BlobClient, limit: int) -> tuple[bytes, str | None] | None:
    """At most the first `limit` bytes of `blob` and the ETag of the version read; None when it
    no longer exists.

    A ranged read, so an oversized blob costs `limit` bytes of memory, not its size. Other storage
    failures raise, so that the trigger fails and the platform retries.
    """
    from azure.core.exceptions import HttpResponseError, ResourceNotFoundError

    try:
        download = blob.download_blob(offset=0, length=limit)
        return download.readall(), download.properties.etag
    except ResourceNotFoundError:
        return None
    except HttpResponseError as error:
        # A range from byte 0 is "invalid" only for a blob of zero bytes: its content is empty.
        if error.error_code == "InvalidRange":
            return b"", None
        raise


def still_current(blob: BlobClient, etag: str | None) -> bool:
    """Whether `blob` is still the version read (ETag `etag`; None: the empty blob, checked by size).

    A blob overwritten while it was judged has an event of its own on the way, whose result must
    not be replaced by this, older one (Event Grid does not keep the order of events).
    """
    from azure.core.exceptions import ResourceNotFoundError

    try:
        properties = blob.get_blob_properties()
    except ResourceNotFoundError:
        return False
    return properties.etag == etag if etag is not None else properties.size == 0


def write_result(container: ContainerClient, blob_name: str, result: dict) -> bool:
    """Write `result` as JSON unless an equal result is already there; True if written.

    Any storage failure raises, so that the trigger fails and the platform retries.
    """
    return _write(container.get_blob_client(blob_name), result, keep_verdict=False)


def write_failure(container: ContainerClient, blob_name: str, result: dict) -> bool:
    """`write_result` for a failure result, unless a verdict is already there; True if written.

    Event Grid delivers at least once: another delivery of the same blob may have succeeded while
    this one failed, and its verdict must not be replaced by a failure notice.
    """
    return _write(container.get_blob_client(blob_name), result, keep_verdict=True)


# Tries of the read-compare-write cycle when another writer keeps getting in between.
_WRITE_TRIES = 5


def _write(blob: BlobClient, result: dict, *, keep_verdict: bool) -> bool:
    """Write `result` unless what is there makes it pointless; conditional on what was read.

    The upload only succeeds if the result blob is still the version read (or still absent), so a
    verdict written by another delivery between the read and the write is never overwritten
    unseen: the cycle starts again and looks at it.
    """
    from azure.core import MatchConditions
    from azure.core.exceptions import ResourceExistsError, ResourceModifiedError
    from azure.storage.blob import ContentSettings

    body = json.dumps(result, ensure_ascii=False, indent=2).encode("utf-8")
    for _ in range(_WRITE_TRIES):
        existing, etag = _read_existing(blob)
        if existing is not None and (
            _stable(existing) == _stable(result) or (keep_verdict and "error" not in existing)
        ):
            return False
        condition = {"etag": etag, "match_condition": MatchConditions.IfNotModified} if etag else {"overwrite": False}
        try:
            blob.upload_blob(
                body,
                content_settings=ContentSettings(content_type="application/json; charset=utf-8"),
                **condition,
            )
        except (ResourceExistsError, ResourceModifiedError):
            continue  # Someone wrote in between: read again and decide again.
        return True
    raise RuntimeError(f"{blob.blob_name} kept changing while its result was written")


def _read_existing(blob: BlobClient) -> tuple[dict | None, str | None]:
    """The result already stored (None if absent or not our JSON) and the ETag of that version."""
    from azure.core.exceptions import ResourceNotFoundError

    try:
        download = blob.download_blob()
        raw = download.readall()
    except ResourceNotFoundError:
        return None, None
    try:
        existing = json.loads(raw)
    except ValueError:
        existing = None  # Not our JSON: overwritten with a valid result.
    return (existing if isinstance(existing, dict) else None), download.properties.etag


def _stable(result: dict) -> dict:
    return {key: value for key, value in result.items() if key not in VOLATILE_FIELDS}
