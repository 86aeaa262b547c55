"""The suite's HTTP client: one `httpx.Client`, a transcript of every exchange, and infrastructure faults.

An infrastructure fault is an answer that carries no verdict: a 429, a gateway error (502, 503, 504),
a timeout or a dropped connection. None of them ever reaches a check. What the client does depends on
whether the request may have taken effect:

- A request that cannot have acted is sent again after a wait (the `Retry-After` of a 429 or 503,
  else backoff with jitter): any GET, and any request refused with 429 or 503, or whose connection
  was never made.
- A write (POST, PUT, PATCH, DELETE) whose fate is unknown (the connection broke after it was sent,
  the answer timed out, a gateway answered 502 or 504) is never sent blindly again: sending it again
  could create a second record or turn a 201 into a 200. The client raises `OutcomeUnknown`, and the
  caller finds out what happened (the workspace reads back by its run-unique slug) or gives up on
  the example (the suite's session makes it a discarded Hypothesis example, see
  `crm_contract.plugin.session`).

If faults go on, `TargetInconclusive` ends the test as inconclusive rather than failed. Every exchange
is kept in the transcript, with the faults that preceded its answer, so that a check that failed can
tell whether its example was clean.
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, ClassVar

import httpx

from crm_contract.errors import Inconclusive

__all__ = [
    "NO_BODY", "NOT_PROCESSED_STATUSES", "READ_CONCURRENCY", "RETRIED_STATUSES", "SAFE_METHODS", "ContractClient",
    "Exchange", "OutcomeUnknown", "Stats", "TargetInconclusive", "parse_retry_after", "retry_delay",
]

_UNSET: Any = object()
NO_BODY: Any = _UNSET  # an exchange whose request had no body
# Answers that carry no verdict: waited out, and sent again when that is safe.
RETRIED_STATUSES = frozenset({429, 502, 503, 504})
# Refusals that say the request was not acted on (RFC 9110 §15.6.4, RFC 6585 §4): safe to send again.
NOT_PROCESSED_STATUSES = frozenset({429, 503})
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# Reads `ContractClient.read_all` sends at once: enough to take most of a step's reads in one round trip.
READ_CONCURRENCY = 8
_readers: list[ThreadPoolExecutor] = []
_readers_lock = threading.Lock()
# Transport errors raised before any byte of the request left: the request cannot have acted.
NOT_SENT_ERRORS: tuple[type[Exception], ...] = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds a `Retry-After` header asks for (delay-seconds or an HTTP date), or None if unreadable."""
    if not value:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    reference = now if now is not None else datetime.now(UTC).timestamp()
    return max(when.timestamp() - reference, 0.0)


def retry_delay(status: int | None, retry_after: str | None, attempt: int, max_wait: float) -> float:
    """Seconds to wait before sending again: the `Retry-After` of a 429 or 503, else backoff with full jitter.

    The backoff is up to 0.25 s, 0.5 s, 1 s, … capped at 8 s; `status` None is a failed connection.
    """
    if status in NOT_PROCESSED_STATUSES:
        asked = parse_retry_after(retry_after)
        if asked is not None:
            return min(asked, max_wait)
    return random.uniform(0, min(8.0, 0.25 * 2 ** (attempt - 1)))


def _reader() -> ThreadPoolExecutor:
    """The process's pool of reader threads, made on first use."""
    with _readers_lock:
        if not _readers:
            _readers.append(ThreadPoolExecutor(READ_CONCURRENCY, thread_name_prefix="crm-contract-read"))
        return _readers[0]


class TargetInconclusive(Inconclusive):
    """The target kept answering 429, 5xx gateway errors or timing out: no verdict is possible."""


class OutcomeUnknown(TargetInconclusive):
    """A write may or may not have taken effect: its answer was lost to a fault of the network or a gateway."""


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
    # The infrastructure faults met before this answer (e.g. "503", "ReadError"): the request was sent
    # again. A failure is confirmed only on exchanges without any.
    faults: tuple[str, ...] = ()

    def render(self, limit: int = 600) -> str:
        def text(value: Any) -> str:
            shown = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
            return shown if len(shown) <= limit else f"{shown[:limit]}… ({len(shown)} characters)"

        sent = "" if self.request_body is _UNSET else f" {text(self.request_body)}"
        after = f"  (answered after {', '.join(self.faults)}, sent again)" if self.faults else ""
        return f"  > {self.method} {self.path}{sent}\n  < {self.status} {text(self.response_body)}{after}"


@dataclass
class Stats:
    requests: int = 0
    retries: int = 0
    inconclusive: int = 0
    unknown_outcomes: int = 0
    by_status: dict[int, int] = field(default_factory=dict)


class ContractClient:
    """Requests to the target, each answered once the target gives a verdict (no 429, no gateway error)."""

    # What a write of unknown outcome raises. The suite's session sets a subclass that Hypothesis reads as
    # a discarded example; elsewhere (set-up, scripts) it is a plain `OutcomeUnknown`.
    unknown_outcome: ClassVar[type[OutcomeUnknown]] = OutcomeUnknown
    # Called with (method, path, params, json body) before any write of any client is sent: the
    # workspace writes down run-unique keys sent into objects the run did not make (`crm_contract.kit.ledger`).
    write_listeners: ClassVar[list[Callable[[str, str, Mapping[str, Any] | None, Any], None]]] = []
    # Called with the seconds of every wait before sending again (the run's pace counts them).
    wait_listeners: ClassVar[list[Callable[[float], None]]] = []
    # The latest exchanges of every client of the process, and how many there were in all: a test that
    # ends in an exception of the suite's own is explained by the answers it got (`crm_contract.plugin.diagnosis`).
    recent: ClassVar[deque[Exchange]] = deque(maxlen=400)
    recorded: ClassVar[int] = 0
    # Called with every exchange of every client (the run's fidelity summary watches them).
    observers: ClassVar[list[Callable[[Exchange], None]]] = []
    _faults: ClassVar[int] = 0  # faults met by every client of the process, for `faults_seen`
    last_fault: ClassVar[str | None] = None  # the latest of them, e.g. "503 to PUT /v2/crm/deals"
    _faults_lock: ClassVar[threading.Lock] = threading.Lock()

    @classmethod
    def exchanges_since(cls, mark: int) -> list[Exchange]:
        """The exchanges of every client recorded after `recorded` was `mark` (the latest 400 at most)."""
        with cls._faults_lock:
            count = min(cls.recorded - mark, len(cls.recent))
            return list(cls.recent)[len(cls.recent) - count:] if count > 0 else []

    @classmethod
    def faults_seen(cls) -> int:
        """How many infrastructure faults every client of this process has met so far."""
        return cls._faults

    def __init__(self, http: httpx.Client, *, max_wait: float = 60.0, max_attempts: int = 6,
                 transcript_size: int = 200, sleep: Callable[[float], Any] = time.sleep) -> None:
        self.http = http
        self.max_wait = max_wait
        self.max_attempts = max_attempts
        self.transcript: deque[Exchange] = deque(maxlen=transcript_size)
        self.stats = Stats()
        self._sleep = sleep
        self._listeners: list[list[Exchange]] = []

    # Requests -------------------------------------------------------------------------------------

    def request(self, method: str, path: str, *, json: Any = _UNSET, params: Mapping[str, Any] | None = None,
                headers: Mapping[str, str] | None = None, content: bytes | str | None = None,
                resend_if_lost: bool = False) -> httpx.Response:
        """Send a request and return the target's answer, handling infrastructure faults (see the module).

        `resend_if_lost`: the caller knows that sending this write twice is harmless to its checks (a
        write it expects to be refused, whose effects it checks afterwards; a clean-up DELETE, where 404
        is as good as 200), so a lost answer is met by sending it again.
        """
        method = method.upper()
        shown = path if not httpx.URL(path).is_absolute_url else self._full_path(path)  # never the host
        kwargs: dict[str, Any] = {"params": params, "headers": headers}
        if json is not _UNSET:
            kwargs["json"] = json
        elif content is not None:
            kwargs["content"] = content
        if method not in SAFE_METHODS:
            for listener in list(self.write_listeners):
                listener(method, path, params, json if json is not _UNSET else None)
        waited, attempt, faults = 0.0, 0, list[str]()
        while True:
            attempt += 1
            self.stats.requests += 1
            try:
                response = self.http.request(method, path, **kwargs)
            except (httpx.TimeoutException, httpx.TransportError) as error:
                fault = type(error).__name__
                reason, delay = f"{fault}: {error}", retry_delay(None, None, attempt, self.max_wait)
                resendable = isinstance(error, NOT_SENT_ERRORS)
            else:
                status = response.status_code
                self.stats.by_status[status] = self.stats.by_status.get(status, 0) + 1
                if status not in RETRIED_STATUSES:
                    self._record(method, response, json if json is not _UNSET else _UNSET, tuple(faults))
                    return response
                fault = str(status)
                reason = "429 Too Many Requests" if status == 429 else f"{status} from the target"
                delay = retry_delay(status, response.headers.get("Retry-After"), attempt, self.max_wait)
                resendable = status in NOT_PROCESSED_STATUSES
            faults.append(fault)
            with ContractClient._faults_lock:
                ContractClient._faults += 1
                ContractClient.last_fault = f"{fault} to {method} {self._full_path(path)}"
            if not resendable and method not in SAFE_METHODS and not resend_if_lost:
                self.stats.unknown_outcomes += 1
                raise self.unknown_outcome(f"{method} {shown}: {reason}; the write may or may not have taken "
                                           "effect, so it is not sent again")
            if attempt >= self.max_attempts or waited + delay > self.max_wait:
                self.stats.inconclusive += 1
                raise TargetInconclusive(f"{method} {shown}: the target kept answering {reason} "
                                         f"({attempt} attempts, {waited:.0f} s waited)")
            self.stats.retries += 1
            for on_wait in list(self.wait_listeners):
                on_wait(delay)
            self._sleep(delay)
            waited += delay

    def _full_path(self, path: str) -> str:
        url = httpx.URL(path)
        return url.path if url.is_absolute_url else f"{self.http.base_url.path.rstrip('/')}{url.path}"

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", path, **kwargs)

    def read_all(self, paths: Sequence[str], **kwargs: Any) -> list[httpx.Response]:
        """GET every path at once (up to `READ_CONCURRENCY` in flight); the answers in the order of `paths`.

        Reads change nothing, so sending them together cannot change what any of them answers: a far
        target answers a step's reads in one round trip instead of one each. Each goes through
        `request` (faults, retries, the transcript); the first error, in the order of `paths`, is raised
        once all of them have ended. Writes never go through here: they keep their order.
        """
        if len(paths) <= 1:
            return [self.get(path, **kwargs) for path in paths]
        futures = [_reader().submit(self.get, path, **kwargs) for path in paths]
        return [future.result() for future in futures]

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
            # By identity: an enclosing block's list may hold the same exchanges, and `remove` compares by value.
            self._listeners[:] = [listener for listener in self._listeners if listener is not collected]

    def _record(self, method: str, response: httpx.Response, sent: Any, faults: tuple[str, ...] = ()) -> None:
        try:
            body: Any = response.json()
        except ValueError:
            body = response.text
        url = response.request.url
        path = url.raw_path.decode("ascii", "replace")
        exchange = Exchange(method, path, sent, response.status_code, body,
                            response.request.headers.get("authorization"), faults)
        self.transcript.append(exchange)
        with self._faults_lock:
            ContractClient.recent.append(exchange)
            ContractClient.recorded += 1
        for listener in self._listeners:
            listener.append(exchange)
        for observer in list(self.observers):
            observer(exchange)
