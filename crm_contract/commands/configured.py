"""Options from the environment and the config file (`crm_contract.kit.config`), for every command.

Every option of every command has an environment variable, ``CRM_CONTRACT_<OPTION>`` (the token
variables keep their names), shown in ``--help`` with its default (`configure`); the commands that
talk to a target also take ``--config`` and ``--target``, the file and a named target in it.
Precedence: the command line, then the environment, then the file, then the defaults: the group
(`ConfiguredGroup`) makes the file's values each command's ``default_map``, which click reads after
the other two.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click

__all__ = ["ConfiguredGroup", "HeaderType", "configure", "env"]

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


class ConfiguredGroup(click.Group):
    """The ``crm-contract`` group: the config file's values become each command's ``default_map``."""

    def make_context(self, info_name: str | None, args: list[str], parent: click.Context | None = None,
                     **extra: Any) -> click.Context:
        invoked = self.commands.get(next((arg for arg in args if not arg.startswith("-")), ""))
        if invoked is not None and "config" in _keys(invoked) and not any(arg in ("-h", "--help") for arg in args) \
                and "default_map" not in extra:
            from crm_contract.kit.config import CONFIG_ENV, TARGET_ENV, load_config

            path = _peek(args, "--config") or os.environ.get(CONFIG_ENV) or None
            target = _peek(args, "--target") or os.environ.get(TARGET_ENV) or None
            config = load_config(Path(path) if path else None)
            every = set().union(*(_keys(command) for command in self.commands.values()))
            extra["default_map"] = {str(invoked.name): _shaped(invoked, config.options(target, _keys(invoked), every))}
        return super().make_context(info_name, args, parent=parent, **extra)


def _shaped(command: click.Command, values: dict[str, Any]) -> dict[str, Any]:
    """A file's single value for a repeatable option (one --base-url of compare, one header) as a list of one."""
    repeatable = {param.name for param in command.params if isinstance(param, click.Option) and param.multiple}
    return {name: [value] if name in repeatable and isinstance(value, str) else value
            for name, value in values.items()}


def configure(command: click.Command, *, from_file: bool) -> click.Command:
    """Give every option of `command` its environment variable (shown in --help, with its default);
    with `from_file`, also ``--config`` and ``--target``, whose values the group reads first."""
    for param in command.params:
        if not isinstance(param, click.Option):
            continue
        if not param.envvar:
            long_name = next((opt for opt in param.opts if opt.startswith("--")), param.opts[0])
            param.envvar = env(long_name.removeprefix("--"))
        param.show_envvar = True
        if param.default not in (None, (), False) and type(param.default).__name__ != "Sentinel":
            param.show_default = True
    if from_file and "config" not in _keys(command):
        command.params[:0] = [
            click.Option(["--config"], metavar="PATH", envvar=env("config"), show_envvar=True, expose_value=False,
                         help="The config file [default: crm-contract.toml, or [tool.crm-contract] in "
                         "pyproject.toml, found upwards from here]."),
            click.Option(["--target"], metavar="NAME", envvar=env("target"), show_envvar=True, expose_value=False,
                         help="A named target of the config file ([targets.NAME])."),
        ]
    return command


def _keys(command: click.Command) -> dict[str, str]:
    """A command's config keys (its long option names, ``report_dir``) and the parameters they set."""
    return {opt.removeprefix("--").replace("-", "_"): param.name for param in command.params if param.name
            for opt in param.opts if opt.startswith("--")}
