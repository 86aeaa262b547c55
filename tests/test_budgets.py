"""Budgets and selection: --max-examples, --max-time, --max-failures, --clauses and --skip-clauses.

A clause left out, or a test not started, is reported not run (never pass); a run stopped by its
failure budget still names the failures it found.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from cli_support import DEV, run, shown
from crm_contract.reference_server import DEFAULT_WRITE_TOKEN
from faulty_apps import FAULTY_APPS, READ_TOKEN, Served, reference_app

from crm_contract.kit.clauses import clause_ids, parse_clauses


def test_clauses_are_named_by_id_range_or_section() -> None:
    assert parse_clauses("A1,A3-A5, section 4") == {"A1", "A3", "A4", "A5", "section 4"}
    assert parse_clauses("section-5,a15") == {"section 5", "A15"}
    assert parse_clauses("A1-A15") == {clause for clause in clause_ids() if clause.startswith("A")}
    for wrong in ("A99", "B1", "", "A2-B4"):
        with pytest.raises(ValueError):
            parse_clauses(wrong)


def report_of(folder: Path) -> dict[str, Any]:
    return json.loads((folder / "report.json").read_text())


@pytest.mark.slow
def test_clauses_left_out_are_not_run_and_the_others_run(tmp_path: Path) -> None:
    result = run("run", *DEV, "--clauses", "A1-A3", "--skip-clauses", "A2", "--report-dir", str(tmp_path))
    assert result.returncode == 0, shown(result)
    verdicts = {clause["id"]: clause["verdict"] for clause in report_of(tmp_path)["clauses"]}
    assert verdicts["A1"] == verdicts["A3"] == "pass"
    assert all(verdict == "not-run" for clause, verdict in verdicts.items() if clause not in ("A1", "A3")), verdicts
    assert "A2         not-run" in result.stdout and "not selected" in result.stdout


@pytest.mark.slow
def test_max_examples_caps_every_property_test(tmp_path: Path) -> None:
    result = run("run", *DEV, "--clauses", "A1", "--max-examples", "1", "--report-dir", str(tmp_path))
    assert result.returncode == 0, shown(result)
    driven = [test for test in report_of(tmp_path)["tests"] if test["examples"] is not None]
    assert driven and all(test["examples"] <= 1 for test in driven), driven


@pytest.mark.slow
def test_max_time_starts_no_test_once_spent_and_reports_the_rest_not_run(tmp_path: Path) -> None:
    result = run("run", *DEV, "--max-time", "5s", "--report-dir", str(tmp_path))
    assert result.returncode == 0, shown(result)
    report = report_of(tmp_path)
    left = [test for test in report["tests"] if test["outcome"] == "not-run"]
    assert left and all("--max-time" in (test["reason"] or "") for test in left), left[:3]
    assert all(test["outcome"] in ("pass", "not-run") for test in report["tests"])
    assert all(clause["verdict"] != "pass" for clause in report["clauses"]
               if not any(test["outcome"] == "pass" and clause["id"] in test["clauses"] for test in report["tests"]))


@pytest.mark.slow
def test_max_failures_stops_the_run_with_its_verdict(tmp_path: Path) -> None:
    with Served(FAULTY_APPS["update-answers-201"][1](reference_app())) as served:
        result = run("run", "--base-url", served.base_url, "--token", DEFAULT_WRITE_TOKEN, "--read-token",
                     READ_TOKEN, *DEV, "--max-failures", "1", "--report-dir", str(tmp_path))
    assert result.returncode == 1, shown(result)
    tests = report_of(tmp_path)["tests"]
    assert sum(1 for test in tests if test["outcome"] == "fail") == 1, shown(result)
    assert "--max-failures 1" in result.stdout + result.stderr, shown(result)


@pytest.mark.slow
def test_without_a_read_token_a15_is_partial_and_the_summary_ends_the_run(tmp_path: Path) -> None:
    with Served(reference_app()) as served:
        result = run("run", "--base-url", served.base_url, "--token", DEFAULT_WRITE_TOKEN, *DEV, "--clauses", "A15",
                     "--report-dir", str(tmp_path))
    assert result.returncode == 0, shown(result)
    a15 = next(clause for clause in report_of(tmp_path)["clauses"] if clause["id"] == "A15")
    assert a15["verdict"] == "partial" and "read-token" in a15["reason"], a15
    lines = result.stdout.strip().splitlines()
    summary = lines.index(next(line for line in lines if "the verdict of every clause" in line))
    assert any(line.startswith("A15        partial") for line in lines[summary:]), shown(result)
    assert lines[-1] == "crm-contract: exit 0: every clause that ran holds", shown(result)
