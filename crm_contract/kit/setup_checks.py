"""Sections 2 and 3 as the run's set-up meets them: every answer is checked before the suite relies on it.

The suite creates its own objects and attributes and reads them back (`crm_contract.kit.workspace`). Each of
those answers must be what the contract promises for the call and what was asked for: the object with
the slug sent, the attribute with the label and type sent and a key of its own, the object read back
with those attributes. A target that answers otherwise (a stateless mock answering its example object)
fails here, with the exchange, before any test reasons about an object that is not there.

Only what the suite relies on is checked here; the rest of sections 2 and 3 (system attributes, keys
made from labels) is the business of `contract_tests/test_objects.py`.
"""

from __future__ import annotations

import re
from typing import Any

import httpx

from crm_contract.strategies import (
    OPTION_TYPES,
    AttributeDefinition,
    ObjectDefinition,
    ObjectSchema,
    from_object_schema,
)

__all__ = ["SetupProblem", "attribute_created", "object_created", "object_read"]



class SetupProblem(Exception):
    """A set-up answer that breaks the contract: the clause, the call (e.g. "POST /crm/objects") and what is wrong.

    `kind` is the call with the run-made slug left out ("GET /crm/objects/{slug}"): the same wrong answer
    to the set-up of another object is the same problem, reported once.
    """

    def __init__(self, clause: str, call: str, detail: str) -> None:
        super().__init__(f"[{clause}] {call}: {detail}")
        self.clause, self.call, self.detail = clause, call, detail
        self.kind = re.sub(r"^(\w+ /crm/objects/)[^/]+", r"\1{slug}", call)


def _resource(response: httpx.Response, status: int, name: str, clause: str, call: str) -> dict[str, Any]:
    """The `name` resource of a success envelope with HTTP `status`, or a `SetupProblem`."""
    if response.status_code != status:
        raise SetupProblem(clause, call, f"expected HTTP {status}, got {response.status_code}")
    try:
        body = response.json()
    except ValueError:
        raise SetupProblem(clause, call, f"the {status} answer is not JSON") from None
    if not isinstance(body, dict) or body.get("success") is not True or body.get("status") != status:
        raise SetupProblem(clause, call, f"the answer is not the envelope {{success: true, status: {status}, "
                           f"{name}: ...}}")
    resource = body.get(name)
    if not isinstance(resource, dict):
        raise SetupProblem(clause, call, f"the answer has no {name!r} object")
    return resource


def _same(clause: str, call: str, what: str, sent: Any, got: Any) -> None:
    if got != sent:
        raise SetupProblem(clause, call, f"sent {what} {sent!r}, the answer's {what} is {got!r}")


def object_created(response: httpx.Response, definition: ObjectDefinition) -> None:
    """`POST /crm/objects` answered 201 with the object asked for: its slug and names."""
    call = "POST /crm/objects"
    made = _resource(response, 201, "object", "section 2", call)
    _same("section 2", call, "slug", definition.slug, made.get("slug"))
    _same("section 2", call, "singularName", definition.singular_name, made.get("singularName"))
    _same("section 2", call, "pluralName", definition.plural_name, made.get("pluralName"))


def attribute_created(response: httpx.Response, slug: str, attribute: AttributeDefinition,
                      taken: set[str]) -> dict[str, Any]:
    """`POST /crm/objects/{slug}/attributes` answered 201 with the attribute asked for; returns it.

    The key is the server's to make, but it must be a string no other attribute of the object has;
    each option sent comes back with an integer id of its own.
    """
    call = f"POST /crm/objects/{slug}/attributes"
    made = _resource(response, 201, "attribute", "section 3", call)
    _same("section 3", call, "label", attribute.label, made.get("label"))
    _same("section 3", call, "type", attribute.type, made.get("type"))
    _same("section 3", call, "isRequired", attribute.is_required, made.get("isRequired"))
    _same("section 3", call, "isUnique", attribute.is_unique, made.get("isUnique"))
    key = made.get("key")
    if not isinstance(key, str) or not key:
        raise SetupProblem("section 3", call, f"the attribute's key is {key!r}, not a non-empty string")
    if key in taken:
        raise SetupProblem("section 3", call, f"the key {key!r} is that of another attribute of {slug}")
    if attribute.type in OPTION_TYPES:
        _options(made.get("options"), attribute, call)
    return made


def _options(options: Any, attribute: AttributeDefinition, call: str) -> None:
    if not isinstance(options, list) or not all(isinstance(option, dict) for option in options):
        raise SetupProblem("section 3", call, f"the attribute's options are {options!r}, not a list of options")
    values = sorted(str(option.get("value")) for option in options)
    _same("section 3", call, "option values", sorted(attribute.options), values)
    ids = [option.get("id") for option in options]
    if not all(isinstance(i, int) and not isinstance(i, bool) for i in ids) or len(set(ids)) != len(ids):
        raise SetupProblem("section 3", call, f"the options' ids are {ids!r}, not distinct integers")


def object_read(response: httpx.Response, definition: ObjectDefinition,
                created: dict[str, dict[str, Any]]) -> ObjectSchema:
    """`GET /crm/objects/{slug}` answered the object just made, with every attribute as created.

    `created` holds each attribute as its create answered it, by label.
    """
    call = f"GET /crm/objects/{definition.slug}"
    found = _resource(response, 200, "object", "section 2", call)
    _same("section 2", call, "slug", definition.slug, found.get("slug"))
    listed = found.get("attributes")
    if not isinstance(listed, list) or not all(isinstance(item, dict) for item in listed):
        raise SetupProblem("section 2", call, f"the object's attributes are {listed!r}, not a list of attributes")
    by_key = {item["key"]: item for item in listed if isinstance(item.get("key"), str)}
    for label, made in created.items():
        read = by_key.get(made["key"])
        if read is None:
            raise SetupProblem("section 2", call, f"the attribute {made['key']!r} ({label!r}), created with 201, "
                               "is not among the object's attributes")
        for field in ("label", "type", "isRequired", "isUnique"):
            _same("section 2", call, f"{field} of {made['key']!r}", made.get(field), read.get(field))
        if made.get("type") in OPTION_TYPES:
            sent = sorted(((o.get("id"), o.get("value")) for o in made.get("options") or []), key=repr)
            options = read.get("options") if isinstance(read.get("options"), list) else []
            got = sorted(((o.get("id"), o.get("value")) for o in options if isinstance(o, dict)), key=repr)
            _same("section 2", call, f"options of {made['key']!r}", sent, got)
    try:
        return from_object_schema(found)
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        raise SetupProblem("section 2", call, f"the object's attributes are unreadable: {error}") from None
