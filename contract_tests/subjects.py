"""The objects the suite works on: a run-made object with every attribute type, or the user's own.

`make_subject` gives the stateful machine and the property tests the same view of either: a schema,
a matching attribute, and a `release` that removes what was made for the example.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable

from crm_contract.contract_tests.machine import Subject
from crm_contract.strategies import AttributeDefinition, ObjectDefinition, ObjectSchema, run_id

from crm_contract.client import ContractClient
from crm_contract.session import Target
from crm_contract.workspace import Workspace

__all__ = ["MATCHING_LABEL", "assert_object_definition", "make_subject"]

MATCHING_LABEL = "External Id"


def assert_object_definition(*, unique_matching: bool, prefix: str | None = None) -> ObjectDefinition:
    """An object with a text matching attribute and one attribute of every supported type.

    Two more unique attributes (text and number) exercise A8; one required checkbox exercises the
    required-attribute rules of section 4.
    """
    slug = f"{(prefix or run_id()).replace('_', '-')}-{secrets.token_hex(4)}"
    attributes = (
        AttributeDefinition(MATCHING_LABEL, "text", is_unique=unique_matching),
        AttributeDefinition("Sku", "text", is_unique=True),
        AttributeDefinition("Code", "number", is_unique=True),
        AttributeDefinition("Note", "text"),
        AttributeDefinition("Quantity", "number"),
        AttributeDefinition("Active", "checkbox", is_required=True),
        AttributeDefinition("Due Date", "date"),
        AttributeDefinition("Starts At", "datetime"),
        AttributeDefinition("Stage", "select", options=("Lead", "Won", "Lost")),
        AttributeDefinition("Tags", "multiselect", options=("Red", "Green", "Blue")),
        AttributeDefinition("Phone", "phone_number"),
    )
    return ObjectDefinition(slug, f"Contract {slug}", f"Contract {slug}s", attributes)


def make_subject(target: Target, client: ContractClient, workspace: Workspace, *,
                 unique_matching: bool) -> Callable[[], Subject]:
    """A factory of subjects: a fresh run-made object each time, or the `--object` one."""
    prefix = run_id()
    if target.object_slug and target.matching_attribute:
        slug, matching = target.object_slug, target.matching_attribute
        schema: ObjectSchema = workspace.read_schema(slug)

        def existing() -> Subject:
            def release() -> None:
                for record_id in workspace.tracked(slug):
                    client.delete(f"/crm/{slug}/{record_id}", resend_if_lost=True)
                    workspace.forget(slug, record_id)
            return Subject(client, workspace, schema, matching, target.expect, False, prefix,
                           release)

        return existing

    def owned() -> Subject:
        made = workspace.create_object(assert_object_definition(unique_matching=unique_matching, prefix=prefix))
        return Subject(client, workspace, made.schema, made.key(MATCHING_LABEL), target.expect,
                       True, prefix,
                       lambda: workspace.delete_object(made.slug))

    return owned
