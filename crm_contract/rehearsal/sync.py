"""A bulk sync, rehearsed: runs of asserts with several in flight and retries, each answer judged, then
everything read back and compared with the catalogue.

Per key the checker keeps a `Known` (the acknowledged id, createdAt, updatedAt and row version): a few
small fields, never a body, since the catalogue regenerates any row from its index and version. A
finding names its rule (`crm-contract clauses`), counts the keys it affects and keeps up to five examples
with their requests and answers.

Infrastructure faults never become findings: the client (`ContractClient`) waits out 429 and 5xx and
sends an assert again when its answer was lost (asserting the same row twice is an update, never a
duplicate: that is the endpoint's promise), and the answer to such a resend may be 200 where the
first would have been 201.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx

from crm_contract.kit.client import ContractClient, Exchange
from crm_contract.strategies import same_value

from .catalogue import Catalogue

__all__ = ["Finding", "Known", "RunStats", "Sync"]

EXAMPLES = 5
PAGE = 100
RULES = {
    "A1": "No record has the matching value: created, 201, a new id",
    "A2": "A record has the matching value: updated, 200, the same id",
    "A4": "The whole body applies: the record holds the values of the last acknowledged assert",
    "A5": "Repeating an assert is idempotent: a retry never makes a twin",
    "A11": "Concurrent asserts of one new value create exactly one record",
    "section 5": "Record calls: the list holds every record once, timestamps never go backward",
}
R_RULES = frozenset({"A11"})  # [R]: judged only under the strict profile


@dataclass
class Known:
    record_id: str | None = None
    created_at: str | None = None
    updated_at: str | None = None
    version: int = 0
    first_status: int = 0  # the status of the first acknowledged answer (two 201s of one pair: A11)
    floor: str | None = None  # the latest updatedAt when this run began


@dataclass
class Finding:
    rule: str
    keys: set[str] = field(default_factory=set)
    examples: list[str] = field(default_factory=list)

    @property
    def title(self) -> str:
        return RULES[self.rule]


@dataclass
class RunStats:
    number: int
    latencies: list[float] = field(default_factory=list)
    by_status: dict[int, list[float]] = field(default_factory=dict)
    asserts: int = 0
    retries_sent: int = 0  # rows sent twice: once again after the answer, or twice at once
    throttled: int = 0  # 429 answers the client waited out
    faults: int = 0  # answers or connections the client had to try again (429, 5xx, lost, reset)
    waited: float = 0.0  # seconds the client waited before sending again
    elapsed: float = 0.0
    timeline: list[tuple[float, float]] = field(default_factory=list)  # (seconds since start, latency)

    def add(self, status: int, seconds: float, at: float) -> None:
        self.asserts += 1
        self.latencies.append(seconds)
        self.by_status.setdefault(status, []).append(seconds)
        self.timeline.append((at, seconds))

    @property
    def rate(self) -> float:
        return self.asserts / self.elapsed if self.elapsed else 0.0


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else 0.0


class Sync:
    """The rehearsal of one catalogue on one target: `run(k)` for each run, `verify()` after each."""

    def __init__(self, catalogue: Catalogue, client: Callable[[], ContractClient], *, concurrency: int,
                 strict: bool, retry_share: float = 0.05, progress: Callable[[int], None] | None = None) -> None:
        self.catalogue, self.concurrency, self.strict = catalogue, concurrency, strict
        self._client_factory = client
        self._local = threading.local()
        self._lock = threading.Lock()
        self.known: dict[int, Known] = {}
        self.ids: dict[str, int] = {}  # record id -> row index: a second row with one id is a twin
        self.findings: dict[str, Finding] = {}
        self.retry_share = retry_share
        self.progress = progress
        self.overlapped: set[int] = set()
        # Keys whose concurrent pair made two records (A11): later answers and reads of them follow from
        # that one finding (which record is "first" is then A9's), so they are not judged again.
        self.tainted: set[int] = set()
        self._clients: list[ContractClient] = []
        self._current: RunStats | None = None

    # Sending --------------------------------------------------------------------------------------

    def client(self) -> ContractClient:
        made = getattr(self._local, "client", None)
        if made is None:
            made = self._local.client = self._client_factory()
            with self._lock:
                self._clients.append(made)
        return made

    def on_wait(self, seconds: float) -> None:
        """Called by the clients before each wait (429, 5xx, a lost answer): the run in progress counts it."""
        with self._lock:
            if self._current is not None:
                self._current.waited += seconds

    def _client_totals(self) -> tuple[int, int]:
        with self._lock:
            return (sum(client.stats.by_status.get(429, 0) for client in self._clients),
                    sum(client.stats.retries for client in self._clients))

    def run(self, number: int, seed: int) -> RunStats:
        """Run `number` (1: every row created; 2 and later: every row again in another order, some changed)."""
        rng = random.Random(f"{seed}:run:{number}")
        order = list(range(self.catalogue.size))
        rng.shuffle(order)
        changed = {index for index in order if number > 1 and rng.random() < 0.3}
        retried = {index: rng.choice(("after", "overlap")) for index in order if rng.random() < self.retry_share}
        if self.concurrency < 2:
            retried = {index: "after" for index in retried}
        for known in self.known.values():
            known.floor = known.updated_at
        stats = RunStats(number, retries_sent=len(retried))
        self._current = stats
        throttled, faults = self._client_totals()
        started = time.perf_counter()
        pool = ThreadPoolExecutor(max_workers=self.concurrency, thread_name_prefix="rehearse")
        try:
            futures: list[Future[None]] = []
            for index in order:
                version = self.known[index].version + (index in changed) if index in self.known else 0
                how = retried.get(index)
                if how == "overlap":
                    if number == 1:
                        self.overlapped.add(index)
                    pair = threading.Barrier(2)
                    futures += [pool.submit(self._send, stats, started, number, index, version, "overlap", pair)
                                for _ in range(2)]
                else:
                    futures.append(pool.submit(self._send, stats, started, number, index, version,
                                               "after" if how == "after" else "once", None))
            done, _ = wait(futures, return_when=FIRST_EXCEPTION)
            failed = next((future.exception() for future in done if future.exception() is not None), None)
            if failed is not None:
                raise failed
        finally:  # an error, or Ctrl-C: what has not started never will
            pool.shutdown(wait=True, cancel_futures=True)
        stats.elapsed = time.perf_counter() - started
        now_throttled, now_faults = self._client_totals()
        stats.throttled, stats.faults = now_throttled - throttled, now_faults - faults
        self._current = None
        return stats

    def _send(self, stats: RunStats, started: float, number: int, index: int, version: int, how: str,
              pair: threading.Barrier | None) -> None:
        if pair is not None:
            try:
                pair.wait(timeout=5)
            except threading.BrokenBarrierError:
                pass
        for attempt in range(2 if how == "after" else 1):
            answer, exchange, seconds = self._assert(index, version)
            with self._lock:
                stats.add(answer.status_code, seconds, time.perf_counter() - started)
                self._judge(number, index, version, how if attempt == 0 else "retry", answer, exchange)
        if self.progress is not None:
            self.progress(1)

    def _assert(self, index: int, version: int) -> tuple[httpx.Response, Exchange | None, float]:
        client = self.client()
        body = self.catalogue.row(index, version)
        before = time.perf_counter()
        answer = client.put(f"/crm/{self.catalogue.slug}", json=body,
                            params={"matchingAttribute": self.catalogue.matching_key}, resend_if_lost=True)
        seconds = time.perf_counter() - before
        exchange = client.transcript[-1] if client.transcript else None
        return answer, exchange, seconds

    # Judging each answer -------------------------------------------------------------------------

    def _judge(self, number: int, index: int, version: int, how: str, answer: httpx.Response,
               exchange: Exchange | None) -> None:
        if index in self.tainted:
            return
        key = self.catalogue.sku(index)
        shown = exchange.render() if exchange is not None else f"PUT -> {answer.status_code}"
        resent = bool(exchange and exchange.faults)  # an answer to a resend after a lost one
        record = _record(answer)
        known = self.known.get(index)
        status = answer.status_code
        if status not in (200, 201) or record is None:
            if how == "overlap" and number == 1 and status == 400:  # the pair raced into its own unique value
                self.found("A11", key, f"one of two concurrent asserts of one new value was refused:\n{shown}")
                self.tainted.add(index)
                return
            rule = "A1" if known is None or known.record_id is None else "A2"
            self.found(rule, key, f"a valid row was refused or garbled:\n{shown}")
            return
        record_id = str(record.get("id"))
        if known is None or known.record_id is None:  # the first acknowledged answer for this key
            if status != 201 and not resent and how not in ("overlap", "retry"):
                self.found("A1", key, f"the first assert of a new value answered {status}, not 201:\n{shown}")
            other = self.ids.get(record_id)
            if other is not None and other != index:
                self.found("A1", key, f"a new value got the id of another row ({self.catalogue.sku(other)}):\n{shown}")
            self.known[index] = Known(record_id, record.get("createdAt"), record.get("updatedAt"), version, status)
            self.ids[record_id] = index
        else:
            if record_id != known.record_id:
                rule = "A11" if how == "overlap" and number == 1 else "A5" if how == "retry" else "A2"
                self.found(rule, key, f"an assert of a known value answered another id than {known.record_id}:\n"
                                      f"{shown}")
                if rule == "A11":  # two records hold the value now: what follows for it is that rule's doing
                    self.tainted.add(index)
                    return
            elif status == 201 and not resent and (how != "overlap" or number > 1):
                rule = "A5" if how == "retry" else "A2"
                self.found(rule, key, f"an assert of a known value answered 201, not 200:\n{shown}")
            elif status == 201 and known.first_status == 201 and not resent:  # the other of a pair, run 1
                self.found("A11", key, f"both of two concurrent asserts of one new value answered 201:\n{shown}")
            if not _same_instant(record.get("createdAt"), known.created_at):
                self.found("A2", key, f"createdAt changed from {known.created_at}:\n{shown}")
            # Answers to requests in flight together arrive in any order: updatedAt is held against what
            # the previous run left, never against another answer of this run.
            if _earlier(record.get("updatedAt"), known.floor):
                self.found("section 5", key, f"updatedAt went back from {known.floor}, where the previous run "
                                             f"left it:\n{shown}")
            if known.updated_at is None or _earlier(known.updated_at, record.get("updatedAt")):
                known.updated_at = record.get("updatedAt")
            known.version = version
        self._check_values(key, index, version, record.get("attributes") or {}, shown)

    def _check_values(self, key: str, index: int, version: int, attributes: dict[str, Any], shown: str) -> None:
        expected = self.catalogue.row(index, version)
        wrong = [name for name, value in expected.items()
                 if not same_value(self.catalogue.type_of(name), value, attributes.get(name))]
        if wrong:
            self.found("A4", key, f"the answer holds other values for {', '.join(wrong)}:\n{shown}")

    def found(self, rule: str, key: str, example: str) -> None:
        finding = self.findings.setdefault(rule, Finding(rule))
        finding.keys.add(key)
        if len(finding.examples) < EXAMPLES:
            finding.examples.append(example)

    # Reading back ---------------------------------------------------------------------------------

    def verify(self) -> int:
        """Read every record back and compare it with the catalogue; the number of records read."""
        client = self.client()
        path = f"/crm/{self.catalogue.slug}"
        first = client.get(path, params={"page": 1, "count": PAGE})
        if first.status_code != 200:
            self.found("section 5", "(list)", f"listing the records failed:\n{_render(client)}")
            return 0
        pages = int(first.json().get("pagination", {}).get("totalPages") or 1)
        answers = [first, *client.read_all([f"{path}?page={page}&count={PAGE}" for page in range(2, pages + 1)])]
        seen: dict[int, int] = {}
        read = 0
        for answer in answers:
            if answer.status_code != 200:
                self.found("section 5", "(list)", f"a page of the list failed: {answer.status_code}")
                continue
            for record in answer.json().get("collection") or []:
                read += 1
                self._verify_record(record, seen)
        missing = [index for index in self.known if index not in seen]
        # A single read of each tells a lost record from a list that leaves it out.
        singles = client.read_all([f"{path}/{self.known[index].record_id}" for index in missing])
        for index, single in zip(missing, singles, strict=True):
            if single.status_code == 200:
                self.found("section 5", self.catalogue.sku(index), "the list leaves out a record that a read "
                           f"finds: GET {path}/{self.known[index].record_id} -> 200")
            else:
                self.found("A1", self.catalogue.sku(index), "an acknowledged record is gone: GET "
                           f"{path}/{self.known[index].record_id} -> {single.status_code}")
        return read

    def _verify_record(self, record: dict[str, Any], seen: dict[int, int]) -> None:
        attributes = record.get("attributes") or {}
        key = attributes.get(self.catalogue.matching_key)
        index = _index(key, self.catalogue.size)
        shown = f"in the list: {str(record)[:600]}"
        if index is None:
            self.found("section 5", str(key)[:60], f"a record the rehearsal never sent:\n{shown}")
            return
        seen[index] = seen.get(index, 0) + 1
        known = self.known.get(index)
        if seen[index] > 1:
            rule = "A11" if index in self.overlapped else "A5"
            self.found(rule, str(key), f"a second record holds this value:\n{shown}")
            return
        if known is None or index in self.tainted:
            return  # never acknowledged (every answer lost), or twins already judged: nothing more to hold
        if record.get("id") != known.record_id:
            self.found("A2", str(key), f"the record's id is not the acknowledged {known.record_id}:\n{shown}")
        self._check_values(str(key), index, known.version, attributes, shown)

    # Verdict --------------------------------------------------------------------------------------

    def violations(self) -> list[Finding]:
        return [finding for rule, finding in sorted(self.findings.items())
                if self.strict or rule not in R_RULES]

    def allowed(self) -> list[Finding]:
        """Findings of [R] rules under the documented profile: shown, never a verdict."""
        return [finding for rule, finding in sorted(self.findings.items()) if not self.strict and rule in R_RULES]


def _record(answer: httpx.Response) -> dict[str, Any] | None:
    try:
        body = answer.json()
    except ValueError:
        return None
    record = body.get("record") if isinstance(body, dict) else None
    return record if isinstance(record, dict) and record.get("id") else None


def _index(key: Any, size: int) -> int | None:
    if not isinstance(key, str) or not key.startswith("sku-") or not key[4:].isdigit():
        return None
    index = int(key[4:])
    return index if index < size else None


def _instant(text: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(str(text))
    except ValueError:
        return None


def _same_instant(a: Any, b: Any) -> bool:
    return a == b or (_instant(a) is not None and _instant(a) == _instant(b))


def _earlier(new: Any, old: Any) -> bool:
    new_at, old_at = _instant(new), _instant(old)
    return new_at is not None and old_at is not None and new_at < old_at


def _render(client: ContractClient) -> str:
    return client.transcript[-1].render() if client.transcript else "(no exchange)"


@contextmanager
def pooled_clients(make: Callable[[], httpx.Client], on_wait: Callable[[float], None] | None = None
                   ) -> Iterator[Callable[[], ContractClient]]:
    """A factory of ContractClients, one per thread, all closed at the end; `on_wait` hears of every wait."""
    made: list[httpx.Client] = []
    lock = threading.Lock()

    def sleep(seconds: float) -> None:
        if on_wait is not None:
            on_wait(seconds)
        time.sleep(seconds)

    def factory() -> ContractClient:
        http = make()
        with lock:
            made.append(http)
        return ContractClient(http, sleep=sleep)

    try:
        yield factory
    finally:
        for http in made:
            http.close()
