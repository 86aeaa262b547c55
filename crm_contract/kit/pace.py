"""The run's pace: an adaptive client-side rate limit, `Retry-After` for the whole run, and a request budget.

Every request of the suite passes `Pace.before_send` (through `Traffic`'s httpx hooks, so every client
of the run shares one pace) and every answer `Pace.on_answer`:

- **Retry-After holds the whole run.** A 429 or 503 that says when to come back stops every request
  until then, not only the one that was refused.
- **An adaptive limit.** When 429s without `Retry-After` are frequent (3 of the last 10 answers), a
  429 lowers the run's rate to 4/5 of what it was sending (over the last two seconds); every answer
  that is not a 429 raises it by 2 %, and ten seconds without a 429, or a limit well above what the
  run sends, lift it. So a target that rate-limits at R requests a second is met at about R, while a
  stray 429 costs only its own backoff. `--rate-limit N/s` is a ceiling the run never goes above.
- **A budget.** `--max-requests N`: once N requests were sent, test bodies send no more
  (`BudgetSpent`); the tests not reached are reported as not run, with the clauses they check.
  Set-up and clean-up are never refused, so a spent budget leaves nothing behind.
- **One pace for every worker.** Under pytest-xdist each worker has its own `Pace`, but all of them
  keep the run's shared numbers (requests sent, the next free slot of the rate limit, the Retry-After
  deadline, the adaptive rate) in one small file (`SharedState`), under a file lock. So the budget,
  the ceiling and a target's Retry-After hold for the run as a whole, not per worker.
- **Keeping the pace.** A run that spends more time waiting on the target (Retry-After, backoff)
  than `max_slowdown` allows runs fewer Hypothesis examples per test from then on
  (`example_factor`), so that a throttled run ends in bounded time, and says that it did.
"""

from __future__ import annotations

import fcntl
import math
import os
import struct
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

__all__ = ["BudgetSpent", "Pace", "SharedState", "parse_duration", "parse_rate"]

_RAISE, _LOWER = 1.02, 0.8
_MIN_RATE = 0.5  # requests a second: the adaptive limit never goes below this
_WINDOW = 2.0  # seconds over which the run's own sending rate is measured
_SUSTAINED = 3  # 429s among the last 10 answers that say the run goes too fast (fewer: stray ones)
_QUIET = 10.0  # seconds without a 429 after which the adaptive limit is lifted
_MEANINGFUL = 5  # fewer requests than this in the window say nothing of the run's rate: a 429 then only waits


class BudgetSpent(Exception):
    """The run's --max-requests budget is spent: the test ends as not run, not failed."""


def parse_duration(text: str) -> float:
    """`90`, `90s`, `15m`, `2h` or `1d` as seconds (more than 0); ValueError otherwise."""
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    value = text.strip().lower()
    scale = units.get(value[-1:])
    try:
        seconds = float(value[:-1] if scale else value) * (scale or 1)
    except ValueError:
        raise ValueError(f"{text!r} is not a duration like 90s, 15m, 2h or 1d") from None
    if not seconds > 0:
        raise ValueError(f"{text!r} is not a duration of more than 0 s")
    return seconds


def parse_rate(text: str) -> float:
    """`20`, `20/s`, `1200/m` or `72000/h` as requests a second; ValueError otherwise."""
    value, _, unit = text.strip().lower().partition("/")
    scale = {"": 1.0, "s": 1.0, "m": 60.0, "h": 3600.0}.get(unit.strip())
    if scale is None:
        raise ValueError(f"{text!r}: a rate is N, N/s, N/m or N/h")
    rate = float(value) / scale
    if not rate > 0:
        raise ValueError(f"{text!r}: a rate must be above 0")
    return rate


class SharedState:
    """The numbers of a pace that every process of a run shares: a file of four doubles and its lock.

    Requests sent, the next free slot of the rate limit, the Retry-After deadline (on the monotonic
    clock, which every process of a machine shares) and the rate (NaN: no limit). `create` makes the
    file (the controller of a pytest-xdist run); each worker opens it by its path.
    """

    _FORMAT = "<dddd"

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd = os.open(path, os.O_RDWR)

    @classmethod
    def create(cls, path: Path, rate: float | None) -> SharedState:
        path.write_bytes(struct.pack(cls._FORMAT, 0.0, 0.0, 0.0, math.nan if rate is None else rate))
        return cls(path)

    @contextmanager
    def held(self, pace: Pace) -> Iterator[None]:
        """`pace`'s shared numbers read in under the file lock, and written back when the block ends."""
        fcntl.flock(self._fd, fcntl.LOCK_EX)
        try:
            sent, pace._next_slot, pace._not_before, rate = struct.unpack(
                self._FORMAT, os.pread(self._fd, struct.calcsize(self._FORMAT), 0))
            pace.sent, pace.rate = int(sent), None if math.isnan(rate) else rate
            yield
            stored = math.nan if pace.rate is None else pace.rate
            os.pwrite(self._fd, struct.pack(self._FORMAT, float(pace.sent), pace._next_slot, pace._not_before,
                                            stored), 0)
        finally:
            fcntl.flock(self._fd, fcntl.LOCK_UN)

    def close(self) -> None:
        os.close(self._fd)


class Pace:
    """One run's pace: shared by every client of the run, safe across threads (and processes, with `shared`)."""

    def __init__(self, *, ceiling: float | None = None, max_requests: int | None = None,
                 max_slowdown: float = 2.0, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], Any] = time.sleep, shared: Path | None = None) -> None:
        self.ceiling = ceiling
        self.max_requests = max_requests
        self.max_slowdown = max_slowdown
        self.rate: float | None = ceiling  # the current limit, requests a second; None: no limit
        self.sent = 0  # requests of the whole run (every worker's, with `shared`)
        self.sent_here = 0  # requests of this process
        self.waited = 0.0  # seconds the run spent waiting on the target (here and in the clients' retries)
        self.started = clock()
        self.budget_spent = False
        self.lowest_factor = 1.0
        self._clock, self._sleep = clock, sleep
        self._next_slot = 0.0
        self._not_before = 0.0
        self._recent: deque[tuple[float, int]] = deque()  # (when, the run's requests then) of this process's sends
        self._answers: deque[bool] = deque(maxlen=10)  # whether each of the last answers was a 429
        self._last_429 = float("-inf")
        self._lock = threading.Lock()
        self._shared = SharedState(shared) if shared is not None else None

    @contextmanager
    def _held(self) -> Iterator[None]:
        """This process's lock, and the run's shared numbers when the run has several processes."""
        with self._lock:
            if self._shared is None:
                yield
            else:
                with self._shared.held(self):
                    yield

    # Sending ------------------------------------------------------------------------------------------

    def before_send(self, *, budgeted: bool) -> None:
        """Wait for the request's turn; `budgeted` (a test body sends it): refuse it once the budget is spent."""
        with self._held():
            if budgeted and self.max_requests is not None and self.sent >= self.max_requests:
                self.budget_spent = True
                raise BudgetSpent(f"the run's budget of {self.max_requests} requests is spent (--max-requests)")
            now = self._clock()
            start = max(now, self._not_before)
            if self.rate is not None:
                start = max(start, self._next_slot)
                self._next_slot = start + 1.0 / self.rate
            self.sent += 1
            self.sent_here += 1
            self._recent.append((start, self.sent))
            while self._recent and self._recent[0][0] < start - _WINDOW:
                self._recent.popleft()
        if start > now:
            self.waited_for(start - now)
            self._sleep(start - now)

    def waited_for(self, seconds: float) -> None:
        """`seconds` spent waiting on the target (a client's backoff or Retry-After wait counts too)."""
        with self._lock:
            self.waited += max(seconds, 0.0)

    # Answers ------------------------------------------------------------------------------------------

    def on_answer(self, status: int, retry_after: float | None) -> None:
        with self._held():
            if status in (429, 503) and retry_after is not None:
                # The target said when to come back: the whole run waits until then, and its rate stays.
                self._not_before = max(self._not_before, self._clock() + retry_after)
                return
            self._answers.append(status == 429)
            if status == 429:
                self._last_429 = self._clock()
                sending = self._sending()
                if sending is None or sum(self._answers) < _SUSTAINED:
                    return  # a stray 429, or too few requests lately to say what rate the target refused
                current = self.rate if self.rate is not None else sending
                self.rate = max(min(current, sending) * _LOWER, _MIN_RATE)
                if self.ceiling is not None:
                    self.rate = min(self.rate, self.ceiling)
            elif self.rate is not None and self.ceiling is None and self._clock() - self._last_429 > _QUIET:
                self.rate = None  # no 429 for a while: the limit is lifted
            elif self.rate is not None:
                raised = self.rate * _RAISE
                sending = self._sending() or _MIN_RATE
                if self.ceiling is not None:
                    self.rate = min(raised, self.ceiling)
                elif raised > 4 * sending:
                    self.rate = None  # far above what the run sends: no limit any more
                else:
                    self.rate = raised

    def _sending(self) -> float | None:
        """Requests a second the run sent lately (the last `_WINDOW` seconds), or None if too few to say."""
        if len(self._recent) < _MEANINGFUL:
            return None
        first, sent_then = self._recent[0]
        span = max(self._clock() - first, 1e-3)
        return max((self.sent - sent_then + 1) / span, _MIN_RATE)  # the run's requests, every worker's

    # Keeping the pace -----------------------------------------------------------------------------------

    def example_factor(self) -> float:
        """The share of its examples the next test runs so that waiting keeps within `max_slowdown`.

        1 until the run has waited more than (max_slowdown - 1) times its own working time. Then, from
        the run's per-request working time c and waiting time w so far, c * max_slowdown / (c + w):
        the remaining tests take at most max_slowdown times what they would take unthrottled.
        """
        if not self.max_slowdown or self.max_slowdown <= 1:
            return 1.0
        with self._lock:
            elapsed = self._clock() - self.started
            own = max(elapsed - self.waited, 1e-3)
            if self.sent_here < 50 or self.waited <= (self.max_slowdown - 1) * own:
                return 1.0
            per_request_own, per_request_wait = own / self.sent_here, self.waited / self.sent_here
        factor = max(min(self.max_slowdown * per_request_own / (per_request_own + per_request_wait), 1.0), 0.02)
        self.lowest_factor = min(self.lowest_factor, factor)
        return factor

    def summary(self) -> str | None:
        """One line for the terminal when the pace changed anything, else None."""
        parts = []
        if self.waited >= 1:
            parts.append(f"waited {self.waited:.0f} s on the target (Retry-After, backoff)")
        if self.lowest_factor < 1:
            parts.append(f"ran as few as {self.lowest_factor:.0%} of the examples per test to keep within "
                         f"{self.max_slowdown:g}x (--max-slowdown)")
        if self.budget_spent:
            parts.append(f"stopped sending at the budget of {self.max_requests} requests (--max-requests)")
        return "; ".join(parts) or None
