"""The suite's HTTP client: one `httpx.Client`, a transcript of every exchange, and 429/5xx handling.

A 429 is waited out (its `Retry-After`, or exponential backoff with jitter) and never reaches a check.
Gateway errors (502, 503, 504), timeouts and dropped connections are retried a few times; if they go
on, `TargetInconclusive` ends the test as inconclusive rather than failed. Every exchange is kept in
the transcript, with tokens redacted, so that a failure can show the requests that led to it.
"""

from __future__ import annotations

import json
import random
import time
from collections import deque
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx

__all__ = ["NO_BODY", "RETRIED_STATUSES", "ContractClient", "Exchange", "Stats", "TargetInconclusive", "retry_delay"]

_UNSET: Any = object()
NO_BODY: Any = _UNSET  # an exchange whose request had no body
# Answers that carry no verdict: waited out and sent again.
RETRIED_STATUSES = frozenset({429, 502, 503, 504})


def retry_delay(status: int | None, retry_after: str | None, attempt: int, max_wait: float) -> float:
    """Seconds to wait before sending again: a 429's `Retry-After`, else backoff with full jitter.

    The backoff is up to 0.25 s, 0.5 s, 1 s, … capped at 8 s; `status` None is a failed connection.
    """
    if status == 429 and retry_after:
        try:
            return min(max(float(retry_after), 0.0), max_wait)
        except ValueError:
            pass
    return random.uniform(0, min(8.0, 0.25 * 2 ** (attempt - 1)))


class TargetInconclusive(Exception):
    """The target kept answering 429, 5xx gateway errors or timing out: no verdict is possible."""


@dataclass
class Exchange:
    """One request and its response, as a failure message shows them."""

    method: str
    path: str
    request_body: Any
    status: int
    response_body: Any
    # The Authorization header sent, for replay files to tell the write, read-only or no token apart;
    # never rendered, and reports map it to a name before writing anything.
    authorization: str | None = field(default=None, repr=False)

    def render(self, limit: int = 600) -> str:
        def text(value: Any) -> str:
            shown = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
            return shown if len(shown) <= limit else f"{shown[:limit]}… ({len(shown)} characters)"

        sent = "" if self.request_body is _UNSET else f" {text(self.request_body)}"
        return f"  > {self.method} {self.path}{sent}\n  < {self.status} {text(self.response_body)}"


@dataclass
class Stats:
    requests: int = 0
    retries: int = 0
    inconclusive: int = 0
    by_status: dict[int, int] = field(default_factory=dict)


class ContractClient:
    """Requests to the target, each answered once the target gives a verdict (no 429, no gateway error)."""

    def __init__(self, http: httpx.Client, *, max_wait: float = 60.0, max_attempts: int = 6,
                 transcript_size: int = 200, sleep: Any = time.sleep) -> None:
        self.http = http
        self.max_wait = max_wait
        self.max_attempts = max_attempts
        self.transcript: deque[Exchange] = deque(maxlen=transcript_size)
        self.stats = Stats()
        self._sleep = sleep
        self._listeners: list[list[Exchange]] = []

    # Requests -------------------------------------------------------------------------------------

    def request(self, method: str, path: str, *, json: Any = _UNSET, params: Mapping[str, Any] | None = None,
                headers: Mapping[str, str] | None = None, content: bytes | None = None) -> httpx.Response:
        kwargs: dict[str, Any] = {"params": params, "headers": headers}
        if json is not _UNSET:
            kwargs["json"] = json
        elif content is not None:
            kwargs["content"] = content
        waited, attempt = 0.0, 0
        while True:
            attempt += 1
            self.stats.requests += 1
            try:
                response = self.http.request(method, path, **kwargs)
            except (httpx.TimeoutException, httpx.TransportError) as error:
                reason, delay = f"{type(error).__name__}: {error}", retry_delay(None, None, attempt, self.max_wait)
            else:
                status = response.status_code
                self.stats.by_status[status] = self.stats.by_status.get(status, 0) + 1
                if status not in RETRIED_STATUSES:
                    self._record(method, response, json if json is not _UNSET else _UNSET)
                    return response
                reason = "429 Too Many Requests" if status == 429 else f"{status} from the target"
                delay = retry_delay(status, response.headers.get("Retry-After"), attempt, self.max_wait)
            if attempt >= self.max_attempts or waited + delay > self.max_wait:
                self.stats.inconclusive += 1
                raise TargetInconclusive(f"{method} {path}: the target kept answering {reason} "
                                         f"({attempt} attempts, {waited:.0f} s waited)")
            self.stats.retries += 1
            self._sleep(delay)
            waited += delay

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, json: Any = _UNSET, **kwargs: Any) -> httpx.Response:
        return self.request("POST", path, json=json, **kwargs)

    def put(self, path: str, json: Any = _UNSET, **kwargs: Any) -> httpx.Response:
        return self.request("PUT", path, json=json, **kwargs)

    def patch(self, path: str, json: Any = _UNSET, **kwargs: Any) -> httpx.Response:
        return self.request("PATCH", path, json=json, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("DELETE", path, **kwargs)

    # Transcript -----------------------------------------------------------------------------------

    @contextmanager
    def exchanges(self) -> Iterator[list[Exchange]]:
        """The exchanges made inside the block, in order (a list that grows while the block runs)."""
        collected: list[Exchange] = []
        self._listeners.append(collected)
        try:
            yield collected
        finally:
            self._listeners.remove(collected)

    def _record(self, method: str, response: httpx.Response, sent: Any) -> None:
        try:
            body: Any = response.json()
        except ValueError:
            body = response.text
        url = response.request.url
        path = url.raw_path.decode("ascii", "replace")
        exchange = Exchange(method, path, sent, response.status_code, body,
                            response.request.headers.get("authorization"))
        self.transcript.append(exchange)
        for listener in self._listeners:
            listener.append(exchange)
