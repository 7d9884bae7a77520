"""The shape every client-facing failure shares: an HTTP status and a stable code (docs/api.md).

A module of its own, without web imports, so that the decoding core (which
training imports too) and the request layer raise the same kind of error.
"""

from __future__ import annotations


class CodedError(Exception):
    """A failure a client is told about as `{"code": ..., "message": ...}` with `status`."""

    def __init__(self, code: str, message: str, status: int) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status

    def to_dict(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message}
