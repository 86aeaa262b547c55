"""Keeping tokens out of everything a run writes: reports, replay files, logs and failure messages.

A `Redactor` knows the run's secrets (the write and read tokens) and replaces them wherever they occur,
and also any credential after `Bearer` or `Basic`, so that a token the suite never saw, say one in a
curl line someone else's tool printed, does not leak either.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit, urlunsplit

__all__ = ["MASK", "Redactor", "public_url"]

MASK = "***"

# A credential after its scheme, as an Authorization header or a curl line shows it; eight characters at
# least, so that prose ("a bearer token") and code ("Bearer {token}") stay as they are.
_HEADER = re.compile(r"(?i)\b(bearer|basic)(\s+)([A-Za-z0-9._~+/=-]{8,})")


def public_url(url: str) -> str:
    """`url` without user info, query or fragment: what may be shown of a base URL."""
    parts = urlsplit(url)
    host = f"[{parts.hostname}]" if parts.hostname and ":" in parts.hostname else parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


class Redactor:
    """Replaces the given secrets, and any `Authorization` credential, with `***`."""

    def __init__(self, secrets: Iterable[str | None]) -> None:
        # Longest first, so that a token that contains another is masked whole.
        self.secrets = sorted({secret for secret in secrets if secret and len(secret) >= 4}, key=len, reverse=True)

    def text(self, value: str, *, headers: bool = True) -> str:
        """`value` without the secrets; with `headers`, without any Authorization credential either."""
        for secret in self.secrets:
            value = value.replace(secret, MASK)
        return _HEADER.sub(lambda found: found.group(1) + found.group(2) + MASK, value) if headers else value

    def data(self, value: Any) -> Any:
        """`value` (JSON-like) with every string redacted, keys included."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {self.text(str(key)): self.data(item) for key, item in value.items()}
        if isinstance(value, list | tuple):
            return [self.data(item) for item in value]
        return value
