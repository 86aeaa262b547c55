"""`crm-contract rehearse`: the API page's bulk sync (N records, K runs, C in flight, retries), checked."""

from __future__ import annotations

from pathlib import Path

import click

from crm_contract.commands.configured import env
from crm_contract.commands.target_options import (
    connection_options,
    profile_option,
    target_from_options,
    target_options,
)

__all__ = ["rehearse"]


@click.command()
@target_options
@profile_option
@click.option("--records", type=click.IntRange(min=1, max=1_000_000), default=10_000, show_default=True,
              envvar=env("records"), show_envvar=True, help="Rows in the catalogue, asserted on every run.")
@click.option("--concurrency", type=click.IntRange(min=1, max=256), default=8, show_default=True,
              envvar=env("concurrency"), show_envvar=True, help="Requests in flight.")
@click.option("--runs", type=click.IntRange(min=1, max=10), default=2, show_default=True, envvar=env("runs"),
              show_envvar=True, help="Times the catalogue is asserted (the first creates, the others update).")
@click.option("--seed", type=int, default=0, show_default=True, envvar=env("seed"), show_envvar=True,
              help="The catalogue's values, the order of each run, the rows changed and the rows retried.")
@click.option("--matching", type=click.Choice(("both", "unique", "plain")), default="both", show_default=True,
              envvar=env("matching"), show_envvar=True,
              help="The matching attribute marked isUnique, not marked, or one object of each.")
@click.option("--keep", is_flag=True, envvar=env("keep"), show_envvar=True,
              help="Leave the objects and their records on the target, for inspection.")
@click.option("--report-dir", type=click.Path(file_okay=False), envvar=env("report-dir"), show_envvar=True,
              help="Write rehearsal.json here.")
@click.option("--progress/--no-progress", default=True, show_default=True, envvar=env("progress"),
              show_envvar=True, help="A progress line on a terminal.")
@connection_options
def rehearse(
    base_url: str | None,
    token: str | None,
    read_token: str | None,
    profile: str | None,
    records: int,
    concurrency: int,
    runs: int,
    seed: int,
    matching: str,
    keep: bool,
    report_dir: str | None,
    progress: bool,
    request_timeout: float | None,
    headers: tuple[str, ...],
    secret_headers: tuple[str, ...],
    proxy: str | None,
    tls_verify: str | None,
    client_cert: str | None,
    client_key: str | None,
) -> int:
    """Rehearse a bulk sync: assert N records K times with C in flight and retries, and read them back.

    Run 1 must create every record (201, a new id), later runs update them (200, the same id), a retry
    never makes a twin, and after each run every record is there once with its values. Exit 0 it held,
    1 a rule was violated, 2 usage or set-up error, 3 no verdict (the target kept failing).
    """
    from crm_contract.rehearsal.rehearse import RehearsalOptions
    from crm_contract.rehearsal.rehearse import rehearse as rehearsed

    target = target_from_options(base_url, token, read_token, profile=profile, request_timeout=request_timeout,
                                 headers=headers, secret_headers=secret_headers, proxy=proxy, tls_verify=tls_verify,
                                 client_cert=client_cert, client_key=client_key)
    kinds = {"both": (True, False), "unique": (True,), "plain": (False,)}[matching]
    options = RehearsalOptions(records=records, concurrency=concurrency, runs=runs, seed=seed, matching=kinds,
                               keep=keep, report_dir=Path(report_dir) if report_dir else None, progress=progress)
    return rehearsed(target, options, out=click.echo)
