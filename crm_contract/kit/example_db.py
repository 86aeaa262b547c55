"""Where Hypothesis keeps the counterexamples a run found (`--example-db`), so that the next run tries them first.

Hypothesis saves every failing example it shrinks under a key of its test, and a later run of the same
test replays the saved ones before it generates anything. The kit keeps that database in the user's
cache directory by default (none under the derandomized `ci` profile, as Hypothesis does), which a CI
machine throws away. `--example-db` names one that outlives the machine:

- ``DIR``: a directory (Hypothesis's `DirectoryBasedExampleDatabase`), e.g. one that CI keeps as a
  cache or an artefact between runs;
- ``redis://HOST:PORT/N`` (or ``rediss://``): a Redis server every run shares, CI and laptops alike
  (Hypothesis's `RedisExampleDatabase`; ``pip install 'zeeg-crm-contract[redis]'``);
- ``github:OWNER/REPO`` or ``github:OWNER/REPO/ARTIFACT``: the examples a GitHub Actions workflow
  uploaded as an artefact (Hypothesis's `GitHubArtifactDatabase`, read with ``GITHUB_TOKEN``), read
  only and tried on top of the local database, which the workflow uploads again;
- ``none``: no database at all.

A database and Hypothesis's ``derandomize`` exclude each other, so under the `ci` profile a database
turns derandomizing off and the run's seed is fixed instead (0 unless ``--seed``): the run stays
repeatable, and the saved examples come first.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from hypothesis.database import ExampleDatabase

__all__ = ["GITHUB", "check_example_db", "describe", "open_example_db"]

GITHUB = re.compile(r"^github:([A-Za-z0-9][A-Za-z0-9-]*)/([A-Za-z0-9._-]+)(?:/([A-Za-z0-9._-]+))?$")
_REDIS = ("redis://", "rediss://", "unix://")


def check_example_db(spec: str) -> None:
    """ValueError, with a reason, for a spec that cannot name a database (nothing is opened)."""
    text = spec.strip()
    if not text:
        raise ValueError("is empty: give a directory, redis://HOST:PORT/N, github:OWNER/REPO or none")
    if text.startswith("github:") and not GITHUB.match(text):
        raise ValueError(f"{spec!r}: a GitHub artefact is github:OWNER/REPO or github:OWNER/REPO/ARTIFACT")
    if text.startswith(_REDIS) and len(text.split("://", 1)[1]) == 0:
        raise ValueError(f"{spec!r}: a Redis URL names a host, e.g. redis://localhost:6379/0")
    if "://" in text and not text.startswith(_REDIS):
        raise ValueError(f"{spec!r}: only redis://, rediss:// and unix:// URLs name a database; a path names a "
                         "directory")


def open_example_db(spec: str, local: Path) -> ExampleDatabase | None:
    """The database `spec` names (see the module); `local` is the run's own directory database.

    Raises ValueError with a reason a person can act on (a missing package, an unreachable Redis).
    """
    from hypothesis.database import DirectoryBasedExampleDatabase

    check_example_db(spec)
    text = spec.strip()
    if text.lower() == "none":
        return None
    if text.startswith(_REDIS):
        return _redis(text)
    found = GITHUB.match(text)
    if found:
        from hypothesis.database import GitHubArtifactDatabase, MultiplexedDatabase, ReadOnlyDatabase

        owner, repo, artifact = found.groups()
        shared = GitHubArtifactDatabase(owner, repo, artifact_name=artifact or "hypothesis-example-db")
        return MultiplexedDatabase(DirectoryBasedExampleDatabase(local), ReadOnlyDatabase(shared))
    path = Path(text).expanduser()
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ValueError(f"cannot use {path} as the example database: {error.strerror}") from None
    return DirectoryBasedExampleDatabase(path)


def _redis(url: str) -> ExampleDatabase:
    try:
        import redis
        from hypothesis.extra.redis import RedisExampleDatabase
    except ImportError:
        raise ValueError("a Redis example database needs the redis package: "
                         "pip install 'zeeg-crm-contract[redis]'") from None
    client = redis.Redis.from_url(url, socket_connect_timeout=5, socket_timeout=10)
    try:
        client.ping()
    except redis.RedisError as error:
        raise ValueError(f"cannot reach the Redis example database at {describe(url)}: {error}") from None
    return RedisExampleDatabase(client, key_prefix=b"crm-contract-example:")


def describe(spec: str) -> str:
    """`spec` as it may be shown: a Redis URL without its password."""
    return re.sub(r"(://[^:/@]*:)[^@/]*@", r"\1***@", spec.strip())
