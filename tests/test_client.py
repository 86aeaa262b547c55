"""The suite's HTTP client against `httpx.MockTransport`: what it waits out, when it gives up, what it keeps."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from crm_contract.kit.client import ContractClient, OutcomeUnknown, TargetInconclusive, retry_delay


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
    with pytest.raises(TargetInconclusive, match=r"GET /crm/deals: the target kept answering .*\(4 attempts"):
        api.get("/crm/deals")
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
    (429, "Wed, 21 Oct 2015 07:28:00 GMT", 1, 0.0, 0.0),  # a date in the past: at once
    (429, "soon", 1, 0.0, 0.25),  # unreadable: backoff instead
    (503, "3", 1, 3.0, 3.0),  # a 503 may say when to come back too
    (502, "3", 1, 0.0, 0.25),  # a 502 may not
    (None, None, 3, 0.0, 1.0),
    (None, None, 20, 0.0, 8.0),
])
def test_retry_delay_follows_retry_after_or_backs_off_with_jitter(
        status: int | None, retry_after: str | None, attempt: int, low: float, high: float) -> None:
    delays = [retry_delay(status, retry_after, attempt, 60.0) for _ in range(50)]
    assert all(low <= delay <= high for delay in delays), delays


def test_the_backoff_is_jittered() -> None:
    assert len({retry_delay(None, None, 5, 60.0) for _ in range(20)}) > 1


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
@pytest.mark.parametrize("lost", [httpx.ReadError("reset"), httpx.ReadTimeout("slow"),
                                  httpx.RemoteProtocolError("closed"), httpx.Response(502), httpx.Response(504)],
                         ids=["reset", "timeout", "closed", "502", "504"])
def test_a_write_whose_answer_was_lost_is_never_sent_again(method: str, lost: httpx.Response | Exception) -> None:
    sent: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request.method)
        if isinstance(lost, Exception):
            raise lost
        return lost

    api = ContractClient(httpx.Client(base_url="http://target.test/v2", transport=httpx.MockTransport(handler)),
                         sleep=lambda _: None)
    with pytest.raises(OutcomeUnknown, match="may or may not have taken effect"):
        api.request(method, "/crm/deals", json={"k": "v"})
    assert sent == [method]  # once: a second send could create a twin or turn a 201 into a 200
    assert api.stats.unknown_outcomes == 1 and not api.transcript


@pytest.mark.parametrize("refused", [httpx.Response(429), httpx.Response(503, headers={"Retry-After": "1"}),
                                     httpx.ConnectError("refused")], ids=["429", "503", "not-connected"])
def test_a_write_refused_before_it_acted_is_sent_again_and_its_exchange_names_the_fault(
        refused: httpx.Response | Exception) -> None:
    waits: list[float] = []
    api = client_answering(iter([refused, httpx.Response(201, json={"record": {}})]), waits)
    assert api.put("/crm/deals", json={"k": "v"}).status_code == 201
    assert len(waits) == 1
    [exchange] = api.transcript
    expected = type(refused).__name__ if isinstance(refused, Exception) else str(refused.status_code)
    assert exchange.faults == (expected,)
    assert "sent again" in exchange.render()


def test_resend_if_lost_sends_a_write_again_when_its_caller_says_it_is_harmless() -> None:
    api = client_answering(iter([httpx.ReadError("reset"), httpx.Response(404, json={})]), [])
    assert api.delete("/crm/deals/1", resend_if_lost=True).status_code == 404
    assert api.transcript[0].faults == ("ReadError",)


def test_every_fault_is_counted_for_the_session_and_clean_answers_carry_none() -> None:
    before = ContractClient.faults_seen()
    api = client_answering(iter([httpx.Response(503), httpx.Response(200, json={}), httpx.Response(200, json={})]),
                           [])
    api.get("/a")
    api.get("/b")
    assert ContractClient.faults_seen() - before == 1
    assert [exchange.faults for exchange in api.transcript] == [("503",), ()]


def test_write_listeners_hear_every_write_before_it_is_sent() -> None:
    heard: list[tuple[str, str]] = []
    listener = lambda method, path, params, body: heard.append((method, path))  # noqa: E731
    ContractClient.write_listeners.append(listener)
    try:
        api = client_answering(iter([httpx.ReadError("reset")]), [])
        with pytest.raises(OutcomeUnknown):
            api.put("/crm/deals", json={"k": "v"})
        assert heard == [("PUT", "/crm/deals")]
    finally:
        ContractClient.write_listeners.remove(listener)


# Reads at once ---------------------------------------------------------------------------------------------


def test_reads_go_out_at_once_and_come_back_in_the_order_asked() -> None:
    import threading
    import time

    state = {"now": 0, "most": 0}
    lock = threading.Lock()

    def handler(request: httpx.Request) -> httpx.Response:
        with lock:
            state["now"] += 1
            state["most"] = max(state["most"], state["now"])
        time.sleep(0.05)  # a far target: each read takes a round trip
        with lock:
            state["now"] -= 1
        return httpx.Response(200, json={"path": request.url.path})

    api = ContractClient(httpx.Client(base_url="http://target.test/v2", transport=httpx.MockTransport(handler)))
    paths = [f"/crm/deals/{n}" for n in range(8)]
    with api.exchanges() as log:
        answers = api.read_all(paths)
    assert [answer.json()["path"] for answer in answers] == [f"/v2{path}" for path in paths]
    assert state["most"] > 1  # together, not one round trip each
    assert sorted(exchange.path for exchange in log) == sorted(f"/v2{path}" for path in paths)  # all in the log


def test_the_first_failed_read_in_the_order_asked_is_raised() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith(("/2", "/3")):
            return httpx.Response(503)
        return httpx.Response(200, json={})

    api = ContractClient(httpx.Client(base_url="http://target.test/v2", transport=httpx.MockTransport(handler)),
                         max_attempts=1)
    with pytest.raises(TargetInconclusive, match="/crm/deals/2"):
        api.read_all([f"/crm/deals/{n}" for n in range(5)])
