"""The curated photo lists are well-formed and disjoint, and the collector copies and checks exactly what they list."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from qt_bundle import build_rcc

from training import real_photos

REPO_ROOT = Path(__file__).resolve().parents[2]
PHOTO_SET = REPO_ROOT / "data" / "real_photos"
TRAINING_LIST = REPO_ROOT / "training" / "training_photos.json"


@pytest.fixture(scope="module")
def curated() -> dict:
    return real_photos.load_curated_list()


@pytest.mark.parametrize("list_path", [real_photos.CURATED_LIST, TRAINING_LIST], ids=["measured", "training"])
def test_curated_list_is_well_formed(list_path: Path) -> None:
    curated = real_photos.load_curated_list(list_path)
    photos, packages = curated["photos"], curated["packages"]
    assert len(photos) >= 30
    for name, source in packages.items():
        assert source["kind"] in {"pypi", "deb"}, name
        assert source["version"], name
    for photo in photos:
        assert photo["package"] in packages, photo["name"]
        assert photo["licence"].strip(), photo["name"]
        assert re.fullmatch(r"[0-9a-f]{64}", photo["sha256"]), photo["name"]
        assert min(photo["width"], photo["height"]) > 256, photo["name"]
        inner = photo.get("member", photo["path"])  # a photo inside a Qt resource bundle names its member
        assert Path(photo["name"]).suffix.lower() == Path(inner).suffix.lower(), photo["name"]
        assert "/" not in photo["name"] and not Path(photo["path"]).is_absolute(), photo["name"]
    assert len({p["name"] for p in photos}) == len(photos), "file names repeat"
    assert len({p["sha256"] for p in photos}) == len(photos), "the same file is listed twice"
    assert {p["package"] for p in photos} == set(packages), "a package is fetched for no photo"


def test_training_photos_are_not_the_measured_ones(curated: dict) -> None:
    """The real-photo row is a held-out measurement: no training photo shares a package or a file with it."""
    training = real_photos.load_curated_list(TRAINING_LIST)
    assert not set(training["packages"]) & set(curated["packages"])
    assert not {p["sha256"] for p in training["photos"]} & {p["sha256"] for p in curated["photos"]}


def _fake_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, content: bytes | None = None) -> Path:
    """A curated list of one photo in one Debian package whose download is replaced by a local folder.

    The package holds the listed photo, or `content` in its place.
    """
    buffer_path = tmp_path / "source.png"
    Image.fromarray(np.full((300, 400, 3), 120, np.uint8)).save(buffer_path)
    listed = buffer_path.read_bytes()
    root = tmp_path / "package"
    (root / "usr/share/pics").mkdir(parents=True)
    (root / "usr/share/pics/photo.png").write_bytes(listed if content is None else content)
    monkeypatch.setattr(real_photos, "fetch_deb", lambda name, version, scratch: (root, version + "+local"))
    curated_list = tmp_path / "list.json"
    curated_list.write_text(
        json.dumps(
            {
                "packages": {"some-photos": {"kind": "deb", "version": "1.0-1"}},
                "photos": [
                    {
                        "name": "some_photo.png",
                        "package": "some-photos",
                        "path": "usr/share/pics/photo.png",
                        "licence": "CC0-1.0",
                        "sha256": hashlib.sha256(listed).hexdigest(),
                        "width": 400,
                        "height": 300,
                    }
                ],
            }
        )
    )
    return curated_list


def test_collect_copies_listed_files_and_writes_manifest(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    curated_list = _fake_package(tmp_path, monkeypatch)
    manifest = real_photos.collect_real_photos(tmp_path / "out", curated_list)
    assert [entry["file"] for entry in manifest] == ["some_photo.png"]
    assert manifest[0]["version"] == "1.0-1+local"
    assert (manifest[0]["width"], manifest[0]["height"]) == (400, 300)
    assert json.loads((tmp_path / "out/manifest.json").read_text()) == manifest
    assert hashlib.sha256((tmp_path / "out/some_photo.png").read_bytes()).hexdigest() == manifest[0]["sha256"]


def test_collect_refuses_a_file_whose_hash_differs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    curated_list = _fake_package(tmp_path, monkeypatch, b"not the listed photo")
    with pytest.raises(ValueError, match="some_photo.png"):
        real_photos.collect_real_photos(tmp_path / "out", curated_list)
    assert not (tmp_path / "out/manifest.json").exists()


def test_collect_takes_a_photo_out_of_a_qt_resource_bundle(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    photo = tmp_path / "fox.jpg"
    Image.fromarray(np.full((300, 400, 3), 80, np.uint8)).save(photo)
    content = photo.read_bytes()
    root = tmp_path / "package"
    (root / "usr/share/app/rcc").mkdir(parents=True)
    bundle = build_rcc({"erase/resource/fox.jpg": content, "erase/a.qml": b"x"}, frozenset({"erase/resource/fox.jpg"}))
    (root / "usr/share/app/rcc/erase.rcc").write_bytes(bundle)
    monkeypatch.setattr(real_photos, "fetch_deb", lambda name, version, scratch: (root, version))
    entry = {
        "name": "erase_fox.jpg",
        "package": "app-data",
        "path": "usr/share/app/rcc/erase.rcc",
        "member": "erase/resource/fox.jpg",
        "licence": "GPL-3+",
        "sha256": hashlib.sha256(content).hexdigest(),
        "width": 400,
        "height": 300,
    }
    curated_list = tmp_path / "list.json"
    listed = {"packages": {"app-data": {"kind": "deb", "version": "1"}}, "photos": [entry]}
    curated_list.write_text(json.dumps(listed))
    manifest = real_photos.collect_real_photos(tmp_path / "out", curated_list)
    assert manifest[0]["member"] == "erase/resource/fox.jpg"
    assert (tmp_path / "out/erase_fox.jpg").read_bytes() == content
    curated_list.write_text(json.dumps({**listed, "photos": [{**entry, "member": "erase/a.qml"}]}))
    with pytest.raises(ValueError, match="erase_fox.jpg"):
        real_photos.collect_real_photos(tmp_path / "other", curated_list)


@pytest.mark.skipif(not (PHOTO_SET / "manifest.json").exists(), reason="run `python -m training.real_photos` first")
def test_collected_set_matches_the_curated_list(curated: dict) -> None:
    manifest = json.loads((PHOTO_SET / "manifest.json").read_text())
    expected = {p["name"]: p["sha256"] for p in curated["photos"]}
    assert {entry["file"]: entry["sha256"] for entry in manifest} == expected
    for name, digest in expected.items():
        assert hashlib.sha256((PHOTO_SET / name).read_bytes()).hexdigest() == digest, name
