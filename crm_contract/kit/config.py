"""The config file: ``[tool.crm-contract]`` in a ``pyproject.toml`` or a ``crm-contract.toml``, and named targets.

Found upwards from the working directory (the first folder with a ``crm-contract.toml``, or a
``pyproject.toml`` that has a ``[tool.crm-contract]`` table), or given by ``--config PATH``
(``CRM_CONTRACT_CONFIG``). Its keys are the options of the commands, spelled as on the command line
without the dashes (``report-dir``, or ``report_dir``; ``headers = { "X-Tenant" = "acme" }`` for -H); a
table ``[targets.NAME]`` (in a pyproject: ``[tool.crm-contract.targets.NAME]``) holds one target's keys,
used with ``--target NAME`` (``CRM_CONTRACT_TARGET``). Tokens never go in a file: a target names the
environment variables that hold them (``token-env``, ``read-token-env``). Paths (``tls-verify``,
``client-cert``, ``client-key``, ``report-dir``, ``ndjson``, ``har``) are relative to the file.

Precedence, for every option: the command line, then the environment, then the config file (a named
target's keys over the file's own), then the defaults. The commands get the file's values as click's
``default_map``, which click reads after the command line and the environment.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from crm_contract.errors import UsageError

__all__ = ["CONFIG_ENV", "FILE_NAME", "TARGET_ENV", "Config", "find_config", "load_config"]

FILE_NAME = "crm-contract.toml"
CONFIG_ENV, TARGET_ENV = "CRM_CONTRACT_CONFIG", "CRM_CONTRACT_TARGET"
PATH_KEYS = frozenset({"tls_verify", "client_cert", "client_key", "report_dir", "ndjson", "har"})
SECRET_KEYS = frozenset({"token", "read_token"})
# A target's keys that name where its tokens are, not option values themselves.
TOKEN_ENV_KEYS = {"token_env": "token", "read_token_env": "read_token"}


@dataclass(frozen=True)
class Config:
    """A config file's settings: its own keys, its named targets, and where it is (for relative paths)."""

    path: Path | None = None
    settings: Mapping[str, Any] = field(default_factory=dict)
    targets: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    def options(self, target: str | None, known: Mapping[str, str], every: set[str],
                environ: Mapping[str, str] = os.environ) -> dict[str, Any]:
        """The values the file gives a command, by parameter name, with target `target`'s keys on top.

        `known` maps the command's keys (its long option names, ``report_dir``) to its parameters; keys
        of the other commands (`every`) are left out, and a key no command has is a usage error.
        """
        chosen: dict[str, Any] = dict(self.settings)
        if target is not None:
            if target not in self.targets:
                where = f" in {self.path}" if self.path else ""
                names = ", ".join(sorted(self.targets)) or "none"
                raise UsageError(f"no target {target!r}{where} (targets: {names})")
            chosen.update(self.targets[target])
        unknown = sorted(set(chosen) - every - set(TOKEN_ENV_KEYS) - {"targets"})
        if unknown:
            raise UsageError(f"{self.path}: unknown key {unknown[0].replace('_', '-')!r} (the keys are the options "
                             "of the commands, e.g. report-dir, and token-env)")
        values: dict[str, Any] = {}
        for key, value in chosen.items():
            if key in TOKEN_ENV_KEYS:
                token = environ.get(str(value))
                if token and TOKEN_ENV_KEYS[key] in known:
                    values[known[TOKEN_ENV_KEYS[key]]] = token
            elif key in known:
                values[known[key]] = self._resolved(key, value)
        return values

    def _resolved(self, key: str, value: Any) -> Any:
        if key == "header" and isinstance(value, Mapping):
            return [f"{name}: {item}" for name, item in value.items()]
        if key in PATH_KEYS and isinstance(value, str) and self.path is not None and value.lower() not in (
                "true", "false") and not Path(value).is_absolute():
            return str((self.path.parent / value).resolve())
        return value


def find_config(start: Path) -> Path | None:
    """The config file that applies in `start`: the nearest folder upwards with one."""
    for folder in (start, *start.parents):
        own = folder / FILE_NAME
        if own.is_file():
            return own
        project = folder / "pyproject.toml"
        if project.is_file() and "crm-contract" in _read(project).get("tool", {}):
            return project
    return None


def load_config(path: Path | None = None, *, start: Path | None = None) -> Config:
    """The config file at `path`, or the one found from `start` (the working directory); an empty one if none."""
    found = path if path is not None else find_config(start or Path.cwd())
    if found is None:
        return Config()
    if not found.is_file():
        raise UsageError(f"no config file {found}")
    data = _read(found)
    table = data.get("tool", {}).get("crm-contract") if found.name == "pyproject.toml" else data
    if table is None:
        raise UsageError(f"{found} has no [tool.crm-contract] table")
    if not isinstance(table, dict):
        raise UsageError(f"{found}: [tool.crm-contract] must be a table")
    settings = {_key(key): value for key, value in table.items() if key != "targets"}
    targets_table = table.get("targets") or {}
    if not isinstance(targets_table, dict) or not all(isinstance(item, dict) for item in targets_table.values()):
        raise UsageError(f"{found}: targets must be tables, e.g. [targets.staging]")
    targets = {name: {_key(key): value for key, value in item.items()} for name, item in targets_table.items()}
    for where, keys in [("", settings), *((f"[targets.{name}] ", item) for name, item in targets.items())]:
        secret = sorted(SECRET_KEYS & set(keys))
        if secret:
            raise UsageError(f"{found}: {where}{secret[0].replace('_', '-')} does not belong in a file; name the "
                             f"environment variable that holds it with {secret[0].replace('_', '-')}-env")
    return Config(found, settings, targets)


# Plural spellings a file may use for repeatable options.
ALIASES = {"headers": "header", "secret_headers": "secret_header"}


def _key(key: str) -> str:
    name = key.replace("-", "_")
    return ALIASES.get(name, name)


def _read(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except OSError as error:
        raise UsageError(f"cannot read {path}: {error.strerror}") from None
    except tomllib.TOMLDecodeError as error:
        raise UsageError(f"{path} is not valid TOML: {error}") from None
