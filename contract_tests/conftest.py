"""Fixtures of the contract suite: the recording client, the run's workspace and its clean-up."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from crm_contract.strategies import ObjectDefinition, run_id

from crm_contract.client import ContractClient
from crm_contract.ledger import Ledger
from crm_contract.redaction import public_url
from crm_contract.session import Target
from crm_contract.sweep import ledger_directory, sweep_keys
from crm_contract.workspace import CreatedObject, SetupError, Workspace


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
        raise RuntimeError(f"clean-up could not delete: {', '.join(left)}")


@pytest.fixture(scope="session")
def make_object(workspace: Workspace) -> Callable[[ObjectDefinition], CreatedObject]:
    """Creates a run-made object (deleted again by the run), or fails the test with a set-up message.

    Tests of sections 1, 4 and 5 need objects with attributes of their own, also when the run was given
    an existing object (`--object`): a target that refuses to create objects cannot run them.
    """

    def make(definition: ObjectDefinition) -> CreatedObject:
        try:
            return workspace.create_object(definition)
        except SetupError as error:
            pytest.fail(f"{error}\nThis test creates run-made objects (slug {definition.slug!r}, deleted again "
                        "by the run); the target must allow POST /crm/objects for it.", pytrace=False)

    return make


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Focused rule checks first, the stateful machine last: the first verdict comes quickest.

    A focused test fails within a few requests and shrinks in seconds; the machine is the broad net
    for what only a sequence reveals, and it shrinks over many more requests.
    """
    items.sort(key=lambda item: "test_assert_machine" in item.nodeid)
