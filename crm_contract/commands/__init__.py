"""The ``crm-contract`` command: every subcommand, and the one place that maps errors to exit codes.

The command modules are the only ones that import click; each keeps its imports light and loads the
work it does (the runner, the reports, the reference server) when it runs, so that ``crm-contract
--help`` answers at once (``benchmarks/cli_startup.py``).

Exit codes: 0 every contract clause holds; 1 a contract clause was violated; 2 usage or configuration
error: an unreachable URL, a rejected token, an unknown object (one clear line on stderr, never a
traceback); 3 inconclusive: the target kept answering 429, 5xx or nothing, so no verdict was possible
(also an interrupted run).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

import click

from crm_contract.commands import compare, diff, rehearse, replay, run, serve, sweep, zoo
from crm_contract.commands.configured import ConfiguredGroup, configure
from crm_contract.errors import INCONCLUSIVE, OK, USAGE, CrmContractError

__all__ = ["cli", "main"]


@click.group(cls=ConfiguredGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="zeeg-crm-contract", prog_name="crm-contract")
def cli() -> None:
    """Property-based contract tests for the Zeeg CRM record assert (upsert) endpoint.

    `run` checks a target (by default the embedded reference server); `serve` runs the reference
    server in the foreground, as a stateful mock of the API; `sweep` removes what killed runs left.
    """


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="One JSON object per clause, for scripts.")
def clauses(as_json: bool) -> int:
    """List the contract's clauses: rule id, tag ([D] documented, [R] reference choice) and statement.

    The rules in full are in the project's docs/contract.md; reports use these ids.
    """
    import json

    from crm_contract.kit.clauses import CLAUSES

    for clause in CLAUSES:
        if as_json:
            click.echo(json.dumps({"id": clause.id, "tag": clause.tag, "title": clause.title,
                                   "contract": clause.link}))
        else:
            click.echo(f"{clause.id:<10} [{clause.tag:<3}] {clause.title}")
    return OK


# Every option of every command has its environment variable; the commands with options also read the
# config file (--config, --target).
for _command in (run.run, rehearse.rehearse, sweep.sweep, replay.replay, compare.compare, serve.serve, zoo.zoo):
    cli.add_command(configure(_command, from_file=True))
for _command in (zoo.faults, diff.diff, clauses):
    cli.add_command(configure(_command, from_file=False))


def one_line(text: str) -> str:
    return " ".join(text.split())


def main(argv: Sequence[str] | None = None) -> int:
    """The console script: every error a person can act on ends in one line and its exit code.

    `CrmContractError` (`crm_contract.errors`) says its own code and label; click's usage errors are 2;
    an interrupt is 3, inconclusive.
    """
    try:
        result = cli.main(args=argv, prog_name="crm-contract", standalone_mode=False)
    except CrmContractError as error:
        click.echo(f"crm-contract: {error.label}: {error.message}", err=True)
        return error.exit_code
    except click.exceptions.NoArgsIsHelpError as error:
        click.echo(error.format_message(), err=True)
        return USAGE
    except click.ClickException as error:
        message = one_line(error.format_message())
        if isinstance(error, click.NoSuchOption) and error.ctx is not None and error.ctx.command is run.run:
            message += " (options for pytest go after --: crm-contract run -- -k NAME)"
        click.echo(f"crm-contract: error: {message}", err=True)
        return USAGE
    except (click.Abort, KeyboardInterrupt):
        click.echo("crm-contract: interrupted", err=True)
        return INCONCLUSIVE
    return result if isinstance(result, int) else OK


if __name__ == "__main__":
    sys.exit(main())
