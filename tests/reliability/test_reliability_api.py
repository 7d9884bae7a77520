"""The bad-input corpus and the malformed requests of issue 6 against the local server, over real HTTP.

Every answer must be the documented status and error code (docs/reliability.md),
with the JSON error shape, never a 5xx, never a hang (every request has a
timeout), and never the file's contents or a stack trace.
"""

from __future__ import annotations

import json
import select
import socket
import time

import httpx
import pytest
from badinputs import case_by_name, small_jpeg

pytestmark = pytest.mark.timeout(120)
TIMEOUT = httpx.Timeout(30.0)
LEAK_MARKERS = ("Traceback", 'File "/', '.py", line', "/work/", "site-packages")


def assert_error(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}, body
    assert body["error"]["code"] == code, body
    assert_no_leak(response.text)


def assert_no_leak(text: str) -> None:
    for marker in LEAK_MARKERS:
        assert marker not in text, f"{marker!r} in {text[:300]!r}"


def assert_verdict_item(item: dict, filename: str | None) -> None:
    assert item["filename"] == filename
    assert item["label"] in ("real", "fake")
    assert 0.0 <= item["probability_fake"] <= 1.0
    assert item["width"] > 0 and item["height"] > 0
    assert len(item["sha256"]) == 64


def post_file(server, filename: str, data: bytes, content_type: str = "application/octet-stream"):
    return httpx.post(f"{server.base_url}/api/predict", files={"file": (filename, data, content_type)}, timeout=TIMEOUT)


def test_each_corpus_file_as_a_multipart_upload(api_server, corpus):
    for case in corpus:
        response = post_file(api_server, case.filename, case.data)
        if case.is_verdict:
            assert response.status_code == 200, (case.name, response.text)
            [item] = response.json()["results"]
            assert_verdict_item(item, case.filename)
        else:
            assert_error(response, case.status, case.code)
        # The file's own bytes never come back (the text and HTML cases would show it).
        if case.data and not case.is_verdict:
            assert case.data[:40].decode("latin-1") not in response.text, case.name


def test_each_corpus_file_as_a_raw_body(api_server, corpus):
    for case in corpus:
        response = httpx.post(
            f"{api_server.base_url}/api/predict",
            content=case.data,
            headers={"Content-Type": "image/jpeg"},  # a client's guess, deliberately wrong for most
            timeout=TIMEOUT,
        )
        if case.is_verdict:
            assert response.status_code == 200, (case.name, response.text)
            assert_verdict_item(response.json()["results"][0], None)
        else:
            assert_error(response, case.status, case.code)


def test_empty_raw_body(api_server):
    response = httpx.post(
        f"{api_server.base_url}/api/predict", content=b"", headers={"Content-Type": "image/png"}, timeout=TIMEOUT
    )
    assert_error(response, 400, "empty_file")


@pytest.mark.parametrize(
    "content_type",
    ["text/plain", "application/json", "application/x-www-form-urlencoded", None],
)
def test_wrong_content_type(api_server, content_type):
    headers = {"Content-Type": content_type} if content_type else {}
    request = httpx.Request("POST", f"{api_server.base_url}/api/predict", content=small_jpeg(), headers=headers)
    if content_type is None:
        request.headers.pop("Content-Type", None)
    with httpx.Client(timeout=TIMEOUT) as client:
        response = client.send(request)
    assert_error(response, 415, "unsupported_content_type")


def multipart(boundary: str, parts: list[tuple[str, str | None, bytes]]) -> bytes:
    body = b""
    for field, filename, data in parts:
        disposition = f'form-data; name="{field}"' + (f'; filename="{filename}"' if filename else "")
        body += f"--{boundary}\r\nContent-Disposition: {disposition}\r\n\r\n".encode() + data + b"\r\n"
    return body + f"--{boundary}--\r\n".encode()


def post_multipart(server, body: bytes, content_type: str):
    return httpx.post(
        f"{server.base_url}/api/predict", content=body, headers={"Content-Type": content_type}, timeout=TIMEOUT
    )


def test_multipart_without_a_file_part(api_server):
    body = multipart("b0undary", [("image", "photo.jpg", small_jpeg()), ("note", None, b"hello")])
    assert_error(post_multipart(api_server, body, "multipart/form-data; boundary=b0undary"), 400, "no_file")


def test_multipart_with_zero_files(api_server):
    body = multipart("b0undary", [])
    assert_error(post_multipart(api_server, body, "multipart/form-data; boundary=b0undary"), 400, "no_file")


def test_multipart_with_a_text_field_named_file(api_server):
    body = multipart("b0undary", [("file", None, b"not a file, a text field")])
    assert_error(post_multipart(api_server, body, "multipart/form-data; boundary=b0undary"), 400, "no_file")


def test_multipart_without_a_boundary(api_server):
    body = multipart("b0undary", [("file", "a.jpg", small_jpeg())])
    assert_error(post_multipart(api_server, body, "multipart/form-data"), 400, "malformed_request")


MALFORMED_MULTIPART = {
    "garbage": b"\x00\x01garbage" * 50,
    "too_many_text_fields": b"".join(
        b'--b0undary\r\nContent-Disposition: form-data; name="f%d"\r\n\r\nx\r\n' % i for i in range(40)
    )
    + b"--b0undary--\r\n",
    "oversized_text_field": multipart("b0undary", [("note", None, b"x" * 200_000)]),
    "part_without_disposition": b"--b0undary\r\nContent-Type: image/jpeg\r\n\r\nabc\r\n--b0undary--\r\n",
    "filename_of_5000_characters": multipart("b0undary", [("file", "a" * 5000 + ".jpg", b"\xff\xd8\xff")]),
}


@pytest.mark.parametrize("name", MALFORMED_MULTIPART)
def test_malformed_multipart(api_server, name):
    response = post_multipart(api_server, MALFORMED_MULTIPART[name], "multipart/form-data; boundary=b0undary")
    assert_error(response, 400, "malformed_request")


@pytest.mark.parametrize(
    "disposition",
    ['form-data; name="file"; filename="xn--abc-"', 'form-data; name="xn--"; filename="a.jpg"'],
    ids=["filename", "field-name"],
)
def test_names_the_multipart_charset_cannot_decode(api_server, disposition):
    """The idna codec raises a plain UnicodeError (not a UnicodeDecodeError) for "xn--abc-" or "xn--"."""
    body = f"--b0undary\r\nContent-Disposition: {disposition}\r\n\r\n".encode() + small_jpeg() + b"\r\n--b0undary--\r\n"
    for charset in ("idna", "undefined"):
        content_type = f"multipart/form-data; boundary=b0undary; charset={charset}"
        assert_error(post_multipart(api_server, body, content_type), 400, "malformed_request")
    # Names that idna does decode are fine.
    body = multipart("b0undary", [("file", "a.jpg", small_jpeg())])
    response = post_multipart(api_server, body, "multipart/form-data; boundary=b0undary; charset=idna")
    assert response.status_code == 200, response.text
    assert response.json()["results"][0]["filename"] == "a.jpg"


def test_a_multipart_body_cut_before_its_closing_delimiter(api_server):
    body = multipart("b0undary", [("file", "a.jpg", small_jpeg())])
    closing = b"--b0undary--\r\n"
    assert body.endswith(b"\r\n" + closing)
    for cut in (body[: -len(closing)], body[: -len(closing) - 2], body[: len(body) // 2]):
        assert_error(
            post_multipart(api_server, cut, "multipart/form-data; boundary=b0undary"), 400, "malformed_request"
        )
    # A complete file part followed by a second part that never ends is cut too, not a verdict.
    second = b'--b0undary\r\nContent-Disposition: form-data; name="file"; filename="b.jpg"\r\n\r\n\xff\xd8'
    truncated = body[: -len(closing)] + second
    assert_error(
        post_multipart(api_server, truncated, "multipart/form-data; boundary=b0undary"), 400, "malformed_request"
    )


def test_a_content_length_shorter_than_the_multipart_body(api_server):
    body = multipart("b0undary", [("file", "a.jpg", small_jpeg())])
    head = (
        "POST /api/predict HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: multipart/form-data; boundary=b0undary\r\n"
        f"Content-Length: {len(body) - 20}\r\nConnection: close\r\n\r\n"
    )
    status, answer, _ = raw_exchange(api_server, head, [body])
    assert (status, answer["error"]["code"]) == (400, "malformed_request")


@pytest.mark.parametrize(
    ("method", "path"), [("POST", "/api/predict/"), ("GET", "/api/health/"), ("GET", "/api/model/")]
)
def test_a_trailing_slash_is_not_found_not_redirected(api_server, method, path):
    """Starlette answered 307 with a Location built from the client's Host header."""
    headers = {"Host": "evil.example", "Content-Type": "image/jpeg"}
    response = httpx.request(method, f"{api_server.base_url}{path}", content=small_jpeg(), headers=headers)
    assert "location" not in response.headers
    assert_error(response, 404, "not_found")


def test_more_files_than_allowed(limited_server):
    files = [("file", (f"{index}.jpg", small_jpeg(index), "image/jpeg")) for index in range(4)]
    response = httpx.post(f"{limited_server.base_url}/api/predict", files=files, timeout=TIMEOUT)
    assert_error(response, 413, "too_many_files")


def test_the_maximum_number_of_files_is_accepted(limited_server):
    files = [("file", (f"{index}.jpg", small_jpeg(index), "image/jpeg")) for index in range(3)]
    response = httpx.post(f"{limited_server.base_url}/api/predict", files=files, timeout=TIMEOUT)
    assert response.status_code == 200
    assert [item["filename"] for item in response.json()["results"]] == ["0.jpg", "1.jpg", "2.jpg"]


def test_one_bad_file_among_good_ones_is_an_item_error(api_server):
    files = [
        ("file", ("good.jpg", small_jpeg(1), "image/jpeg")),
        ("file", ("bomb.png", case_by_name("png_bomb_30000x30000").data, "image/png")),
        ("file", ("empty.jpg", b"", "image/jpeg")),
        ("file", ("notes.jpg", case_by_name("text_as_jpg").data, "image/jpeg")),
    ]
    response = httpx.post(f"{api_server.base_url}/api/predict", files=files, timeout=TIMEOUT)
    assert response.status_code == 200, response.text
    good, bomb, empty, notes = response.json()["results"]
    assert_verdict_item(good, "good.jpg")
    assert bomb["error"]["code"] == "too_many_pixels"
    assert empty["error"]["code"] == "empty_file"
    assert notes["error"]["code"] == "unsupported_media_type"


def test_a_file_over_the_byte_limit(limited_server):
    big = b"\xff\xd8\xff" + b"\0" * 250_000
    assert_error(post_file(limited_server, "big.jpg", big), 413, "file_too_large")


# ------------------------------------------------------------- raw sockets


def raw_exchange(server, head: str, chunks, seconds: float = 20.0) -> tuple[int, dict, int]:
    """Send `head`, then `chunks` until the server answers; return (status, JSON body, bytes sent).

    Sending stops as soon as the server has answered, so a server that
    refuses early is seen refusing early; the loop is bounded by the chunks
    and by `seconds`.
    """
    sent = 0
    deadline = time.monotonic() + seconds
    with socket.create_connection((server.host, server.port), timeout=seconds) as sock:
        sock.sendall(head.encode("latin-1"))
        for chunk in chunks:
            readable, _, _ = select.select([sock], [], [], 0)
            if readable or time.monotonic() > deadline:
                break
            try:
                sock.sendall(chunk)
            except (BrokenPipeError, ConnectionResetError, TimeoutError):
                break  # the server stopped reading: its answer is waiting
            sent += len(chunk)
        response = b""
        while b"\r\n\r\n" not in response or not _complete(response):
            if time.monotonic() > deadline:
                raise TimeoutError(f"no complete answer after {seconds} s: {response[:200]!r}")
            try:
                data = sock.recv(65536)
            except ConnectionResetError:
                break
            if not data:
                break
            response += data
    status = int(response.split(b" ", 2)[1])
    _, _, payload = response.partition(b"\r\n\r\n")
    if b"transfer-encoding: chunked" in response.lower().split(b"\r\n\r\n")[0]:
        payload = _dechunk(payload)
    return status, json.loads(payload), sent


def _complete(response: bytes) -> bool:
    head, _, payload = response.partition(b"\r\n\r\n")
    for line in head.lower().split(b"\r\n"):
        if line.startswith(b"content-length:"):
            return len(payload) >= int(line.split(b":")[1])
    return payload.endswith(b"0\r\n\r\n")


def _dechunk(payload: bytes) -> bytes:
    out = b""
    while payload:
        size_line, _, rest = payload.partition(b"\r\n")
        size = int(size_line, 16)
        if size == 0:
            break
        out, payload = out + rest[:size], rest[size + 2 :]
    return out


def chunked(chunk: bytes, count: int):
    for _ in range(count):
        yield f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n"
    yield b"0\r\n\r\n"


def test_chunked_raw_body_over_the_byte_limit(limited_server):
    head = (
        "POST /api/predict HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: image/jpeg\r\n"
        "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    )
    # 300 kB: over the file limit (200 kB), under the request limit (400 kB).
    status, body, _ = raw_exchange(limited_server, head, chunked(b"\0" * 10_000, 30))
    assert (status, body["error"]["code"]) == (413, "file_too_large")


def test_chunked_raw_body_far_over_every_limit_is_refused_while_it_arrives(limited_server):
    head = (
        "POST /api/predict HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: image/jpeg\r\n"
        "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    )
    status, body, sent = raw_exchange(limited_server, head, chunked(b"\0" * 16384, 2000))
    # Which of the two limits trips first depends on how the server batches the chunks.
    assert (status, body["error"]["code"]) in ((413, "file_too_large"), (413, "request_too_large"))
    assert sent < 2000 * 16384  # refused while the client was still sending


def test_chunked_multipart_body_over_the_request_limit(limited_server):
    boundary = "b0undary"
    head = (
        "POST /api/predict HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Content-Type: multipart/form-data; boundary={boundary}\r\n"
        "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    )

    def parts():
        opening = f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.jpg"\r\n\r\n'
        yield f"{len(opening):x}\r\n{opening}\r\n".encode()
        yield from chunked(b"\0" * 16384, 2000)

    status, body, sent = raw_exchange(limited_server, head, parts())
    assert (status, body["error"]["code"]) == (413, "request_too_large")
    assert sent < 2000 * 16384


def test_declared_content_length_over_the_limit_is_refused_before_the_body(api_server):
    head = (
        "POST /api/predict HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: image/png\r\n"
        "Content-Length: 10000000000\r\nConnection: close\r\n\r\n"
    )
    status, body, sent = raw_exchange(api_server, head, [])
    assert (status, body["error"]["code"], sent) == (413, "request_too_large", 0)


def test_a_client_that_stops_sending_does_not_hold_the_server(api_server):
    """A body cut short: the server must answer other clients meanwhile and never 5xx."""
    head = "POST /api/predict HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: image/jpeg\r\nContent-Length: 100000\r\n\r\n"
    with socket.create_connection((api_server.host, api_server.port), timeout=10) as stalled:
        stalled.sendall(head.encode() + b"\xff\xd8\xff" + b"\0" * 1000)
        response = httpx.get(f"{api_server.base_url}/api/health", timeout=TIMEOUT)
        assert response.status_code == 200
    response = post_file(api_server, "after.jpg", small_jpeg(2), "image/jpeg")
    assert response.status_code == 200
