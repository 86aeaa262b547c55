"""`crm-contract faults` and `crm-contract zoo`: the reference server's fault catalogue, and the kill matrix."""

from __future__ import annotations

import click

__all__ = ["faults", "zoo"]


@click.command()
def faults() -> None:
    """List the reference server's fault catalogue: name, the rule each breaks, what it does."""
    from crm_contract.reference_server import FAULTS
    from crm_contract.runs.zoo import rule_order

    for fault in sorted(FAULTS.values(), key=lambda f: (rule_order(f.rule), f.name)):
        tag = "D" if fault.documented else "R"  # the part it breaks: documented, or a reference choice only
        click.echo(f"{fault.name:34} {fault.rule:10} {tag}  {fault.description}")


@click.command()
@click.option("--fault", "names", multiple=True, metavar="NAME", help="Only these faults (repeat it); default all.")
@click.option("--hypothesis-profile", type=click.Choice(["dev", "ci", "thorough"]), default="dev", show_default=True,
              help="The Hypothesis profile of every run.")
@click.option("--seed", type=int, help="Hypothesis seed, the same for every run.")
@click.option("--jobs", type=click.IntRange(1, 16), default=2, show_default=True, help="Targets checked at once.")
@click.option("--workers", type=click.IntRange(1, 16), default=1, show_default=True,
              help="Processes of each run (pytest-xdist), as crm-contract run --workers.")
@click.option("--profile", type=click.Choice(["strict", "documented"]), default="strict", show_default=True,
              help="The contract profile; under documented only the faults that break a documented [D] part run.")
def zoo(names: tuple[str, ...], hypothesis_profile: str, seed: int | None, jobs: int, workers: int,
        profile: str) -> int:
    """Run the suite against the correct server and each fault; print the kill matrix.

    Exits 1 if a fault survives or the correct server fails, 2 for an unknown fault name.
    """
    import sys

    from crm_contract.reference_server import FAULTS
    from crm_contract.runs.zoo import format_matrix, run_zoo

    unknown = [name for name in names if name not in FAULTS]
    if unknown:
        raise click.UsageError(f"unknown fault(s): {', '.join(unknown)}; `crm-contract faults` lists them")
    chosen = [FAULTS[name] for name in (names or sorted(FAULTS))]
    if profile == "documented":
        chosen = [fault for fault in chosen if fault.documented]
    quiet = not sys.stdout.isatty()
    outcomes = run_zoo([(fault.name, fault.rule) for fault in chosen], hypothesis_profile=hypothesis_profile,
                       seed=seed, jobs=jobs, profile=profile, workers=workers,
                       on_outcome=None if quiet else lambda row: click.echo(f"  {row.target}: {row.verdict} "
                                                                            f"({row.seconds:.1f} s)", err=True))
    click.echo(format_matrix(outcomes))
    return 0 if all(outcome.ok for outcome in outcomes) else 1
