"""The parts of a report, one by one: redaction, clause verdicts, junit.xml, the replay script."""

from __future__ import annotations

import subprocess
import xml.etree.ElementTree as ElementTree
from pathlib import Path
from typing import Any

import httpx
import pytest

from crm_contract.hosting.embedded import EmbeddedServer
from crm_contract.kit.clauses import CLAUSES
from crm_contract.kit.examples import find_reproduction
from crm_contract.kit.redaction import Redactor, public_url
from crm_contract.kit.violations import clause_of
from crm_contract.plugin.recorder import Entry, clause_verdicts, portable_id
from crm_contract.reports.junit import junit_xml
from crm_contract.reports.replay_files import shell_script

# Redaction ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "expected"), [
    ("curl -H 'Authorization: Bearer s3cr3t-token-value' http://x", "curl -H 'Authorization: Bearer ***' http://x"),
    ('{"authorization": "Basic dXNlcjpwYXNzd29yZA=="}', '{"authorization": "Basic ***"}'),
    ("the token is my-write-token-123 here", "the token is *** here"),
    ("headers = {'Authorization': f'Bearer {target.token}'}", "headers = {'Authorization': f'Bearer {target.token}'}"),
    ("needs a bearer token", "needs a bearer token"),
])
def test_redaction_masks_the_secrets_and_any_bearer_credential(text: str, expected: str) -> None:
    assert Redactor(["my-write-token-123", None, ""]).text(text) == expected


def test_redaction_reaches_into_json_keys_and_values() -> None:
    redactor = Redactor(["tok-abcdef"])
    assert redactor.data({"a": ["x tok-abcdef", 1, None], "tok-abcdef": True}) == {"a": ["x ***", 1, None],
                                                                                   "***": True}


def test_a_token_that_contains_another_is_masked_whole() -> None:
    assert Redactor(["abcd", "abcd-efgh-ijkl"]).text("abcd-efgh-ijkl and abcd") == "*** and ***"


def test_public_url_drops_credentials_query_and_fragment() -> None:
    assert public_url("https://user:pw@api.example.com:8443/v2?token=x#top") == "https://api.example.com:8443/v2"
    assert public_url("http://127.0.0.1:9/v2") == "http://127.0.0.1:9/v2"


# Clauses and verdicts -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("rule", "clause"), [("A7", "A7"), ("[A10] x", "A10"), ("section 4, number: y", "section 4"),
                                              ("section 5 (set-up)", "section 5"), ("set-up", None)])
def test_clause_of_reads_the_clause_from_a_rule_label(rule: str, clause: str | None) -> None:
    assert clause_of(rule) == clause


def test_every_clause_gets_a_verdict_from_the_tests_that_carry_it() -> None:
    failure = {"clause": "A2", "rule": "A2", "summary": "s", "replay": "failures/A2-1.json"}
    tests = [Entry("t1", ["A1", "A2"], outcome="fail", examples=3, requests=10, failure=failure),
             Entry("t2", ["A1"], outcome="pass", examples=5, requests=7),
             Entry("t3", ["A3"], outcome="inconclusive", reason="429"),
             Entry("t4", ["A4"], outcome="not-run", reason="deselected"),
             Entry("t5", ["A5"], outcome="fail", failure={**failure, "clause": "A6", "replay": None})]
    rows = {row["id"]: row for row in clause_verdicts(tests)}
    assert [row["id"] for row in clause_verdicts(tests)] == [clause.id for clause in CLAUSES]
    assert rows["A2"]["verdict"] == "fail" and rows["A2"]["failures"] == ["failures/A2-1.json"]
    assert rows["A1"]["verdict"] == "inconclusive"  # t1 failed on A2 first, so A1 has no verdict from it
    assert (rows["A1"]["tests"], rows["A1"]["examples"], rows["A1"]["requests"]) == (2, 8, 17)
    assert rows["A3"]["verdict"] == "inconclusive" and rows["A4"]["verdict"] == "not-run"
    assert rows["A5"]["verdict"] == "inconclusive" and rows["A6"]["verdict"] == "fail"
    assert rows["A7"]["verdict"] == "not-run" and rows["A7"]["tests"] == 0


def test_a_clause_partly_not_run_is_partial_never_pass_unless_the_documented_profile_left_it_out() -> None:
    tests = [Entry("t1", ["A15"], outcome="pass"),
             Entry("t2", ["A15"], outcome="not-run", reason="not run: no --read-token; the 403 checks need one"),
             Entry("t3", ["A1"], outcome="pass"),
             Entry("t4", ["A1"], outcome="not-run", tag="R",
                   reason="checks a reference choice [R]; contract profile is 'documented'"),
             Entry("t5", ["A1"], outcome="not-run", reason="deselected")]
    rows = {row["id"]: row for row in clause_verdicts(tests)}
    assert rows["A15"]["verdict"] == "partial" and "no --read-token" in rows["A15"]["reason"]
    assert rows["A1"]["verdict"] == "pass"


def test_a_test_id_is_the_same_whichever_folder_the_suite_ran_from() -> None:
    assert portable_id("contract_tests/test_x.py::t[a]") == portable_id("test_x.py::t[a]") == "test_x.py::t[a]"
    assert portable_id("../site-packages/contract_tests/test_x.py::t") == "test_x.py::t"


def test_the_blob_hypothesis_prints_is_found_in_notes_or_text() -> None:
    error = AssertionError("x")
    error.add_note("You can reproduce this example by temporarily adding @reproduce_failure('6.1.0', "
                   "b'AXicY2BgAAAABQAB') as a decorator on your test case")
    assert find_reproduction(error) == ("6.1.0", b"AXicY2BgAAAABQAB")
    assert find_reproduction(None, "@reproduce_failure(\"6.2\", b'AAA=')") == ("6.2", b"AAA=")
    assert find_reproduction(AssertionError("no blob")) is None


# junit.xml ------------------------------------------------------------------------------------------------------


def test_junit_has_one_case_per_clause_and_test_with_the_failure_under_its_clause() -> None:
    report: dict[str, Any] = {
        "target": "http://x/v2", "duration": 1.0, "started": "2026-11-27T00:00:00+00:00",
        "clauses": [{"id": "A1", "title": "one"}, {"id": "A2", "title": "two"}, {"id": "A3", "title": "three"}],
        "tests": [
            {"id": "test_m.py::test_both", "clauses": ["A1", "A2"], "outcome": "fail", "duration": 0.5,
             "failure": {"clause": "A2", "rule": "A2", "summary": "expected HTTP 200, got 201", "message": "m"}},
            {"id": "test_m.py::test_three", "clauses": ["A3"], "outcome": "not-run", "reason": "deselected"},
            {"id": "test_m.py::test_slow", "clauses": ["A3"], "outcome": "inconclusive", "reason": "429 x6"},
        ],
    }
    root = ElementTree.fromstring(junit_xml(report))
    suites = {suite.get("name"): suite for suite in root.iter("testsuite")}
    assert list(suites) == ["A1: one", "A2: two", "A3: three"]
    assert suites["A2: two"].find("testcase/failure").get("message") == "expected HTTP 200, got 201"  # type: ignore
    assert suites["A1: one"].find("testcase/error") is not None  # no verdict on A1: it failed on A2 first
    assert suites["A3: three"].get("skipped") == "1" and suites["A3: three"].get("errors") == "1"
    assert root.get("tests") == "4" and root.get("failures") == "1"


# The replay script -----------------------------------------------------------------------------------------------


def replay_of(slug: str, run: str, key: str) -> dict[str, Any]:
    tricky = f"{run}-it's \"quoted\" $HOME `date` \\ 日本"
    return {
        "clause": "A2", "summary": "expected HTTP 200, got 201", "test": "test_x.py::t", "run_id": run,
        "expected": {"status": 200}, "observed": {"status": 201},
        "objects": [{"slug": slug, "body": {"slug": slug, "singularName": "S", "pluralName": "Ss"},
                     "attributes": [{"label": "Key", "type": "text", "isRequired": False, "isUnique": True},
                                    {"label": "Note", "type": "text", "isRequired": False}]}],
        "exchanges": [
            {"method": "PUT", "path": f"/crm/{slug}?matchingAttribute=key", "auth": "write",
             "body": {"key": f"{run}-k1", "note": tricky}, "status": 201,
             "response": {"record": {"id": "11111111-1111-1111-1111-111111111111"}}},
            {"method": "GET", "path": f"/crm/{slug}/11111111-1111-1111-1111-111111111111", "auth": "write",
             "status": 200, "response": {"record": {"id": "11111111-1111-1111-1111-111111111111"}}},
            {"method": "PUT", "path": f"/crm/{slug}?matchingAttribute=key", "auth": "read",
             "body": {"key": f"{run}-k1"}, "status": 403, "response": {}},
        ],
    }


def test_the_replay_script_runs_against_a_server_with_fresh_ids_and_cleans_up(tmp_path: Path) -> None:
    script = tmp_path / "A2-1.sh"
    script.write_text(shell_script(replay_of("ab12cd34-things", "ab12cd34", "key")), encoding="utf-8")
    tokens = {"write-token-x1": ("crm:read", "crm:write"), "read-token-y2": ("crm:read",)}
    with EmbeddedServer(tokens=tokens) as server:
        done = subprocess.run(["bash", str(script)], capture_output=True, text=True, timeout=60, check=False,
                              env={"PATH": "/usr/bin:/bin", "CRM_BASE_URL": server.base_url, "RUN_ID": "fe98dc76",
                                   "CRM_TOKEN": "write-token-x1", "CRM_READ_TOKEN": "read-token-y2"})
        left = httpx.get(f"{server.base_url}/crm/objects", headers={"Authorization": "Bearer write-token-x1"}).json()
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert "object: 201" in lines and lines.count("attribute: 201") == 2, done.stdout
    assert "1. PUT -> 201 (the failing run saw 201)" in lines  # under the fresh run id the key is new
    assert "2. GET -> 200 (the failing run saw 200)" in lines  # the record id came from the answer
    assert "3. PUT -> 403 (the failing run saw 403)" in lines  # the read-only token
    assert "fe98dc76-it's \\\"quoted\\\" $HOME `date` \\\\ 日本" in done.stdout  # stored as sent, not expanded
    assert all(not obj["slug"].startswith("fe98dc76") for obj in left["objects"]), "the script cleans up"
