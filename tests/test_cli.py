"""The ``crm-contract`` command: help, ``serve`` as a real subprocess, ``run``'s options and usage errors.

Runs of the suite against correct, faulty and unusable targets are in ``test_suite_run.py``.
"""

from __future__ import annotations

import json
import os
import queue
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import click
import httpx
import pytest
from cli_support import AUTH, COMMAND, ROOT, one_line, run
from crm_contract.reference_server import DEFAULT_WRITE_TOKEN

import crm_contract
from crm_contract.hosting.embedded import free_port


def cli(*args: str, env: dict[str, str] | None = None, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return run(*args, env=env, timeout=timeout)


def one_error_line(result: subprocess.CompletedProcess[str]) -> str:
    return one_line(result, "error")


@contextmanager
def serving(*args: str, env: dict[str, str] | None = None) -> Iterator[str]:
    """``crm-contract serve --port 0 ARGS`` as a subprocess; yields the base URL it prints."""
    process = subprocess.Popen(
        [*COMMAND, "serve", "--port", "0", *args],
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: queue.Queue[str] = queue.Queue()
    # reads everything serve prints, also uvicorn's logs later on, so that a full pipe never blocks it
    pump = threading.Thread(target=lambda: [lines.put(line) for line in process.stdout or ()], daemon=True)
    with process:
        pump.start()
        try:
            yield read_base_url(lines)
        finally:
            process.send_signal(signal.SIGINT)
            try:
                code = process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                raise
            pump.join(timeout=5)
    assert code == 0, f"serve exited with {code} after Ctrl-C"


def read_base_url(lines: queue.Queue[str]) -> str:
    """The base URL that serve announces; reads up to the last line of the announcement."""
    base_url, seen = None, [""]
    deadline = time.monotonic() + 30
    while base_url is None or not seen[-1].lstrip().startswith("try"):
        try:
            line = lines.get(timeout=max(0.01, deadline - time.monotonic()))
        except queue.Empty:
            raise AssertionError(f"serve printed no base URL in time:\n{''.join(seen)}") from None
        seen.append(line)
        if line.strip().startswith("base URL"):
            base_url = line.split()[-1]
    return base_url


def make_object(base_url: str, slug: str = "products") -> None:
    with httpx.Client(base_url=base_url, headers=AUTH) as http:
        body = {"slug": slug, "singularName": "Product", "pluralName": "Products"}
        assert http.post("/crm/objects", json=body).status_code == 201
        attribute = {"label": "SKU", "type": "text", "isRequired": True, "isUnique": True}
        assert http.post(f"/crm/objects/{slug}/attributes", json=attribute).status_code == 201


def upsert(base_url: str, body: dict[str, object]) -> httpx.Response:
    return httpx.put(f"{base_url}/crm/products", params={"matchingAttribute": "sku"}, json=body, headers=AUTH)


@pytest.mark.parametrize("args", [[], ["serve"], ["run"]])
def test_help(args: Sequence[str]) -> None:
    result = cli(*args, "--help")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Usage: crm-contract"), result.stdout


def test_version_and_public_surface() -> None:
    assert crm_contract.__all__ == ["PLUGIN", "SUITE", "__version__"]
    assert crm_contract.SUITE == "crm_contract.contract_tests" and crm_contract.PLUGIN == "crm_contract.plugin"
    result = cli("--version")
    assert result.returncode == 0 and crm_contract.__version__ in result.stdout


def test_serve_answers_an_assert_with_201_then_200_and_the_same_id() -> None:
    with serving() as base_url:
        make_object(base_url)
        created = upsert(base_url, {"sku": "A-1"})
        updated = upsert(base_url, {"sku": "A-1"})
    assert created.status_code == 201, created.text
    assert updated.status_code == 200, updated.text
    assert updated.json()["record"]["id"] == created.json()["record"]["id"]


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_serve_with_curl() -> None:
    with serving() as base_url:
        make_object(base_url)
        command = [
            "curl", "-sS", "-X", "PUT", "-H", f"Authorization: Bearer {DEFAULT_WRITE_TOKEN}",
            "-H", "Content-Type: application/json", "-d", '{"sku": "B-2"}', "-w", "\n%{http_code}",
            f"{base_url}/crm/products?matchingAttribute=sku",
        ]  # fmt: skip
        first = subprocess.run(command, capture_output=True, text=True, timeout=30, check=True).stdout
        second = subprocess.run(command, capture_output=True, text=True, timeout=30, check=True).stdout
    assert first.splitlines()[-1] == "201" and second.splitlines()[-1] == "200", (first, second)
    assert (
        json.loads(first.splitlines()[0])["record"]["id"]
        == json.loads(second.splitlines()[0])["record"]["id"]
    )


def test_serve_keeps_records_across_a_restart_with_db(tmp_path: Path) -> None:
    db = str(tmp_path / "crm.sqlite3")
    with serving("--db", db) as base_url:
        make_object(base_url)
        created = upsert(base_url, {"sku": "C-3"}).json()["record"]
    with serving("--db", db) as base_url:
        fetched = httpx.get(f"{base_url}/crm/products/{created['id']}", headers=AUTH)
        again = upsert(base_url, {"sku": "C-3"})
    assert fetched.status_code == 200 and fetched.json()["record"]["attributes"] == {"sku": "C-3"}
    assert again.status_code == 200 and again.json()["record"]["id"] == created["id"], again.text


def test_read_token_reads_but_cannot_write() -> None:
    with serving("--read-token", "reader") as base_url:
        read = {"Authorization": "Bearer reader"}
        body = {"slug": "things", "singularName": "Thing", "pluralName": "Things"}
        assert httpx.post(f"{base_url}/crm/objects", json=body, headers=read).status_code == 403
        assert httpx.get(f"{base_url}/crm/objects", headers=read).status_code == 200


def test_tokens_from_the_environment() -> None:
    env = {"CRM_CONTRACT_TOKEN": "env-writer", "CRM_CONTRACT_READ_TOKEN": "env-reader"}
    with serving(env=env) as base_url:
        body = {"slug": "things", "singularName": "Thing", "pluralName": "Things"}
        writer = {"Authorization": "Bearer env-writer"}
        assert httpx.post(f"{base_url}/crm/objects", json=body, headers=writer).status_code == 201
        assert httpx.get(f"{base_url}/crm/objects", headers=AUTH).status_code == 401
        reader = {"Authorization": "Bearer env-reader"}
        assert httpx.get(f"{base_url}/crm/objects", headers=reader).status_code == 200


def test_rate_limit_answers_429() -> None:
    with serving("--rate-limit", "2/s") as base_url, httpx.Client(headers=AUTH) as http:
        statuses = {http.get(f"{base_url}/crm/objects").status_code for _ in range(10)}
    assert statuses == {200, 429}


@pytest.mark.parametrize("value", ["abc", "0", "-3/s", "1/m", "nan", "inf"])
def test_bad_rate_limit_is_one_line_and_exit_2(value: str) -> None:
    result = cli("serve", "--port", "0", "--rate-limit", value)
    assert result.returncode == 2
    assert "--rate-limit" in one_error_line(result)


def test_port_in_use_is_one_line_and_exit_2() -> None:
    with serving() as base_url:
        port = base_url.split(":")[-1].split("/")[0]
        result = cli("serve", "--port", port)
    assert result.returncode == 2
    assert "already in use" in one_error_line(result)


@pytest.mark.parametrize("db", ["missing-dir/crm.sqlite3", "not-a-db.sqlite3"])
def test_unusable_db_is_one_line_and_exit_2(tmp_path: Path, db: str) -> None:
    (tmp_path / "not-a-db.sqlite3").write_text("this is not SQLite, and long enough to show it" * 40)
    result = cli("serve", "--port", "0", "--db", str(tmp_path / db))
    assert result.returncode == 2
    assert "database" in one_error_line(result)


def test_run_without_a_token_for_a_base_url_is_one_line_and_exit_2() -> None:
    url = f"http://127.0.0.1:{free_port()}/v2"
    result = cli("run", "--base-url", url, env={"ZEEG_API_TOKEN": ""})
    assert result.returncode == 2
    assert "--token or ZEEG_API_TOKEN" in one_error_line(result)


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--base-url", "ftp://example.com/v2", "--token", "t"], "http:// or https://"),
        (["--token", "same", "--read-token", "same"], "--read-token must differ"),
        (["--matching-attribute", "sku"], "go together"),
        (["--profile", "lenient"], "'lenient' is not one of"),
        (["--hypothesis-profile", "quick"], "'quick' is not one of"),
        (["--seed", "abc"], "'abc' is not a valid integer"),
        (["-k", "a1"], "options for pytest go after --"),
    ],
    ids=["scheme", "same-tokens", "attribute-alone", "profile", "hypothesis-profile", "seed", "pytest-option"],
)
def test_bad_run_options_are_one_line_and_exit_2(args: list[str], expected: str) -> None:
    result = cli("run", *args)
    assert result.returncode == 2
    assert expected in one_error_line(result)


def test_run_passes_its_options_to_the_suite(tmp_path: Path) -> None:
    result = cli(
        "run", "--profile", "documented", "--hypothesis-profile", "ci", "--seed", "7", "--exitfirst",
        "--report-dir", str(tmp_path / "report"), "--", "-k", "no_test_has_this_name",
    )  # fmt: skip
    header = "contract profile documented, hypothesis profile ci, seed 7"
    assert header in result.stdout, result.stdout + result.stderr
    assert (tmp_path / "report" / "junit.xml").is_file()


@pytest.mark.parametrize(
    ("extra", "code"),
    [(["-k", "no_test_has_this_name"], 3), (["--no-such-pytest-option"], 2)],
    ids=["no-tests-is-inconclusive", "pytest-usage-error"],
)
def test_run_maps_pytest_outcomes_to_exit_codes(extra: list[str], code: int) -> None:
    result = cli("run", "--hypothesis-profile", "dev", "--", *extra)
    assert result.returncode == code, result.stdout + result.stderr


def test_the_zoo_matrix_shows_when_a_violation_was_found_and_reported() -> None:
    from crm_contract.runs.zoo import CORRECT, Outcome, format_matrix

    matrix = format_matrix([Outcome(CORRECT, "-", "passed", seconds=20.0),
                            Outcome("a", "A1", "killed", "test_a1", "A1", 12.0, 3, found=2.0),
                            Outcome("b", "A2", "killed", "test_a2", "A2", 6.0, 2, found=4.0),
                            Outcome("c", "A3", "killed", "test_set_up", "A3", 9.0, 1)])
    assert "found" in matrix.splitlines()[0] and "reported" in matrix.splitlines()[0]
    assert matrix.splitlines()[-1] == ("killed 3 of 3 faults; median time to the first failure 4.0 s, to the "
                                       "shrunk report 9.0 s (wall time from the start of the run)")


def test_serve_shows_the_reference_servers_own_default_token() -> None:
    """`crm-contract serve --help` names the default token without loading the server: the two must agree."""
    from crm_contract.commands import serve

    assert serve.DEFAULT_WRITE_TOKEN == DEFAULT_WRITE_TOKEN


def test_the_readmes_table_of_run_options_is_made_from_the_command() -> None:
    """`python -m crm_contract.commands.options_table README.md` makes it; a new option must be in it."""
    from crm_contract.commands import cli as group
    from crm_contract.commands.options_table import update

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "<!-- options: run -->" in readme
    assert update(readme, dict(group.commands)) == readme, "run python -m crm_contract.commands.options_table"


def test_every_option_of_every_command_shows_its_environment_variable() -> None:
    from crm_contract.commands import cli as group

    for name, command in group.commands.items():
        for param in command.params:
            if isinstance(param, click.Option) and "--help" not in param.opts:
                assert param.envvar and param.show_envvar, f"{name} {param.opts}"
