"""Where a dataset comes from: a local zip or folder, or S3 (a zip object or a prefix).

S3 downloads go to a temporary name and are renamed only when complete, so an
interrupted run never leaves a half dataset that a later run would trust. A
copy is reused when the remote ETag and size still match what was fetched.
Retries are botocore's own (standard mode, exponential backoff with jitter),
configured here rather than written as a loop.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

import boto3
from botocore.config import Config
from tqdm import tqdm

S3_MAX_ATTEMPTS = 5


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


def s3_client(endpoint_url: str | None = None, max_attempts: int = S3_MAX_ATTEMPTS):
    """A client with the default credential chain and botocore's standard retry mode."""
    config = Config(
        retries={"mode": "standard", "max_attempts": max_attempts},
        connect_timeout=10,
        read_timeout=60,
    )
    return boto3.client("s3", endpoint_url=endpoint_url or None, config=config)


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


def _is_fresh(target: Path, stamp: dict) -> bool:
    stamp_file = _stamp_path(target)
    if not target.exists() or not stamp_file.exists():
        return False
    return json.loads(stamp_file.read_text()) == stamp


def _write_stamp(target: Path, stamp: dict) -> None:
    _stamp_path(target).write_text(json.dumps(stamp, indent=1, sort_keys=True))


def _fetch_object(client, location: S3Location, cache_dir: Path) -> Path:
    head = client.head_object(Bucket=location.bucket, Key=location.key)
    stamp = {"etag": head["ETag"], "size": head["ContentLength"], "key": location.key}
    target = cache_dir / Path(location.key).name
    if _is_fresh(target, stamp):
        return target
    with tempfile.NamedTemporaryFile(dir=cache_dir, suffix=".partial", delete=False) as tmp:
        partial = Path(tmp.name)
    try:
        with tqdm(total=stamp["size"], unit="B", unit_scale=True, desc=f"s3 {location.key}") as bar:
            client.download_file(location.bucket, location.key, str(partial), Callback=bar.update)
        _check_unchanged(client, location, stamp)
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    _write_stamp(target, stamp)
    return target


def _check_unchanged(client, location: S3Location, stamp: dict) -> None:
    """An object replaced mid-download would give a file that is neither version."""
    head = client.head_object(Bucket=location.bucket, Key=location.key)
    if head["ETag"] != stamp["etag"]:
        raise RuntimeError(
            f"s3://{location.bucket}/{location.key} changed during the download; run again"
        )


def _list_prefix(client, location: S3Location) -> list[dict]:
    paginator = client.get_paginator("list_objects_v2")
    objects = []
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
    partial = Path(tempfile.mkdtemp(dir=cache_dir, suffix=".partial"))
    try:
        for item in tqdm(objects, desc=f"s3 {location.key}", unit="file"):
            relative = item["key"][len(location.key) :].lstrip("/")
            destination = partial / relative
            if not destination.resolve().is_relative_to(partial.resolve()):
                raise ValueError(f"object key escapes the dataset folder: {item['key']!r}")
            destination.parent.mkdir(parents=True, exist_ok=True)
            client.download_file(location.bucket, item["key"], str(destination))
        if target.exists():
            shutil.rmtree(target)
        os.replace(partial, target)
    finally:
        if partial.exists():
            shutil.rmtree(partial)
    _write_stamp(target, stamp)
    return target
