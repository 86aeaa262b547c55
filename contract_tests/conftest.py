"""Fixtures of the contract suite: the recording client, the run's workspace and its clean-up."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from crm_contract.client import ContractClient
from crm_contract.pytest_plugin import Target
from crm_contract.workspace import Workspace


@pytest.fixture(scope="session")
def api(target: Target) -> Iterator[ContractClient]:
    """The suite's client for the target (write token): retries 429s, records every exchange."""
    with target.client() as http:
        yield ContractClient(http)


@pytest.fixture(scope="session")
def workspace(api: ContractClient) -> Iterator[Workspace]:
    """Objects and records the run makes; whatever is left is deleted when the session ends."""
    made = Workspace(api)
    yield made
    left = made.cleanup()
    if left:
        raise RuntimeError(f"clean-up could not delete: {', '.join(left)}")
