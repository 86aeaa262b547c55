"""The suite's HTTP client against `httpx.MockTransport`: what it waits out, when it gives up, what it keeps."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from crm_contract.client import ContractClient, TargetInconclusive, retry_delay


def client_answering(answers: Iterator[httpx.Response | Exception], waits: list[float],
                     **options: float) -> ContractClient:
    def handler(request: httpx.Request) -> httpx.Response:
        answer = next(answers)
        if isinstance(answer, Exception):
            raise answer
        return answer

    http = httpx.Client(base_url="http://target.test/v2", transport=httpx.MockTransport(handler))
    return ContractClient(http, sleep=waits.append, **options)  # type: ignore[arg-type]


def test_a_429_is_waited_out_for_its_retry_after_and_never_reaches_a_check() -> None:
    waits: list[float] = []
    api = client_answering(iter([httpx.Response(429, headers={"Retry-After": "2"}),
                                 httpx.Response(200, json={"ok": True})]), waits)
    response = api.get("/crm/objects")
    assert response.status_code == 200
    assert waits == [2.0]
    assert [exchange.status for exchange in api.transcript] == [200]
    assert (api.stats.requests, api.stats.retries, api.stats.by_status) == (2, 1, {429: 1, 200: 1})


@pytest.mark.parametrize("answer", [httpx.Response(503), httpx.Response(502), httpx.ConnectError("refused"),
                                    httpx.ReadTimeout("slow")], ids=["503", "502", "refused", "timeout"])
def test_an_answer_without_a_verdict_that_goes_on_is_inconclusive(answer: httpx.Response | Exception) -> None:
    waits: list[float] = []
    api = client_answering(iter([answer] * 10), waits, max_attempts=4)
    with pytest.raises(TargetInconclusive, match=r"PUT /crm/deals: the target kept answering .*\(4 attempts"):
        api.put("/crm/deals", json={"k": "v"})
    assert len(waits) == 3 and api.stats.inconclusive == 1
    assert not api.transcript  # nothing a check could read


def test_it_gives_up_before_waiting_longer_than_max_wait() -> None:
    waits: list[float] = []
    api = client_answering(iter([httpx.Response(429, headers={"Retry-After": "30"})] * 10), waits, max_wait=45)
    with pytest.raises(TargetInconclusive, match="429"):
        api.get("/crm/objects")
    assert waits == [30.0]


def test_a_4xx_or_500_is_an_answer_and_is_returned_at_once() -> None:
    waits: list[float] = []
    api = client_answering(iter([httpx.Response(400, json={"message": "no"}), httpx.Response(500, text="boom")]),
                           waits)
    assert api.put("/crm/deals", json={}).status_code == 400
    assert api.get("/crm/deals").status_code == 500
    assert waits == []
    assert [exchange.response_body for exchange in api.transcript] == [{"message": "no"}, "boom"]


def test_exchanges_collects_only_the_block_s_requests() -> None:
    api = client_answering(iter([httpx.Response(200, json={}) for _ in range(3)]), [])
    api.get("/before")
    with api.exchanges() as log:
        api.post("/crm/deals", json={"a": 1})
    api.get("/after")
    assert [(exchange.method, exchange.path, exchange.request_body) for exchange in log] == [
        ("POST", "/v2/crm/deals", {"a": 1})]


@pytest.mark.parametrize(("status", "retry_after", "attempt", "low", "high"), [
    (429, "3", 1, 3.0, 3.0),
    (429, "-5", 1, 0.0, 0.0),
    (429, "600", 1, 60.0, 60.0),  # capped at max_wait
    (429, "Wed, 21 Oct 2026 07:28:00 GMT", 1, 0.0, 0.25),  # a date is not read: backoff instead
    (503, "3", 1, 0.0, 0.25),  # Retry-After is a 429's only
    (None, None, 3, 0.0, 1.0),
    (None, None, 20, 0.0, 8.0),
])
def test_retry_delay_follows_retry_after_or_backs_off_with_jitter(
        status: int | None, retry_after: str | None, attempt: int, low: float, high: float) -> None:
    delays = [retry_delay(status, retry_after, attempt, 60.0) for _ in range(50)]
    assert all(low <= delay <= high for delay in delays), delays


def test_the_backoff_is_jittered() -> None:
    assert len({retry_delay(None, None, 5, 60.0) for _ in range(20)}) > 1
