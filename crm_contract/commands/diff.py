"""`crm-contract diff OLD NEW`: what changed between two runs' reports."""

from __future__ import annotations

import click

__all__ = ["diff"]


@click.command()
@click.argument("old", metavar="OLD.json", type=click.Path(dir_okay=True))
@click.argument("new", metavar="NEW.json", type=click.Path(dir_okay=True))
def diff(old: str, new: str) -> int:
    """Compare two runs' report.json, clause by clause and test by test.

    A report directory stands for its report.json. Exit 0 nothing fails that did not fail before,
    1 something newly fails (a clause, or a test), 2 an input is not a crm-contract report.
    """
    from crm_contract.errors import FAILED, OK
    from crm_contract.reports.diff import describe, diff_reports, format_diff, load_report

    old_report, new_report = load_report(old), load_report(new)
    result = diff_reports(old_report, new_report)
    for warning in result.warnings:
        click.echo(f"crm-contract: warning: {warning}", err=True)
    click.echo(format_diff(result, describe(old, old_report), describe(new, new_report)))
    return FAILED if result.regressed else OK
