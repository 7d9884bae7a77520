"""One file, one probability: the Detector, HTTP, the Functions entry points, the blob flow, the CLI."""

from __future__ import annotations

import io
import json

import azure.functions as func
import httpx
from urllib3 import encode_multipart_formdata

from imageauth.blob import process_blob
from imageauth.cli import main
from imageauth.predict import get_detector
from imageauth.preprocess import load_image
from imageauth.settings import Settings


def test_every_path_gives_the_detectors_probability(tmp_path, images, valid_names, server, functions, functions_loop):
    detector = get_detector(Settings())
    handler = functions["http_app_func"].get_user_function()
    for name in valid_names:
        data = images[name]
        expected = float(detector.predict(load_image(data, detector.image_size).pixels)[0])

        over_http = httpx.post(f"{server.base_url}/api/predict", files={"file": (name, data)}).json()

        body, content_type = encode_multipart_formdata([("file", (name, data, "image/*"))])
        request = func.HttpRequest(
            method="POST",
            url="http://localhost/api/predict",
            headers={"Content-Type": content_type},
            body=body,
        )
        over_functions = json.loads(functions_loop.run(handler(request, None)).get_body())

        from_blob = process_blob(data, name, Settings())

        path = tmp_path / name
        path.write_bytes(data)
        out = io.StringIO()
        assert main(["predict", "--no-progress", "--format", "json", str(path)], out=out) == 0
        from_cli = json.loads(out.getvalue())

        probabilities = {
            "http": over_http["results"][0]["probability_fake"],
            "functions": over_functions["results"][0]["probability_fake"],
            "blob": from_blob["probability_fake"],
            "cli": from_cli["results"][0]["probability_fake"],
        }
        assert probabilities == dict.fromkeys(probabilities, expected), name
