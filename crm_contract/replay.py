"""`crm-contract replay FILE`: send a failure's sequence again, to any target, and say FIXED or STILL FAILING.

The replay file names the failing test and carries Hypothesis's blob of its shrunk example. Replay runs
`crm-contract run` for that one test with that one example (`--crm-replay`, the `Replaying` plugin), so
the target gets the same requests, with this run's fresh keys and objects, and the test's own checks
judge the answers: the test passes (or the example no longer fails: Hypothesis's `DidNotReproduce`,
also when it got past the failing step and ran out of recorded choices), FIXED, exit 0; it fails again,
STILL FAILING, exit 1, with the clause it fails on now. A test Hypothesis does not drive is simply run
again. Exit 2 for a file that cannot be replayed here (another Hypothesis or suite version: the file
carries a digest of the suite's sources), 3 inconclusive.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import click
import pytest

from crm_contract import examples
from crm_contract.recorder import item_id, portable_id
from crm_contract.reports.replay_files import REPLAY_FORMAT

__all__ = ["Replaying", "load_replay", "replay"]

FIXED, STILL_FAILING, CANNOT, INCONCLUSIVE = 0, 1, 2, 3


class ReplayError(click.ClickException):
    """A replay file that cannot be replayed here: one line, exit code 2."""

    exit_code = CANNOT


def load_replay(path: str | Path) -> dict[str, Any]:
    """The replay file at `path`, checked; `ValueError` with a one-line reason if it is not one."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as error:
        raise ValueError(f"cannot read {path}: {error.strerror}") from None
    except ValueError:
        raise ValueError(f"{path} is not JSON") from None
    if not isinstance(data, dict) or data.get("format") != REPLAY_FORMAT:
        raise ValueError(f"{path} is not a crm-contract replay file (format {REPLAY_FORMAT})")
    if not isinstance(data.get("test"), str) or not data["test"]:
        raise ValueError(f"{path} names no test")
    return data


def _reproduction(data: Mapping[str, Any]) -> examples.Reproduction | None:
    found = data.get("reproduction")
    if not found:
        return None
    from hypothesis import __version__ as hypothesis_version

    if found.get("hypothesis") != hypothesis_version:
        raise ValueError(f"the example was recorded with Hypothesis {found.get('hypothesis')}, this is "
                         f"{hypothesis_version}: install that version to replay it exactly")
    if found.get("suite") != examples.suite_fingerprint():
        raise ValueError("the example was recorded with another version of the suite (contract_tests or "
                         "strategies changed): run the suite again to get a replay file for this one")
    return str(found["hypothesis"]), str(found["blob"]).encode("ascii")


class Replaying:
    """The pytest plugin of a replay: only the file's test is run, and with the recorded example."""

    def __init__(self, data: Mapping[str, Any]) -> None:
        self.test = portable_id(str(data["test"]))
        self.reproduction = _reproduction(data)

    @classmethod
    def load(cls, path: str) -> Replaying:
        try:
            return cls(load_replay(path))
        except ValueError as error:
            raise pytest.UsageError(str(error)) from None

    @pytest.hookimpl(tryfirst=True)
    def pytest_collection_modifyitems(self, config: pytest.Config, items: list[pytest.Item]) -> None:
        keep = [item for item in items if item_id(item) == self.test]
        if not keep:
            raise pytest.UsageError(f"the test {self.test} of the replay file is not in this suite (or was "
                                    "deselected)")
        config.hook.pytest_deselected(items=[item for item in items if item not in keep])
        items[:] = keep
        examples.replaying(self.reproduction)


def _verdict(data: Mapping[str, Any], report: Mapping[str, Any]) -> tuple[int, str]:
    """The exit code and the line to print, from the replay run's report."""
    wanted = portable_id(str(data["test"]))
    test = next((t for t in report.get("tests", []) if portable_id(t["id"]) == wanted), None)
    where = report.get("target")
    if test is None:
        raise ReplayError(f"the replay run did not report the test {wanted}")
    failure = test.get("failure") or {}
    # DidNotReproduce: the example passed, or (same suite, checked before the run) it went on past the
    # point where it failed and ran out of recorded choices, as a state machine does that no longer fails.
    if test["outcome"] == "pass" or failure.get("exception") == "DidNotReproduce":
        return FIXED, f"FIXED: [{data['clause']}] {wanted} passes against {where} with the recorded example"
    if test["outcome"] == "fail":
        now = f"[{failure.get('clause')}] {failure.get('summary')}"
        moved = "" if failure.get("clause") == data["clause"] else f" (recorded as [{data['clause']}])"
        return STILL_FAILING, f"STILL FAILING: {now}{moved} - {wanted} against {where}"
    if test["outcome"] == "inconclusive":
        return INCONCLUSIVE, f"INCONCLUSIVE: {wanted} against {where}: {test.get('reason')}"
    raise ReplayError(f"the test did not run: {test.get('reason') or 'not selected'}")


@click.command()
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--base-url", metavar="URL", envvar="PYTEST_BASE_URL",
              help="The API to replay against, ending in /v2 [env PYTEST_BASE_URL] (default: the embedded "
              "reference server).")
@click.option("--token", envvar="ZEEG_API_TOKEN", help="Token with crm:write [env ZEEG_API_TOKEN].")
@click.option("--read-token", envvar="ZEEG_API_READ_TOKEN", help="Token with crm:read only [env ZEEG_API_READ_TOKEN].")
@click.option("--report-dir", type=click.Path(file_okay=False), help="Keep the replay run's report there.")
@click.option("--show-output", is_flag=True, help="Print the replay run's pytest output.")
def replay(file: str, base_url: str | None, token: str | None, read_token: str | None, report_dir: str | None,
           show_output: bool) -> int:
    """Replay a failure (failures/<clause>-<n>.json of a report) against any target: FIXED or STILL FAILING.

    Exit 0 FIXED, 1 STILL FAILING, 2 the file cannot be replayed here (or a usage error), 3 inconclusive.
    """
    try:
        data = load_replay(file)
        reproduction = _reproduction(data)
    except ValueError as error:
        raise ReplayError(str(error)) from None
    with tempfile.TemporaryDirectory(prefix="crm-replay-") as scratch:
        where = Path(report_dir or scratch)
        command = [sys.executable, "-m", "crm_contract.cli", "run", "--profile", str(data.get("contract_profile")
                   or "strict"), "--report-dir", str(where)]
        if reproduction is None:  # run the test as the failing run did
            if data.get("hypothesis_profile") in ("dev", "ci", "thorough"):
                command += ["--hypothesis-profile", data["hypothesis_profile"]]
            if isinstance(data.get("seed"), int):
                command += ["--seed", str(data["seed"])]
        if base_url:
            command += ["--base-url", base_url]
        if data.get("object") and data.get("matching_attribute"):  # the run asserted into an existing object
            command += ["--object", str(data["object"]), "--matching-attribute", str(data["matching_attribute"])]
        command += ["--", "--crm-replay", str(Path(file).resolve()), "-p", "no:cacheprovider"]
        env = {key: value for key, value in os.environ.items()
               if key not in ("ZEEG_API_TOKEN", "ZEEG_API_READ_TOKEN", "PYTEST_BASE_URL")}
        env.update({name: value for name, value in (("ZEEG_API_TOKEN", token), ("ZEEG_API_READ_TOKEN", read_token))
                    if value})
        done = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
        if show_output:
            click.echo(done.stdout, nl=False)
        if done.returncode == CANNOT or not (where / "report.json").is_file():
            lines = [line for line in done.stderr.strip().splitlines() if line.strip()]
            raise ReplayError(lines[-1].removeprefix("crm-contract: error: ") if lines
                              else f"the replay run ended with exit {done.returncode} and no report")
        code, line = _verdict(data, json.loads((where / "report.json").read_text(encoding="utf-8")))
    click.echo(f"crm-contract: {line}")
    return code
