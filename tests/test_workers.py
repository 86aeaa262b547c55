"""`crm-contract run --workers N`: one run over several processes, with the report of a run in one.

Each test is a real `crm-contract run` in a subprocess (the slow tier): the whole suite on 1 and on 4
workers gives the same clauses, verdicts and numbers of tests, and one of each file; a violation found
on a worker is exit 1 with its replay file; the request budget holds for the run as a whole.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from cli_support import DEV, TOKEN, run, shown
from faulty_apps import FAULTY_APPS, Served, reference_app

pytestmark = pytest.mark.slow  # whole runs of the suite, one subprocess each


def report_of(directory: Path) -> dict[str, Any]:
    return json.loads((directory / "report.json").read_text(encoding="utf-8"))


def test_one_and_four_workers_give_the_same_clauses_verdicts_and_tests(tmp_path: Path) -> None:
    reports = {}
    for workers in ("1", "4"):
        where = tmp_path / f"workers-{workers}"
        result = run("run", *DEV, "--seed", "3", "--workers", workers, "--report-dir", str(where / "report"),
                     "--ndjson", str(where / "events.ndjson"), "--har", str(where / "run.har"), timeout=600)
        assert result.returncode == 0, shown(result)
        reports[workers] = report_of(where / "report")
        events = [json.loads(line) for line in (where / "events.ndjson").read_text().splitlines()]
        assert sum(1 for event in events if event["event"] == "test") == reports[workers]["totals"]["tests"]
        assert events[-1]["event"] == "verdict" and events[-1]["verdict"] == "pass"
        har = json.loads((where / "run.har").read_text())["log"]["entries"]
        assert len(har) >= reports[workers]["totals"]["requests"] * 0.9, "the HAR file lost exchanges"
        assert sorted(path.name for path in where.iterdir()) == ["events.ndjson", "report", "run.har"]  # no parts
        assert (where / "report" / "junit.xml").is_file() and (where / "report" / "report.html").is_file()
    one, four = reports["1"], reports["4"]
    assert [(c["id"], c["verdict"], c["tests"]) for c in one["clauses"]] == \
        [(c["id"], c["verdict"], c["tests"]) for c in four["clauses"]]
    for key in ("tests", "pass", "fail", "inconclusive", "not-run"):
        assert one["totals"][key] == four["totals"][key], key
    assert [test["id"] for test in one["tests"]] == [test["id"] for test in four["tests"]]  # the same order
    assert four["run_id"] == four["run_id"] and four["totals"]["requests"] > 0


def test_a_violation_found_on_a_worker_is_exit_1_with_its_replay_file(tmp_path: Path) -> None:
    rule, faulty = FAULTY_APPS["update-answers-201"]
    with Served(faulty(reference_app())) as served:
        result = run("run", "--base-url", served.base_url, *TOKEN, *DEV, "--workers", "2", "--report-dir",
                     str(tmp_path), "--", "-k", "a2 or a1_", timeout=600)
    assert result.returncode == 1, shown(result)
    report = report_of(tmp_path)
    failed = [clause for clause in report["clauses"] if clause["verdict"] == "fail"]
    assert [clause["id"] for clause in failed] == [rule], shown(result)
    replay = json.loads((tmp_path / failed[0]["failures"][0]).read_text())
    assert replay["rule"].startswith(rule) and replay["exchanges"], replay


def test_the_request_budget_holds_for_the_run_across_workers(tmp_path: Path) -> None:
    # A budget about half the run's: each worker starts with a long test, so a small one may be spent before
    # any test ends, and the run is then rightly all not run.
    result = run("run", *DEV, "--workers", "3", "--max-requests", "1500", "--report-dir", str(tmp_path), timeout=600)
    assert result.returncode == 0, shown(result)  # the tests it ran passed, the rest are not run: no verdict lost
    report = report_of(tmp_path)
    from_tests = sum(test["requests"] for test in report["tests"])
    # Test bodies stop at the budget; a test already sending may finish the request it started on each worker.
    assert from_tests <= 1500 + 3 * 20, from_tests
    assert report["totals"]["not-run"] > 0 and report["verdict"] == "partial"


@pytest.mark.parametrize("workers", ["1", "3"])
def test_the_report_counts_every_request_the_run_sent(workers: str, tmp_path: Path) -> None:
    from crm_contract.hosting.fault_proxy import FaultProxy

    with Served(reference_app()) as served, FaultProxy(served.base_url, {}) as proxy:
        result = run("run", "--base-url", proxy.url, *TOKEN, *DEV, "--workers", workers, "--report-dir",
                     str(tmp_path), "--", "-k", "a1_ or a2_ or conforms", timeout=600)
        sent = sum(proxy.counts.values())
    assert result.returncode == 0, shown(result)
    report = report_of(tmp_path)
    assert report["totals"]["requests"] == sent, (report["totals"], report["requests_outside_tests"], sent)
    assert report["requests_outside_tests"]["pre-flight"] == 1  # one token, one GET /crm/objects, once a run
    assert f"crm-contract: {sent} requests sent to the target" in result.stdout, shown(result)
