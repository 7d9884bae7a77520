"""The serving core: settings, the shared detector, `predict_bytes`, and where blob results go."""

from __future__ import annotations

import io
import threading

import pytest
from PIL import Image
from serving_helpers import encode, noise_image

from imageauth import heif
from imageauth.blob import names_no_storable_blob, process_blob, result_blob_name
from imageauth.model import Detector
from imageauth.predict import get_detector, predict_bytes, predict_or_error
from imageauth.preprocess import ImageError, load_image
from imageauth.settings import MEBIBYTE, Settings


def test_predict_bytes_is_the_detector_on_the_shared_preprocessing(images, valid_names):
    heif.register()  # for `Image.open` below: the service itself opens HEIC in a child process
    settings = Settings()
    detector = get_detector(settings)
    for name in valid_names:
        data = images[name]
        expected = float(detector.predict(load_image(data, detector.image_size).pixels)[0])
        item = predict_bytes(data, name, settings)
        original = Image.open(io.BytesIO(data))
        assert item["probability_fake"] == expected, name
        assert item["label"] == ("fake" if expected >= detector.threshold else "real")
        assert item["threshold"] == detector.threshold
        assert (item["width"], item["height"]) == original.size
        assert item["filename"] == name
        assert len(item["sha256"]) == 64


def test_large_jpeg_reports_its_full_size_not_the_draft_size():
    data = encode(noise_image(4000, 3000, 7), "JPEG", quality=85)
    item = predict_bytes(data, "large.jpg", Settings())
    assert (item["width"], item["height"]) == (4000, 3000)


def test_threshold_setting_changes_the_label_not_the_probability(images, monkeypatch):
    import imageauth.predict as predict_module

    base = predict_bytes(images["cifake.png"], None, Settings())
    results = {}
    # Thresholds outside the card's unsure band need a band that holds them (verdict.policy_for).
    whole_band = Settings(unsure_low=0.0, unsure_high=1.0)
    for threshold in ("0.000001", "0.999999"):
        # The override is read when a detector loads, so each setting gets a fresh process-wide cache.
        monkeypatch.setattr(predict_module, "_detectors", {})
        monkeypatch.setenv("IMAGEAUTH_THRESHOLD", threshold)
        results[threshold] = predict_bytes(images["cifake.png"], None, whole_band)
    low, high = results["0.000001"], results["0.999999"]
    assert low["probability_fake"] == high["probability_fake"] == base["probability_fake"]
    assert (low["label"], low["threshold"]) == ("fake", 0.000001)
    assert (high["label"], high["threshold"]) == ("real", 0.999999)


@pytest.mark.parametrize("bad", ["0", "1.5", "half"])
def test_a_malformed_threshold_override_fails_when_the_model_loads(monkeypatch, bad):
    monkeypatch.setenv("IMAGEAUTH_THRESHOLD", bad)
    with pytest.raises(ValueError):
        Detector.from_dir()


@pytest.mark.parametrize(
    ("name", "code"),
    [("corrupt.jpg", "undecodable_image"), ("notes.txt", "unsupported_media_type")],
)
def test_bad_images_raise_or_become_error_items(images, name, code):
    with pytest.raises(ImageError) as raised:
        predict_bytes(images[name], name, Settings())
    assert raised.value.code == code
    item = predict_or_error(images[name], name, Settings())
    assert item["error"]["code"] == code
    assert item["sha256"] is not None and "label" not in item


def test_limits_come_from_settings(images):
    tight = Settings(max_bytes=100, max_pixels=100)
    too_large = predict_or_error(images["photo.jpg"], "photo.jpg", tight)
    assert too_large["error"]["code"] == "file_too_large"
    assert too_large["sha256"] is None  # The bytes may be a truncated read.
    pixels = predict_or_error(images["cifake.png"], "cifake.png", Settings(max_pixels=32 * 32 - 1))
    assert pixels["error"]["code"] == "too_many_pixels"


def test_settings_from_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("IMAGEAUTH_MODEL_DIR", str(tmp_path))
    monkeypatch.setenv("IMAGEAUTH_MAX_BYTES", "1_000")
    monkeypatch.setenv("IMAGEAUTH_MAX_FILES", "4")
    monkeypatch.setenv("IMAGEAUTH_MAX_PIXELS", "2000")
    monkeypatch.setenv("IMAGEAUTH_NUM_THREADS", "2")
    settings = Settings.from_env()
    assert settings.model_dir == tmp_path
    assert (settings.max_bytes, settings.max_files, settings.max_pixels, settings.num_threads) == (
        1000,
        4,
        2000,
        2,
    )
    assert settings.max_request_bytes == Settings().max_request_bytes


def test_request_limit_grows_with_a_large_file_limit(monkeypatch):
    monkeypatch.setenv("IMAGEAUTH_MAX_BYTES", str(100 * MEBIBYTE))
    assert Settings.from_env().max_request_bytes == 101 * MEBIBYTE


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("IMAGEAUTH_MAX_BYTES", "lots"),
        ("IMAGEAUTH_MAX_FILES", "0"),
        ("IMAGEAUTH_MAX_PIXELS", "-5"),
        # Accepted as "a positive number", then /api/model could not be answered: inf is not JSON.
        ("IMAGEAUTH_REQUEST_DEADLINE_S", "inf"),
        ("IMAGEAUTH_ADMISSION_WAIT_S", "Infinity"),
        # Read only when the model loads: /api/health said 503 and every prediction 500.
        ("IMAGEAUTH_THRESHOLD", "abc"),
        ("IMAGEAUTH_THRESHOLD", "1"),
        ("IMAGEAUTH_THRESHOLD", "nan"),
    ],
)
def test_malformed_settings_fail_loudly_at_startup(monkeypatch, variable, value):
    monkeypatch.setenv(variable, value)
    with pytest.raises(ValueError, match=variable):
        Settings.from_env()


def test_request_limit_below_file_limit_is_refused(monkeypatch):
    monkeypatch.setenv("IMAGEAUTH_MAX_BYTES", "1000")
    monkeypatch.setenv("IMAGEAUTH_MAX_REQUEST_BYTES", "999")
    with pytest.raises(ValueError, match="IMAGEAUTH_MAX_REQUEST_BYTES"):
        Settings.from_env()


def test_a_model_folder_that_is_not_one_fails_at_startup(monkeypatch, tmp_path):
    monkeypatch.setenv("IMAGEAUTH_MODEL_DIR", str(tmp_path / "missing"))
    with pytest.raises(ValueError, match="IMAGEAUTH_MODEL_DIR"):
        Settings.from_env()
    (tmp_path / "a-file").write_text("not a folder")
    monkeypatch.setenv("IMAGEAUTH_MODEL_DIR", str(tmp_path / "a-file"))
    with pytest.raises(ValueError, match="IMAGEAUTH_MODEL_DIR"):
        Settings.from_env()


def test_an_inverted_band_fails_at_startup(monkeypatch):
    monkeypatch.setenv("IMAGEAUTH_UNSURE_LOW", "0.6")
    monkeypatch.setenv("IMAGEAUTH_UNSURE_HIGH", "0.4")
    with pytest.raises(ValueError, match="IMAGEAUTH_UNSURE_LOW must not be above IMAGEAUTH_UNSURE_HIGH"):
        Settings.from_env()


def test_concurrent_first_use_loads_one_detector():
    # A thread count no other test uses gives a key that is not loaded yet.
    settings = Settings(num_threads=3)
    loaded: list[Detector] = []
    barrier = threading.Barrier(8)

    def load() -> None:
        barrier.wait()
        loaded.append(get_detector(settings))

    threads = [threading.Thread(target=load) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(loaded) == 8 and len({id(detector) for detector in loaded}) == 1


def test_process_blob_adds_model_version_and_time(images):
    settings = Settings()
    good = process_blob(images["photo.jpg"], "cats/photo.jpg", settings)
    bad = process_blob(images["corrupt.jpg"], "cats/corrupt.jpg", settings)
    assert good["model_version"] == bad["model_version"] == get_detector(settings).version
    assert good["filename"] == "cats/photo.jpg" and good["label"] in ("real", "fake")
    assert bad["error"]["code"] == "undecodable_image"
    assert good["processed_at"].endswith("+00:00")


def test_dot_segment_names_name_no_storable_blob():
    for name in ("../x.jpg", "a/../../b.jpg", "./dot.jpg", "a/./b.jpg", "a/..", "..\\..\\windows.jpg"):
        assert names_no_storable_blob(name), name
    for name in ("trailing.", "a..b.jpg", ".hidden/x.jpg", "...", "deep/1/photo.jpg"):
        assert not names_no_storable_blob(name), name


TRICKY_NAMES = [
    "photo.jpg",
    "deep/1/2/3/4/photo.jpg",
    "with space/ünïcödé 画像.png",
    "../escape.jpg",
    "../../../etc/passwd",
    "a/../../b.jpg",
    "./dot.jpg",
    "a/./b.jpg",
    "a//b.jpg",
    "/leading.jpg",
    "trailing.",
    "..",
    ".",
    "",
    "back\\..\\slash.jpg",
    "control\x00\x1fchars.jpg",
    "x" * 2000,
]


@pytest.mark.parametrize("name", TRICKY_NAMES)
def test_result_names_stay_inside_the_results_container(name):
    result = result_blob_name(name)
    segments = result.split("/")
    assert result.endswith(".json") and len(result) <= 1024
    assert all(segment and not segment.endswith(".") for segment in segments)
    assert not any(ord(character) < 0x20 or character in "\\\x7f" for character in result)
    assert ".." not in segments and "." not in segments


def test_ordinary_names_map_verbatim_and_rewritten_names_do_not_collide():
    assert result_blob_name("deep/1/photo.jpg") == "deep/1/photo.jpg.json"
    assert result_blob_name("with space/ünïcödé.png") == "with space/ünïcödé.png.json"
    results = [result_blob_name(name) for name in TRICKY_NAMES]
    assert len(set(results)) == len(TRICKY_NAMES)
    # "a./b" and "a_/b" would meet after neutralising the dot; the hash keeps them apart.
    assert result_blob_name("a./b.jpg") != result_blob_name("a_/b.jpg")
