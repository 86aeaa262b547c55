"""Request plumbing shared by the handlers: JSON bodies, query integers, success envelopes."""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse

from .errors import ApiError

__all__ = ["json_object", "query_int", "success"]


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _has_lone_surrogate(value: Any) -> bool:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if any("\ud800" <= char <= "\udfff" for char in item):
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def json_object(raw: bytes) -> dict[str, Any]:
    """The request body as a JSON object, or 400 (never a 500) for anything else."""
    try:
        data = json.loads(raw.decode("utf-8"), parse_constant=_reject_constant)
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise ApiError(400, "The request body must be valid JSON (UTF-8).", kind="not-json") from None
    if not isinstance(data, dict):
        raise ApiError(400, "The request body must be a JSON object.", kind="not-json")
    if _has_lone_surrogate(data):
        raise ApiError(400, "The request body contains a lone UTF-16 surrogate, which is not valid text.")
    return data


def query_int(request: Request, name: str, default: int, low: int, high: int | None = None) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    if not raw.isascii() or not raw.isdigit() or len(raw) > 4000:  # int() refuses longer digit strings
        raise ApiError(400, f"The query parameter {name} must be a whole number.")
    value = int(raw)
    if value < low or (high is not None and value > high):
        bounds = f"between {low} and {high}" if high is not None else f"at least {low}"
        raise ApiError(400, f"The query parameter {name} must be {bounds}.", kind="query")
    return value


def success(status: int, **payload: Any) -> JSONResponse:
    return JSONResponse({"success": True, "status": status, **payload}, status_code=status)
