"""The assert contract as a whole: random sequences of asserts, POSTs, PATCHes and DELETEs (A1–A14).

`AssertMachine` checks every step against a model of the records and, after every step, the target's
records against the model. It runs once with a unique matching attribute and once with a non-unique
one (where POST can create duplicates and the first match must win, A9).
"""

from __future__ import annotations

import pytest
from crm_contract.contract_tests.machine import AssertMachine
from crm_contract.contract_tests.subjects import make_subject
from hypothesis.stateful import run_state_machine_as_test

from crm_contract.kit import examples
from crm_contract.kit.client import ContractClient
from crm_contract.kit.target import Target
from crm_contract.kit.workspace import Workspace


@pytest.mark.rule("A1", "A2", "A3", "A4", "A5", "A6", "A7", "A8", "A9", "A10", "A12", "A14")
@pytest.mark.long
@pytest.mark.parametrize("unique_matching", [True, False], ids=["unique-key", "non-unique-key"])
def test_every_sequence_of_writes_keeps_the_target_equal_to_the_model(
    target: Target, api: ContractClient, workspace: Workspace, unique_matching: bool, request: pytest.FixtureRequest
) -> None:
    if target.object_slug and not unique_matching:
        pytest.skip("with --object the matching attribute is the object's own; it runs once")
    factory = make_subject(target, api, workspace, unique_matching=unique_matching)
    run_state_machine_as_test(examples.machine(lambda: AssertMachine(factory), request.node.nodeid))
