"""Replaying a recorded failure against any target: FIXED, STILL FAILING or INCONCLUSIVE.

The replay file names the failing test and carries Hypothesis's blob of its shrunk example. Replay runs
the suite (`crm_contract.runs.runner`) for that one test with that one example (`--crm-replay`, the
`Replaying` plugin), so the target gets the same requests, with this run's fresh keys and objects, and
the test's own checks judge the answers: the test passes (or the example no longer fails: Hypothesis's
`DidNotReproduce`, also when it got past the failing step and ran out of recorded choices), FIXED, exit
0; it fails again, STILL FAILING, exit 1, with the clause it fails on now. A test Hypothesis does not
drive is simply run again. Exit 2 for a file that cannot be replayed here (another Hypothesis or suite
version: the file carries a digest of the suite's sources), 3 inconclusive.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from crm_contract.errors import UsageError
from crm_contract.kit.target import Target
from crm_contract.plugin.recorder import portable_id
from crm_contract.plugin.replaying import load_replay, reproduction_of
from crm_contract.runs.runner import RunOptions, run_suite

__all__ = ["CANNOT", "FIXED", "INCONCLUSIVE", "STILL_FAILING", "ReplayError", "replay_failure"]

FIXED, STILL_FAILING, CANNOT, INCONCLUSIVE = 0, 1, 2, 3


class ReplayError(UsageError):
    """A replay file that cannot be replayed here: one line, exit code 2."""


def replay_failure(file: str | Path, target: Target, *, report_dir: Path | None = None) -> tuple[int, str, str]:
    """Replay the failure of `file` against `target`: the exit code, the verdict's line, and the run's output.

    `target` is the embedded reference server unless a base URL was given; the file's contract profile
    and, for an object of the user's, its object and matching attribute apply to it.
    """
    try:
        data = load_replay(file)
        reproduction = reproduction_of(data)
    except ValueError as error:
        raise ReplayError(str(error)) from None
    target = replace(target, contract_profile=str(data.get("contract_profile") or "strict"))
    if data.get("object") and data.get("matching_attribute"):  # the run asserted into an existing object
        target = replace(target, object_slug=str(data["object"]), matching_attribute=str(data["matching_attribute"]))
    with tempfile.TemporaryDirectory(prefix="crm-replay-") as scratch:
        where = Path(report_dir or scratch)
        as_recorded: dict[str, Any] = {}
        if reproduction is None:  # run the test as the failing run did
            if data.get("hypothesis_profile") in ("dev", "ci", "thorough"):
                as_recorded["hypothesis_profile"] = data["hypothesis_profile"]
            if isinstance(data.get("seed"), int):
                as_recorded["seed"] = data["seed"]
        options = RunOptions(report_dir=where, replay=Path(file), capture=True, pytest_args=("-p", "no:cacheprovider"),
                             **as_recorded)
        try:
            done = run_suite(target, options)
        except UsageError as error:
            raise ReplayError(error.message) from None
        if done.exit_code == CANNOT or not (where / "report.json").is_file():
            lines = [line for line in done.output.strip().splitlines() if line.strip()]
            raise ReplayError(lines[-1].removeprefix("crm-contract: error: ").removeprefix("ERROR: ") if lines
                              else f"the replay run ended with exit {done.exit_code} and no report")
        code, line = _verdict(data, json.loads((where / "report.json").read_text(encoding="utf-8")))
    return code, line, done.output


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
