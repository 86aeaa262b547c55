"""`crm-contract diff`: clause and test transitions between two hand-made reports, and its exit codes.

The reports are written by hand (see docs/report-format.md), so these tests say exactly which clause
moved where; the command runs through `crm_contract.commands.main`, as the console script does. The last
tests check the CI examples that use diff as a regression gate: they parse, and their gate logic, run by
bash with stand-ins for crm-contract and curl, gives the exit codes the examples promise.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from crm_contract import commands as cli
from crm_contract.kit.clauses import CLAUSES
from crm_contract.reports.diff import (
    CHANGED,
    FIXED,
    NEW_FAILURE,
    STILL_FAILING,
    UNCHANGED,
    diff_reports,
    format_diff,
)

ALL_PASS = {clause.id: "pass" for clause in CLAUSES}


def report(verdicts: dict[str, str], tests: list[dict[str, Any]] | None = None, **fields: Any) -> dict[str, Any]:
    """A report.json with these clause verdicts (in the order given) and tests."""
    return {
        "format": "crm-contract-report/1",
        "target": "https://staging.example.com/v2",
        "contract_profile": "strict",
        "hypothesis_profile": "ci",
        "seed": 1,
        "run_id": "3fa2c1d0",
        "verdict": "fail" if "fail" in verdicts.values() else "pass",
        "clauses": [{"id": clause, "title": f"title of {clause}", "tag": "D", "verdict": verdict, "failures": []}
                    for clause, verdict in verdicts.items()],
        "tests": tests or [],
        **fields,
    }


def case(test_id: str, clause: str, outcome: str, summary: str = "expected HTTP 201, got 200") -> dict[str, Any]:
    failure = {"clause": clause, "rule": clause, "summary": summary, "replay": f"failures/{clause}-1.json"}
    return {"id": test_id, "clauses": [clause], "outcome": outcome, "reason": None,
            "failure": failure if outcome == "fail" else None}


OLD = report(
    {**ALL_PASS, "A2": "fail", "A3": "fail", "A6": "not-run", "A9": "inconclusive", "A12": "fail"},
    [case("t::a1", "A1", "pass"), case("t::a2", "A2", "fail"), case("t::a3", "A3", "fail"),
     case("t::a3b", "A3", "pass")],
)
NEW = report(
    {**ALL_PASS, "A1": "fail", "A3": "fail", "A4": "inconclusive", "A6": "not-run", "A9": "pass", "A10": "not-run",
     "A12": "inconclusive"},
    [case("t::a1", "A1", "fail", "expected HTTP 201, got 200"), case("t::a2", "A2", "pass"),
     case("t::a3", "A3", "fail", "matched 'ABC' for 'abc'"), case("t::a3b", "A3", "fail", "matched 'X' for 'x'")],
)


def write(path: Path, data: Any) -> str:
    path.write_text(data if isinstance(data, str) else json.dumps(data), encoding="utf-8")
    return str(path)


def run_diff(tmp_path: Path, old: Any, new: Any, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = cli.main(["diff", write(tmp_path / "old.json", old), write(tmp_path / "new.json", new)])
    out, err = capsys.readouterr()
    return code, out, err


# Classification -------------------------------------------------------------------------------------------


def test_every_transition_is_classified() -> None:
    result = diff_reports(OLD, NEW)
    kinds = {change.clause: change.kind for change in result.clauses}
    assert [change.clause for change in result.of(NEW_FAILURE)] == ["A1"]
    assert [change.clause for change in result.of(FIXED)] == ["A2"]
    assert [change.clause for change in result.of(STILL_FAILING)] == ["A3"]
    # pass -> inconclusive, inconclusive -> pass, pass -> not-run, fail -> inconclusive
    assert [(c.clause, c.old, c.new) for c in result.of(CHANGED)] == [
        ("A4", "pass", "inconclusive"), ("A9", "inconclusive", "pass"), ("A10", "pass", "not-run"),
        ("A12", "fail", "inconclusive")]
    assert kinds["A5"] == kinds["A6"] == kinds["section 5"] == UNCHANGED
    assert len(result.of(UNCHANGED)) == len(CLAUSES) - 7
    assert result.regressed


def test_a_new_failure_carries_the_summary_of_the_new_reports_failure() -> None:
    (change,) = diff_reports(OLD, NEW).of(NEW_FAILURE)
    assert change.summary == "expected HTTP 201, got 200  [failures/A1-1.json]"
    (still,) = diff_reports(OLD, NEW).of(STILL_FAILING)
    assert still.summary == "matched 'ABC' for 'abc'  [failures/A3-1.json]  (and 1 more)"


def test_tests_that_newly_fail_are_named_with_their_clause() -> None:
    result = diff_reports(OLD, NEW)
    # t::a3 failed before too; t::a3b is new under a clause that was already failing
    assert [(t.test, t.clause, t.old) for t in result.new_test_failures] == [("t::a1", "A1", "pass"),
                                                                          ("t::a3b", "A3", "pass")]


def test_a_new_test_failure_alone_is_a_regression() -> None:
    old = report({**ALL_PASS, "A3": "fail"}, [case("t::a3", "A3", "fail"), case("t::a3b", "A3", "pass")])
    new = report({**ALL_PASS, "A3": "fail"}, [case("t::a3", "A3", "fail"), case("t::a3b", "A3", "fail")])
    result = diff_reports(old, new)
    assert not result.of(NEW_FAILURE) and result.regressed
    new_test = report({**ALL_PASS, "A3": "fail"}, [case("t::a3", "A3", "fail"), case("t::new", "A3", "fail")])
    assert [t.old for t in diff_reports(old, new_test).new_test_failures] == ["absent"]


def test_clauses_follow_the_clause_table_then_unknown_ids() -> None:
    old = report({"section 4": "pass", "A2": "pass", "Z9": "fail"})
    new = report({"A2": "pass", "B1": "pass", "A1": "fail", "section 4": "pass"})
    result = diff_reports(old, new)
    assert [c.clause for c in result.clauses] == ["A1", "A2", "section 4", "Z9", "B1"]
    kinds = {c.clause: (c.kind, c.old, c.new) for c in result.clauses}
    assert kinds["A1"] == (NEW_FAILURE, "absent", "fail")
    assert kinds["Z9"] == (CHANGED, "fail", "absent")
    assert kinds["B1"] == (CHANGED, "absent", "pass")


def test_the_text_puts_new_failures_first() -> None:
    text = format_diff(diff_reports(OLD, NEW), "old.json", "new.json")
    positions = [text.index(heading) for heading in
                 ("1 new failure:", "1 fixed:", "1 still failing:", "4 changed:", f"{len(CLAUSES) - 7} unchanged:",
                  "2 newly failing tests:")]
    assert positions == sorted(positions), text
    assert "\n  A1         pass -> fail               No record has the matching value" in text
    assert "\n             expected HTTP 201, got 200  [failures/A1-1.json]\n" in text
    assert "\n             matched 'ABC' for 'abc'  [failures/A3-1.json]  (and 1 more)\n" in text
    assert "\n  A12        fail -> inconclusive " in text
    assert ("\n13 unchanged: pass A5, A7, A8, A11, A13, A14, A15, section 1, section 2, section 3, section 4, "
            "section 5; not-run A6\n") in text
    assert "\n  t::a3b  [A3] (was pass)\n      matched 'X' for 'x'\n" in text
    assert text.splitlines()[-1].startswith("REGRESSION: 1 new failure, 1 fixed, 1 still failing, 4 changed")


# The command -----------------------------------------------------------------------------------------------


def test_exit_1_on_a_new_failure(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_diff(tmp_path, OLD, NEW, capsys)
    assert code == 1, out + err
    assert "1 new failure:" in out and err == ""


def test_exit_0_when_nothing_newly_fails(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    old = report({**ALL_PASS, "A2": "fail", "A3": "fail"}, [case("t::a2", "A2", "fail"), case("t::a3", "A3", "fail")])
    new = report({**ALL_PASS, "A3": "fail", "A4": "not-run"},
                 [case("t::a2", "A2", "pass"), case("t::a3", "A3", "fail")])
    code, out, err = run_diff(tmp_path, old, new, capsys)
    assert code == 0, out + err
    assert "1 fixed:" in out and "1 still failing:" in out and "1 changed:" in out
    assert out.splitlines()[-1].startswith("no new failures:")


def test_identical_reports_exit_0(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_diff(tmp_path, OLD, OLD, capsys)
    assert code == 0, out
    assert "3 still failing:" in out and f"{len(CLAUSES) - 3} unchanged: pass A1, A4, A5," in out


def test_a_report_directory_stands_for_its_report_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for name, data in (("previous", OLD), ("current", NEW)):
        (tmp_path / name).mkdir()
        write(tmp_path / name / "report.json", data)
    assert cli.main(["diff", str(tmp_path / "previous"), str(tmp_path / "current")]) == 1
    assert "1 new failure:" in capsys.readouterr().out


def test_different_profiles_or_targets_warn_in_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    new = {**OLD, "contract_profile": "documented", "target": "https://other.example.com/v2"}
    code, out, err = run_diff(tmp_path, OLD, new, capsys)
    assert code == 0
    assert err.splitlines() == ["crm-contract: warning: the two runs differ in contract profile (strict -> documented) "
                                "and target (https://staging.example.com/v2 -> https://other.example.com/v2): "
                                "verdicts may differ for that reason"]


def test_the_embedded_servers_new_port_is_not_another_target(tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    old, new = ({**OLD, "target": f"http://127.0.0.1:{port}/v2"} for port in (41234, 35111))
    _, _, err = run_diff(tmp_path, old, new, capsys)
    assert err == ""


@pytest.mark.parametrize(("content", "message"), [
    (None, "old.json: no such file"),
    ("{not json", "old.json is not JSON ("),
    ([1, 2], 'old.json is not a crm-contract report (no "format": "crm-contract-report/1")'),
    ({"clauses": []}, 'old.json is not a crm-contract report (no "format": "crm-contract-report/1")'),
    ({"format": "crm-contract-report/2", "clauses": []}, "old.json has the report format 'crm-contract-report/2'"),
    ({"format": "crm-contract-replay/1", "clause": "A1"}, "old.json is a replay file, not a report"),
    ({"format": "crm-contract-report/1", "clauses": {"A1": "pass"}}, "'clauses' is not a list"),
    ({"format": "crm-contract-report/1", "clauses": [{"id": "A1"}]}, "clauses[0] lacks 'id' or 'verdict'"),
    ({"format": "crm-contract-report/1", "clauses": [], "tests": [{"id": "t"}]}, "tests[0] lacks 'id' or 'outcome'"),
])
def test_bad_input_is_one_line_and_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str], content: Any,
                                          message: str) -> None:
    old = tmp_path / "old.json"
    if content is not None:
        write(old, content)
    code = cli.main(["diff", str(old), write(tmp_path / "new.json", NEW)])
    out, err = capsys.readouterr()
    assert code == 2, out + err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    assert lines[0].startswith("crm-contract: error: ") and message in lines[0], lines[0]
    assert out == ""


def test_a_missing_argument_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["diff", "only-one.json"]) == 2
    assert "Missing argument 'NEW.json'" in capsys.readouterr().err


def test_long_summaries_are_cut_to_one_short_line() -> None:
    long = "32 concurrent asserts answered [" + ", ".join(["201"] * 32) + "]; expected one 201\nsecond line"
    new = report({**ALL_PASS, "A11": "fail"}, [case("t::a11", "A11", "fail", long)])
    (change,) = diff_reports(report(ALL_PASS), new).of(NEW_FAILURE)
    assert change.summary is not None and change.summary.endswith("...  [failures/A11-1.json]")
    assert len(change.summary) == 160 + len("  [failures/A11-1.json]")
    text = format_diff(diff_reports(report(ALL_PASS), new))
    assert "second line" not in text and max(len(line) for line in text.splitlines()) < 200


# The CI examples: the regression gate as a job -----------------------------------------------------------

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
RUN_COMMAND = 'crm-contract run --base-url "$STAGING_URL" --report-dir crm-report --hypothesis-profile ci'
DIFF_COMMAND = "crm-contract diff previous/report.json crm-report/report.json"


def load_example(name: str) -> dict[Any, Any]:
    data = yaml.safe_load((EXAMPLES / name).read_text(encoding="utf-8"))
    assert isinstance(data, dict), name
    return data


def github_steps() -> dict[str, dict[str, Any]]:
    workflow = load_example("github-actions.yml")
    assert True in workflow  # `on:`, which YAML 1.1 reads as true
    return {step.get("name", step.get("uses", "")): step for step in workflow["jobs"]["contract"]["steps"]}


def bash(script: str, env: dict[str, str], cwd: Path) -> int:
    return subprocess.run(["bash", "-e", "-c", script], env={**os.environ, **env}, cwd=cwd, capture_output=True,
                          text=True, timeout=60, check=False).returncode


def test_the_github_job_runs_uploads_always_and_diffs_against_the_last_successful_run() -> None:
    steps = github_steps()
    run = steps["Run the contract suite against staging"]
    assert RUN_COMMAND in run["run"] and run["env"]["ZEEG_API_TOKEN"] == "${{ secrets.ZEEG_API_TOKEN }}"
    assert "secrets." not in run["run"]  # the token goes through the environment only
    upload = steps["Upload the report"]
    assert upload["if"] == "always()" and upload["with"]["path"] == "crm-report/"
    baseline = steps["Fetch the baseline report"]
    assert baseline["uses"].startswith("dawidd6/action-download-artifact@")
    assert baseline["with"]["name"] == upload["with"]["name"] and baseline["with"]["path"] == "previous"
    assert baseline["with"]["workflow_conclusion"] == "success"
    assert DIFF_COMMAND in steps["Diff against the baseline (regression gate)"]["run"]


@pytest.mark.parametrize(("run_code", "diff_code", "job"), [
    ("0", "0", 0), ("1", "0", 1), ("2", "0", 1), ("3", "0", 0), ("0", "1", 1), ("3", "1", 1), ("", "", 1),
    ("0", "2", 0),
])
def test_the_github_gate_fails_on_violations_and_regressions_not_on_inconclusive(
        tmp_path: Path, run_code: str, diff_code: str, job: int) -> None:
    gate = github_steps()["Gate"]
    assert gate["if"] == "always()"
    assert bash(gate["run"], {"RUN": run_code, "DIFF": diff_code}, tmp_path) == job


FAKE_CRM_CONTRACT = """#!/usr/bin/env bash
case "$1" in
  run) mkdir -p crm-report && echo '{}' > crm-report/report.json; exit "$FAKE_RUN" ;;
  diff) echo "diff $2 $3" >> calls.txt; exit "$FAKE_DIFF" ;;
esac
exit 99
"""
FAKE_CURL = """#!/usr/bin/env bash
while [ $# -gt 0 ]; do
  case "$1" in --output) out="$2"; shift ;; --header) echo "$2" >> headers.txt; shift ;; esac
  shift
done
[ "$FAKE_BASELINE" = 1 ] || exit 22
echo '{}' > "$out"
"""


@pytest.mark.parametrize(("run_code", "diff_code", "baseline", "job", "diffed"), [
    (0, 0, True, 0, True), (1, 0, True, 1, True), (2, 0, False, 1, False), (3, 0, True, 3, True),
    (0, 1, True, 1, True), (3, 1, True, 1, True), (0, 1, False, 0, False), (0, 2, True, 0, True),
])
def test_the_gitlab_job_exits_1_on_violations_and_regressions_and_3_when_inconclusive(
        tmp_path: Path, run_code: int, diff_code: int, baseline: bool, job: int, diffed: bool) -> None:
    config = load_example("gitlab-ci.yml")
    crm = config["crm-contract"]
    assert crm["allow_failure"] == {"exit_codes": [3]}
    assert crm["artifacts"]["when"] == "always" and crm["artifacts"]["paths"] == ["crm-report/"]
    assert crm["stage"] in config["stages"]
    (script,) = crm["script"]
    assert RUN_COMMAND in script and DIFF_COMMAND in script
    fakes = tmp_path / "bin"
    fakes.mkdir()
    for name, text in (("crm-contract", FAKE_CRM_CONTRACT), ("curl", FAKE_CURL)):
        (fakes / name).write_text(text)
        (fakes / name).chmod(0o755)
    env = {"PATH": f"{fakes}:{os.environ['PATH']}", "FAKE_RUN": str(run_code), "FAKE_DIFF": str(diff_code),
           "FAKE_BASELINE": "1" if baseline else "0", "CI_JOB_TOKEN": "job-token", "CI_API_V4_URL": "https://gl/api/v4",
           "CI_PROJECT_ID": "1", "CI_DEFAULT_BRANCH": "main", "CI_JOB_NAME": "crm-contract", "STAGING_URL": "https://s"}
    assert bash(script, env, tmp_path) == job
    assert (tmp_path / "calls.txt").exists() == diffed
    assert (tmp_path / "headers.txt").read_text() == "JOB-TOKEN: job-token\n"

