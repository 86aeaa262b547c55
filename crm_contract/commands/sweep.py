"""`crm-contract sweep`: remove what killed runs left on a target, and nothing else."""

from __future__ import annotations

import click

__all__ = ["parse_age", "sweep"]


def parse_age(value: str) -> float:
    """`90`, `90s`, `15m`, `2h` or `1d` as seconds."""
    from crm_contract.kit.pace import parse_duration

    try:
        return parse_duration(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not an age like 90s, 15m, 2h or 1d") from None


@click.command()
@click.option("--base-url", metavar="URL", envvar=["CRM_CONTRACT_BASE_URL", "PYTEST_BASE_URL"], required=True,
              help="The API that runs were pointed at, ending in /v2.")
@click.option("--token", envvar="ZEEG_API_TOKEN",
              help="Token with crm:write (prefer the variable: a command line shows in ps).")
@click.option("--older-than", default="1h", show_default=True, metavar="AGE",
              help="Objects found only by their run-made name are removed when created longer ago than this "
              "(a run in progress elsewhere keeps its own).")
@click.option("--run-id", metavar="ID", help="Remove what this run made (e.g. cc1a2b3c), whatever its age.")
def sweep(base_url: str, token: str | None, older_than: str, run_id: str | None) -> int:
    """Remove what killed runs left on a target, and nothing else.

    First from the ledgers that runs on this machine wrote before each create (objects, and records in
    an --object of yours), for runs no longer alive; then objects whose slug has the shape runs give
    them (cc + 6 hex digits, ...) and that are older than --older-than. Exit 0 when nothing is left,
    2 for a usage error or unusable target, 3 when the target would not delete something.
    """
    from crm_contract.errors import OK, Inconclusive
    from crm_contract.kit.client import ContractClient
    from crm_contract.kit.sweep import sweep as sweep_target
    from crm_contract.kit.target import Target

    target = Target.from_options(base_url, token)
    age = parse_age(older_than)
    target.preflight()
    with target.client() as http:
        swept = sweep_target(ContractClient(http), target.public_url, older_than=age, run_id=run_id)
    for item in swept.removed:
        click.echo(f"removed {item}")
    for run in swept.live_runs:
        click.echo(f"crm-contract: run {run} is still running here; left alone")
    click.echo(f"crm-contract: sweep of {target.public_url}: removed {len(swept.removed)}, "
               f"could not remove {len(swept.left)}")
    if swept.left:
        raise Inconclusive(f"the target would not delete {', '.join(swept.left)}")
    return OK
