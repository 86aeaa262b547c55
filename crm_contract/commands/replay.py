"""`crm-contract replay FILE`: send a failure's sequence again, to any target, and say FIXED or STILL FAILING."""

from __future__ import annotations

from pathlib import Path

import click

__all__ = ["replay"]


@click.command()
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--base-url", metavar="URL", envvar=["CRM_CONTRACT_BASE_URL", "PYTEST_BASE_URL"],
              help="The API to replay against, ending in /v2 (default: the embedded "
              "reference server).")
@click.option("--token", envvar="ZEEG_API_TOKEN", help="Token with crm:write.")
@click.option("--read-token", envvar="ZEEG_API_READ_TOKEN", help="Token with crm:read only.")
@click.option("--report-dir", type=click.Path(file_okay=False), help="Keep the replay run's report there.")
@click.option("--show-output", is_flag=True, help="Print the replay run's pytest output.")
def replay(file: str, base_url: str | None, token: str | None, read_token: str | None, report_dir: str | None,
           show_output: bool) -> int:
    """Replay a failure (failures/<clause>-<n>.json of a report) against any target: FIXED or STILL FAILING.

    Exit 0 FIXED, 1 STILL FAILING, 2 the file cannot be replayed here (or a usage error), 3 inconclusive.
    """
    from crm_contract.kit.target import Target
    from crm_contract.runs.replay import replay_failure

    target = (Target.from_options(base_url, token, read_token) if base_url
              else Target.embedded_reference(token, read_token))
    code, line, output = replay_failure(file, target, report_dir=Path(report_dir) if report_dir else None)
    if show_output:
        click.echo(output)
    click.echo(f"crm-contract: {line}")
    return code
