"""`crm-contract compare`: the same seeded suite against two or more targets, clause by clause."""

from __future__ import annotations

from pathlib import Path

import click

__all__ = ["compare"]


@click.command()
@click.option("--base-url", "base_urls", multiple=True, metavar="URL",
              help="A target, ending in /v2; 'reference' is the embedded reference server. Two or more.")
@click.option("--token", "tokens", multiple=True, envvar="ZEEG_API_TOKEN",
              help="Token with crm:write: one for all targets, or one per base URL in order.")
@click.option("--read-token", "read_tokens", multiple=True, envvar="ZEEG_API_READ_TOKEN",
              help="Token with crm:read only, paired like --token.")
@click.option("--report-dir", type=click.Path(file_okay=False), default="crm-compare", show_default=True,
              help="Where compare.json, compare.html and one report directory per target go.")
@click.option("--seed", type=int, help="Hypothesis seed for every run [default: a random one, printed].")
@click.option("--profile", type=click.Choice(("strict", "documented")), default="strict", show_default=True,
              help="strict: documented rules and reference choices; documented: documented rules only.")
@click.option("--hypothesis-profile", type=click.Choice(("dev", "ci", "thorough")),
              help="Examples per test: dev (10), ci (50, derandomized), thorough (200) [default: ci in CI, else dev].")
@click.argument("pytest_args", nargs=-1, type=click.UNPROCESSED, metavar="[-- PYTEST_ARGS]...")
def compare(base_urls: tuple[str, ...], tokens: tuple[str, ...], read_tokens: tuple[str, ...], report_dir: str,
            seed: int | None, profile: str, hypothesis_profile: str | None, pytest_args: tuple[str, ...]) -> int:
    """Run the same seeded suite against each target and compare the verdicts clause by clause.

    Exit 0 the targets agree on every clause, 1 they differ, 2 usage or configuration error,
    3 inconclusive (a run ended before any test, or they differ only where a target gave no verdict).
    """
    import json
    import os
    import secrets

    from crm_contract.runs.compare import (
        REFERENCE,
        CompareError,
        build_comparison,
        exit_code,
        format_matrix,
        make_targets,
        preflight,
        run_target,
        write_html,
    )
    from crm_contract.runs.runner import RunOptions

    targets = make_targets(base_urls, tokens, read_tokens, os.environ, profile)
    root = Path(report_dir)
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise CompareError(f"cannot create the report directory {report_dir}: {error.strerror}") from None
    preflight(targets)
    if seed is None:
        seed = secrets.randbelow(2**32)
    click.echo(f"crm-contract compare: seed {seed} for every target (--seed {seed} repeats this comparison)")
    reports = []
    for n, target in enumerate(targets, start=1):
        where = "the embedded reference server" if target.base_url == REFERENCE else target.shown_url
        click.echo(f"crm-contract compare: [{n}/{len(targets)}] {where} -> {root / target.name}")
        options = RunOptions(seed=seed, hypothesis_profile=hypothesis_profile, pytest_args=pytest_args)
        reports.append(run_target(target, root / target.name, options))
    comparison = build_comparison(targets, reports, seed)
    (root / "compare.json").write_text(json.dumps(comparison, indent=2) + "\n", encoding="utf-8")
    write_html(root, targets, reports)
    click.echo(format_matrix(comparison))
    click.echo(f"crm-contract compare: {root / 'compare.json'}, {root / 'compare.html'}")
    return exit_code(comparison)
