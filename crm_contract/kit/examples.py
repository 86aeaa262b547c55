"""Hypothesis examples: how many each test ran, the blob of a shrunk failure, and replaying exactly it.

Counting wraps each test's `hypothesis.inner_test`, which Hypothesis documents as reassignable for this
kind of use; a state machine is counted by `machine()`, which the machine's test wraps its factory in.
Replaying uses Hypothesis's own `@reproduce_failure` mechanism: with a blob set, a test runs exactly
that one example (the same draws, so the same requests, with the fresh run-unique keys of this run),
and raises `DidNotReproduce` if it passes.
"""

from __future__ import annotations

import ast
import functools
import hashlib
import importlib.util
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest

__all__ = [
    "Reproduction", "count", "find_reproduction", "instrument", "machine", "replaying", "run_seed", "seeding",
    "suite_fingerprint",
]

_REPRODUCE = re.compile(r"@reproduce_failure\((?P<version>'[^']*'|\"[^\"]*\"), (?P<blob>b'[^']*'|b\"[^\"]*\")\)")
_WRAPPED = "_crm_contract_counted"
_USE = "_hypothesis_internal_use_reproduce_failure"

F = TypeVar("F", bound=Callable[..., Any])

Reproduction = tuple[str, bytes]  # (Hypothesis version, blob)

_SEED = "_hypothesis_internal_use_seed"

_state: dict[str, Any] = {"count": 0, "replay": None, "seed": None}


def seeding(seed: int | None) -> None:
    """Seed every Hypothesis test of this process on its own, from `seed` and the test's id (None: stop).

    Hypothesis's global seed (``--hypothesis-seed``) switches its example database off; a seed set on each
    test keeps the run just as repeatable and the database on (`crm_contract.plugin.session.use_example_db`).
    """
    _state["seed"] = seed


def run_seed() -> int | None:
    """The seed `seeding` set, if any."""
    return _state["seed"]


def _seed_for(key: str) -> int:
    return int.from_bytes(hashlib.sha256(f"{_state['seed']}:{key}".encode()).digest()[:8], "big")


def count() -> int:
    """Examples run so far in this process; a test's count is the difference across it."""
    return int(_state["count"])


def _counted(test: F) -> F:
    def counting(*args: Any, **kwargs: Any) -> Any:
        _state["count"] += 1
        return test(*args, **kwargs)

    setattr(counting, _WRAPPED, True)
    return counting  # type: ignore[return-value]


def instrument(item: pytest.Item) -> None:
    """Count the examples of `item` if Hypothesis drives it, and set up the replay of one if asked."""
    obj = getattr(item, "obj", None)
    handle = getattr(obj, "hypothesis", None)
    if handle is None:
        return
    if not getattr(handle.inner_test, _WRAPPED, False):
        handle.inner_test = _counted(handle.inner_test)
    if _state["replay"] is not None:
        setattr(obj, _USE, _state["replay"])
    if _state["seed"] is not None:
        setattr(obj, _SEED, _seed_for(item.nodeid.rpartition("contract_tests/")[2]))


def machine(factory: F, key: str = "") -> F:
    """A state machine factory whose runs are counted, and which replays the blob when one is set.

    `key` names the test (its pytest node id) for the seed `seeding` sets.
    """

    def counted_factory() -> Any:
        _state["count"] += 1
        return factory()

    if _state["replay"] is not None:
        setattr(counted_factory, _USE, _state["replay"])
    if _state["seed"] is not None:
        setattr(counted_factory, _SEED, _seed_for(key.rpartition("contract_tests/")[2]))
    return counted_factory  # type: ignore[return-value]


def replaying(reproduction: Reproduction | None) -> None:
    """From now on, every Hypothesis test of this process runs exactly this example (None: stop)."""
    _state["replay"] = reproduction


def find_reproduction(error: BaseException | None, text: str = "") -> Reproduction | None:
    """The `@reproduce_failure(version, blob)` Hypothesis printed for a failure (notes or report text)."""
    candidates = [*getattr(error, "__notes__", ()), text] if error is not None else [text]
    for candidate in candidates:
        found = _REPRODUCE.search(str(candidate))
        if found:
            return ast.literal_eval(found.group("version")), ast.literal_eval(found.group("blob"))
    return None


@functools.cache
def suite_fingerprint() -> str:
    """A digest of the suite's and the strategies' sources: a blob replays exactly only on the same code."""
    digest = hashlib.sha256()
    for package in ("contract_tests", "strategies"):
        spec = importlib.util.find_spec(f"crm_contract.{package}")
        if spec is None or not spec.submodule_search_locations:
            continue
        root = Path(next(iter(spec.submodule_search_locations)))
        for path in sorted(root.glob("*.py")):
            digest.update(f"{package}/{path.name}\n".encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]
