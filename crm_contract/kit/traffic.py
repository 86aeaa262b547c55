"""What the suite sends to the target: a count for the report, and a breaker for a target that is down.

`Target.client()` attaches `Traffic.event_hooks()` to every `httpx.Client` it makes, so every request
of the suite is counted, whichever client a test uses.

The breaker: `ContractClient` waits out 429s and retries gateway errors and timeouts a few times, then
gives up with `TargetInconclusive`. Hypothesis treats that as a failure and replays and shrinks the
example, which would wait out the same outage again for every attempt (minutes, for a target that
times out). So once a test has seen as many unavailable answers in a row as the client retries, the
rest of that test's requests end at once with `TargetInconclusive`, unsent; and the next test, on a
target just found unavailable, trips at its first unavailable answer (a test that ends without
tripping restores the full count). The breaker is armed only while a test body runs; set-up and
clean-up always get the client's full retries.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from typing import Any

import httpx

from crm_contract.kit.client import TargetInconclusive, parse_retry_after
from crm_contract.kit.pace import Pace

__all__ = ["UNAVAILABLE_STATUSES", "Traffic"]

# What ContractClient waits out or retries; anything else is an answer the checks judge.
UNAVAILABLE_STATUSES = frozenset({429, 502, 503, 504})


class Traffic:
    """Counts of the requests sent and their answers, and the breaker of the running test."""

    def __init__(self, trip_after: int = 6, pace: Pace | None = None) -> None:
        self.trip_after = trip_after  # ContractClient's default max_attempts
        self.pace = pace or Pace()
        self.sent = 0
        self.unanswered = 0
        self.statuses: Counter[int] = Counter()
        self._in_a_row = 0
        self._tripped: str | None = None
        self._armed = False
        self._suspect = False  # the last test tripped: the target is probably still unavailable
        self.tripped_in_last_test: str | None = None
        self._lock = threading.Lock()
        self._local = threading.local()

    def event_hooks(self) -> dict[str, list[Callable[[Any], Any]]]:
        """The `event_hooks` argument of an `httpx.Client` whose requests are counted."""
        return {"request": [self._on_request], "response": [self._on_response]}

    # The running test ------------------------------------------------------------------------------

    def arm(self) -> None:
        """A test body starts: a fresh breaker, which may trip from now on."""
        with self._lock:
            self._armed, self._tripped, self._in_a_row = True, None, 0

    def disarm(self) -> None:
        """The test body ended: clean-up gets every retry again."""
        with self._lock:
            self.tripped_in_last_test = self._tripped
            self._suspect = self._tripped is not None
            self._armed, self._tripped, self._in_a_row = False, None, 0

    # Report ----------------------------------------------------------------------------------------

    def summary(self, also: int = 0) -> str:
        """One line for the terminal summary; `also`: requests sent before the counting began (the pre-flight)."""
        parts = [f"{self.sent + also} requests sent to the target"]
        waited = self.statuses[429]
        gateway = sum(self.statuses[status] for status in UNAVAILABLE_STATUSES - {429})
        if waited:
            parts.append(f"{waited} answered 429 and were waited out")
        if gateway:
            parts.append(f"{gateway} answered 502/503/504")
        if self.unanswered:
            parts.append(f"{self.unanswered} got no answer (timeout or dropped connection)")
        return ", ".join(parts)

    def export(self) -> dict[str, Any]:
        """The counts as plain data (a pytest-xdist worker hands them to its controller)."""
        with self._lock:
            return {"sent": self.sent, "unanswered": self.unanswered,
                    "statuses": {str(status): count for status, count in self.statuses.items()}}

    def absorb(self, exported: dict[str, Any]) -> None:
        """Add another process's counts (`export`) to these."""
        with self._lock:
            self.sent += int(exported.get("sent") or 0)
            self.unanswered += int(exported.get("unanswered") or 0)
            for status, count in (exported.get("statuses") or {}).items():
                self.statuses[int(status)] += int(count)

    # Hooks -----------------------------------------------------------------------------------------

    def _on_request(self, request: httpx.Request) -> None:
        with self._lock:
            pending = getattr(self._local, "pending", None)
            if pending:  # this thread's last request never got an answer
                self.unanswered += 1
                self._unavailable(f"no answer to {pending}")
            self._local.pending = None
            if self._armed and self._tripped:
                raise TargetInconclusive(f"{request.method} {request.url.path}: not sent, {self._tripped}")
            armed = self._armed
        self.pace.before_send(budgeted=armed)  # may wait its turn, or refuse once the budget is spent
        with self._lock:
            self.sent += 1
        self._local.pending = f"{request.method} {request.url.path}"

    def _on_response(self, response: httpx.Response) -> None:
        self._local.pending = None
        self.pace.on_answer(response.status_code, parse_retry_after(response.headers.get("Retry-After")))
        with self._lock:
            self.statuses[response.status_code] += 1
            if response.status_code in UNAVAILABLE_STATUSES:
                self._unavailable(f"{response.status_code} to {response.request.method} {response.request.url.path}")
            else:
                self._in_a_row = 0

    def _unavailable(self, what: str) -> None:
        self._in_a_row += 1
        if self._tripped is not None or not self._armed:
            return
        if self._suspect:
            self._tripped = f"the target was unavailable in the previous test and still is ({what})"
        elif self._in_a_row >= self.trip_after:
            self._tripped = (f"the target gave {self._in_a_row} unavailable answers in a row in this test "
                             f"(the last: {what})")
