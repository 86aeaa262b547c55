"""`crm-contract compare`: the matrix and compare.json from hand-made reports, usage errors, one real run.

The end-to-end test runs the suite (a `-k` selection, dev profile) against the embedded reference
server and against the reference server with an A2 fault, as a user checking a mock would.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from crm_contract.reference_server import DEFAULT_WRITE_TOKEN
from faulty_apps import FAULTY_APPS, READ_TOKEN, Served, reference_app

from crm_contract import commands as cli
from crm_contract.hosting.embedded import free_port
from crm_contract.kit.clauses import CLAUSES
from crm_contract.kit.target import Target
from crm_contract.runs.compare import (
    REFERENCE,
    Column,
    build_comparison,
    exit_code,
    format_matrix,
    make_targets,
    pair_tokens,
    replay_files,
    write_html,
)

TARGETS = [Column("1-reference", Target.embedded_reference()),
           Column("2-mock.example.com",
                  Target.from_options("https://user:pw@mock.example.com:8443/v2?x=1", "secret-token"))]


def report(verdicts: dict[str, str], target: str = "http://127.0.0.1:40000/v2", **fields: Any) -> dict[str, Any]:
    return {
        "format": "crm-contract-report/1", "target": target, "contract_profile": "strict", "hypothesis_profile": "dev",
        "seed": 7, "run_id": "cafe0001", "verdict": "fail" if "fail" in verdicts.values() else "pass",
        "totals": {"tests": 3}, "tests": [],
        "clauses": [{"id": clause, "title": f"title of {clause}", "tag": "D", "verdict": verdict, "failures": []}
                    for clause, verdict in verdicts.items()],
        **fields,
    }


PASS = {clause.id: "pass" for clause in CLAUSES}
REFERENCE_REPORT = report({**PASS, "A6": "not-run"})
MOCK_REPORT = report({**PASS, "A2": "fail", "A6": "not-run", "A11": "inconclusive", "Z1": "pass"},
                     target="https://mock.example.com:8443/v2")


@pytest.fixture(autouse=True)
def no_inherited_token(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("ZEEG_API_TOKEN", "ZEEG_API_READ_TOKEN", "PYTEST_BASE_URL"):
        monkeypatch.delenv(name, raising=False)


# compare.json and the matrix ------------------------------------------------------------------------------


def test_compare_json_gives_each_clause_every_targets_verdict() -> None:
    comparison = build_comparison(TARGETS, [REFERENCE_REPORT, MOCK_REPORT], 7)
    assert comparison["format"] == "crm-contract-compare/1" and comparison["seed"] == 7
    by_id = {clause["id"]: clause for clause in comparison["clauses"]}
    assert [clause["id"] for clause in comparison["clauses"]] == [clause.id for clause in CLAUSES] + ["Z1"]
    assert by_id["A2"] == {"id": "A2", "title": CLAUSES[1].title, "tag": "D", "differs": True, "conclusive": True,
                           "verdicts": {"1-reference": "pass", "2-mock.example.com": "fail"}}
    assert by_id["A6"]["verdicts"] == {"1-reference": "not-run", "2-mock.example.com": "not-run"}
    assert not by_id["A6"]["differs"]
    assert by_id["A11"]["differs"] and not by_id["A11"]["conclusive"]
    assert by_id["Z1"]["verdicts"] == {"1-reference": "absent", "2-mock.example.com": "pass"}
    assert by_id["Z1"]["title"] == "title of Z1"
    assert comparison["differ"] == ["A2", "A11", "Z1"] and comparison["agree"] is False
    assert exit_code(comparison) == 1


def test_targets_in_compare_json_carry_no_credentials() -> None:
    comparison = build_comparison(TARGETS, [REFERENCE_REPORT, MOCK_REPORT], 7)
    assert [target["base_url"] for target in comparison["targets"]] == [REFERENCE, "https://mock.example.com:8443/v2"]
    assert comparison["targets"][1]["report"] == "2-mock.example.com/report.json"
    text = json.dumps(comparison)
    assert "secret-token" not in text and "pw" not in text
    assert "secret-token" not in repr(TARGETS[1])


def test_exit_0_when_the_targets_agree_and_3_when_only_a_verdictless_run_differs() -> None:
    assert exit_code(build_comparison(TARGETS, [REFERENCE_REPORT, REFERENCE_REPORT], 1)) == 0
    inconclusive = report({**PASS, "A6": "not-run", "A11": "inconclusive"})
    assert exit_code(build_comparison(TARGETS, [REFERENCE_REPORT, inconclusive], 1)) == 3


def test_the_matrix_marks_the_rows_that_differ() -> None:
    text = format_matrix(build_comparison(TARGETS, [REFERENCE_REPORT, MOCK_REPORT], 7))
    lines = text.splitlines()
    assert lines[0].split() == ["clause", "1-reference", "2-mock.example.com"]
    assert "A2         pass          fail                differs" in lines
    assert "A1         pass          pass" in lines
    assert "A11        pass          inconclusive        differs (inconclusive)" in lines
    assert "1-reference: the embedded reference server, run verdict pass (1-reference/report.json)" in lines
    assert "2-mock.example.com: https://mock.example.com:8443/v2, run verdict fail (2-mock.example.com/report.json)" \
        in lines
    assert lines[-1] == f"the targets differ on 3 of {len(CLAUSES) + 1} clauses: A2, A11, Z1 (seed 7)"


def test_compare_html_shows_both_targets_with_the_failures_requests(tmp_path: Path) -> None:
    failing = {**MOCK_REPORT, "clauses": [{**c, "failures": ["failures/A2-1.json"]} if c["id"] == "A2" else c
                                          for c in MOCK_REPORT["clauses"]],
               "tests": [{"id": "t::a2", "clauses": ["A2"], "outcome": "fail", "failure": {
                   "clause": "A2", "rule": "A2", "summary": "expected HTTP 200, got 201",
                   "replay": "failures/A2-1.json"}}]}
    (tmp_path / "2-mock.example.com" / "failures").mkdir(parents=True)
    replay = {"format": "crm-contract-replay/1", "clause": "A2", "summary": "expected HTTP 200, got 201",
              "exchanges": [{"method": "PUT", "path": "/crm/obj-unique-path?matchingAttribute=k", "status": 201}]}
    (tmp_path / "2-mock.example.com" / "failures" / "A2-1.json").write_text(json.dumps(replay))
    assert list(replay_files([tmp_path / "1-reference", tmp_path / "2-mock.example.com"],
                             [REFERENCE_REPORT, failing])) == ["1/failures/A2-1.json"]
    write_html(tmp_path, TARGETS, [REFERENCE_REPORT, failing])
    page = (tmp_path / "compare.html").read_text()
    assert "https://mock.example.com:8443/v2" in page and "differs" in page
    assert "/crm/obj-unique-path" in page and "secret-token" not in page


# Targets and tokens from the options -----------------------------------------------------------------------


def test_tokens_pair_with_base_urls_by_position() -> None:
    urls = ["https://a.example/v2", REFERENCE, "https://b.example/v2"]
    assert pair_tokens([], urls, "--token") == [None, None, None]
    assert pair_tokens(["t"], urls, "--token") == ["t", None, "t"]
    assert pair_tokens(["ta", "ignored", "tb"], urls, "--token") == ["ta", None, "tb"]
    assert pair_tokens(["ta", "tb"], urls, "--token") == ["ta", None, "tb"]  # only the URLs that need one


def test_the_environment_token_applies_to_every_url_target() -> None:
    targets = make_targets([REFERENCE, "http://localhost:4010/v2", "https://[::1]:9/v2"], [], [],
                           {"ZEEG_API_TOKEN": "from-env"})
    assert [(t.name, t.token) for t in targets] == [("1-reference", None), ("2-localhost", "from-env"),
                                                    ("3-__1", "from-env")]


@pytest.mark.parametrize(("args", "message"), [
    (["--base-url", "reference"], "compare needs at least two --base-url"),
    ([], "compare needs at least two --base-url"),
    (["--base-url", "reference", "--base-url", "localhost:4010/v2", "--token", "t"],
     "--base-url must be an http:// or https:// URL or 'reference', not 'localhost:4010/v2'"),
    (["--base-url", "reference", "--base-url", "http://:80/v2", "--token", "t"], "not 'http://:80/v2'"),
    (["--base-url", "reference", "--base-url", "http://a.example:port/v2", "--token", "t"], "must be an http://"),
    (["--base-url", "https://a.example/v2", "--base-url", "https://b.example/v2", "--base-url", "https://c.example/v2",
      "--token", "1", "--token", "2"], "2 --token values for 3 base URLs (3 need a token)"),
    (["--base-url", "reference", "--base-url", "https://b.example/v2", "--token", "t", "--read-token", "r1",
      "--read-token", "r2", "--read-token", "r3"], "3 --read-token values for 2 base URLs"),
    (["--base-url", "reference", "--base-url", "https://b.example/v2"],
     "a token is needed for https://b.example/v2: --token or ZEEG_API_TOKEN"),
    (["--base-url", "reference", "--base-url", "https://b.example/v2", "--token", "same", "--read-token", "same"],
     "the read-only token of https://b.example/v2 must differ from its --token"),
])
def test_usage_errors_are_one_line_and_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str],
                                              message: str) -> None:
    code = cli.main(["compare", "--report-dir", str(tmp_path / "out"), *args])
    out, err = capsys.readouterr()
    assert code == 2, out + err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("crm-contract: error: ") and message in lines[0], err
    assert not (tmp_path / "out").exists()  # nothing ran, nothing written


def test_an_unreachable_target_fails_before_any_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"http://127.0.0.1:{free_port()}/v2"
    code = cli.main(["compare", "--report-dir", str(tmp_path), "--base-url", "reference", "--base-url", url,
                     "--token", "t"])
    out, err = capsys.readouterr()
    assert code == 2, out + err
    assert err.startswith("crm-contract: error: 2-127.0.0.1: ") and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "1-reference").exists()


def test_a_target_that_keeps_answering_503_is_inconclusive(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with Served(FAULTY_APPS["always-503"][1](reference_app())) as served:
        code = cli.main(["compare", "--report-dir", str(tmp_path), "--base-url", "reference", "--base-url",
                         served.base_url, "--token", DEFAULT_WRITE_TOKEN])
    out, err = capsys.readouterr()
    assert code == 3, out + err
    assert err.startswith("crm-contract: inconclusive: 2-127.0.0.1: ") and "503" in err, err


# End to end ------------------------------------------------------------------------------------------------


@pytest.fixture
def faulty_mock() -> Iterator[str]:
    """A "mock" that answers 201 to an assert that updates (an A2 violation)."""
    with Served(FAULTY_APPS["update-answers-201"][1](reference_app())) as served:
        yield served.base_url


@pytest.mark.slow
def test_reference_against_a_faulty_mock_differs_on_a2(tmp_path: Path, faulty_mock: str,
                                                       capfd: pytest.CaptureFixture[str]) -> None:
    code = cli.main(["compare", "--report-dir", str(tmp_path), "--base-url", "reference", "--base-url", faulty_mock,
                     "--token", DEFAULT_WRITE_TOKEN, "--read-token", READ_TOKEN, "--hypothesis-profile", "dev",
                     "--", "-k", "a2"])
    out, err = capfd.readouterr()
    shown = f"exit {code}\n--- stdout\n{out[-6000:]}\n--- stderr\n{err[-3000:]}"
    assert (tmp_path / "1-reference" / "report.json").is_file(), shown
    assert (tmp_path / "2-127.0.0.1" / "report.json").is_file(), shown
    assert code == 1, shown
    seed = json.loads((tmp_path / "1-reference" / "report.json").read_text())["seed"]
    assert isinstance(seed, int) and f"crm-contract compare: seed {seed} for every target" in out, shown
    assert json.loads((tmp_path / "2-127.0.0.1" / "report.json").read_text())["seed"] == seed
    comparison = json.loads((tmp_path / "compare.json").read_text())
    assert comparison["seed"] == seed and comparison["differ"] == ["A2"], comparison
    a2 = next(clause for clause in comparison["clauses"] if clause["id"] == "A2")
    assert a2["verdicts"] == {"1-reference": "pass", "2-127.0.0.1": "fail"}
    assert "A2         pass          fail          differs" in out.splitlines(), shown
    page = (tmp_path / "compare.html").read_text()
    assert faulty_mock in page and "differs" in page
    for written in (tmp_path / "compare.json", tmp_path / "compare.html"):
        assert READ_TOKEN not in written.read_text()
