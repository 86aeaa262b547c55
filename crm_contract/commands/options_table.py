"""The README's table of a command's options, made from the command itself, so the two cannot drift apart.

``python -m crm_contract.commands.options_table README.md`` rewrites the table between the markers
``<!-- options: run -->`` and ``<!-- /options: run -->``; ``--check`` only says whether it is up to date
(exit 1 if not). ``tests/test_cli.py`` runs the check.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import click

__all__ = ["options_table", "update"]


def options_table(command: click.Command) -> str:
    """A Markdown table: every option of `command`, its environment variable, its default and what it does."""
    rows = ["| option | environment | default | what it does |", "| --- | --- | --- | --- |"]
    for param in command.params:
        if not isinstance(param, click.Option) or param.hidden:
            continue
        names = ", ".join(f"`{name}`" for name in sorted(param.opts, key=len))
        envvars = param.envvar if isinstance(param.envvar, list | tuple) else [param.envvar] if param.envvar else []
        unset = param.default in (None, (), False) or type(param.default).__name__ == "Sentinel"  # click's UNSET
        default = "" if unset else f"`{param.default}`"
        text = " ".join((param.help or "").split()).replace("|", "\\|")
        rows.append(f"| {names} | {', '.join(f'`{name}`' for name in envvars)} | {default} | {text} |")
    return "\n".join(rows)


def update(text: str, commands: dict[str, click.Command]) -> str:
    """`text` with the table of each command whose markers it holds made anew."""
    for name, command in commands.items():
        pattern = re.compile(rf"(<!-- options: {name} -->\n)(?:.*?\n)?(<!-- /options: {name} -->)", re.DOTALL)
        table = options_table(command)
        text = pattern.sub(lambda found: found.group(1) + table + "\n" + found.group(2), text)  # noqa: B023
    return text


def main(argv: list[str]) -> int:
    from crm_contract.commands import cli

    check = "--check" in argv
    paths = [Path(arg) for arg in argv if arg != "--check"] or [Path("README.md")]
    stale = []
    for path in paths:
        text = path.read_text(encoding="utf-8")
        made = update(text, dict(cli.commands))
        if made != text:
            stale.append(path)
            if not check:
                path.write_text(made, encoding="utf-8")
    if check and stale:
        print(f"out of date: {', '.join(map(str, stale))}; run python -m crm_contract.commands.options_table",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
