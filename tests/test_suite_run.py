"""`crm-contract run` end to end: the verdict and exit code against correct, faulty and unusable targets.

Each run is a real subprocess against a real server on a loopback port (the faulty ones come from
`faulty_apps`); the dev Hypothesis profile and a `-k` selection keep the runs against faulty targets
short, and one run checks the whole suite against the embedded reference server. The last test runs
the suite on an object that someone else owns and proves that it leaves that object and its records
exactly as they were, and nothing of its own behind.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from cli_support import AUTH, DEV, PLAIN_PYTEST, TOKEN, one_line, run, shown
from crm_contract.reference_server import DEFAULT_WRITE_TOKEN
from faulty_apps import FAULTY_APPS, READ_TOKEN, Served, reference_app

from crm_contract.hosting.embedded import EmbeddedServer, free_port

pytestmark = pytest.mark.slow  # `crm-contract run` end to end, one subprocess per test

# One test that asserts (the stateful machine on a unique key): enough for a run that cannot give a verdict.
ONE_MACHINE = "test_assert_machine and not non-unique"


@pytest.fixture(scope="module")
def reference() -> Iterator[str]:
    """A correct reference server (write and read-only tokens) for runs that stop before any test."""
    with Served(reference_app()) as served:
        yield served.base_url


def serve_faulty(name: str) -> Served:
    return Served(FAULTY_APPS[name][1](reference_app()))


# Verdicts ---------------------------------------------------------------------------------------------------


def test_the_whole_suite_passes_against_the_embedded_server(tmp_path: Path) -> None:
    result = run("run", *DEV, "--report-dir", str(tmp_path / "report"))
    assert result.returncode == 0, shown(result)
    assert re.search(r"\d+ passed", result.stdout) and " failed" not in result.stdout, shown(result)
    assert re.search(r"crm-contract: \d+ requests sent to the target", result.stdout), shown(result)
    assert (tmp_path / "report" / "junit.xml").is_file()


@pytest.mark.parametrize(("name", "selection"), [("update-answers-201", "a2"), ("case-insensitive-matching", "a3")])
def test_a_violated_rule_exits_1_and_names_the_rule_with_its_requests(name: str, selection: str) -> None:
    rule = FAULTY_APPS[name][0]
    with serve_faulty(name) as served, ThreadPoolExecutor(2) as pool:
        runner = pool.submit(run, "run", "--base-url", served.base_url, *TOKEN, *DEV, "--exitfirst", "--",
                             "-k", selection)
        plain = pool.submit(run, "--base-url", served.base_url, *DEV, "-x", "-k", selection, command=PLAIN_PYTEST,
                            env={"ZEEG_API_TOKEN": DEFAULT_WRITE_TOKEN}).result()
        result = runner.result()
    assert result.returncode == 1, shown(result)
    message = re.search(rf"ContractViolation: \[{rule}\b.*\n(?:E .*\n)+", result.stdout)
    assert message, f"no failure names [{rule}]\n{shown(result)}"
    # the requests and responses that break the rule: method, path and body, then status and body
    assert re.search(r"> PUT /v2/crm/\S+\?matchingAttribute=\S+ \{.*\}\nE +< 20[01] \{", message.group()), shown(result)
    assert re.search(rf"^crm-contract: first contract violation found after [\d.]+ s \(\[{rule}\b", result.stdout,
                     re.MULTILINE), shown(result)
    assert plain.returncode == 1 and f"[{rule}" in plain.stdout, shown(plain)  # plain pytest: the same verdict


def test_a_target_given_by_url_is_judged_by_the_documented_rules_unless_strict_is_asked_for(tmp_path: Path) -> None:
    with EmbeddedServer() as served:
        documented = run("run", "--base-url", served.base_url, *TOKEN, *DEV, "--report-dir", str(tmp_path / "d"),
                         "--", "-k", "test_a6_ or test_a1_")
        strict = run("run", "--base-url", served.base_url, *TOKEN, *DEV, "--profile", "strict", "--",
                     "-k", "test_a6_ or test_a1_")
    assert documented.returncode == 0 and strict.returncode == 0, shown(documented) + shown(strict)
    assert "(contract profile documented (the default for a --base-url target;" in documented.stdout
    added = re.search(r"--profile strict adds (\d+) tests of reference choices", documented.stdout)
    assert added and int(added.group(1)) >= 1, shown(documented)  # test_a6 is a reference test: left out
    report = json.loads((tmp_path / "d" / "report.json").read_text())
    assert report["contract_profile"] == "documented" and report["strict_adds"] == int(added.group(1))
    assert "(contract profile strict)" in strict.stdout and "--profile strict adds" not in strict.stdout
    assert re.search(r"\b3 passed", strict.stdout), shown(strict)  # test_a6 runs under strict


@pytest.mark.parametrize("name", ["always-429", "always-503"])
def test_a_target_that_never_answers_is_inconclusive_before_any_test(name: str) -> None:
    with serve_faulty(name) as served:
        result = run("run", "--base-url", served.base_url, *TOKEN, *DEV)
    assert result.returncode == 3, shown(result)
    assert "kept answering" in one_line(result, "inconclusive")


def test_tests_the_target_leaves_without_a_verdict_are_inconclusive_not_failed() -> None:
    with serve_faulty("put-503") as served, ThreadPoolExecutor(2) as pool:  # both mostly wait out 503s
        runner = pool.submit(run, "run", "--base-url", served.base_url, *TOKEN, *DEV, "--", "-k", ONE_MACHINE)
        plain = pool.submit(run, "--base-url", served.base_url, *DEV, "-k", ONE_MACHINE, command=PLAIN_PYTEST,
                            env={"ZEEG_API_TOKEN": DEFAULT_WRITE_TOKEN}).result()
        result = runner.result()
    assert result.returncode == 3, shown(result)
    assert re.search(r"INCONCLUSIVE contract_tests/test_assert_machine\.py::\S+ - .*503 to PUT /v2/crm/",
                     result.stdout), shown(result)
    assert re.search(r"\b1 inconclusive\b", result.stdout) and " failed" not in result.stdout, shown(result)
    assert re.search(r"\d+ answered 502/503/504", result.stdout), shown(result)
    assert plain.returncode == 3, shown(plain)
    assert "INCONCLUSIVE contract_tests/test_assert_machine.py::" in plain.stdout, shown(plain)


def test_a_conformance_case_the_target_leaves_without_a_verdict_is_inconclusive_not_failed() -> None:
    with serve_faulty("put-503") as served:  # schemathesis' cases, sent through the suite's client
        result = run("run", "--base-url", served.base_url, *TOKEN, *DEV, "--profile", "strict", "--", "-k",
                     "conforms and PUT")  # conformance is a reference test: strict only
    assert result.returncode == 3, shown(result)
    # The node id names the operation too ("...[PUT /crm/{objectSlug}]"), spaces included.
    assert re.search(r"INCONCLUSIVE contract_tests/test_schema_conformance\.py::\S+\[PUT [^]]+\] - PUT (/v2)?/crm/\S+: "
                     r"the target kept answering 503", result.stdout), shown(result)
    assert " failed" not in result.stdout, shown(result)


# Usage and configuration errors -----------------------------------------------------------------------------


def test_a_rejected_token_is_one_line_and_exit_2(reference: str) -> None:
    result = run("run", "--base-url", reference, "--token", "not-a-token", *DEV)
    assert result.returncode == 2, shown(result)
    assert "401" in one_line(result, "error")


def test_a_read_only_write_token_is_one_line_and_exit_2(reference: str) -> None:
    result = run("run", "--base-url", reference, "--token", DEFAULT_WRITE_TOKEN, "--read-token", "unknown-reader")
    assert result.returncode == 2, shown(result)
    assert "--read-token" in one_line(result, "error")


def test_an_unreachable_url_is_one_line_and_exit_2() -> None:
    result = run("run", "--base-url", f"http://127.0.0.1:{free_port()}/v2", *TOKEN)
    assert result.returncode == 2, shown(result)
    assert "cannot reach" in one_line(result, "error")


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        (["--object", "no-such-object", "--matching-attribute", "external_id"], "no object 'no-such-object'"),
        (["--object", "people", "--matching-attribute", "no_such_key"], "no attribute 'no_such_key'"),
        (["--object", "people"], "--object and --matching-attribute go together"),
    ],
    ids=["unknown-object", "unknown-attribute", "object-alone"],
)
def test_an_unknown_object_or_attribute_is_one_line_and_exit_2(
    reference: str, options: list[str], expected: str
) -> None:
    result = run("run", "--base-url", reference, *TOKEN, *options)
    assert result.returncode == 2, shown(result)
    assert expected in one_line(result, "error")


def test_the_base_url_comes_from_pytest_base_url(reference: str) -> None:
    result = run("run", "--token", "not-a-token", env={"PYTEST_BASE_URL": reference})
    assert result.returncode == 2, shown(result)
    assert reference in one_line(result, "error")


# An object someone else owns ------------------------------------------------------------------------------------

FOREIGN_RUN = "ccf0e1d2"  # the run's id: its keys are "ccf0e1d2-<suffix>"
FOREIGN_ATTRIBUTES = [
    {"label": "External Id", "type": "text", "isRequired": False, "isUnique": True},
    {"label": "Name", "type": "text", "isRequired": False},
    {"label": "Amount", "type": "number", "isRequired": False, "isUnique": True},
    {"label": "Closed", "type": "checkbox", "isRequired": False},
    {"label": "Stage", "type": "select", "isRequired": False,
     "options": [{"value": "Open", "color": "#22aa22"}, {"value": "Won", "color": "#2222aa"}]},
]
# Values that look like the run's own: its bare id, another run's keys, case and space variants of them.
FOREIGN_RECORDS: list[dict[str, Any]] = [
    {"external_id": FOREIGN_RUN, "name": f"{FOREIGN_RUN}-0", "amount": 1, "closed": False},
    {"external_id": "ccf0e1d3-0", "name": "another run's key", "amount": 2, "stage": {"id": 1}},
    {"external_id": "CCF0E1D3-a", "name": "a case variant of another run's key", "closed": True},
    {"external_id": "ccf0e1d3-é", "amount": 3},
    {"external_id": "legacy-42", "name": "a record of the source system", "amount": 4, "closed": True},
    {"name": "no matching value at all"},
]


def every_record(http: httpx.Client, slug: str) -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = []
    page = 1
    while True:
        body = http.get(f"/crm/{slug}", params={"page": page, "count": 100}).json()
        records.extend(body["collection"])
        if page >= body["pagination"]["totalPages"]:
            return records
        page += 1


def test_a_run_on_someone_elses_object_leaves_it_as_it_was() -> None:
    with Served(reference_app()) as served, httpx.Client(base_url=served.base_url, headers=AUTH) as http:
        slug = "deals"
        made = http.post("/crm/objects", json={"slug": slug, "singularName": "Deal", "pluralName": "Deals"})
        assert made.status_code == 201, made.text
        for attribute in FOREIGN_ATTRIBUTES:
            assert http.post(f"/crm/objects/{slug}/attributes", json=attribute).status_code == 201
        ids = []
        for body in FOREIGN_RECORDS:
            created = http.post(f"/crm/{slug}", json=body)
            assert created.status_code == 201, created.text
            ids.append(created.json()["record"]["id"])
        before_object = http.get(f"/crm/objects/{slug}").content
        before = {record_id: http.get(f"/crm/{slug}/{record_id}").content for record_id in ids}
        objects_before = http.get("/crm/objects").json()["objects"]

        result = run("run", "--base-url", served.base_url, *TOKEN, "--read-token", READ_TOKEN, "--object", slug,
                     "--matching-attribute", "external_id", *DEV, env={"CRM_CONTRACT_RUN_ID": FOREIGN_RUN})

        after = {record_id: http.get(f"/crm/{slug}/{record_id}").content for record_id in ids}
        left = every_record(http, slug)
        after_object = http.get(f"/crm/objects/{slug}").content
        objects_after = http.get("/crm/objects").json()["objects"]
    assert result.returncode == 0, shown(result)
    assert after == before, "the run changed records it did not create"
    assert [record["id"] for record in left] == ids, f"the run left records behind: {left}"
    assert after_object == before_object, "the run changed the object"
    assert objects_after == objects_before, "the run left objects behind"


def test_a_run_on_an_object_whose_matching_attribute_is_required_passes() -> None:
    """Every record of such an object holds a matching value; tests that need one without it adapt or skip."""
    with Served(reference_app()) as served, httpx.Client(base_url=served.base_url, headers=AUTH) as http:
        slug = "tickets"
        made = http.post("/crm/objects", json={"slug": slug, "singularName": "Ticket", "pluralName": "Tickets"})
        assert made.status_code == 201, made.text
        for attribute in [{"label": "Ref", "type": "text", "isRequired": True, "isUnique": True},
                          {"label": "Title", "type": "text", "isRequired": False},
                          {"label": "Priority", "type": "number", "isRequired": False}]:
            assert http.post(f"/crm/objects/{slug}/attributes", json=attribute).status_code == 201

        result = run("run", "--base-url", served.base_url, *TOKEN, "--read-token", READ_TOKEN, "--object", slug,
                     "--matching-attribute", "ref", *DEV)
    assert result.returncode == 0, shown(result)
