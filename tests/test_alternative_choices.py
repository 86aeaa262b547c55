"""The honest alternative API (`serve --choices alternative`): documented passes it, strict fails it on [R] only.

docs/alternative-choices.md lists its choices. The suite under `--profile documented` must never fail it
(that would fail an honest API for one of our reference choices); under `--profile strict` it must fail,
and every failure must name an [R] rule or the [R] part of a rule.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from crm_contract.reference_server import DEFAULT_WRITE_TOKEN
from crm_contract.reference_server.choices import CHOICES

from crm_contract.hosting.embedded import EmbeddedServer
from crm_contract.kit.violations import clause_of

pytestmark = pytest.mark.slow  # whole suite runs against the alternative server

AUTH = {"Authorization": f"Bearer {DEFAULT_WRITE_TOKEN}"}
READ = "alternative-read-token"
# Rules that are [R] as a whole (docs/contract.md): a failure of one of them is a reference choice.
REFERENCE_RULES = {"A6", "A10", "A11", "A12", "A13"}


@pytest.fixture(scope="module")
def alternative() -> Iterator[EmbeddedServer]:
    tokens = {DEFAULT_WRITE_TOKEN: ("crm:read", "crm:write"), READ: ("crm:read",)}
    with EmbeddedServer(tokens=tokens, choices="alternative") as server:
        yield server


def run(server: EmbeddedServer, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CRM_CONTRACT_PROGRESS": "no", "ZEEG_API_TOKEN": DEFAULT_WRITE_TOKEN,
           "ZEEG_API_READ_TOKEN": READ}
    return subprocess.run([sys.executable, "-m", "crm_contract", "run", "--base-url", server.base_url, *args],
                          capture_output=True, text=True, env=env, check=False, timeout=1200)


def test_the_alternative_server_differs_where_the_contract_leaves_room(alternative: EmbeddedServer) -> None:
    with httpx.Client(base_url=alternative.base_url, headers=AUTH) as http:
        http.post("/crm/objects", json={"slug": "alt-things", "singularName": "Thing", "pluralName": "Things"})
        http.post("/crm/objects/alt-things/attributes", json={"label": "Key", "type": "text", "isRequired": False})
        bad_query = http.put("/crm/alt-things", json={"key": "a"})  # no matchingAttribute: A6 [R]
        null_key = http.put("/crm/alt-things", json={"key": None}, params={"matchingAttribute": "key"})
        made = http.put("/crm/alt-things", json={"key": "a"}, params={"matchingAttribute": "key"})
        method = http.delete("/crm/objects")
    assert bad_query.status_code == 422 and bad_query.json()["code"] == "unprocessable_entity"
    assert null_key.status_code == 400, "a null matching value stays 400: A7 [D]"
    assert made.status_code == 201 and made.json()["record"]["createdAt"].endswith("+02:00")
    assert "url" in made.json()["record"] and "requestId" in made.json()
    assert method.status_code == 404 and "Allow" not in method.headers
    assert CHOICES["reference"].alternative is False


@pytest.mark.parametrize(("seed", "hypothesis_profile"), [(1, "dev"), (2, "dev"), (3, "ci")])
def test_the_documented_profile_passes_the_honest_alternative(alternative: EmbeddedServer, seed: int,
                                                               hypothesis_profile: str) -> None:
    result = run(alternative, "--profile", "documented", "--seed", str(seed), "--hypothesis-profile",
                 hypothesis_profile)
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]


def test_the_strict_profile_fails_it_on_reference_choices_only(alternative: EmbeddedServer,
                                                             tmp_path: Path) -> None:
    """Every failure is a test of a reference choice, a failure of a wholly [R] rule, or names its [R] part."""
    result = run(alternative, "--profile", "strict", "--seed", "1", "--hypothesis-profile", "dev",
                 "--report-dir", str(tmp_path))
    assert result.returncode == 1, result.stdout[-4000:] + result.stderr[-2000:]
    report = json.loads((tmp_path / "report.json").read_text(encoding="utf-8"))
    failed = [test for test in report["tests"] if test["outcome"] == "fail"]
    assert failed, "the alternative differs from the reference choices: strict must fail it"
    documented = [test for test in failed if test["tag"] == "D"]
    for test in documented:
        rule = (test["failure"] or {}).get("rule") or ""
        assert "[R: " in rule or clause_of(rule) in REFERENCE_RULES, \
            f"{test['id']} (a documented test) failed on [{rule}]: that names no reference choice"
