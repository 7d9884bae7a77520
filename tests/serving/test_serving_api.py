"""The HTTP API over real HTTP: uvicorn on a loopback port, httpx as the client."""

from __future__ import annotations

import io
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from PIL import Image
from serving_helpers import ServerThread, encode, noise_image

from imageauth.api import create_app
from imageauth.predict import get_detector, predict_bytes
from imageauth.settings import Settings

MODEL_KEYS = {"filename", "sha256", "label", "probability_fake", "threshold", "width", "height"}
ITEM_KEYS = MODEL_KEYS | {"verdict", "note", "evidence"}


def post_files(base_url: str, files: list[tuple[str, bytes]], **kwargs) -> httpx.Response:
    parts = [("file", (name, data, "application/octet-stream")) for name, data in files]
    return httpx.post(f"{base_url}/api/predict", files=parts, timeout=30, **kwargs)


def assert_error(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}
    assert body["error"]["code"] == code


def test_health_and_model(server):
    health = httpx.get(f"{server.base_url}/api/health").json()
    detector = get_detector(Settings())
    assert health == {"status": "ok", "model_version": detector.version}
    model = httpx.get(f"{server.base_url}/api/model").json()
    assert model["model_version"] == detector.version
    assert model["image_size"] == detector.image_size and model["threshold"] == detector.threshold
    assert model["card"] == detector.card
    assert model["limits"] == Settings().limits()


def test_openapi_documents_both_request_shapes(server):
    document = httpx.get(f"{server.base_url}/api/openapi.json").json()
    assert {"/api/predict", "/api/health", "/api/model"} <= set(document["paths"])
    predict = document["paths"]["/api/predict"]["post"]
    assert {"multipart/form-data", "image/*"} <= set(predict["requestBody"]["content"])
    assert {"200", "400", "413", "415"} <= set(predict["responses"])


def test_one_file_per_format(server, images, valid_names):
    for name in valid_names:
        response = post_files(server.base_url, [(name, images[name])])
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["model_version"] == get_detector(Settings()).version
        [item] = body["results"]
        assert set(item) == ITEM_KEYS
        assert item == predict_bytes(images[name], name, Settings())


def test_raw_image_body(server, images):
    data = images["photo.jpg"]
    response = httpx.post(
        f"{server.base_url}/api/predict?filename=photo.jpg",
        content=data,
        headers={"content-type": "image/jpeg"},
    )
    assert response.status_code == 200, response.text
    assert response.json()["results"] == [predict_bytes(data, "photo.jpg", Settings())]
    # The declared subtype is not trusted: the bytes decide.
    mislabelled = httpx.post(f"{server.base_url}/api/predict", content=data, headers={"content-type": "image/png"})
    assert mislabelled.json()["results"][0]["probability_fake"] == response.json()["results"][0]["probability_fake"]


def test_several_files_bad_ones_become_error_items(server, images):
    names = ["cifake.png", "corrupt.jpg", "photo.jpg", "notes.txt"]
    response = post_files(server.base_url, [(name, images[name]) for name in names] + [("empty.png", b"")])
    assert response.status_code == 200, response.text
    results = response.json()["results"]
    assert [item["filename"] for item in results] == [*names, "empty.png"]
    assert results[0] == predict_bytes(images["cifake.png"], "cifake.png", Settings())
    assert results[2] == predict_bytes(images["photo.jpg"], "photo.jpg", Settings())
    codes = [results[index]["error"]["code"] for index in (1, 3, 4)]
    assert codes == ["undecodable_image", "unsupported_media_type", "empty_file"]
    assert all("label" not in results[index] for index in (1, 3, 4))


@pytest.mark.parametrize(
    ("name", "status", "code"),
    [("corrupt.jpg", 415, "undecodable_image"), ("notes.txt", 415, "unsupported_media_type")],
)
def test_one_bad_file_answers_with_its_own_status(server, images, name, status, code):
    assert_error(post_files(server.base_url, [(name, images[name])]), status, code)
    raw = httpx.post(f"{server.base_url}/api/predict", content=images[name], headers={"content-type": "image/jpeg"})
    assert_error(raw, status, code)


def test_empty_inputs(server):
    assert_error(post_files(server.base_url, [("empty.jpg", b"")]), 400, "empty_file")
    empty_raw = httpx.post(f"{server.base_url}/api/predict", content=b"", headers={"content-type": "image/png"})
    assert_error(empty_raw, 400, "empty_file")


def test_request_shape_errors(server, images):
    url = f"{server.base_url}/api/predict"
    assert_error(
        httpx.post(url, data={"comment": "no file"}, files={"other": ("a.png", images["cifake.png"])}),
        400,
        "no_file",
    )
    assert_error(
        httpx.post(url, content=b"", headers={"content-type": "multipart/form-data; boundary=x"}),
        400,
        "no_file",
    )
    assert_error(
        httpx.post(url, content=b"x", headers={"content-type": "multipart/form-data"}),
        400,
        "malformed_request",
    )
    assert_error(httpx.post(url, json={"file": "a.png"}), 415, "unsupported_content_type")
    assert_error(httpx.post(url, content=images["cifake.png"]), 415, "unsupported_content_type")
    assert_error(
        httpx.post(url, content=b"a=1", headers={"content-type": "text/plain"}),
        415,
        "unsupported_content_type",
    )


def test_unknown_routes_and_methods_answer_json(server):
    assert_error(httpx.get(f"{server.base_url}/api/nothing-here"), 404, "not_found")
    assert_error(httpx.get(f"{server.base_url}/api/predict"), 405, "method_not_allowed")
    assert_error(httpx.delete(f"{server.base_url}/api/health"), 405, "method_not_allowed")


def test_limits_per_file_and_per_request(limited_server, small_limits, images):
    url = limited_server.base_url
    big = encode(noise_image(400, 400, 9), "BMP")  # 480 kB of pixels: over max_bytes, under nothing else.
    big = big[: small_limits.max_bytes + 1]
    assert_error(post_files(url, [("big.bmp", big)]), 413, "file_too_large")
    raw = httpx.post(f"{url}/api/predict", content=big, headers={"content-type": "image/bmp"})
    assert_error(raw, 413, "file_too_large")
    mixed = post_files(url, [("big.bmp", big), ("cifake.png", images["cifake.png"])]).json()["results"]
    assert mixed[0] == {
        "filename": "big.bmp",
        "sha256": None,
        "error": {"code": "file_too_large", "message": mixed[0]["error"]["message"]},
    }
    assert mixed[1]["label"] in ("real", "fake")
    four = [(f"{index}.png", images["cifake.png"]) for index in range(small_limits.max_files + 1)]
    assert_error(post_files(url, four), 413, "too_many_files")
    three = post_files(url, four[: small_limits.max_files])
    assert three.status_code == 200 and len(three.json()["results"]) == small_limits.max_files


def test_pixel_bomb_is_refused_before_decoding(limited_server):
    bomb = encode(Image.new("L", (3000, 3000)), "PNG", optimize=True)  # 9 Mpx in a few kB
    assert len(bomb) < 40_000
    assert_error(post_files(limited_server.base_url, [("bomb.png", bomb)]), 413, "too_many_pixels")


def test_request_body_limit_with_and_without_content_length(limited_server, small_limits):
    url = f"{limited_server.base_url}/api/predict"
    oversized = b"\0" * (small_limits.max_request_bytes + 1)
    declared = httpx.post(url, content=oversized, headers={"content-type": "image/png"})
    assert_error(declared, 413, "request_too_large")

    def chunks():
        # Chunked transfer: no Content-Length, so only counting the stream can stop it. The body
        # is well-formed multipart, so nothing but the byte count can refuse it.
        yield b'--x\r\nContent-Disposition: form-data; name="file"; filename="big.png"\r\n\r\n'
        for _ in range(64):
            yield b"\0" * 16_384
        yield b"\r\n--x--\r\n"

    body = httpx.post(url, content=chunks(), headers={"content-type": "multipart/form-data; boundary=x"})
    assert_error(body, 413, "request_too_large")
    assert "content-length" not in {name.lower() for name in body.request.headers}


def test_server_faults_answer_json_without_details(tmp_path, images):
    (tmp_path / "model.tflite").write_bytes(b"this is not a model")
    app = create_app(Settings(model_dir=tmp_path))
    with ServerThread(app) as broken:
        assert_error(httpx.get(f"{broken.base_url}/api/health"), 503, "model_unavailable")
        response = post_files(broken.base_url, [("cifake.png", images["cifake.png"])])
        assert_error(response, 500, "internal_error")
        assert "Traceback" not in response.text and "model" not in response.json()["error"]["message"]


def test_concurrent_requests_match_sequential_ones(server, images, valid_names):
    requests = [valid_names[index % len(valid_names)] for index in range(48)]

    def ask(name: str) -> dict:
        response = post_files(server.base_url, [(name, images[name])])
        assert response.status_code == 200, response.text
        return response.json()["results"][0]

    sequential = {name: ask(name) for name in valid_names}
    with ThreadPoolExecutor(max_workers=16) as pool:
        concurrent = list(pool.map(ask, requests))
    assert concurrent == [sequential[name] for name in requests]


def test_filenames_are_reported_not_trusted(server, images):
    name = "ünïcödé 画像 ../../etc/passwd.png"
    [item] = post_files(server.base_url, [(name, images["cifake.png"])]).json()["results"]
    assert item["filename"] == name
    assert Image.open(io.BytesIO(images["cifake.png"])).size == (item["width"], item["height"])
