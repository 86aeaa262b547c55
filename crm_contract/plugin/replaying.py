"""The pytest plugin of a replay (``--crm-replay FILE``): only the file's test runs, with its recorded example.

The replay file (``failures/<clause>-<n>.json`` of a report) names the failing test and carries
Hypothesis's blob of its shrunk example; `load_replay` reads and checks it, for this plugin and for the
`crm-contract replay` command alike.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from crm_contract.kit import examples
from crm_contract.plugin.recorder import item_id, portable_id
from crm_contract.reports.replay_files import REPLAY_FORMAT

__all__ = ["Replaying", "load_replay", "reproduction_of"]


def load_replay(path: str | Path) -> dict[str, Any]:
    """The replay file at `path`, checked; `ValueError` with a one-line reason if it is not one."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as error:
        raise ValueError(f"cannot read {path}: {error.strerror}") from None
    except ValueError:
        raise ValueError(f"{path} is not JSON") from None
    if not isinstance(data, dict) or data.get("format") != REPLAY_FORMAT:
        raise ValueError(f"{path} is not a crm-contract replay file (format {REPLAY_FORMAT})")
    if not isinstance(data.get("test"), str) or not data["test"]:
        raise ValueError(f"{path} names no test")
    return data


def reproduction_of(data: Mapping[str, Any]) -> examples.Reproduction | None:
    found = data.get("reproduction")
    if not found:
        return None
    from hypothesis import __version__ as hypothesis_version

    if found.get("hypothesis") != hypothesis_version:
        raise ValueError(f"the example was recorded with Hypothesis {found.get('hypothesis')}, this is "
                         f"{hypothesis_version}: install that version to replay it exactly")
    if found.get("suite") != examples.suite_fingerprint():
        raise ValueError("the example was recorded with another version of the suite (contract_tests or "
                         "strategies changed): run the suite again to get a replay file for this one")
    return str(found["hypothesis"]), str(found["blob"]).encode("ascii")


class Replaying:
    """The pytest plugin of a replay: only the file's test is run, and with the recorded example."""

    def __init__(self, data: Mapping[str, Any]) -> None:
        self.test = portable_id(str(data["test"]))
        self.reproduction = reproduction_of(data)

    @classmethod
    def load(cls, path: str) -> Replaying:
        try:
            return cls(load_replay(path))
        except ValueError as error:
            raise pytest.UsageError(str(error)) from None

    @pytest.hookimpl(tryfirst=True)
    def pytest_collection_modifyitems(self, config: pytest.Config, items: list[pytest.Item]) -> None:
        keep = [item for item in items if item_id(item) == self.test]
        if not keep:
            raise pytest.UsageError(f"the test {self.test} of the replay file is not in this suite (or was "
                                    "deselected)")
        config.hook.pytest_deselected(items=[item for item in items if item not in keep])
        items[:] = keep
        examples.replaying(self.reproduction)
