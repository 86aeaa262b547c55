"""Commands whose options also come from the environment and the config file (`crm_contract.kit.config`).

Every option of such a command has an environment variable, ``CRM_CONTRACT_<OPTION>`` (the token
variables keep their names), shown in ``--help``; ``--config`` and ``--target`` choose the file and a
named target in it. Precedence: the command line, then the environment, then the file, then the
defaults: the file's values are the command's ``default_map``, which click reads after the other two.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import click

__all__ = ["ConfiguredCommand", "HeaderType", "config_options", "env"]

PREFIX = "CRM_CONTRACT_"


def env(name: str) -> str:
    """The environment variable of an option: ``report-dir`` -> ``CRM_CONTRACT_REPORT_DIR``."""
    return PREFIX + name.upper().replace("-", "_")


class HeaderType(click.ParamType):
    """``NAME: VALUE``; in the environment one header a line (a value may hold spaces)."""

    name = "NAME: VALUE"
    envvar_list_splitter = "\n"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        text = str(value)
        name, colon, _ = text.partition(":")
        if not colon or not name.strip() or any(char.isspace() for char in name.strip()):
            self.fail(f"{text!r} is not NAME: VALUE", param, ctx)
        return text


def _peek(args: Sequence[str], option: str) -> str | None:
    """The value of `option` among `args` (before a ``--``), as ``--option VALUE`` or ``--option=VALUE``."""
    for index, arg in enumerate(args):
        if arg == "--":
            return None
        if arg == option and index + 1 < len(args):
            return args[index + 1]
        if arg.startswith(option + "="):
            return arg.split("=", 1)[1]
    return None


class ConfiguredCommand(click.Command):
    """A command whose option defaults come from the config file and its named target."""

    def make_context(self, info_name: str | None, args: list[str], parent: click.Context | None = None,
                     **extra: Any) -> click.Context:
        if not any(arg in ("-h", "--help") for arg in args):
            from crm_contract.kit.config import CONFIG_ENV, TARGET_ENV, load_config

            path = _peek(args, "--config") or os.environ.get(CONFIG_ENV) or None
            target = _peek(args, "--target") or os.environ.get(TARGET_ENV) or None
            config = load_config(Path(path) if path else None)
            siblings = parent.command.commands.values() if parent and isinstance(parent.command, click.Group) else ()
            every = set(_keys(self)).union(*(_keys(command) for command in siblings))
            extra.setdefault("default_map", config.options(target, _keys(self), every))
        return super().make_context(info_name, args, parent=parent, **extra)


def _keys(command: click.Command) -> dict[str, str]:
    """A command's config keys (its long option names, ``report_dir``) and the parameters they set."""
    return {opt.removeprefix("--").replace("-", "_"): param.name for param in command.params if param.name
            for opt in param.opts if opt.startswith("--")}


def config_options(function: Callable[..., Any]) -> Callable[..., Any]:
    """``--config`` and ``--target``, read before the other options (see `ConfiguredCommand`)."""
    function = click.option("--target", "config_target", metavar="NAME", envvar=env("target"), show_envvar=True,
                            help="A named target of the config file ([targets.NAME]).")(function)
    return click.option("--config", "config_file", metavar="PATH", envvar=env("config"), show_envvar=True,
                        help="The config file [default: crm-contract.toml, or [tool.crm-contract] in "
                        "pyproject.toml, found upwards from here].")(function)
