"""The errors a command reports in one line, with their exit codes (see `crm_contract.cli`)."""

from __future__ import annotations

import click

from crm_contract.outcomes import INCONCLUSIVE, USAGE

__all__ = ["ConfigError", "Inconclusive"]


class ConfigError(click.ClickException):
    """Bad input or an unusable target: reported in one line, exit code 2."""

    exit_code = USAGE


class Inconclusive(click.ClickException):
    """The target kept answering 429, 5xx or nothing before any test ran: one line, exit code 3."""

    exit_code = INCONCLUSIVE
