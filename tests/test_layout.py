"""The layout the README's architecture section describes, held by the source itself.

One maker of HTTP clients (`crm_contract/kit/target.py`), one builder of the suite's pytest command line
(`crm_contract/runs/runner.py`), click only in `crm_contract/commands/`, and nothing the suite imports
pulling in the reference server or the commands.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "crm_contract"
# Every folder installed as part of crm_contract (setup.py's ROOTS), with the repository's names.
INSTALLED = [PACKAGE, ROOT / "contract_tests", ROOT / "strategies", ROOT / "reference_server"]
# ... and the scripts that measure and check the kit, which use the same kit.
TOOLS = [ROOT / "benchmarks", ROOT / "scripts"]


def where(pattern: str, folders: list[Path]) -> list[str]:
    found = re.compile(pattern, re.MULTILINE)
    return sorted(str(path.relative_to(ROOT)) for folder in folders for path in folder.rglob("*.py")
                  if found.search(path.read_text("utf-8")))


def test_one_place_makes_an_http_client() -> None:
    assert where(r"httpx\.Client\(", INSTALLED + TOOLS) == ["crm_contract/kit/target.py"]


def test_one_place_builds_the_suites_pytest_command_line() -> None:
    """scripts/check_install.py runs plain pytest as a user would; the kit itself goes through the runner."""
    assert where(r'"-m",\s*"pytest"', INSTALLED) == ["crm_contract/runs/runner.py"]


def test_click_is_imported_by_the_command_modules_only() -> None:
    users = where(r"^\s*(import click|from click\b)", INSTALLED)
    assert users and all(user.startswith("crm_contract/commands/") for user in users), users


@pytest.mark.parametrize("module", ["crm_contract.plugin.session", "crm_contract.contract_tests.conftest",
                                    "crm_contract.runs.runner", "crm_contract.kit.target"])
def test_the_suite_and_its_runner_import_neither_the_server_nor_the_commands(module: str) -> None:
    code = (f"import sys, {module}; print(sorted(m for m in ('crm_contract.commands', 'uvicorn', 'starlette', "
            "'crm_contract.reference_server') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]", done.stdout + done.stderr
