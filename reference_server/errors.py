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


def error_response(error: ApiError) -> JSONResponse:
    body: dict[str, object] = {"success": False, "status": error.status, "message": error.message}
    if error.errors:
        body["errors"] = {key: list(texts) for key, texts in error.errors.items()}
    return JSONResponse(body, status_code=error.status, headers=error.headers)
