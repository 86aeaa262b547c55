"""The suite on pytest-xdist workers (``crm-contract run --workers N``, or ``pytest -n N``): one run, merged.

Each worker is a pytest session of its own that runs some of the tests against the same target, with
its own run id (`crm_contract.strategies.keys`: its own run-prefixed objects and its own clean-up
ledger) and its own clients. What makes the workers one run:

- **The pace is shared.** The controller makes the file of `crm_contract.kit.pace.SharedState` and
  hands its path to every worker (``workerinput``): the request budget, the rate ceiling, the
  adaptive limit and a target's Retry-After hold for the run, not per worker.
- **One pre-flight.** The controller probes a target given to plain pytest once, before the workers
  start, and tells them it is checked; ``crm-contract run`` probes it before pytest starts at all.
- **Each test's record travels with its last report.** A worker's recorder attaches the test's entry
  (outcome, clauses, examples, requests, the failure and its replay) to the test's teardown report,
  which pytest-xdist carries to the controller as plain data; what a worker saw of the run as a whole
  (requests, the fidelity counts, the tests it never reached, when it first saw a violation) goes
  in its ``workeroutput`` when it ends. The controller's recorder and outcome merge both, and only
  the controller writes the report directory, the NDJSON stream, the HAR file and the verdict: the
  same files, in the same shape, as a run in one process.

Everything here is plain data: pytest-xdist sends reports through execnet, which carries only
str, int, float, bool, None, bytes, lists, tuples and dicts.
"""

from __future__ import annotations

import os
from typing import Any

import pytest

__all__ = [
    "WORKER_ENV", "is_controller", "is_worker", "longest_first", "plain", "worker_index", "worker_input",
    "worker_output",
]

WORKER_ENV = "PYTEST_XDIST_WORKER"  # set by pytest-xdist in every worker process: gw0, gw1, ...


def is_worker(config: pytest.Config) -> bool:
    """Whether this session is a pytest-xdist worker."""
    return hasattr(config, "workerinput")


def is_controller(config: pytest.Config) -> bool:
    """Whether this session hands its tests out to pytest-xdist workers and runs none itself."""
    option = config.option
    return (not is_worker(config) and getattr(option, "dist", "no") != "no"
            and not getattr(option, "collectonly", False) and bool(getattr(option, "numprocesses", None) or
                                                                     getattr(option, "tx", None)))


def worker_input(config: pytest.Config) -> dict[str, Any]:
    """What the controller handed this worker (empty outside a worker)."""
    return getattr(config, "workerinput", {})


def worker_output(config: pytest.Config) -> dict[str, Any] | None:
    """Where this worker leaves what it hands the controller at its end (None outside a worker)."""
    return getattr(config, "workeroutput", None)


def worker_index(environ: dict[str, str] | None = None) -> int | None:
    """This process's worker number (gw3: 3), or None outside a pytest-xdist worker."""
    name = (environ if environ is not None else os.environ).get(WORKER_ENV, "")
    digits = name.removeprefix("gw")
    return int(digits) if name.startswith("gw") and digits.isdigit() else None


def longest_first(items: list[pytest.Item]) -> list[pytest.Item]:
    """The tests in the order workers take them: each `long` test first, paired with a short one.

    pytest-xdist (``--maxschedchunk 1``, as the runner sets it) hands each worker two tests to start
    with, then one at a time as they finish. With a long test and a short one in each pair, every
    worker starts one long test at once, and no long test waits behind another: the run lasts about
    its longest test, or its share of the rest, whichever is more. Every worker orders alike, as
    pytest-xdist requires.
    """
    long = [item for item in items if item.get_closest_marker("long")]
    short = [item for item in items if not item.get_closest_marker("long")]
    ordered: list[pytest.Item] = []
    for item in long:
        ordered.append(item)
        if short:
            ordered.append(short.pop(0))
    return ordered + short


def plain(value: Any) -> Any:
    """`value` as data execnet can carry: dicts, lists and scalars; anything else as its text."""
    if value is None or isinstance(value, bool | int | float | str | bytes):
        return value
    if isinstance(value, dict):
        return {str(key): plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [plain(item) for item in value]
    return str(value)
