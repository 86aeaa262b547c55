"""The error envelope of section 1, raised anywhere in the server and rendered in one place."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from starlette.responses import JSONResponse

__all__ = ["ApiError", "error_response"]


class ApiError(Exception):
    """A request the contract answers with a 4xx: the status, a human message, and per-key details."""

    def __init__(
        self,
        status: int,
        message: str,
        errors: Mapping[str, Sequence[str]] | None = None,
        headers: Mapping[str, str] | None = None,
        commit: bool = False,
        kind: str | None = None,
    ) -> None:
        super().__init__(message)
        # Only a fault sets this: the transaction then keeps what the request wrote before failing.
        self.commit = commit
        # The valid part of a rejected body, for the one fault that writes it anyway.
        self.valid_part: dict[str, object] = {}
        self.status = status
        self.message = message
        self.errors = dict(errors) if errors else None
        self.headers = dict(headers) if headers else None
        # What kind of [R] error this is ("query", "shape", ...), where only its status is a reference
        # choice: the server's `Choices` may answer it with another status (reference_server.choices).
        self.kind = kind


# An error body echoes what it refuses, but within bounds: 10,000 unknown keys or a 10 KB slug must not
# come back as a megabyte of error.
MAX_MESSAGE_CHARS = 1000
MAX_ERROR_KEYS = 100
MAX_KEY_CHARS = 200


def _clipped(text: str, most: int) -> str:
    return text if len(text) <= most else f"{text[:most]}… ({len(text):,} characters in all)"


def error_response(error: ApiError) -> JSONResponse:
    body: dict[str, object] = {"success": False, "status": error.status,
                               "message": _clipped(error.message, MAX_MESSAGE_CHARS)}
    if error.errors:
        shown = list(error.errors.items())[:MAX_ERROR_KEYS]
        body["errors"] = {_clipped(key, MAX_KEY_CHARS): [_clipped(text, MAX_KEY_CHARS) for text in texts]
                          for key, texts in shown}
        if len(error.errors) > MAX_ERROR_KEYS:
            body["errorsOmitted"] = len(error.errors) - MAX_ERROR_KEYS
    return JSONResponse(body, status_code=error.status, headers=error.headers)
