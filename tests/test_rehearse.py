"""`crm-contract rehearse` as users start it: the bulk sync against correct, honest, faulty and flaky targets.

The fast ones rehearse a few hundred records; the slow ones the scale faults (each needs more records than
its threshold), a flaky network in front of a correct server, and Ctrl-C in the middle of a run.
"""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path
from xml.etree import ElementTree

import httpx
import pytest
from cli_support import AUTH, COMMAND, ROOT, run, shown

from crm_contract.hosting.embedded import EmbeddedServer
from crm_contract.hosting.fault_proxy import FaultProxy
from crm_contract.reports.browser import render_in_chromium


def rehearse(base_url: str, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return run("rehearse", "--base-url", base_url, "--token", AUTH["Authorization"].split()[-1], "--no-progress",
               *args, timeout=timeout)


def rehearsal_slugs(server: EmbeddedServer) -> list[str]:
    objects = httpx.get(f"{server.base_url}/crm/objects", headers=AUTH, timeout=10).json()["objects"]
    return [obj["slug"] for obj in objects if obj["slug"].startswith("rh-")]


def test_a_rehearsal_of_the_embedded_server_holds_and_is_reported(tmp_path: Path) -> None:
    result = run("rehearse", "--records", "120", "--no-progress", "--report-dir", str(tmp_path))
    assert result.returncode == 0, shown(result)
    assert "exit 0" in result.stdout
    report = json.loads((tmp_path / "rehearsal.json").read_text())
    assert [r["matchingUnique"] for r in report["rehearsals"]] == [True, False]
    for rehearsal in report["rehearsals"]:
        first, second = rehearsal["runs"]
        assert first["byStatus"]["201"] == 120 and second["byStatus"] == {"200": second["asserts"]}
        assert first["readBack"] == second["readBack"] == 120
        assert set(first["latencyMsByStatus"]) == set(first["byStatus"])
        assert first["throttled"] == 0 and first["secondsWaited"] == 0
        assert rehearsal["findings"] == []
    suites = ElementTree.parse(tmp_path / "rehearsal.junit.xml").getroot().findall("testsuite")
    assert [len(suite.findall("testcase")) for suite in suites] == [6, 6]
    assert all(suite.get("failures") == "0" for suite in suites)
    page = (tmp_path / "rehearsal.html").read_text()
    assert '<script src="plotly.min.js"></script>' in page and (tmp_path / "plotly.min.js").stat().st_size > 1e6


@pytest.mark.slow
def test_the_rehearsal_page_draws_its_charts_in_chromium(tmp_path: Path) -> None:
    with EmbeddedServer(fault="list_capped") as server:
        result = rehearse(server.base_url, "--records", "1050", "--matching", "plain", "--report-dir", str(tmp_path))
    assert result.returncode == 1, shown(result)
    text = render_in_chromium(tmp_path / "rehearsal.html", tmp_path / "rehearsal.png", window=(1300, 1600))
    for phrase in ("Latency over time (not unique)", "seconds into the run", "Latency histogram (not unique)",
                   "section 5: Record calls"):
        assert phrase in text, f"{phrase!r} is not on the rendered page"
    failed = ElementTree.parse(tmp_path / "rehearsal.junit.xml").getroot().find("testsuite")
    assert failed is not None and failed.get("failures") == "1"


def test_a_rehearsal_leaves_nothing_behind_unless_kept() -> None:
    with EmbeddedServer() as server:
        result = rehearse(server.base_url, "--records", "60", "--matching", "unique")
        assert result.returncode == 0, shown(result)
        assert rehearsal_slugs(server) == []
        kept = rehearse(server.base_url, "--records", "60", "--matching", "plain", "--keep")
        assert kept.returncode == 0, shown(kept)
        assert len(rehearsal_slugs(server)) == 1


def test_a_rejected_token_or_an_unreachable_url_is_one_line_and_exit_2() -> None:
    with EmbeddedServer() as server:
        rejected = run("rehearse", "--base-url", server.base_url, "--token", "not-the-token", "--records", "10")
        assert rejected.returncode == 2, shown(rejected)
        assert rehearsal_slugs(server) == []
    assert rejected.stderr.strip().count("\n") == 0 and "rejected the token" in rejected.stderr, shown(rejected)
    unreachable = run("rehearse", "--base-url", "http://127.0.0.1:1/v2", "--token", "t", "--records", "10")
    assert unreachable.returncode == 2, shown(unreachable)
    assert unreachable.stderr.startswith("crm-contract: error: cannot reach"), shown(unreachable)


def test_an_honest_api_with_other_choices_passes_the_documented_profile() -> None:
    with EmbeddedServer(choices="alternative") as server:
        result = rehearse(server.base_url, "--records", "200")
        assert result.returncode == 0, shown(result)


SCALE_CASES = {  # fault -> (records, the rule it must be named by, extra options)
    "lookup_reads_first_page": ("300", "A2", ()),
    "list_capped": ("1100", "section 5", ("--matching", "unique")),
    "concurrent_creates_lost": ("300", "A1", ()),
    "lookup_not_atomic": ("400", "A11", ("--profile", "strict")),
}


@pytest.mark.slow
@pytest.mark.parametrize("fault", list(SCALE_CASES))
def test_a_fault_that_shows_only_at_scale_or_under_concurrency_is_caught(fault: str) -> None:
    records, rule, extra = SCALE_CASES[fault]
    with EmbeddedServer(fault=fault) as server:
        result = rehearse(server.base_url, "--records", records, *extra)
    assert result.returncode == 1, shown(result)
    assert f"VIOLATED {rule} " in result.stdout, shown(result)


@pytest.mark.slow
def test_a_race_that_breaks_only_a_reference_choice_passes_the_documented_profile() -> None:
    with EmbeddedServer(fault="lookup_not_atomic") as server:
        result = rehearse(server.base_url, "--records", "400", "--profile", "documented")
    assert result.returncode == 0, shown(result)
    assert "noted A11" in result.stdout, shown(result)


@pytest.mark.slow
def test_lost_answers_resets_503s_and_429s_are_never_a_violation() -> None:
    faults = {"lost": 0.05, "reset": 0.02, "503": 0.02, "429-retry-after": 0.01}
    with EmbeddedServer() as server, FaultProxy(server.base_url, faults, seed=5) as proxy:
        result = rehearse(proxy.url, "--records", "300", "--profile", "strict")
        assert proxy.counts["lost"] > 0
    assert result.returncode in (0, 3), shown(result)
    assert "VIOLATED" not in result.stdout
    table = result.stdout[result.stdout.index("matching    run"):]
    assert len([line for line in table.splitlines() if line.startswith(("isUnique", "not unique"))]) == 4, table


@pytest.mark.slow
def test_ctrl_c_stops_the_rehearsal_and_leaves_nothing_behind(tmp_path: Path) -> None:
    with EmbeddedServer() as server:
        command = [*COMMAND, "rehearse", "--base-url", server.base_url, "--token", AUTH["Authorization"].split()[-1],
                   "--records", "20000", "--no-progress"]
        process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 30
        while not rehearsal_slugs(server) and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(2)  # in the middle of run 1
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=120)
        assert process.returncode == 3, f"{process.returncode}\n{out}\n{err}"
        assert "interrupted" in err
        assert rehearsal_slugs(server) == []
