"""The HEIF decoder's child process (`python -m imageauth.heif_child`): see `imageauth.heif_process`.

It answers the server process's calls, one at a time, with the same
`preprocess.load_image` and `provenance.examine` every other format goes
through, until the server closes the pipe (or dies: the pipe closes too).
"""

from __future__ import annotations

import sys
from dataclasses import asdict
from pathlib import Path

from imageauth import heif_process
from imageauth.heif_process import read_message, write_message


def serve() -> None:
    heif_process.IN_CHILD = True
    from imageauth.preprocess import ImageError, load_image
    from imageauth.provenance import examine

    requests, replies = sys.stdin.buffer, sys.stdout.buffer
    sys.stdout = sys.stderr  # a stray print must not corrupt the replies
    while (request := read_message(requests)) is not None:
        header, data = request
        arguments = header["arguments"]
        try:
            if header["call"] == "load_image":
                decoded = load_image(data, **arguments)
                reply = {"width": decoded.width, "height": decoded.height, "format": decoded.format}
                write_message(replies, reply, decoded.pixels.tobytes())
            else:
                anchors = arguments["trust_anchors"]
                facts = examine(data, Path(anchors) if anchors else None)
                write_message(replies, {"facts": asdict(facts)})
        except ImageError as error:
            write_message(replies, {"error": {**error.to_dict(), "status": error.status}})
        except Exception as error:  # noqa: BLE001 - hostile input must get an answer, not end the child
            message = f"The HEIC/HEIF file could not be read ({type(error).__name__})."
            write_message(replies, {"error": {"code": "undecodable_image", "message": message, "status": 415}})


if __name__ == "__main__":
    serve()
