"""No exception of the suite's own code is ever a verdict: against hostile targets, and for a bug of the suite.

Each hostile target (`hostile_apps`) is the reference server with its answers mangled: the resource
under the wrong key, fields of the wrong type or missing, empty bodies, HTML, a set-up call answered in
the wrong shape. The suite must fail each with contract failures that show their exchanges, never with a
`KeyError` of its own; a target that only adds fields is correct and passes. A bug of the suite (an
exception no answer explains) is an internal error: exit 2, one line, no failed clause.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from cli_support import DEV, TOKEN, run, shown
from faulty_apps import Served, reference_app
from hostile_apps import HOSTILE_APPS, mangled

from crm_contract.kit.client import Exchange
from crm_contract.kit.violations import ContractViolation
from crm_contract.plugin.diagnosis import SuiteBug, diagnose

SETUP = {"attribute-as-list": "section 3", "attributes-as-mapping": "section 2"}
RECORD = {"id": "497f6eca-6276-4993-bfeb-53cbbbba6f08", "objectSlug": "deals", "attributes": {},
          "createdAt": "2025-06-01T10:00:00+00:00", "updatedAt": "2025-06-01T10:00:00+00:00"}


def failures(report_dir: Path) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """Each failed test of the report with its replay file."""
    report = json.loads((report_dir / "report.json").read_text())
    return [(test, json.loads((report_dir / test["failure"]["replay"]).read_text()))
            for test in report["tests"] if test["failure"]]


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(HOSTILE_APPS))
def test_a_hostile_target_gets_contract_failures_with_their_exchanges_never_the_suites_exceptions(
        name: str, tmp_path: Path) -> None:
    which, mangle = HOSTILE_APPS[name]
    with Served(mangled(reference_app(), which, mangle)) as served:
        result = run("run", "--base-url", served.base_url, *TOKEN, *DEV, "--report-dir", str(tmp_path))
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["internal_errors"] == [] and "internal error" not in result.stdout, shown(result)
    if name == "extra-fields":  # answers may grow: a correct API
        assert result.returncode == 0, shown(result)
        return
    assert result.returncode == 1, shown(result)
    found = failures(tmp_path)
    assert found, shown(result)
    for test, replay in found:
        failure = test["failure"]
        assert failure["exception"] in ("ContractViolation", "SetupViolation"), (test["id"], failure)
        assert not re.match(r"[A-Z]\w*(Error|Exception)\b", failure["summary"]), (test["id"], failure)
        assert replay["exchanges"], f"{test['id']}: a failure without a request and answer: {failure}"
    if name in SETUP:  # reported once; what depends on the set-up is not run, saying why
        assert [test["failure"]["clause"] for test, _ in found] == [SETUP[name]], [t["id"] for t, _ in found]
        not_run = {clause["id"]: clause for clause in report["clauses"] if clause["verdict"] == "not-run"}
        assert {"A1", "A2", "section 4", "section 5"} <= set(not_run), report["clauses"]
        assert all("set-up" in (not_run[c].get("reason") or "") for c in ("A1", "section 4")), not_run["A1"]


@pytest.mark.slow
def test_a_bug_of_the_suite_is_an_internal_error_exit_2_and_no_failed_clause(tmp_path: Path) -> None:
    plugin = tmp_path / "suite_bug.py"
    plugin.write_text("import pytest\n\n\n@pytest.hookimpl(tryfirst=True)\ndef pytest_runtest_call(item):\n"
                      "    if 'test_a5_' in item.nodeid:\n        raise ZeroDivisionError('integer modulo by zero')\n")
    result = run("run", *DEV, "--report-dir", str(tmp_path / "r"), "--", "-p", "suite_bug", "-k", "test_a5_",
                 env={"PYTHONPATH": str(tmp_path)})
    assert result.returncode == 2, shown(result)
    lines = [line for line in result.stdout.splitlines() if line.startswith("crm-contract: internal error")]
    assert lines and "ZeroDivisionError: integer modulo by zero" in lines[0], shown(result)
    report = json.loads((tmp_path / "r" / "report.json").read_text())
    assert report["internal_errors"] and report["totals"]["fail"] == 0, report["internal_errors"]
    a5 = next(clause for clause in report["clauses"] if clause["id"] == "A5")
    assert a5["verdict"] == "inconclusive", a5


# The diagnosis alone -------------------------------------------------------------------------------------


def raised(error: BaseException) -> BaseException:
    try:
        raise error
    except BaseException as caught:  # noqa: BLE001 - the traceback is what `diagnose` reads
        return caught


def test_an_exception_after_a_malformed_answer_is_the_contract_failure_of_that_answer() -> None:
    good = Exchange("PUT", "/v2/crm/deals?matchingAttribute=key", {"key": "a"}, 201,
                    {"success": True, "status": 201, "record": RECORD})
    bad = Exchange("GET", f"/v2/crm/deals/{RECORD['id']}", None, 200, {"success": True, "status": 200, "data": RECORD})
    found = diagnose(raised(KeyError("record")), [good, bad, good])
    assert isinstance(found, ContractViolation) and found.clause == "section 5", found
    assert "'record' is a required property" in found.detail and found.exchanges[-1] is bad
    assert "KeyError" in str(found) and "> GET /v2/crm/deals/" in str(found)


def test_an_exception_no_answer_explains_is_a_bug_of_the_suite() -> None:
    good = Exchange("PUT", "/v2/crm/deals?matchingAttribute=key", {"key": "a"}, 201,
                    {"success": True, "status": 201, "record": RECORD})
    found = diagnose(raised(ZeroDivisionError("integer modulo by zero")), [good])
    assert isinstance(found, SuiteBug) and str(found).startswith("ZeroDivisionError: integer modulo by zero (")


@pytest.mark.parametrize("error", [ContractViolation("A1", "expected 201", [], "[A1] expected 201"),
                                   KeyboardInterrupt()])
def test_a_failed_check_or_an_interruption_is_left_as_it_is(error: BaseException) -> None:
    html = Exchange("GET", "/v2/crm/deals/x", None, 200, "<html></html>")
    assert diagnose(raised(error), [html]) is None


def test_a_bare_assertion_of_the_suite_is_no_failed_check() -> None:
    found = diagnose(raised(AssertionError("the model matched a near miss")), [])
    assert isinstance(found, SuiteBug) and "AssertionError: the model matched a near miss" in str(found)
