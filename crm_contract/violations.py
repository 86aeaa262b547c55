"""A failed contract check as data: the rule, what was expected and seen, and the exchanges behind it.

`contract_tests.checks.fail` raises `ContractViolation`, an `AssertionError`, so pytest and Hypothesis
treat it like any failed assertion, while the runner can read the rule and the requests without parsing
the message. Listeners hear of every violation when it is raised, shrinking included: the first one
marks the moment the suite found a bug, before Hypothesis spends time making the example small.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any, ClassVar

from crm_contract.client import Exchange

__all__ = ["ContractViolation", "clause_of"]

_CLAUSE = re.compile(r"\[?(A\d{1,2}|section \d+)\b")


def clause_of(rule: str) -> str | None:
    """The contract clause a rule label names: "A7", or "section 4" for "section 4, number: …"."""
    found = _CLAUSE.match(rule.strip())
    return found.group(1) if found else None


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
