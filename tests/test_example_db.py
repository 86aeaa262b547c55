"""`--example-db`: the counterexample one run found is tried first by the next (a directory, Redis, GitHub).

The Redis test runs a real `redis-server` (Debian's package, installed by `scripts/ensure-redis` when it
is missing) and three real runs against a server with a fault: the first finds the failure and saves
its shrunk example; the second, with another seed and a single example per test, fails at once
because it replays the saved example first; a third, the same but without the database, passes, so
the second run's failure came from the database and not from luck.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from cli_support import ROOT, TOKEN, run, shown
from crm_contract.reference_server import create_app
from faulty_apps import TOKENS, Served

from crm_contract.kit.example_db import check_example_db, describe, open_example_db


def test_a_spec_names_a_directory_a_redis_server_a_github_artefact_or_none(tmp_path: Path) -> None:
    for good in ("examples", "redis://localhost:6379/0", "rediss://h:1/2", "github:owner/repo",
                 "github:owner/repo/my-db", "none"):
        check_example_db(good)
    for bad, said in (("", "is empty"), ("github:owner", "github:OWNER/REPO"), ("https://x/y", "only redis://")):
        with pytest.raises(ValueError, match=said):
            check_example_db(bad)
    from hypothesis.database import DirectoryBasedExampleDatabase

    assert isinstance(open_example_db(str(tmp_path / "db"), tmp_path / "local"), DirectoryBasedExampleDatabase)
    assert (tmp_path / "db").is_dir()
    assert open_example_db("none", tmp_path) is None
    assert describe("redis://user:secret@host:6379/0") == "redis://user:***@host:6379/0"


def test_an_unreachable_redis_is_one_line_and_exit_2() -> None:
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    result = run("run", "--example-db", f"redis://127.0.0.1:{port}/0", "--max-examples", "1", "--", "-k", "a1_")
    assert result.returncode == 2, shown(result)
    assert "--example-db cannot reach the Redis example database" in result.stderr + result.stdout, shown(result)


@pytest.fixture
def redis_url(tmp_path: Path) -> Iterator[str]:
    """A redis-server of the test's own, on a free port, without persistence."""
    if shutil.which("redis-server") is None:
        installed = subprocess.run([str(ROOT / "scripts" / "ensure-redis")], capture_output=True, text=True,
                                   check=False)
        if installed.returncode != 0 or shutil.which("redis-server") is None:
            pytest.skip(f"redis-server is not installable here: {installed.stderr.strip()[-200:]}")
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    server = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                               "--appendonly", "no", "--dir", str(tmp_path)], stdout=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        server.terminate()
        server.wait(10)


@pytest.mark.slow
def test_a_counterexample_found_once_is_replayed_first_through_redis(redis_url: str, tmp_path: Path) -> None:
    import redis

    selection = ("--profile", "strict", "--hypothesis-profile", "dev", "--", "-k", "datetime")
    with Served(create_app(tokens=TOKENS, fault="datetime_offset_ignored")) as served:
        target = ("run", "--base-url", served.base_url, *TOKEN)
        found = run(*target, "--example-db", redis_url, "--seed", "1", *selection)
        assert found.returncode == 1, shown(found)
        saved = redis.Redis.from_url(redis_url).keys("crm-contract-example:*")
        assert saved, "the failure's example was not saved"
        replayed = run(*target, "--example-db", redis_url, "--seed", "2", "--max-examples", "1",
                       "--report-dir", str(tmp_path / "replayed"), *selection)
        fresh = run(*target, "--example-db", "none", "--seed", "2", "--max-examples", "1", *selection)
    assert replayed.returncode == 1, shown(replayed)  # the saved example came first, and failed again
    assert fresh.returncode == 0, shown(fresh)  # one fresh example does not find it: the database did
