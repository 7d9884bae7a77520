"""The bad-input corpus through the Azure Functions HTTP entry point, as the Python worker calls it.

In Azure the body arrives whole in an `azure.functions.HttpRequest` and goes
through the ASGI adapter rather than uvicorn; the answers must be the same
documented statuses and codes as from the local server.
"""

from __future__ import annotations

import asyncio
import json

import azure.functions as func
import pytest
from badinputs import small_jpeg
from urllib3 import encode_multipart_formdata

URL = "http://localhost:7071/api/predict"


@pytest.fixture(scope="module")
def call_http(functions, function_module):
    handler = functions["http_app_func"].get_user_function()
    with asyncio.Runner() as runner:
        yield lambda request: runner.run(handler(request, None))
        # Shut the ASGI app down on the loop it started on, as the worker does at exit.
        app = function_module.app
        if app.startup_task_done:
            runner.run(app.middleware.notify_shutdown())
            app.startup_task_done = False


def multipart_request(files: list[tuple[str, bytes]]) -> func.HttpRequest:
    body, content_type = encode_multipart_formdata([("file", (name, data, "image/*")) for name, data in files])
    return func.HttpRequest(method="POST", url=URL, headers={"Content-Type": content_type}, body=body)


def test_each_corpus_file_through_the_functions_adapter(call_http, corpus):
    for case in corpus:
        response = call_http(multipart_request([(case.filename, case.data)]))
        body = json.loads(response.get_body())
        if case.is_verdict:
            assert response.status_code == 200, (case.name, body)
            assert body["results"][0]["label"] in ("real", "fake")
        else:
            assert (response.status_code, body["error"]["code"]) == (case.status, case.code), case.name
            assert "Traceback" not in response.get_body().decode()


@pytest.mark.parametrize(
    ("headers", "body", "status", "code"),
    [
        ({"Content-Type": "image/png"}, b"", 400, "empty_file"),
        ({"Content-Type": "text/plain"}, b"hello", 415, "unsupported_content_type"),
        ({}, b"\xff\xd8\xff", 415, "unsupported_content_type"),
        ({"Content-Type": "multipart/form-data"}, b"--x--\r\n", 400, "malformed_request"),
    ],
)
def test_request_level_errors_through_the_functions_adapter(call_http, headers, body, status, code):
    response = call_http(func.HttpRequest(method="POST", url=URL, headers=headers, body=body))
    assert (response.status_code, json.loads(response.get_body())["error"]["code"]) == (status, code)


def test_too_many_files_through_the_functions_adapter(call_http):
    response = call_http(multipart_request([(f"{i}.jpg", small_jpeg(i)) for i in range(17)]))
    assert (response.status_code, json.loads(response.get_body())["error"]["code"]) == (413, "too_many_files")
