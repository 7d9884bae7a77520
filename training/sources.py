"""Where a dataset comes from: a local zip or folder, or S3 (a zip object or a prefix).

S3 downloads go to a temporary name and are renamed only when complete, so an
interrupted run never leaves a half dataset that a later run would trust. A
copy is reused when the remote ETag and size still match what was fetched.
Retries are botocore's own (standard mode, exponential backoff with jitter),
configured here rather than written as a loop: botocore retries throttling,
5xx answers and dropped connections; the transfer manager retries a body cut
mid-stream. `AWS_MAX_ATTEMPTS` (the standard AWS variable) sets the total
number of attempts for both. When they run out, `S3FetchError` names the
object and the number of attempts.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

import boto3
from boto3.exceptions import RetriesExceededError
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from s3transfer.exceptions import RetriesExceededError as TransferRetriesExceededError
from tqdm import tqdm

S3_MAX_ATTEMPTS = 5  # in total, the first try included


class S3FetchError(RuntimeError):
    """An S3 request that still failed after every configured attempt."""


@dataclass(frozen=True)
class S3Location:
    bucket: str
    key: str

    @property
    def is_prefix(self) -> bool:
        return self.key == "" or self.key.endswith("/")


def parse_s3_uri(uri: str) -> S3Location:
    parsed = urlparse(uri)
    if parsed.scheme != "s3" or not parsed.netloc:
        raise ValueError(f"not an s3:// URI: {uri!r}")
    return S3Location(bucket=parsed.netloc, key=parsed.path.lstrip("/"))


def max_attempts() -> int:
    return int(os.environ.get("AWS_MAX_ATTEMPTS") or S3_MAX_ATTEMPTS)


def s3_client(endpoint_url: str | None = None, attempts: int | None = None):
    """A client with the default credential chain and botocore's standard retry mode."""
    # botocore's own `max_attempts` key counts retries only; `total_max_attempts`
    # counts the first try too, which is what S3_MAX_ATTEMPTS means.
    config = Config(
        retries={"mode": "standard", "total_max_attempts": attempts or max_attempts()},
        connect_timeout=10,
        read_timeout=60,
    )
    return boto3.client("s3", endpoint_url=endpoint_url or None, config=config)


@contextmanager
def _reported(uri: str, attempts: int) -> Iterator[None]:
    """Turn botocore's and the transfer manager's final errors into one that names the object."""
    try:
        yield
    except (RetriesExceededError, TransferRetriesExceededError) as error:
        cause = getattr(error, "last_exception", None) or error
        raise S3FetchError(f"could not download {uri} after {attempts} attempts: {cause}") from error
    except ClientError as error:
        made = error.response.get("ResponseMetadata", {}).get("RetryAttempts", 0) + 1
        raise S3FetchError(f"could not read {uri} ({made} attempts): {error}") from error
    except BotoCoreError as error:
        raise S3FetchError(f"could not reach {uri} after {attempts} attempts: {error}") from error


def _download(client, bucket: str, key: str, destination: Path, callback=None) -> None:
    attempts = client.meta.config.retries["total_max_attempts"]
    transfer = TransferConfig(num_download_attempts=attempts)
    with _reported(f"s3://{bucket}/{key}", attempts):
        client.download_file(bucket, key, str(destination), Callback=callback, Config=transfer)


def fetch(source: str, cache_dir: Path, endpoint_url: str | None = None) -> Path:
    """Return a local zip file or folder holding the dataset named by `source`."""
    if not source.startswith("s3://"):
        path = Path(source).expanduser()
        if not path.exists():
            raise FileNotFoundError(f"dataset source not found: {path}")
        return path
    location = parse_s3_uri(source)
    client = s3_client(endpoint_url)
    cache_dir.mkdir(parents=True, exist_ok=True)
    if location.is_prefix:
        return _fetch_prefix(client, location, cache_dir)
    return _fetch_object(client, location, cache_dir)


def _stamp_path(target: Path) -> Path:
    return target.with_name(target.name + ".source.json")


def _partial_path(target: Path) -> Path:
    """A fixed name, so that a download killed before its cleanup is replaced, not piled up."""
    partial = target.with_name(target.name + ".partial")
    if partial.is_dir():
        shutil.rmtree(partial)
    else:
        partial.unlink(missing_ok=True)
    return partial


def _is_fresh(target: Path, stamp: dict) -> bool:
    stamp_file = _stamp_path(target)
    if not target.exists() or not stamp_file.exists():
        return False
    return json.loads(stamp_file.read_text()) == stamp


def _write_stamp(target: Path, stamp: dict) -> None:
    _stamp_path(target).write_text(json.dumps(stamp, indent=1, sort_keys=True))


def _head(client, location: S3Location) -> dict:
    uri = f"s3://{location.bucket}/{location.key}"
    with _reported(uri, client.meta.config.retries["total_max_attempts"]):
        return client.head_object(Bucket=location.bucket, Key=location.key)


def _fetch_object(client, location: S3Location, cache_dir: Path) -> Path:
    head = _head(client, location)
    stamp = {"etag": head["ETag"], "size": head["ContentLength"], "key": location.key}
    target = cache_dir / Path(location.key).name
    if _is_fresh(target, stamp):
        return target
    partial = _partial_path(target)
    try:
        with tqdm(total=stamp["size"], unit="B", unit_scale=True, desc=f"s3 {location.key}") as bar:
            _download(client, location.bucket, location.key, partial, callback=bar.update)
        _check_unchanged(client, location, stamp)
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    _write_stamp(target, stamp)
    return target


def _check_unchanged(client, location: S3Location, stamp: dict) -> None:
    """An object replaced mid-download would give a file that is neither version."""
    head = _head(client, location)
    if head["ETag"] != stamp["etag"]:
        raise S3FetchError(f"s3://{location.bucket}/{location.key} changed during the download; run again")


def _list_prefix(client, location: S3Location) -> list[dict]:
    paginator = client.get_paginator("list_objects_v2")
    objects = []
    uri = f"s3://{location.bucket}/{location.key}"
    with _reported(uri, client.meta.config.retries["total_max_attempts"]):
        for page in paginator.paginate(Bucket=location.bucket, Prefix=location.key):
            objects.extend(
                {"key": item["Key"], "etag": item["ETag"], "size": item["Size"]}
                for item in page.get("Contents", [])
                if not item["Key"].endswith("/")
            )
    if not objects:
        raise FileNotFoundError(f"no objects under s3://{location.bucket}/{location.key}")
    return sorted(objects, key=lambda item: item["key"])


def _fetch_prefix(client, location: S3Location, cache_dir: Path) -> Path:
    objects = _list_prefix(client, location)
    stamp = {"prefix": location.key, "objects": objects}
    name = location.key.strip("/").replace("/", "_") or location.bucket
    target = cache_dir / name
    if _is_fresh(target, stamp):
        return target
    partial = _partial_path(target)
    partial.mkdir()
    try:
        for item in tqdm(objects, desc=f"s3 {location.key}", unit="file"):
            relative = item["key"][len(location.key) :].lstrip("/")
            destination = partial / relative
            if not destination.resolve().is_relative_to(partial.resolve()):
                raise ValueError(f"object key escapes the dataset folder: {item['key']!r}")
            destination.parent.mkdir(parents=True, exist_ok=True)
            _download(client, location.bucket, item["key"], destination)
        if target.exists():
            shutil.rmtree(target)
        os.replace(partial, target)
    finally:
        if partial.exists():
            shutil.rmtree(partial)
    _write_stamp(target, stamp)
    return target
