"""HEIC/HEIF is opened, decoded and examined in a child process: a decoder crash costs one 415, not the worker.

Why: fuzzing the decoder (pi-heif 1.4.0, libheif 1.23.0) crashed it with a
segmentation fault on a 1 kB file while it opened it (docs/reliability.md,
"Fuzzing"). Python cannot catch that; in the server process it would take
down every request the worker holds, and a blob that crashed its trigger
would be retried into a crash loop. So a worker that meets its first HEIC
starts one long-lived child (`python -m imageauth.heif_child`), which runs
the same `load_image` and `provenance.examine` as for every other format and
answers through its pipes: the 32x32 input and the evidence come back, or
the documented error. A child that dies or hangs is killed and replaced, and
the file gets 415 `undecodable_image` or 422 `image_too_complex`.

One HEIC at a time per worker (a lock): admission control already bounds
the decodes in flight, and the child's memory is the decode estimate the
parent reserved (`decode_limits.decode_bytes`, from the file's `meta` box,
read in Python without the decoder).

Messages both ways: a 4-byte big-endian length, a JSON header of that
length, then the header's `payload` bytes (the upload; the decoded pixels).
JSON, not pickle: the child parses hostile files, so nothing it sends back
is executed.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import select
import struct
import subprocess
import sys
import threading
from typing import BinaryIO

import numpy as np

from imageauth import heif

# True in the child (imageauth.heif_child sets it), where HEIF files are opened in-process.
IN_CHILD = False
# A 24 MP HEIC decodes in about a second on one core; far beyond that, the decoder is stuck.
TIMEOUT_S = 30.0
LENGTH = struct.Struct(">I")
_TIMED_OUT = object()


def goes_to_child(data: bytes) -> bool:
    """True when `data` is a HEIF and this process is not the child: it must be opened over there."""
    return not IN_CHILD and heif.looks_like_heif(data)


class _Child:
    """The worker's one decoder process, started on first use and replaced after a failure."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.process: subprocess.Popen | None = None

    def call(self, name: str, arguments: dict, payload: bytes) -> tuple[dict, bytes]:
        with self.lock:
            process = self._running()
            # The upload is written from a thread: a child that stops reading would block a write of
            # more than the pipe's buffer. It replies only after reading all of it, so the wait for
            # its reply covers the write too, and killing it ends the write.
            header = {"call": name, "arguments": arguments}
            writer = threading.Thread(target=_send, args=(process.stdin, header, payload), daemon=True)
            writer.start()
            try:
                ready, _, _ = select.select([process.stdout], [], [], TIMEOUT_S)
                reply = read_message(process.stdout) if ready else _TIMED_OUT
            except (OSError, ValueError, KeyError):  # a reply cut short or garbled
                reply = None
            if reply is _TIMED_OUT:
                self.stop()
                raise _image_error(
                    "image_too_complex",
                    f"Decoding this HEIC/HEIF file took more than {TIMEOUT_S:.0f} s; it was stopped.",
                    422,
                )
            if reply is None:  # the child died on this file
                self.stop()
                raise _image_error(
                    "undecodable_image",
                    "The HEIC/HEIF decoder failed on this file (it is corrupt or built to crash decoders).",
                    415,
                )
            writer.join()
            return reply

    def _running(self) -> subprocess.Popen:
        if self.process is not None and self.process.poll() is None:
            return self.process
        self.stop()
        # The parent's module path (the Functions host puts the app and its packages there), so the
        # child imports the same imageauth and libraries.
        environment = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "imageauth.heif_child"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=environment,
        )
        return self.process

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is not None:
            process.kill()
            process.wait()
            for stream in (process.stdin, process.stdout):
                if stream is not None:
                    stream.close()


_child = _Child()
atexit.register(_child.stop)


def load_image(data: bytes, size: int, max_pixels: int, max_bytes: int | None, max_decode_bytes: int):
    """`preprocess.load_image` of a HEIF, in the child."""
    from imageauth.preprocess import DecodedImage

    limits = {"size": size, "max_pixels": max_pixels, "max_bytes": max_bytes, "max_decode_bytes": max_decode_bytes}
    header, pixels = _checked(_child.call("load_image", limits, data))
    if len(pixels) != size * size * 3:
        raise _image_error("undecodable_image", "The HEIC/HEIF decoder returned no usable image.", 415)
    array = np.frombuffer(pixels, dtype=np.uint8).reshape(size, size, 3).copy()
    return DecodedImage(pixels=array, width=header["width"], height=header["height"], format=header["format"])


def examine(data: bytes, trust_anchors: str | None) -> dict:
    """`provenance.examine` of a HEIF, in the child, as the fields of its `FileFacts`."""
    header, _ = _checked(_child.call("examine", {"trust_anchors": trust_anchors}, data))
    return header["facts"]


def _send(stream: BinaryIO, header: dict, payload: bytes) -> None:
    with contextlib.suppress(OSError):  # the child is gone: the reader sees the end of its output
        write_message(stream, header, payload)


def _checked(reply: tuple[dict, bytes]) -> tuple[dict, bytes]:
    header, payload = reply
    if "error" in header:
        error = header["error"]
        raise _image_error(error["code"], error["message"], error["status"])
    return header, payload


def _image_error(code: str, message: str, status: int) -> Exception:
    from imageauth.preprocess import ImageError  # lazily: preprocess imports this module

    return ImageError(code, message, status)


def write_message(stream: BinaryIO, header: dict, payload: bytes = b"") -> None:
    encoded = json.dumps({**header, "payload": len(payload)}).encode()
    stream.write(LENGTH.pack(len(encoded)) + encoded)
    stream.write(payload)
    stream.flush()


def read_message(stream: BinaryIO) -> tuple[dict, bytes] | None:
    """One message, or None at the end of the stream (the other side is gone)."""
    prefix = stream.read(LENGTH.size)
    if len(prefix) < LENGTH.size:
        return None
    encoded = stream.read(LENGTH.unpack(prefix)[0])
    header = json.loads(encoded)
    payload = stream.read(header.pop("payload"))
    return header, payload
