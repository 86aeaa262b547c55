"""What a failed test means when no check named a rule: a wrong answer of the target, or a bug of the suite.

A check that fails raises `ContractViolation`; a target that gives no verdict raises `TargetInconclusive`.
Anything else (a `KeyError`, a `TypeError`, a `ZeroDivisionError` in the suite's own code) is never a
verdict by itself:

- If an answer the test got is not shaped as the contract says (`crm_contract.kit.shapes`), the suite
  tripped over it: the failure is a contract failure of that call, shown with its exchange.
- Otherwise it is a bug of crm-contract: an internal error (exit code 2), said in one line, with no
  verdict on any clause.

A failure of the run's set-up calls (`SetupViolation`) is reported once, by the test that met it
first; every other test that needs that set-up is not run, with the violation as its reason.
"""

from __future__ import annotations

import traceback
from collections.abc import Sequence

import httpx
import pytest

from crm_contract.kit.client import Exchange, TargetInconclusive
from crm_contract.kit.pace import BudgetSpent
from crm_contract.kit.shapes import clause_of_path, shape_problem
from crm_contract.kit.violations import ContractViolation, SetupViolation, exceptions_in, setup_not_run

__all__ = ["SuiteBug", "blocked_by_setup", "diagnose", "setup_violation_in", "suite_exception"]

# How many exchanges before the one that explains a failure are shown with it.
_CONTEXT = 4


class SuiteBug(Exception):
    """An exception of the suite's own code that no answer of the target explains: an internal error."""


def _chain(error: BaseException) -> list[BaseException]:
    return list(exceptions_in(error))


def setup_violation_in(error: BaseException) -> SetupViolation | None:
    return next((e for e in _chain(error) if isinstance(e, SetupViolation)), None)


def blocked_by_setup(error: BaseException, nodeid: str) -> str | None:
    """The not-run reason of a test that failed on a set-up another test reported, or None.

    A set-up made by a module-scoped fixture fails every test of the module with the same exception;
    only the test that reported it keeps the failure.
    """
    violation = setup_violation_in(error)
    reporter = getattr(violation, "reporter", None)
    if violation is None or reporter is None or reporter == nodeid:
        return None
    return setup_not_run(violation.clause, violation.detail.removeprefix("set-up: "), reporter)


def suite_exception(error: BaseException) -> BaseException | None:
    """The exception of the suite's own code behind a failure, or None if a check or an outage ended it.

    Only a `ContractViolation` (or an explicit `pytest.fail`) is a failed check: a bare `AssertionError`
    is an invariant of the suite that did not hold (the model and the strategies disagreeing).
    """
    from hypothesis.errors import DidNotReproduce

    chain = _chain(error)
    verdicts = (ContractViolation, pytest.fail.Exception, pytest.skip.Exception, TargetInconclusive,
                httpx.TransportError, BudgetSpent, DidNotReproduce, KeyboardInterrupt, SystemExit)
    if any(isinstance(e, verdicts) for e in chain):
        return None
    return next((e for e in chain if not isinstance(e, BaseExceptionGroup)), error)


def where(error: BaseException) -> str:
    """`KeyError: 'x' (contract_tests/rule_support.py:121)`: the exception and the line of the suite it came from."""
    frames = traceback.extract_tb(error.__traceback__)
    ours = [frame for frame in frames if "crm_contract" in frame.filename or "contract_tests" in frame.filename
            or "strategies" in frame.filename] or frames
    place = f" ({_short(ours[-1].filename)}:{ours[-1].lineno})" if ours else ""
    text = " ".join(str(error).split())
    return f"{type(error).__name__}: {text[:200]}{place}" if text else f"{type(error).__name__}{place}"


def _short(filename: str) -> str:
    """A file of the kit as its package names it: `client.py`, `contract_tests/checks.py`."""
    path = filename.replace("\\", "/")
    if "crm_contract/" in path:
        return path.rsplit("crm_contract/", 1)[1]
    for root in ("contract_tests/", "strategies/", "reference_server/"):
        if root in path:
            return root + path.rsplit(root, 1)[1]
    return path.rsplit("/", 1)[-1]


def diagnose(error: BaseException, exchanges: Sequence[Exchange]) -> ContractViolation | SuiteBug | None:
    """A contract failure of the answer that explains `error`, a `SuiteBug`, or None (a check or an outage)."""
    found = suite_exception(error)
    if found is None:
        return None
    for index in range(len(exchanges) - 1, -1, -1):  # the latest wrong answer is the one the suite tripped on
        problem = shape_problem(exchanges[index])
        if problem is None:
            continue
        exchange = exchanges[index]
        shown = list(exchanges[max(0, index - _CONTEXT):index + 1])
        call = f"{exchange.method} {exchange.path.split('?', 1)[0]}"
        clause = clause_of_path(exchange.path)
        detail = f"the {exchange.status} answer to {call} is not shaped as the contract says: {problem}"
        message = (f"[{clause}] {detail}\n(the suite could not read it: {where(found)})\n"
                   + "\n".join(ex.render() for ex in shown))
        return ContractViolation(clause, detail, shown, message)
    return SuiteBug(where(found))
