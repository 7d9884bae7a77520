"""Turn a `POST /api/predict` request into uploaded files, without a hand-written parser.

Two request shapes are accepted: `multipart/form-data` with one or more parts
named `file` (parsed by Starlette's parser on python-multipart, which spools
large parts to disk), or a raw body with `Content-Type: image/*` (or
`application/octet-stream`, what `curl --data-binary` tools often send). Both
become Starlette `UploadFile`s, so the route handles one kind of object.

python-multipart slows down by two orders of magnitude on a body full of
false delimiters (`\r\n--BOUNDARY` followed by anything but the end of a
delimiter line): about a microsecond each, so 64 MB of them held the event loop
for 8 s. A well-formed body has one such sequence per part, so the body is fed
to the parser in pieces and refused once it holds more than any allowed request
could (`DelimiterCounter`).
"""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from python_multipart.multipart import parse_options_header
from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser
from starlette.requests import Request

from imageauth.errors import RequestError
from imageauth.preprocess import too_many_bytes
from imageauth.settings import Settings

FILE_FIELD = "file"
# Text fields are not used; a few are tolerated (a page may add one), many are not.
MAX_TEXT_FIELDS = 16
MAX_TEXT_FIELD_BYTES = 64 * 1024
MAX_FILENAME_CHARS = 255
# Client-supplied text repeated in an error message is cut to this length.
MAX_ECHOED_CHARS = 100
RAW_MEDIA_TYPES = ("application/octet-stream",)
# The multipart parser gets the body in pieces of at most this size, each counted after it is
# parsed: its own errors (too many files or fields) come first, and a false-delimiter flood is
# stopped within one piece (at most about 8000 delimiters, a few milliseconds).
PARSE_PIECE_BYTES = 64 * 1024


@asynccontextmanager
async def uploaded_files(request: Request, settings: Settings) -> AsyncIterator[list[UploadFile]]:
    """The request's files (at least one); closes their spooled temporary files afterwards."""
    media_type = _media_type(request)
    if media_type == "multipart/form-data":
        files = await _multipart_files(request, settings)
    elif media_type.startswith("image/") or media_type in RAW_MEDIA_TYPES:
        files = [await _raw_file(request, settings)]
    else:
        raise RequestError(
            "unsupported_content_type",
            "Send multipart/form-data with one or more 'file' parts, or a raw body with an image/* "
            f"Content-Type (got {media_type[:MAX_ECHOED_CHARS] or 'no Content-Type'!r}).",
            415,
        )
    try:
        yield files
    finally:
        for upload in files:
            await upload.close()


def filename_of(upload: UploadFile) -> str | None:
    """The client's name for the file, if it gave one (browsers send "" for an empty input).

    A multipart `charset` such as utf-7 can decode a filename to lone UTF-16 surrogates,
    which no UTF-8 (JSON) answer can carry: surrogate pairs are joined, lone ones become U+FFFD.
    """
    if not upload.filename:
        return None
    name = upload.filename[:MAX_FILENAME_CHARS]
    return name.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")


def _media_type(request: Request) -> str:
    media_type, _ = parse_options_header(request.headers.get("content-type", ""))
    return media_type.decode("latin-1").strip().lower()


async def _multipart_files(request: Request, settings: Settings) -> list[UploadFile]:
    # A well-formed body has one delimiter per part, plus the closing one and perhaps a CRLF
    # before the first; a body with more is refused (see the module's docstring).
    counter = DelimiterCounter(_boundary(request), settings.max_files + MAX_TEXT_FIELDS + 2)
    parser = MultiPartParser(
        request.headers,
        counter.pieces(request.stream()),
        max_files=settings.max_files,
        max_fields=MAX_TEXT_FIELDS,
        max_part_size=MAX_TEXT_FIELD_BYTES,
    )
    try:
        form = await parser.parse()
    except MultiPartException as error:
        # Starlette reports every multipart problem with this one exception type;
        # its message is the only thing that tells "too many files" apart.
        if error.message.startswith("Too many files"):
            raise RequestError(
                "too_many_files", f"A request may carry at most {settings.max_files} files.", 413
            ) from None
        raise RequestError("malformed_request", f"The multipart body is malformed: {error.message}", 400) from None
    except (UnicodeError, LookupError):
        # Starlette decodes part names and filenames with the request's `charset` and falls back
        # to latin-1 only on UnicodeDecodeError and LookupError; "idna", "punycode" and
        # "undefined" raise a plain UnicodeError.
        raise RequestError(
            "malformed_request",
            "The multipart body is malformed: a part's name or filename cannot be decoded with its charset.",
            400,
        ) from None
    items = form.multi_items()
    files = [value for name, value in items if name == FILE_FIELD and isinstance(value, UploadFile)]
    if not files:
        await form.close()
        raise RequestError("no_file", f"The form has no file in a field named {FILE_FIELD!r}.", 400)
    # Files under other field names were spooled too; they are not used, so close them now.
    for name, value in items:
        if isinstance(value, UploadFile) and name != FILE_FIELD:
            await value.close()
    return files


class DelimiterCounter:
    """Passes a body on in pieces, counting the multipart delimiters of each piece after it is parsed.

    It also refuses a body that ends before its closing delimiter (`--BOUNDARY--`): one cut short
    by the client, or by a `Content-Length` shorter than what was sent. The parser itself says
    nothing of it; the parts it had not finished are dropped, which would read as "no file". An
    empty body was not cut: it is a form with nothing in it ("no file").
    """

    def __init__(self, boundary: bytes | None, limit: int) -> None:
        self.delimiter = None if boundary is None else b"\r\n--" + boundary
        self.limit = limit
        self.seen = 0
        self.closed = False  # whether the closing delimiter has gone by
        self.empty = True  # no byte of the body yet
        self._tail = b""  # the previous piece's last bytes: a delimiter may straddle two pieces
        # The same for the closing delimiter; the CRLF stands for the start of the body, where a
        # delimiter needs none (a form with no parts is just the closing delimiter).
        self._closing_tail = b"\r\n"

    async def pieces(self, stream: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
        async for chunk in stream:
            for start in range(0, len(chunk), PARSE_PIECE_BYTES):
                piece = chunk[start : start + PARSE_PIECE_BYTES]
                yield piece
                self.count(piece)
        if self.delimiter is not None and not self.closed and not self.empty:
            raise RequestError(
                "malformed_request",
                "The multipart body is malformed: it ends before its closing delimiter (the boundary "
                "followed by '--'); it was cut short, or its Content-Length is shorter than the body.",
                400,
            )

    def count(self, piece: bytes) -> None:
        if self.delimiter is None:
            return  # no boundary: the parser refuses the body itself
        self.empty = False
        if not self.closed:
            closing = self.delimiter + b"--"
            window = self._closing_tail + piece
            self.closed = closing in window
            self._closing_tail = window[-(len(closing) - 1) :]
        keep = len(self.delimiter) - 1
        self.seen += piece.count(self.delimiter) + (self._tail + piece[:keep]).count(self.delimiter)
        self._tail = (self._tail + piece)[-keep:] if len(piece) < keep else piece[-keep:]
        if self.seen > self.limit:
            raise RequestError(
                "malformed_request",
                f"The multipart body is malformed: it has more part delimiters than the {self.limit} "
                "a request may have.",
                400,
            )


def _boundary(request: Request) -> bytes | None:
    _, options = parse_options_header(request.headers.get("content-type", ""))
    return options.get(b"boundary")  # None: no boundary, which the parser refuses; b"" is accepted


async def _raw_file(request: Request, settings: Settings) -> UploadFile:
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > settings.max_bytes:
            raise too_many_bytes(size, settings.max_bytes)
        chunks.append(chunk)
    name = request.query_params.get("filename")
    return UploadFile(io.BytesIO(b"".join(chunks)), size=size, filename=name)
