"""A failed contract check as data: the rule, what was expected and seen, and the exchanges behind it.

`contract_tests.checks.fail` raises `ContractViolation`, an `AssertionError`, so pytest and Hypothesis
treat it like any failed assertion, while the runner can read the rule and the requests without parsing
the message. Listeners hear of every violation when it is raised, shrinking included: the first one
marks the moment the suite found a bug, before Hypothesis spends time making the example small.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from typing import Any, ClassVar

from crm_contract.kit.client import Exchange

__all__ = ["ContractViolation", "SetupViolation", "clause_of", "exceptions_in", "setup_not_run"]

_CLAUSE = re.compile(r"\[?(A\d{1,2}|section \d+)\b")


def clause_of(rule: str) -> str | None:
    """The contract clause a rule label names: "A7", or "section 4" for "section 4, number: …"."""
    found = _CLAUSE.match(rule.strip())
    return found.group(1) if found else None


def exceptions_in(error: BaseException) -> Iterator[BaseException]:
    """`error`, then its causes, contexts and the members of exception groups, breadth first, each once."""
    seen: set[int] = set()
    pending: list[BaseException] = [error]
    while pending:
        current = pending.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        if isinstance(current, BaseExceptionGroup):
            pending.extend(current.exceptions)
        pending.extend(e for e in (current.__cause__, current.__context__) if e is not None)


class ContractViolation(AssertionError):
    """A check failed: `rule` (as the check named it), the detail, and the exchanges, oldest first."""

    listeners: ClassVar[list[Callable[[ContractViolation], None]]] = []

    def __init__(self, rule: str, detail: str, exchanges: Sequence[Exchange], message: str, *,
                 expected: Any = None, observed: Any = None) -> None:
        super().__init__(message)
        self.rule = rule
        self.detail = detail
        self.exchanges = tuple(exchanges)  # the log keeps growing after the raise; keep what led here
        self.expected = expected
        self.observed = observed
        for listener in list(self.listeners):
            listener(self)

    @property
    def clause(self) -> str:
        return clause_of(self.rule) or self.rule


class SetupViolation(ContractViolation):
    """A set-up call of the run (creating its objects and attributes, reading them back) broke the contract.

    Reported once, by the first test that met it; a test that needs a set-up already found broken is
    not run, with this violation as the reason. `call` names the request, e.g. "POST /crm/objects".
    Raised outside the `except` of the problem behind it, so that pytest shows it alone.
    """

    def __init__(self, rule: str, detail: str, exchanges: Sequence[Exchange], message: str, *, call: str,
                 reporter: str | None = None) -> None:
        super().__init__(rule, detail, exchanges, message)
        self.call = call
        self.reporter = reporter  # the node id of the test that met it first


def setup_not_run(clause: str, what: str, reporter: str) -> str:
    """The not-run reason of a test whose set-up failed as `what` ("POST /crm/objects: ...") says, reported
    as `clause` by the test `reporter` (a node id)."""
    return (f"not run: the set-up this test needs failed: {what} "
            f"(reported as [{clause}] by {reporter.rpartition('::')[2] or reporter})")
