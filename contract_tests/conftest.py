"""Fixtures of the contract suite: the recording client, the run's workspace and its clean-up."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from crm_contract.contract_tests.subjects import ObjectUnderTest
from crm_contract.strategies import ObjectDefinition, run_id

from crm_contract.kit.client import ContractClient, TargetInconclusive
from crm_contract.kit.ledger import Ledger
from crm_contract.kit.redaction import public_url
from crm_contract.kit.sweep import ledger_directory, sweep_keys
from crm_contract.kit.target import Target
from crm_contract.kit.workspace import CreatedObject, Workspace


@pytest.fixture(scope="session")
def api(target: Target) -> Iterator[ContractClient]:
    """The suite's client for the target (write token): retries 429s, records every exchange."""
    with target.client() as http:
        yield ContractClient(http)


@pytest.fixture(scope="session")
def workspace(target: Target, api: ContractClient) -> Iterator[Workspace]:
    """Objects and records the run makes; whatever is left is deleted when the session ends.

    Each is written to the run's ledger before it is created, so `crm-contract sweep` can remove what a
    killed run left; a run that cleaned up completely removes its ledger too.
    """
    foreign = (target.object_slug, target.matching_attribute) if target.object_slug and target.matching_attribute \
        else None
    ledger = Ledger.for_run(ledger_directory(), run_id(), public_url(target.base_url) or target.base_url)
    made = Workspace(api, target.definitions, ledger=ledger, foreign=foreign)
    ContractClient.write_listeners.append(made.note_write)
    try:
        yield made
    finally:
        ContractClient.write_listeners.remove(made.note_write)
        left = made.cleanup()
        left += sweep_keys(api, ledger.path)
        ledger.close(finished=not left)
    if left:
        # Not a verdict (deleting is not what the suite checks here), and not a bug of the suite either.
        raise TargetInconclusive(f"clean-up could not delete: {', '.join(left)}; `crm-contract sweep` removes "
                                 "what the run left")


@pytest.fixture(scope="session")
def make_object(workspace: Workspace) -> Callable[[ObjectDefinition], CreatedObject]:
    """Creates a run-made object (deleted again by the run), its set-up answers checked (sections 2 and 3).

    Tests of sections 1, 4 and 5 need objects with attributes of their own, also when the run was given
    an existing object (`--object`): a target that cannot create objects as asked cannot run them.
    """
    return workspace.create_object


@pytest.fixture(scope="session")
def object_under_test(target: Target, api: ContractClient,
                      workspace: Workspace) -> Callable[[ObjectDefinition], ObjectUnderTest]:
    """Creates a run-made object as an `ObjectUnderTest` (its `release()` deletes it), set-up answers checked."""
    return lambda definition: ObjectUnderTest.create(api, workspace, target.expect, definition)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The set-up calls first, then focused rule checks, the stateful machine last: the first verdict
    comes quickest.

    A focused test fails within a few requests and shrinks in seconds; the machine is the broad net
    for what only a sequence reveals, and it shrinks over many more requests.
    """
    items.sort(key=lambda item: (not _checks_setup(item), "test_assert_machine" in item.nodeid))


def _checks_setup(item: pytest.Item) -> bool:
    """The test of the set-up calls runs first: if they are broken, it reports that, and the rest is not run."""
    return "test_objects.py" in item.nodeid
