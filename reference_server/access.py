"""Bearer tokens with scopes (section 1) and the optional rate limit that answers 429."""

from __future__ import annotations

import hashlib
import hmac
import math
import threading
import time
from collections.abc import Iterable, Mapping

from starlette.requests import Request

from .errors import ApiError

__all__ = ["DEFAULT_WRITE_TOKEN", "READ", "WRITE", "RateLimiter", "Tokens"]

READ, WRITE = "crm:read", "crm:write"
DEFAULT_WRITE_TOKEN = "crm-contract-local-write-token"
_READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class Tokens:
    """Which scopes each bearer token grants; `check` raises the contract's 401 or 403."""

    def __init__(self, tokens: Mapping[str, Iterable[str]] | None, *, require_token: bool = True,
                 enforce_scopes: bool = True) -> None:
        # Both stay True but under a fault (section 1, A15).
        self.require_token, self.enforce_scopes = require_token, enforce_scopes
        source = tokens if tokens is not None else {DEFAULT_WRITE_TOKEN: (READ, WRITE)}
        self._scopes = {token: frozenset(scopes) for token, scopes in source.items() if token}
        self._digests = [(hashlib.sha256(token.encode("utf-8", "surrogatepass")).digest(), scopes)
                         for token, scopes in self._scopes.items()]
        unknown = {scope for scopes in self._scopes.values() for scope in scopes} - {READ, WRITE}
        if unknown:
            raise ValueError(f"unknown scope(s): {', '.join(sorted(unknown))}")

    def check(self, request: Request) -> None:
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        scopes = self._granted(token.strip()) if scheme.lower() == "bearer" else None
        if scopes is None and not header and not self.require_token:
            return
        if scopes is None:
            raise ApiError(401, "A valid bearer token is required.",
                           headers={"WWW-Authenticate": 'Bearer realm="crm"'})
        needed = READ if request.method in _READ_METHODS else WRITE
        if self.enforce_scopes and needed not in scopes and not (needed == READ and WRITE in scopes):
            raise ApiError(403, f"This token lacks the scope {needed}.")


    def _granted(self, token: str) -> frozenset[str] | None:
        """The scopes of `token`, compared with every known token in constant time (no early exit, no
        dict lookup whose timing depends on how much of a token is right)."""
        offered = hashlib.sha256(token.encode("utf-8", "surrogatepass")).digest()
        found = None
        for known, scopes in self._digests:
            if hmac.compare_digest(offered, known):
                found = scopes
        return found


class RateLimiter:
    """A token bucket: `rate` requests a second on average, bursts up to `rate` (at least 1)."""

    def __init__(self, rate: float) -> None:
        if not rate > 0:
            raise ValueError("the rate limit must be a positive number of requests per second")
        self.rate = rate
        self.capacity = max(1.0, rate)
        self._tokens = self.capacity
        self._stamp = time.monotonic()
        self._lock = threading.Lock()

    def check(self) -> None:
        with self._lock:
            current = time.monotonic()
            self._tokens = min(self.capacity, self._tokens + (current - self._stamp) * self.rate)
            self._stamp = current
            if self._tokens >= 1:
                self._tokens -= 1
                return
            wait = math.ceil((1 - self._tokens) / self.rate)
        raise ApiError(429, "Too many requests; retry later.", headers={"Retry-After": str(max(1, wait))})
