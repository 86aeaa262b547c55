"""The run's pace on a fake clock: Retry-After for the whole run, the adaptive limit, the budget, the trimming."""

from __future__ import annotations

import pytest

from crm_contract.kit.pace import BudgetSpent, Pace, parse_rate


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(round(seconds, 6))
        self.now += seconds


def paced(**options: object) -> tuple[Pace, Clock]:
    clock = Clock()
    return Pace(clock=clock, sleep=clock.sleep, **options), clock  # type: ignore[arg-type]


def test_a_retry_after_holds_every_request_of_the_run_until_then() -> None:
    pace, clock = paced()
    pace.before_send(budgeted=True)
    pace.on_answer(429, 3.0)
    pace.before_send(budgeted=True)  # another client, another test: it waits too
    assert clock.slept == [3.0]
    pace.before_send(budgeted=True)
    assert clock.slept == [3.0]  # once the time has come, nothing more
    assert pace.rate is None  # the target said when: the rate is left alone


def test_a_stray_429_only_waits_its_backoff() -> None:
    pace, clock = paced()
    for _ in range(40):
        pace.before_send(budgeted=True)
        clock.now += 0.005
        pace.on_answer(200, None)
    pace.on_answer(429, None)
    assert pace.rate is None


def test_frequent_429s_lower_the_rate_and_answers_raise_it_again() -> None:
    pace, clock = paced()
    for _ in range(40):  # 40 requests in 0.2 s: 200 a second
        pace.before_send(budgeted=True)
        clock.now += 0.005
    pace.on_answer(429, None)
    pace.on_answer(429, None)
    assert pace.rate is None  # two could be chance
    pace.on_answer(429, None)
    assert pace.rate is not None and 150 <= pace.rate <= 170  # 4/5 of what was sent
    lowered = pace.rate
    pace.on_answer(200, None)
    assert pace.rate == pytest.approx(lowered * 1.02)
    before = len(clock.slept)
    pace.before_send(budgeted=True)
    pace.before_send(budgeted=True)
    assert len(clock.slept) > before  # requests are spaced at the new rate


def test_the_limit_is_lifted_once_far_above_what_the_run_sends() -> None:
    pace, clock = paced()
    for _ in range(10):
        pace.before_send(budgeted=True)
        clock.now += 0.1  # 10 a second
    for _ in range(3):
        pace.on_answer(429, None)
    assert pace.rate is not None
    for _ in range(200):
        pace.on_answer(200, None)
    assert pace.rate is None


def test_a_ceiling_is_never_exceeded() -> None:
    pace, clock = paced(ceiling=parse_rate("5/s"))
    for _ in range(6):
        pace.before_send(budgeted=True)
    assert sum(clock.slept) == pytest.approx(1.0)
    for _ in range(500):
        pace.on_answer(200, None)
    assert pace.rate == 5.0


def test_the_budget_refuses_test_requests_but_never_set_up_or_clean_up() -> None:
    pace, _ = paced(max_requests=2)
    pace.before_send(budgeted=True)
    pace.before_send(budgeted=True)
    with pytest.raises(BudgetSpent, match="budget of 2 requests"):
        pace.before_send(budgeted=True)
    pace.before_send(budgeted=False)  # clean-up still goes out
    assert pace.budget_spent and "stopped sending at the budget of 2" in (pace.summary() or "")


def test_examples_are_trimmed_only_when_waiting_outgrows_the_allowed_slowdown() -> None:
    pace, clock = paced(max_slowdown=2.0)
    for _ in range(100):
        pace.before_send(budgeted=True)
        clock.now += 0.005  # 0.5 s of own work
    assert pace.example_factor() == 1.0
    pace.waited_for(0.4)
    clock.now += 0.4
    assert pace.example_factor() == 1.0  # within 2x
    pace.waited_for(4.6)  # 5 s waited for 0.5 s of work: 11x
    clock.now += 4.6
    factor = pace.example_factor()
    assert factor == pytest.approx(2 * 0.005 / (0.005 + 0.05), rel=0.01)
    assert "ran as few as 18% of the examples" in (pace.summary() or "")


def test_max_slowdown_zero_never_trims() -> None:
    pace, clock = paced(max_slowdown=0)
    for _ in range(100):
        pace.before_send(budgeted=True)
    pace.waited_for(1000)
    clock.now += 1000
    assert pace.example_factor() == 1.0


@pytest.mark.parametrize(("text", "rate"), [("20", 20.0), ("20/s", 20.0), ("120/m", 2.0), ("3600/h", 1.0)])
def test_rates_are_read_per_second_minute_or_hour(text: str, rate: float) -> None:
    assert parse_rate(text) == rate


@pytest.mark.parametrize("text", ["0", "-1/s", "fast", "5/d"])
def test_a_rate_that_is_not_one_is_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_rate(text)


def test_ten_quiet_seconds_lift_the_limit() -> None:
    pace, clock = paced()
    for _ in range(20):
        pace.before_send(budgeted=True)
        clock.now += 0.01
    for _ in range(3):
        pace.on_answer(429, None)
    assert pace.rate is not None
    clock.now += 11
    pace.on_answer(200, None)
    assert pace.rate is None


# Shared by the processes of one run (pytest-xdist workers) ---------------------------------------------------


def shared_paces(tmp_path: object, count: int, **options: object) -> tuple[list[Pace], Clock]:
    """`count` paces as the workers of one run hold them: each its own object, one file of shared numbers."""
    from pathlib import Path

    from crm_contract.kit.pace import SharedState

    path = Path(str(tmp_path)) / "pace"
    SharedState.create(path, options.get("ceiling")).close()  # type: ignore[arg-type]
    clock = Clock()
    return [Pace(clock=clock, sleep=clock.sleep, shared=path, **options)  # type: ignore[arg-type]
            for _ in range(count)], clock


def test_the_request_budget_holds_for_the_run_whichever_worker_sends(tmp_path: object) -> None:
    workers, _ = shared_paces(tmp_path, 3, max_requests=5)
    for turn in range(5):
        workers[turn % 3].before_send(budgeted=True)
    assert [worker.sent_here for worker in workers] == [2, 2, 1]
    for worker in workers:  # the run's fifth request was its last, whoever asks next
        with pytest.raises(BudgetSpent):
            worker.before_send(budgeted=True)
    workers[0].before_send(budgeted=False)  # clean-up is never refused


def test_a_retry_after_seen_by_one_worker_holds_every_worker(tmp_path: object) -> None:
    (first, second), clock = shared_paces(tmp_path, 2)
    first.before_send(budgeted=True)
    first.on_answer(503, 4.0)
    second.before_send(budgeted=True)
    assert clock.slept == [4.0]


def test_the_rate_ceiling_is_the_runs_not_each_workers(tmp_path: object) -> None:
    workers, clock = shared_paces(tmp_path, 4, ceiling=10.0)
    started = clock.now
    for turn in range(20):
        workers[turn % 4].before_send(budgeted=True)
    assert clock.now - started == pytest.approx(1.9)  # 20 requests at 10/s, however many workers send them
