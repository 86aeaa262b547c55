"""Telling inconclusive from failed, and the traffic count and breaker, without a server."""

from __future__ import annotations

import httpx
import pytest
from hypothesis.errors import FlakyFailure, FlakyStrategyDefinition

from crm_contract.kit.client import NO_BODY, ContractClient, Exchange, TargetInconclusive
from crm_contract.kit.traffic import Traffic
from crm_contract.kit.violations import ContractViolation
from crm_contract.plugin.outcomes import confirmed, fault_reason, inconclusive_reason


def raised(error: BaseException, context: BaseException) -> BaseException:
    """`error` as Python leaves it when raised while `context` was being handled."""
    error.__context__ = context
    return error


def test_a_target_inconclusive_is_inconclusive_with_its_reason() -> None:
    assert inconclusive_reason(TargetInconclusive("PUT /x: 503")) == "PUT /x: 503"


def test_one_inside_a_hypothesis_flaky_group_is_inconclusive() -> None:
    group = FlakyFailure("Inconsistent results from replaying a test case!", [TargetInconclusive("GET /y: 429")])
    assert inconclusive_reason(group) == "GET /y: 429"


def test_the_deepest_outage_is_the_reason() -> None:
    error = raised(TargetInconclusive("DELETE /z: not sent"), TargetInconclusive("PUT /z: 503"))
    assert inconclusive_reason(error) == "PUT /z: 503"


@pytest.mark.parametrize(
    "error",
    [
        raised(TargetInconclusive("DELETE /z: 503"), AssertionError("[A2] expected 200")),  # an outage after a failure
        raised(AssertionError("[A2] expected 200"), TargetInconclusive("PUT /z: 503")),
        FlakyFailure("flaky", [TargetInconclusive("PUT: 503"), AssertionError("[A5] changed")]),
        AssertionError("[A1] expected 201"),
        KeyError("id"),
    ],
    ids=["outage-after-failure", "failure-after-outage", "group-with-a-failure", "failure", "error"],
)
def test_a_failed_check_or_a_plain_error_is_never_inconclusive(error: BaseException) -> None:
    assert inconclusive_reason(error) is None


def test_after_the_breaker_tripped_hypothesis_errors_are_inconclusive() -> None:
    error = FlakyStrategyDefinition("Inconsistent data generation!")
    assert inconclusive_reason(error, "the target gave 6 unavailable answers") == (
        "the target gave 6 unavailable answers; then FlakyStrategyDefinition"
    )
    assert inconclusive_reason(AssertionError("[A3]"), "the target gave 6 unavailable answers") is None


def client(traffic: Traffic, statuses: list[int]) -> ContractClient:
    answers = iter(statuses)

    def answer(request: httpx.Request) -> httpx.Response:
        status = next(answers, 200)
        if status == 0:
            raise httpx.ReadTimeout("no answer", request=request)
        return httpx.Response(status, json={}, headers={"Retry-After": "0"})

    http = httpx.Client(base_url="http://target/v2", transport=httpx.MockTransport(answer),
                        event_hooks=traffic.event_hooks())
    return ContractClient(http, sleep=lambda _: None)


def test_every_request_and_answer_is_counted() -> None:
    traffic = Traffic()
    api = client(traffic, [429, 200, 503, 0, 201])
    assert api.get("/crm/objects").status_code == 200
    assert api.get("/crm/objects/x").status_code == 201  # a read is sent again after a 503 and a timeout
    assert (traffic.sent, traffic.statuses[429], traffic.statuses[503], traffic.unanswered) == (5, 1, 1, 1)
    assert traffic.summary() == ("5 requests sent to the target, 1 answered 429 and were waited out, "
                                 "1 answered 502/503/504, 1 got no answer (timeout or dropped connection)")


def test_the_breaker_ends_a_test_once_the_target_is_down() -> None:
    traffic = Traffic()
    api = client(traffic, [503] * 100)
    traffic.arm()
    with pytest.raises(TargetInconclusive, match="kept answering 503"):
        api.put("/crm/deals", json={})
    with pytest.raises(TargetInconclusive, match="not sent, the target gave 6 unavailable answers in a row"):
        api.put("/crm/deals", json={})
    assert traffic.sent == 6
    traffic.disarm()
    assert traffic.tripped_in_last_test and "503 to PUT /v2/crm/deals" in traffic.tripped_in_last_test
    # the next test, on a target just found down, stops at its first unavailable answer
    traffic.arm()
    with pytest.raises(TargetInconclusive, match="not sent, the target was unavailable in the previous test"):
        api.put("/crm/deals", json={})
    assert traffic.sent == 7
    traffic.disarm()


def test_the_breaker_never_cuts_set_up_or_clean_up_short() -> None:
    traffic = Traffic()
    api = client(traffic, [503] * 12 + [200])
    for _ in range(2):
        with pytest.raises(TargetInconclusive, match="6 attempts"):
            api.delete("/crm/objects/x")
    assert api.delete("/crm/objects/x").status_code == 200
    assert traffic.tripped_in_last_test is None


def test_a_test_that_ends_well_restores_the_full_count() -> None:
    traffic = Traffic()
    api = client(traffic, [503] * 6 + [200, 503, 200])
    traffic.arm()
    with pytest.raises(TargetInconclusive):
        api.get("/crm/objects")
    traffic.disarm()
    traffic.arm()  # suspect: one 503 trips ...
    with pytest.raises(TargetInconclusive):
        api.get("/crm/objects")
        api.get("/crm/objects")
    traffic.disarm()
    traffic.arm()  # ... but this test passes, so the one after gets the client's retries again
    traffic.disarm()
    traffic.arm()
    assert api.get("/crm/objects").status_code == 200
    traffic.disarm()


# A red verdict needs a clean reproduction -------------------------------------------------------------

def _violation(*faults: str) -> ContractViolation:
    exchange = Exchange("PUT", "/v2/crm/deals", {"k": "v"}, 200, {}, faults=tuple(faults))
    return ContractViolation("A2", "update answered 200", [exchange], "[A2] update answered 200")


def test_a_violation_on_clean_exchanges_is_a_verdict_whatever_the_faults_around_it() -> None:
    assert confirmed(_violation())
    assert fault_reason(_violation(), faults=12) is None


def test_a_violation_whose_exchanges_met_a_fault_needs_a_clean_reproduction() -> None:
    assert not confirmed(_violation("503"))
    reason = fault_reason(_violation("503"), faults=1)
    assert reason is not None and "[A2]" in reason and "never reproduced cleanly" in reason


def test_without_any_fault_a_failure_is_reported_as_it_is() -> None:
    assert fault_reason(_violation("503"), faults=0) is None
    assert fault_reason(AssertionError("plain"), faults=0) is None


def test_a_flaky_failure_amid_faults_is_not_a_verdict() -> None:
    from hypothesis.errors import FlakyFailure

    flaky = FlakyFailure("Falsified on the first call but did not on a subsequent one", [_violation()])
    assert not confirmed(flaky)
    assert fault_reason(flaky, faults=3) is not None


def test_examples_starved_by_faults_are_no_verdict_and_a_bug_of_the_suite_stays_an_error() -> None:
    from hypothesis.errors import Unsatisfiable

    assert "too many examples met infrastructure faults" in (fault_reason(Unsatisfiable("x"), faults=5) or "")
    assert fault_reason(KeyError("x"), faults=5) is None


def test_a_read_sent_again_after_a_fault_leaves_a_violation_clean() -> None:
    read = Exchange("GET", "/v2/crm/deals/1", NO_BODY, 200, {}, faults=("ReadError",))
    violation = ContractViolation("A2", "id changed", [read, *_violation().exchanges], "[A2] id changed")
    assert confirmed(violation)


def test_a_raw_network_error_outside_the_client_is_inconclusive_not_failed() -> None:
    reason = inconclusive_reason(httpx.ReadError("Connection reset by peer"))
    assert reason is not None and "ReadError" in reason
    assert inconclusive_reason(ExceptionGroup("both", [httpx.ReadError("reset"), _violation()])) is None
