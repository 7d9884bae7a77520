"""The Azure Functions entry points, called the way the Python worker calls them.

The functions are looked up in the app's registry (what the worker indexes),
their user code is called with real `azure.functions` objects, and the
bindings they declare are checked against what the Flex Consumption plan needs.
"""

from __future__ import annotations

import json

import azure.functions as func
import pytest
from urllib3 import encode_multipart_formdata

from imageauth.api import create_app
from imageauth.predict import predict_bytes
from imageauth.settings import Settings

FUNCTION_URL = "http://localhost:7071/api/predict"


def multipart_request(files: list[tuple[str, bytes]]) -> func.HttpRequest:
    body, content_type = encode_multipart_formdata([("file", (name, data, "image/*")) for name, data in files])
    return func.HttpRequest(
        method="POST", url=FUNCTION_URL, headers={"Content-Type": content_type}, body=body, params={}
    )


@pytest.fixture(scope="module")
def call_http(functions, functions_loop):
    handler = functions["http_app_func"].get_user_function()

    def call(request: func.HttpRequest) -> func.HttpResponse:
        return functions_loop.run(handler(request, None))

    return call


def test_the_app_declares_an_anonymous_http_function_and_an_event_grid_blob_trigger(functions):
    assert set(functions) == {"http_app_func", "process_image", "record_failed_blob"}
    # The JSON form is what the worker reports to the host when it indexes the app.
    http = json.loads(functions["http_app_func"].get_function_json())["bindings"][0]
    assert http["type"] == "httpTrigger" and http["authLevel"].lower() == "anonymous"
    [trigger] = json.loads(functions["process_image"].get_function_json())["bindings"]
    assert {**trigger, "direction": trigger["direction"].lower()} == {
        "type": "blobTrigger",
        "direction": "in",
        "name": "client",
        "path": "images/{name}",
        "connection": "IMAGEAUTH_STORAGE",
        "source": "EventGrid",
    }
    # The blob trigger's poison queue, on the same connection (its account holds the queue).
    [poison] = json.loads(functions["record_failed_blob"].get_function_json())["bindings"]
    assert {**poison, "direction": poison["direction"].lower()} == {
        "type": "queueTrigger",
        "direction": "in",
        "name": "message",
        "queueName": "webjobs-blobtrigger-poison",
        "connection": "IMAGEAUTH_STORAGE",
    }


def test_http_function_predicts_from_a_multipart_body(call_http, images, valid_names):
    files = [(name, images[name]) for name in valid_names] + [("corrupt.jpg", images["corrupt.jpg"])]
    response = call_http(multipart_request(files))
    assert response.status_code == 200, response.get_body()
    results = json.loads(response.get_body())["results"]
    for (name, data), item in zip(files[:-1], results, strict=False):
        assert item == predict_bytes(data, name, Settings())
    assert results[-1]["error"]["code"] == "undecodable_image"


def test_http_function_errors_are_json(call_http, images):
    response = call_http(multipart_request([("notes.txt", images["notes.txt"])]))
    assert response.status_code == 415
    assert response.mimetype == "application/json"
    assert json.loads(response.get_body())["error"]["code"] == "unsupported_media_type"
    health = call_http(func.HttpRequest(method="GET", url="http://localhost:7071/api/health", body=b"", headers={}))
    assert health.status_code == 200 and json.loads(health.get_body())["status"] == "ok"


def test_a_server_fault_under_the_functions_adapter_is_a_json_500(functions_loop, images, tmp_path):
    # The barrier matters most here: an exception escaping the app would fail the invocation.
    (tmp_path / "model.tflite").write_bytes(b"not a model")
    middleware = func.AsgiMiddleware(create_app(Settings(model_dir=tmp_path)))
    response = functions_loop.run(middleware.handle_async(multipart_request([("a.png", images["cifake.png"])])))
    assert response.status_code == 500
    assert json.loads(response.get_body()) == {
        "error": {"code": "internal_error", "message": "The server failed to process the request."}
    }


def test_request_over_the_body_limit_under_the_functions_adapter(functions_loop, images):
    middleware = func.AsgiMiddleware(create_app(Settings(max_bytes=1000, max_request_bytes=2000)))
    request = multipart_request([("photo.jpg", images["photo.jpg"])])
    response = functions_loop.run(middleware.handle_async(request))
    assert response.status_code == 413
    assert json.loads(response.get_body())["error"]["code"] == "request_too_large"
