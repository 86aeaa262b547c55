"""The fidelity paragraph: which signs it names, from which exchanges, and when it names none."""

from __future__ import annotations

import itertools
import uuid
from typing import Any

from crm_contract.kit.client import Exchange
from crm_contract.kit.violations import ContractViolation
from crm_contract.plugin.fidelity import Fidelity

CLAUSES = [{"id": "A1", "verdict": "pass"}, {"id": "A2", "verdict": "pass"}]
STAMP = "2025-06-01T10:00:00+00:00"
_ids = itertools.count()


def record(record_id: str, values: dict[str, Any]) -> dict[str, Any]:
    return {"id": record_id, "objectSlug": "deals", "attributes": values, "createdAt": STAMP, "updatedAt": STAMP}


def envelope(status: int, **resource: Any) -> dict[str, Any]:
    return {"success": True, "status": status, **resource}


def faithful(seen: Fidelity, n: int = 10) -> None:
    """A target that keeps what it is sent: creates, then reads of each record."""
    for _ in range(n):
        record_id, sent = str(uuid.uuid4()), {"sku": f"k-{next(_ids)}", "qty": 3}
        seen.observe(Exchange("PUT", "/v2/crm/deals?matchingAttribute=sku", sent, 201,
                              envelope(201, record=record(record_id, sent))))
        seen.observe(Exchange("GET", f"/v2/crm/deals/{record_id}", None, 200,
                              envelope(200, record=record(record_id, sent))))
        seen.observe(Exchange("PUT", "/v2/crm/deals?matchingAttribute=sku", {"sku": ""}, 400,
                              {"success": False, "status": 400, "message": "sku must not be empty"}))


def test_a_faithful_target_gets_no_sign_and_says_what_was_checked() -> None:
    seen = Fidelity()
    faithful(seen)
    said = seen.summary(CLAUSES)
    assert said["signs"] == [] and said["kind"] == "a faithful implementation, as far as this run saw"
    assert "reads reflected writes (10 of 10)" in said["summary"] and "Clauses: 2 pass." in said["summary"]


def test_a_stateless_mock_is_named_from_its_reads_and_its_ids() -> None:
    seen = Fidelity()
    example = str(uuid.uuid4())  # every answer is the same example, whatever was sent
    for n in range(5):
        sent = {"sku": f"k-{n}"}
        seen.observe(Exchange("POST", "/v2/crm/deals", sent, 201, envelope(201, record=record(example, {"sku": "x"}))))
        seen.observe(Exchange("GET", f"/v2/crm/deals/{example}", None, 200,
                              envelope(200, record=record(example, {"sku": "x"}))))
    said = seen.summary(CLAUSES)
    signs = {sign["sign"]: sign for sign in said["signs"]}
    assert said["kind"] == "a stateless mock" and "stateless: reads do not reflect writes" in said["summary"]
    assert (signs["repeated-ids"]["count"], signs["repeated-ids"]["of"]) == (4, 5)  # every create but the first
    assert signs["no-echo"]["count"] == 5 and "ids" not in signs  # a read by id answers that id


def test_one_odd_answer_of_a_real_api_is_not_a_sign() -> None:
    seen = Fidelity()
    faithful(seen)
    seen.observe(Exchange("GET", "/v2/crm/deals/zz", None, 404, "<html>not found</html>"))
    keys = {sign["sign"] for sign in seen.summary(CLAUSES)["signs"]}
    assert "error-envelope" not in keys and keys == {"not-json"}  # named with its count, never as the kind
    assert seen.summary(CLAUSES)["kind"] == "an implementation that departs from the contract"


def test_accepted_refusals_come_from_the_checks_that_expected_them() -> None:
    seen = Fidelity()
    faithful(seen, 2)
    for rule in ("A7", "A14", "A7"):
        seen.violation(ContractViolation(rule, "expected HTTP 400, got 200", [], "x", expected={"status": 400},
                                         observed={"status": 200}))
    seen.violation(ContractViolation("A15", "expected HTTP 401, got 200", [], "x", expected={"status": 401},
                                     observed={"status": 200}))
    seen.violation(ContractViolation("A2", "expected HTTP 200, got 201", [], "x", expected={"status": 200},
                                     observed={"status": 201}))
    signs = {sign["sign"]: sign["text"] for sign in seen.summary(CLAUSES)["signs"]}
    assert signs == {"accepts-bodies": "accepts bodies the contract refuses (A14, A7)",
                     "accepts-tokens": "accepts requests without a valid token (A15)"}


def test_an_error_envelope_of_its_own_is_said_and_under_documented_not_held_against_the_target() -> None:
    seen = Fidelity()
    for _ in range(3):
        seen.observe(Exchange("PUT", "/v2/crm/deals", {}, 400, {"error": "bad request"}))
    said = seen.summary(CLAUSES, documented=True)
    assert [sign["sign"] for sign in said["signs"]] == ["error-envelope"]
    assert said["kind"] == "a faithful implementation, as far as this run saw"
    assert "reference choice" in said["summary"]
    assert seen.summary(CLAUSES)["kind"] == "an implementation that departs from the contract"


def test_a_target_that_never_answers_400_accepts_every_body() -> None:
    seen = Fidelity()
    answer = envelope(200, record=record(str(uuid.uuid4()), {}))
    seen.observe(Exchange("PUT", "/v2/crm/deals", {"sku": ""}, 200, answer))
    seen.violation(ContractViolation("A7", "expected HTTP 400, got 200", [], "x", expected={"status": 400},
                                     observed={"status": 200}))
    texts = [sign["text"] for sign in seen.summary(CLAUSES)["signs"]]
    assert "accepts every body: no request was answered 400 (A7)" in texts, texts
