"""What kind of target a run met, in plain words: the paragraph a mock's author reads before any table.

`Fidelity` watches every exchange of the run (`ContractClient.observers`) and every violation a check
raises, and keeps counts of a few telling signs:

- reads that do not reflect writes: an object or record the run just wrote, read back as something
  else, or not found while the run never deleted it;
- answers that do not hold what was sent (the slug, the label, the values of a record);
- ids that are not stable: a create answering the id of an earlier record, a read by id answering
  another id;
- requests the contract refuses that were accepted (a check expected a 4xx and got a 2xx);
- success answers not shaped as `contract/openapi.yaml` says (a sample: the first answers of each
  kind of call), error answers without the error envelope, answers that are not JSON, server errors.

A sign is named only when it is frequent (half of what was observed, or every time), so one odd
answer of a correct API never makes it "a mock". The paragraph then says what the clause verdicts
were, and why clauses were not run when a set-up failed.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from crm_contract.kit.client import Exchange
from crm_contract.kit.shapes import relative_path, shape_problem
from crm_contract.kit.violations import ContractViolation

__all__ = ["Fidelity", "Sign"]

_DATETIME = re.compile(r"\d{4}-\d\d-\d\dT")  # compared as instants elsewhere, not here
# How many written paths and record ids are remembered: enough for any run, bounded for a 10,000-record sync.
_MEMORY = 50_000
# How many success answers of each kind of call are checked against the OpenAPI document: a check costs
# about 15 ms of CPU (the document's oneOf and $refs), and a fake's odd shape shows in the first few.
_SHAPE_SAMPLE = 8
_REFUSALS = {400: "bodies", 401: "tokens", 403: "scopes", 404: "unknown", 405: "methods", 409: "bodies"}


@dataclass
class Sign:
    """One telling sign: how often it was seen (`count`) out of how many chances (`of`)."""

    key: str
    text: str
    count: int
    of: int

    def as_dict(self) -> dict[str, Any]:
        return {"sign": self.key, "text": self.text, "count": self.count, "of": self.of}


class _Tally:
    def __init__(self) -> None:
        self.seen = 0
        self.odd = 0

    def add(self, odd: bool) -> None:
        self.seen += 1
        self.odd += odd

    @property
    def telling(self) -> bool:
        return self.seen > 0 and self.odd * 2 >= self.seen


def _resource(exchange: Exchange, name: str) -> dict[str, Any] | None:
    body = exchange.response_body
    found = body.get(name) if isinstance(body, dict) else None
    return found if isinstance(found, dict) else None


def _attributes(record: dict[str, Any]) -> dict[str, Any]:
    values = record.get("attributes")
    return values if isinstance(values, dict) else {}


def _scalar(value: Any) -> bool:
    return isinstance(value, int | bool) or (isinstance(value, str) and not _DATETIME.match(value))


class Fidelity:
    """Counts of the signs of a fake, from the exchanges and violations of a run."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.echo = _Tally()  # answers to writes that hold what was sent
        self.reflect = _Tally()  # reads of what the run wrote and did not delete
        self.ids = _Tally()  # reads by id: the id asked for
        self.new_ids = _Tally()  # creates (201): an id never answered before
        self.envelope = _Tally()  # error answers with {success: false, status, message}
        self.shape = _Tally()  # success answers shaped as the OpenAPI document says
        self._shapes_checked: dict[tuple[str, int, bool], int] = {}
        self.answers = 0
        self.not_json = 0
        self.empty = 0
        self.server_errors = 0
        self.bad_requests = 0  # answers 400: a target that never gives one validates nothing
        self.accepted: dict[str, set[str]] = {}  # what a check expected refused, by kind: the rules
        self._written: dict[str, dict[str, Any]] = {}  # path -> what the last write left there
        self._record_ids: set[str] = set()

    # Watching --------------------------------------------------------------------------------------

    def observe(self, exchange: Exchange) -> None:
        with self._lock:
            self._observe(exchange)

    def _observe(self, exchange: Exchange) -> None:
        self.answers += 1
        body, status = exchange.response_body, exchange.status
        if isinstance(body, str):
            if body.strip():
                self.not_json += 1
            else:
                self.empty += 1
        self.bad_requests += status == 400
        if status >= 500 and status not in (502, 503, 504):
            self.server_errors += 1
        if 400 <= status < 500 and status != 429:
            self.envelope.add(not (isinstance(body, dict) and body.get("success") is False
                                   and body.get("status") == status and isinstance(body.get("message"), str)))
        path = relative_path(exchange.path).rstrip("/")
        parts = path.strip("/").split("/")
        if 200 <= status < 300:
            kind = (exchange.method, len(parts), parts[1:2] == ["objects"])
            if self._shapes_checked.get(kind, 0) < _SHAPE_SAMPLE:
                self._shapes_checked[kind] = self._shapes_checked.get(kind, 0) + 1
                self.shape.add(shape_problem(exchange) is not None)
        if exchange.method == "DELETE" and status == 200:
            self._written.pop(path, None)
            if parts[:2] == ["crm", "objects"] and len(parts) == 3:  # its records went with it
                gone = f"/crm/{parts[2]}/"
                for known in [known for known in self._written if known.startswith(gone)]:
                    del self._written[known]
        elif exchange.method == "GET" and path in self._written:
            self._read(exchange, path, parts)
        elif exchange.method in ("POST", "PUT", "PATCH") and 200 <= status < 300:
            self._wrote(exchange, path, parts)

    def _wrote(self, exchange: Exchange, path: str, parts: list[str]) -> None:
        sent = exchange.request_body if isinstance(exchange.request_body, dict) else {}
        if parts[:2] == ["crm", "objects"] and len(parts) == 2 and exchange.method == "POST":
            made = _resource(exchange, "object") or {}
            self.echo.add(made.get("slug") != sent.get("slug"))
            if isinstance(sent.get("slug"), str):
                self._remember(f"/crm/objects/{sent['slug']}", {"slug": sent["slug"]})
        elif len(parts) >= 4 and parts[3] == "attributes" and exchange.method == "POST":
            made = _resource(exchange, "attribute") or {}
            self.echo.add(made.get("label") != sent.get("label"))
        elif parts[0] == "crm" and parts[1:2] != ["objects"] and len(parts) in (2, 3):
            record = _resource(exchange, "record") or {}
            values = _attributes(record)
            checked = [key for key, value in sent.items() if _scalar(value)]
            if checked:
                self.echo.add(any(values.get(key) != sent[key] for key in checked))
            record_id = record.get("id")
            if isinstance(record_id, str):
                if exchange.status == 201:
                    self.new_ids.add(record_id in self._record_ids)
                self._record_ids.add(record_id)
                values_sent = {key: sent[key] for key in checked}
                self._remember(f"/crm/{parts[1]}/{record_id}", {"id": record_id, "values": values_sent})

    def _remember(self, path: str, what: dict[str, Any]) -> None:
        self._written.pop(path, None)
        self._written[path] = what
        if len(self._written) > _MEMORY:
            del self._written[next(iter(self._written))]
        if len(self._record_ids) > _MEMORY:
            self._record_ids.clear()  # ids are random: a repeat among the next ones is as telling

    def _read(self, exchange: Exchange, path: str, parts: list[str]) -> None:
        expected = self._written[path]
        if exchange.status != 200:
            self.reflect.add(exchange.status == 404)
            return
        if "slug" in expected:
            found = _resource(exchange, "object") or {}
            self.reflect.add(found.get("slug") != expected["slug"])
            return
        record = _resource(exchange, "record") or {}
        self.ids.add(record.get("id") != expected["id"])
        values = _attributes(record)
        self.reflect.add(any(values.get(key) != value for key, value in expected["values"].items()))

    def violation(self, violation: ContractViolation) -> None:
        """A check expected a refusal (4xx) and the target answered 2xx: note what kind of request it was."""
        expected = violation.expected if isinstance(violation.expected, dict) else {}
        observed = violation.observed if isinstance(violation.observed, dict) else {}
        want, got = expected.get("status"), observed.get("status")
        if isinstance(want, int) and isinstance(got, int) and want in _REFUSALS and 200 <= got < 300:
            with self._lock:
                self.accepted.setdefault(_REFUSALS[want], set()).add(violation.clause)

    # Across workers ----------------------------------------------------------------------------------

    _TALLIES = ("echo", "reflect", "ids", "new_ids", "envelope", "shape")
    _COUNTS = ("answers", "not_json", "empty", "server_errors", "bad_requests")

    def export(self) -> dict[str, Any]:
        """The counts, as plain data: what a pytest-xdist worker hands its controller."""
        with self._lock:
            return {"tallies": {name: [getattr(self, name).seen, getattr(self, name).odd] for name in self._TALLIES},
                    "counts": {name: getattr(self, name) for name in self._COUNTS},
                    "accepted": {kind: sorted(clauses) for kind, clauses in self.accepted.items()}}

    def absorb(self, exported: dict[str, Any]) -> None:
        """Add a worker's counts (`export`) to these, so that the run's summary speaks for every worker."""
        with self._lock:
            for name, (seen, odd) in exported.get("tallies", {}).items():
                if name in self._TALLIES:
                    getattr(self, name).seen += int(seen)
                    getattr(self, name).odd += int(odd)
            for name, count in exported.get("counts", {}).items():
                if name in self._COUNTS:
                    setattr(self, name, getattr(self, name) + int(count))
            for kind, clauses in exported.get("accepted", {}).items():
                self.accepted.setdefault(kind, set()).update(clauses)

    # Saying it -------------------------------------------------------------------------------------

    def signs(self) -> list[Sign]:
        found: list[Sign] = []
        if self.reflect.telling:
            found.append(Sign("stateless", "stateless: reads do not reflect writes", self.reflect.odd,
                              self.reflect.seen))
        if self.echo.telling:
            found.append(Sign("no-echo", "answers to writes do not hold what was sent", self.echo.odd, self.echo.seen))
        if self.ids.telling:
            found.append(Sign("ids", "ids are not stable across calls (a read by id answers another id)",
                              self.ids.odd, self.ids.seen))
        if self.new_ids.telling:
            found.append(Sign("repeated-ids", "creates answer the ids of earlier records", self.new_ids.odd,
                              self.new_ids.seen))
        for kind, text in (("bodies", "accepts bodies the contract refuses"),
                           ("tokens", "accepts requests without a valid token"),
                           ("unknown", "answers for objects and records that do not exist"),
                           ("methods", "accepts methods the contract refuses"),
                           ("scopes", "lets a read-only token write")):
            if kind in self.accepted:
                rules = sorted(self.accepted[kind])
                if kind == "bodies" and not self.bad_requests:
                    text = "accepts every body: no request was answered 400"
                found.append(Sign(f"accepts-{kind}", f"{text} ({', '.join(rules)})", len(rules), len(rules)))
        if self.shape.odd:
            found.append(Sign("shape", "success answers not shaped as the contract says", self.shape.odd,
                              self.shape.seen))
        if self.envelope.telling:
            found.append(Sign("error-envelope", "error envelope differs from {success: false, status, message}",
                              self.envelope.odd, self.envelope.seen))
        if self.not_json:
            found.append(Sign("not-json", "answers that are not JSON", self.not_json, self.answers))
        if self.empty:
            found.append(Sign("empty", "empty answers", self.empty, self.answers))
        if self.server_errors:
            found.append(Sign("server-errors", "server errors (5xx)", self.server_errors, self.answers))
        return found

    def summary(self, clauses: Sequence[dict[str, Any]], *, documented: bool = False) -> dict[str, Any]:
        """The paragraph, the kind of target, and the signs behind them (report.json's `fidelity`)."""
        signs = self.signs()
        keys = {sign.key for sign in signs}
        failed = [c["id"] for c in clauses if c["verdict"] == "fail"]
        # Under `documented`, the error envelope of the CRM calls is a reference choice: no departure.
        departures = [sign for sign in signs if not (documented and sign.key == "error-envelope")]
        if "stateless" in keys or ("no-echo" in keys and keys & {"ids", "repeated-ids"}):
            kind = "a stateless mock"
        elif not self.answers:
            kind = "a target the run did not reach"
        elif not departures and not failed:
            kind = "a faithful implementation, as far as this run saw"
        else:
            kind = "an implementation that departs from the contract"
        sentences = [f"This target looks like {kind}."]
        if signs:
            sentences.append("What the run saw: " + "; ".join(f"{sign.text} ({_times(sign)})" for sign in signs) + ".")
        elif self.answers:
            sentences.append(self._healthy())
        if "error-envelope" in keys and documented:
            sentences.append("(The error envelope of the CRM calls is a reference choice: not held against the "
                             "target under --profile documented.)")
        sentences.append(_verdicts(clauses))
        return {"kind": kind, "summary": " ".join(sentences), "signs": [sign.as_dict() for sign in signs]}

    def _healthy(self) -> str:
        said = []
        if self.reflect.seen:
            said.append(f"reads reflected writes ({self.reflect.seen} of {self.reflect.seen})")
        if self.ids.seen or self.new_ids.seen:
            said.append("ids were stable")
        if self.echo.seen:
            said.append("answers held what was sent")
        if self.shape.seen:
            said.append(f"success answers were shaped as the contract says ({self.shape.seen} checked)")
        if self.envelope.seen:
            said.append(f"error answers had the documented envelope ({self.envelope.seen} of {self.envelope.seen})")
        return ("What the run saw: " + ", ".join(said) + ".") if said else "The run saw nothing telling."


def _times(sign: Sign) -> str:
    if sign.key.startswith("accepts-"):
        return f"{sign.count} rule{'s' if sign.count != 1 else ''}"
    return f"{sign.count} of {sign.of}"


def _verdicts(clauses: Sequence[dict[str, Any]]) -> str:
    counts: dict[str, list[str]] = {}
    for clause in clauses:
        counts.setdefault(clause["verdict"], []).append(clause["id"])
    parts = [f"{len(counts[verdict])} {verdict}" for verdict in ("pass", "partial", "fail", "inconclusive", "not-run")
             if verdict in counts]
    said = f"Clauses: {', '.join(parts)}."
    blocked = [c for c in clauses if c["verdict"] == "not-run" and "set-up" in (c.get("reason") or "")]
    if blocked:
        said += (f" {len(blocked)} could not be run because the run's set-up failed (see the section 2 and 3 "
                 "failures).")
    return said
