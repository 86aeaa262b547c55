"""A flaky network never makes `crm-contract run` cry wolf, and a real violation still comes through.

The reference server (correct, or with a fault of the catalogue) behind `FaultProxy` on loopback,
checked by `crm-contract run --base-url` as a user would check staging. Each run is a bounded part of
the suite (`-k`), which still holds set-up, writes of every kind, schemathesis' conformance checks and
their probes, so each fault kind meets every path a request can take. The whole suite at 1, 5 and 20 %
of each kind, three seeds each, is `benchmarks/fault_injection.py`.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from crm_contract.hosting.embedded import EmbeddedServer
from crm_contract.hosting.fault_proxy import FaultProxy

pytestmark = pytest.mark.slow  # suite runs behind the fault-injecting proxy

WRITE, READ = "faults-write-token", "faults-read-token"
TOKENS = {WRITE: ("crm:read", "crm:write"), READ: ("crm:read",)}
# Writes and reads of every kind, set-up, and the conformance test with its probes.
BROAD = "test_a1_ or test_a2_ or test_a7_ or conformance or test_read_only_token_is_403"


def run(base_url: str, cache: Path, report: Path, *args: str, request_timeout: float = 15.0
        ) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "crm_contract", "run", "--base-url", base_url, "--profile", "strict",
               "--seed", "1", "--request-timeout", str(request_timeout), "--report-dir", str(report), *args]
    env = {**os.environ, "ZEEG_API_TOKEN": WRITE, "ZEEG_API_READ_TOKEN": READ, "CRM_CONTRACT_CACHE_DIR": str(cache),
           "CRM_CONTRACT_PROGRESS": "no"}
    return subprocess.run(command, env=env, capture_output=True, text=True, check=False, timeout=600,
                          cwd=report.parent)


def outcomes(report: Path) -> dict[str, list[str]]:
    data = json.loads((report / "report.json").read_text())
    found: dict[str, list[str]] = {}
    for test in data["tests"]:
        found.setdefault(test["outcome"], []).append(test["id"])
    return found


def run_made_objects(server: EmbeddedServer) -> list[str]:
    answer = httpx.get(f"{server.base_url}/crm/objects", headers={"Authorization": f"Bearer {WRITE}"})
    return [obj["slug"] for obj in answer.json()["objects"] if not obj["isStandard"]]


def lasting_objects(server: EmbeddedServer, within: float = 90) -> set[str]:
    """Objects of the run that are still there a moment later (the first test's objects live for milliseconds)."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        first = set(run_made_objects(server))
        time.sleep(0.3)
        if first & set(run_made_objects(server)):
            return first
    return set()


@pytest.fixture
def server() -> Iterator[EmbeddedServer]:
    with EmbeddedServer(tokens=TOKENS) as running:
        yield running


@pytest.mark.parametrize(("kind", "selection", "request_timeout"), [
    ("lost", BROAD, 15.0),
    ("reset", BROAD, 15.0),
    ("502", BROAD, 15.0),
    ("503", BROAD, 15.0),
    ("429", BROAD, 15.0),
    ("429-retry-after", "test_a1_ or test_a2_ or test_a7_", 15.0),
    ("timeout", "test_a1_ or test_a2_", 1.0),
])
def test_a_correct_target_behind_a_flaky_network_is_never_a_violation(
        server: EmbeddedServer, tmp_path: Path, kind: str, selection: str, request_timeout: float) -> None:
    with FaultProxy(server.base_url, {kind: 0.05}, seed=1, retry_after=1, hold=request_timeout + 1) as proxy:
        finished = run(proxy.url, tmp_path / "cache", tmp_path / "report", "--", "-k", selection,
                       request_timeout=request_timeout)
    shown = finished.stdout[-3000:] + finished.stderr[-2000:]
    assert proxy.counts[kind] > 0, "the proxy injected nothing: the test proves nothing"
    assert finished.returncode in (0, 3), shown
    assert "fail" not in outcomes(tmp_path / "report"), shown
    assert run_made_objects(server) == [], "the run left objects behind"
    assert not list((tmp_path / "cache" / "ledgers").glob("*.jsonl")), "a clean run keeps no ledger"


def test_a_real_violation_behind_lost_answers_is_still_found_and_named(tmp_path: Path) -> None:
    with EmbeddedServer(tokens=TOKENS, fault="update_answers_201") as server, \
            FaultProxy(server.base_url, {"lost": 0.05}, seed=1) as proxy:
        finished = run(proxy.url, tmp_path / "cache", tmp_path / "report", "--", "-k", "test_a2_")
    assert proxy.counts["lost"] > 0
    assert finished.returncode == 1, finished.stdout[-3000:]
    assert "[A2]" in finished.stdout


def test_an_interrupted_run_removes_what_it_made_before_it_exits(server: EmbeddedServer, tmp_path: Path) -> None:
    command = [sys.executable, "-m", "crm_contract", "run", "--base-url", server.base_url, "--profile", "strict"]
    env = {**os.environ, "ZEEG_API_TOKEN": WRITE, "ZEEG_API_READ_TOKEN": READ,
           "CRM_CONTRACT_CACHE_DIR": str(tmp_path), "CRM_CONTRACT_PROGRESS": "no"}
    # The default SIGINT handler in the child, as under a terminal (a background job would ignore it).
    child = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                             preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    assert lasting_objects(server), "the run made nothing to clean up: the test proves nothing"
    time.sleep(2)
    child.send_signal(signal.SIGINT)
    output, _ = child.communicate(timeout=180)
    assert child.returncode == 3, output[-3000:]
    assert "interrupted" in output
    assert run_made_objects(server) == []
    assert not list((tmp_path / "ledgers").glob("*.jsonl"))
