"""The one error hierarchy of the kit, and the exit codes every command and run ends with.

Exit codes: 0 every clause holds; 1 a contract clause was violated (a verdict); 2 usage or configuration
error, or an error of crm-contract itself (no verdict); 3 inconclusive: the target kept answering 429,
5xx or nothing, or the run was interrupted (no verdict). A `CrmContractError` carries its exit code and
the label its one line starts with; `crm_contract.commands.main` is the one place that turns an error
into that line and that code. Nothing here imports click or pytest.
"""

from __future__ import annotations

__all__ = [
    "FAILED", "INCONCLUSIVE", "OK", "USAGE", "CrmContractError", "Inconclusive", "TargetUnusable", "UsageError",
]

OK, FAILED, USAGE, INCONCLUSIVE = 0, 1, 2, 3


class CrmContractError(Exception):
    """An error a person can act on, told in one line; `exit_code` says how the command ends."""

    exit_code = USAGE
    label = "error"

    @property
    def message(self) -> str:
        return " ".join(str(self).split())


class UsageError(CrmContractError):
    """Bad input: an option, a file, a value that cannot be used (exit 2)."""


class TargetUnusable(UsageError):
    """The target cannot be checked as configured: unreachable, token rejected, object missing (exit 2)."""


class Inconclusive(CrmContractError):
    """No verdict is possible: the target kept answering 429, 5xx or nothing (exit 3)."""

    exit_code = INCONCLUSIVE
    label = "inconclusive"
