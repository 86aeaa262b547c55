"""What the tests that drive the ``crm-contract`` command share: the command, a run of it, and how to show one.

Every test module that starts the command as a user would (a subprocess, the installed console script
when there is one) imports these, instead of keeping a copy of its own.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from crm_contract.reference_server import DEFAULT_WRITE_TOKEN

from crm_contract import SUITE

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = Path(sys.executable).with_name("crm-contract")
# The installed console script when there is one (CI installs the package), else the same entry point.
COMMAND = [str(SCRIPT)] if SCRIPT.exists() else [sys.executable, "-m", "crm_contract"]
# The plugin comes from its entry point; -n 0 undoes this checkout's addopts (xdist for its own tests).
PLAIN_PYTEST = [sys.executable, "-m", "pytest", "--pyargs", SUITE, "-n", "0"]
DEV = ["--hypothesis-profile", "dev"]
TOKEN = ["--token", DEFAULT_WRITE_TOKEN]
AUTH = {"Authorization": f"Bearer {DEFAULT_WRITE_TOKEN}"}
# Set by a run or a CI job of the user's; a test's run gets only what it passes.
INHERITED = ("ZEEG_API_TOKEN", "ZEEG_API_READ_TOKEN", "PYTEST_BASE_URL", "CRM_CONTRACT_RUN_ID")


def run(*args: str, command: list[str] = COMMAND, env: dict[str, str] | None = None, timeout: float = 240,
        cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    """``crm-contract ARGS`` (or `command`) in a subprocess, with none of the tokens or targets of this shell."""
    environment = {key: value for key, value in os.environ.items() if key not in INHERITED}
    return subprocess.run([*command, *args], cwd=cwd, env={**environment, **(env or {})}, capture_output=True,
                          text=True, timeout=timeout, check=False)


def shown(result: subprocess.CompletedProcess[str]) -> str:
    """A finished run as an assertion message: its exit code, the end of its stdout and of its stderr."""
    return f"exit {result.returncode}\n--- stdout\n{result.stdout[-8000:]}\n--- stderr\n{result.stderr[-3000:]}"


def one_line(result: subprocess.CompletedProcess[str], label: str = "error") -> str:
    """The single line a command that stops before any test prints on stderr, starting `crm-contract: LABEL: `."""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, shown(result)
    assert lines[0].startswith(f"crm-contract: {label}: "), shown(result)
    return lines[0]
