"""Blob result names under attack: look-alikes of rewritten names and over-long unicode (issue 15, item 7).

The property: two different image names never share a result name, every
result name fits Azure's limits (1024 UTF-16 code units, 254 segments) and
stays inside `results`, and a name whose result cannot fit gets an error
result at a hashed name through the real trigger and Azurite, once, without
raising (a raise would be retried for ever).
"""

from __future__ import annotations

import contextlib
import json

import pytest
from azure.core.exceptions import ResourceExistsError
from azure.storage.blob import BlobServiceClient
from badinputs import small_jpeg
from blob_trigger import trigger, upload_and_trigger
from hypothesis import given, settings
from hypothesis import strategies as st
from reliability_helpers import azurite_connection_string

from imageauth.blob import (
    MAX_BLOB_NAME_UNITS,
    MAX_BLOB_SEGMENTS,
    names_no_storable_blob,
    result_blob_name,
    result_name_too_long,
)

pytestmark = pytest.mark.timeout(180)

EMOJI = "\U0001f4f7"  # two UTF-16 code units, four UTF-8 bytes
NAMES = st.text(alphabet=st.sampled_from(list("ab~./\\\x00é" + EMOJI + "0123456789abcdef")), max_size=60)


def utf16_units(name: str) -> int:
    return len(name.encode("utf-16-le", "surrogatepass")) // 2


def look_alikes(name: str) -> list[str]:
    """Image names that spell, verbatim or nearly, the result name of `name`."""
    result = result_blob_name(name)
    stem = result.removesuffix(".json")
    return [stem, result, stem + ".json.json", stem.replace("~", "_"), stem.upper(), stem + "/"]


def assert_valid(result: str) -> None:
    segments = result.split("/")
    assert result.endswith(".json")
    assert utf16_units(result) <= MAX_BLOB_NAME_UNITS and len(segments) <= MAX_BLOB_SEGMENTS
    assert all(segment and not segment.endswith(".") for segment in segments)
    assert not any(ord(character) < 0x20 or character in "\\\x7f" for character in result)


@pytest.mark.parametrize(
    "name",
    ["../x.jpg", "a./b.jpg", "back\\slash.jpg", "ctrl\x01.jpg", "", "..", "x" * 2000, "photo~1.jpg", "a" * 1019],
)
def test_no_image_name_produces_another_names_result_verbatim(name):
    results = {candidate: result_blob_name(candidate) for candidate in [name, *look_alikes(name)]}
    assert len(set(results.values())) == len(results), results
    for result in results.values():
        assert_valid(result)


@settings(max_examples=400, deadline=None)
@given(NAMES, NAMES)
def test_different_names_never_share_a_result(first, second):
    if first != second:
        assert result_blob_name(first) != result_blob_name(second)
    assert_valid(result_blob_name(first))


def test_the_limit_is_counted_in_utf16_code_units():
    # 509 emoji are 1018 code units: with ".json" 1023, under the limit, though 2036 UTF-8 bytes.
    fits = EMOJI * 509
    assert result_blob_name(fits) == fits + ".json"
    assert not result_name_too_long(fits)
    # 510 emoji are 1020 units: with ".json" 1025, over; so is any rewritten form of it.
    over = EMOJI * 510
    assert result_name_too_long(over)
    assert result_blob_name(over).startswith("too-long~")
    # 1019 ASCII characters fit with ".json"; 1020 do not.
    assert result_blob_name("a" * 1019) == "a" * 1019 + ".json"
    assert result_name_too_long("a" * 1020)
    # Segments: 254 is Azure's most; a result keeps the image's segments.
    assert not result_name_too_long("/".join("s" * MAX_BLOB_SEGMENTS))
    assert result_name_too_long("/".join("s" * (MAX_BLOB_SEGMENTS + 1)))


@pytest.fixture(scope="module")
def storage(azurite):
    connection = azurite_connection_string(azurite)
    service = BlobServiceClient.from_connection_string(connection)
    for container in ("images", "results"):
        # Azurite is shared by the session: other tests may have made the containers first.
        with contextlib.suppress(ResourceExistsError):
            service.create_container(container)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("IMAGEAUTH_STORAGE", connection)
        yield service


def test_adversarial_names_through_the_trigger_and_azurite(storage, process_image):
    originals = ["over/long " + EMOJI * 505, "../x.jpg", "photo~1.jpg", "a" * 1019, "a" * 1020]
    names = list(dict.fromkeys(originals + [alike for name in originals[1:3] for alike in look_alikes(name)[:2]]))
    # Names with dot segments cannot be stored: the trigger reads nothing for them (test_reliability_blob).
    names = [name for name in names if not names_no_storable_blob(name)]
    assert len(names) >= 6
    data = small_jpeg(3)
    container = storage.get_container_client("results")
    existing = {blob.name for blob in container.list_blobs()}
    for name in names:
        upload_and_trigger(process_image, storage, name, data)
    written = {
        blob.name: json.loads(container.download_blob(blob.name).readall())
        for blob in container.list_blobs()
        if blob.name not in existing
    }
    assert len(written) == len(names)  # one new result each, none shared
    for name in names:
        result = written[result_blob_name(name)]
        assert result["filename"] == name
        if result_name_too_long(name):
            assert result["error"]["code"] == "name_too_long"
        else:
            assert result["label"] in ("real", "fake")
    # Run again: the same results, nothing rewritten, nothing new (no loop, no retry).
    before = {blob.name: blob.etag for blob in container.list_blobs()}
    for name in names:
        trigger(process_image, name)
    assert {blob.name: blob.etag for blob in container.list_blobs()} == before
