"""Sections 2 and 3: the objects and attributes the run makes are the ones it asked for.

Every other test stands on such objects, so this module runs first. Creating an object goes through
the workspace, which checks each answer of the set-up calls (`crm_contract.kit.setup_checks`): the object
with the slug and names sent, each attribute with its label, type and flags, a key of its own and
option ids, and the object read back with all of them. When those answers are wrong, the failure is
reported here, once, with the exchanges; the tests that need the same set-up are not run.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from crm_contract.contract_tests.checks import envelope_of, fail
from crm_contract.strategies import SYSTEM_KEYS, ObjectDefinition, object_schemas, run_id
from hypothesis import given
from hypothesis import strategies as st

from crm_contract.kit.client import ContractClient, Exchange
from crm_contract.kit.workspace import Workspace

SYSTEM_TYPES = {"id": "text", "created_at": "datetime", "updated_at": "datetime"}
PLAIN_LABEL = re.compile(r"[A-Za-z]+(?: [A-Za-z]+)*")


def made_schema(api: ContractClient, slug: str, log: list[Exchange]) -> dict[str, Any]:
    obj = envelope_of(api.get(f"/crm/objects/{slug}"), 200, "section 2", log).get("object")
    if not isinstance(obj, dict) or not isinstance(obj.get("attributes"), list):
        fail("section 2", "the answer has no 'object' with a list of 'attributes'", log)
    return obj


@pytest.mark.rule("section 2", "section 3")
@pytest.mark.documented
@given(data=st.data())
def test_an_object_and_its_attributes_are_created_as_asked_and_read_back(
    api: ContractClient, workspace: Workspace, data: st.DataObject
) -> None:
    definition: ObjectDefinition = data.draw(object_schemas(prefix=run_id(), max_attributes=5), label="object")
    with api.exchanges() as log:
        made = workspace.create_object(definition)  # each answer checked: slug, labels, types, keys, options
        try:
            obj = made_schema(api, made.slug, log)
            attributes = [a for a in obj["attributes"] if isinstance(a, dict)]
            system = {a.get("key"): a for a in attributes if a.get("key") in SYSTEM_KEYS}
            for key, attr_type in SYSTEM_TYPES.items():
                found = system.get(key)
                if found is None or found.get("type") != attr_type or found.get("isStandard") is not True:
                    fail("section 2", f"a new object has the system attribute {key!r} ({attr_type}, isStandard "
                         f"true); {made.slug} has {found!r}", log)
            for label, key in made.keys.items():
                if not PLAIN_LABEL.fullmatch(label):
                    continue
                snake = "_".join(label.lower().split())
                if not re.fullmatch(rf"{re.escape(snake)}(?:_[0-9]+)?", key):
                    fail("section 3", f"the key of the label {label!r} is {key!r}: keys are made from the "
                         f"label in snake_case ({snake!r}, or {snake + '_2'!r} when taken)", log)
        finally:
            workspace.delete_object(made.slug)
