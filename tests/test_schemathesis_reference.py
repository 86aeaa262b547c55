"""Schemathesis 4 runs `contract/openapi.yaml` against the reference server over real HTTP.

Every operation gets positive and negative cases (`mode = "all"`) in the examples, coverage and
fuzzing phases, and every default check runs: no 5xx, status codes, content types, headers and
response schemas as documented, negative data rejected, positive data accepted, 405 with `Allow` for
undeclared methods, missing or ignored auth. A second test runs schemathesis's stateful machine,
which chains calls along the document's links.

So that cases reach real objects and records rather than 404s, each server is provisioned with
objects, attributes and records, and path parameters generated valid are aimed at them. Which keys
and values a record body may hold depends on the object's attributes, which OpenAPI cannot state, so
a positive case aimed at the fixture is fitted to it before it is sent (each generated value moves to
an attribute that accepts it). Negative cases keep their invalid parts exactly as generated.
"""

from __future__ import annotations

import datetime as dt
import json
import zlib
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import hypothesis
import pytest
import schemathesis
from crm_contract.contract import OPENAPI_PATH
from crm_contract.reference_server import DEFAULT_WRITE_TOKEN
from schemathesis.config import SchemathesisConfig
from schemathesis.core.parameters import ParameterLocation

from crm_contract.hosting.embedded import EmbeddedServer

RECORDS_SLUG = "st-records"  # records of this object are read and written; its attributes never change
SANDBOX_SLUG = "st-sandbox"  # the object and attribute calls change this one
DOOMED_SLUGS = [f"st-doomed-{n}" for n in range(1, 6)]  # deleteObject may delete these
CHOICES = {"tier": 2, "tags": 3}  # option count of each select / multiselect attribute
ATTRIBUTES = [
    {"label": "Name", "type": "text"},
    {"label": "Phone", "type": "phone_number"},
    {"label": "Quantity", "type": "number"},
    {"label": "Active", "type": "checkbox"},
    {"label": "Launch Date", "type": "date"},
    {"label": "Seen At", "type": "datetime"},
    {"label": "Tier", "type": "select", "options": [{"value": f"tier {n}", "color": "gold"} for n in range(2)]},
    {"label": "Tags", "type": "multiselect", "options": [{"value": f"tag {n}", "color": "red"} for n in range(3)]},
]
KEYS = ["name", "phone", "quantity", "active", "launch_date", "seen_at", "tier", "tags"]
MATCHING_VALUES: dict[str, Any] = {
    "name": "matched", "phone": "+49 30 1234", "quantity": 7, "active": True, "launch_date": "2025-06-01",
    "seen_at": "2025-06-01T10:00:00+02:00", "tier": {"id": 1}, "tags": [{"id": 2}],
}

# Positive and negative data (`mode = "all"`) in every phase: examples, coverage, fuzzing.
CONFIG = SchemathesisConfig.from_dict(
    {
        "generation": {"mode": "all", "max-examples": 40},
        "auth": {"openapi": {"bearerAuth": {"bearer": DEFAULT_WRITE_TOKEN}}},
    }
)
schema = schemathesis.openapi.from_path(OPENAPI_PATH, config=CONFIG)


@schema.hook
def filter_case(context: schemathesis.HookContext, case: schemathesis.Case) -> bool:
    # `/crm/objects` is the objects collection, not the records of an object named "objects": the
    # document excludes that slug, and a negative case that puts it back calls another operation.
    return case.path_parameters.get("objectSlug") != "objects"


@dataclass
class Target:
    """The running reference server, a client for setup, and the live records of RECORDS_SLUG."""

    base_url: str
    client: httpx.Client
    record_ids: list[str] = field(default_factory=list)
    created_slugs: set[str] = field(default_factory=set)  # objects that createObject made


@contextmanager
def provisioned_server() -> Iterator[Target]:
    """A fresh reference server with the fixture's objects, attributes and a few records."""
    with EmbeddedServer() as server:
        headers = {"Authorization": f"Bearer {server.token}"}
        with httpx.Client(base_url=server.base_url, headers=headers, timeout=10) as client:
            for slug in [RECORDS_SLUG, SANDBOX_SLUG, *DOOMED_SLUGS]:
                body = {"slug": slug, "singularName": slug, "pluralName": f"{slug}s"}
                client.post("/crm/objects", json=body).raise_for_status()
            for slug in [RECORDS_SLUG, SANDBOX_SLUG]:
                for attribute in ATTRIBUTES:
                    body = {**attribute, "isRequired": False}
                    client.post(f"/crm/objects/{slug}/attributes", json=body).raise_for_status()
            attributes = client.get(f"/crm/objects/{RECORDS_SLUG}").json()["object"]["attributes"]
            assert [attribute["key"] for attribute in attributes] == ["id", "created_at", "updated_at", *KEYS]
            ids = [client.post(f"/crm/{RECORDS_SLUG}", json={"name": f"seed {n}"}).json()["record"]["id"]
                   for n in range(5)]
            yield Target(server.base_url, client, ids)


@pytest.fixture(scope="module")
def target() -> Iterator[Target]:
    with provisioned_server() as provisioned:
        yield provisioned


# Fitting positive cases to the fixture's objects ---------------------------------------------------

def _fit_int(index: int, value: int) -> tuple[str, Any]:
    """An integer becomes a number, a date, a date-time or a select value, by its index in the body."""
    kind = index % 4
    if kind == 1:
        return "launch_date", dt.date.fromordinal(1 + value % 3_652_059).isoformat()
    if kind == 2:
        offset = dt.timezone(dt.timedelta(minutes=value % 2879 - 1439))
        instant = dt.datetime(1970, 1, 2, tzinfo=dt.UTC) + dt.timedelta(microseconds=value % 10**17)
        return "seen_at", instant.astimezone(offset).isoformat()
    if kind == 3:
        return "tier", {"id": 1 + value % CHOICES["tier"]}
    return "quantity", value


def whole(value: Any) -> Any:
    """JSON Schema's `integer` admits `29.0`; the contract leaves it open and the reference server
    rejects it (as reference-choices.md says), so positive cases send the same number as `29`."""
    if isinstance(value, float):
        return int(value)
    if isinstance(value, dict):
        return {key: whole(item) for key, item in value.items()}
    if isinstance(value, list):
        return [whole(item) for item in value]
    return value


def fit_record_body(body: dict[str, Any]) -> dict[str, Any]:
    """Each generated value, moved to an attribute of RECORDS_SLUG that accepts it."""
    fitted: dict[str, Any] = {}
    for index, value in enumerate(whole(list(body.values()))):
        if value is None:
            key = KEYS[index % len(KEYS)]
        elif isinstance(value, bool):
            key = "active"
        elif isinstance(value, str):
            key = ("name", "phone")[index % 2]
        elif isinstance(value, int):
            key, value = _fit_int(index, value)
        elif isinstance(value, dict):
            key, value = "tier", {"id": 1 + value["id"] % CHOICES["tier"]}
        else:
            key, value = "tags", [{"id": 1 + item["id"] % CHOICES["tags"]} for item in value]
        fitted[key] = value
    return fitted


def fit_assert(case: schemathesis.Case) -> None:
    """A matching attribute of the object, with a usable value in the body (rules A6, A7)."""
    key = case.query["matchingAttribute"]
    if key not in KEYS:
        key = KEYS[len(key) % len(KEYS)]
        case.query["matchingAttribute"] = key
    if case.body.get(key) in (None, ""):
        case.body[key] = MATCHING_VALUES[key]


def fit_options(case: schemathesis.Case, target: Target) -> None:
    """Options only for a select or multiselect attribute, and only ids that the attribute has."""
    slug, key = case.path_parameters["slug"], case.path_parameters["key"]
    response = target.client.get(f"/crm/objects/{slug}")
    found = [a for a in response.json()["object"]["attributes"] if a["key"] == key] if response.is_success else []
    if not found:
        return  # 404 whatever the body
    if found[0]["type"] not in ("select", "multiselect"):
        del case.body["options"]
        return
    current = [option["id"] for option in found[0]["options"]]
    kept: set[int] = set()
    case.body["options"] = whole(case.body["options"])
    for option in case.body["options"]:
        if option.get("id") is not None:
            option_id = current[option["id"] % len(current)]
            if option_id in kept:
                del option["id"]
            else:
                option["id"] = option_id
                kept.add(option_id)


def fit_positive_case(case: schemathesis.Case, target: Target) -> None:
    """Turn a schema-valid case aimed at a fixture object into one that the object accepts too."""
    path = case.path_parameters
    if path.get("objectSlug") == RECORDS_SLUG:
        if isinstance(case.body, dict):
            case.body = fit_record_body(case.body)
        if case.method == "PUT":
            fit_assert(case)
    elif "key" in path and "options" in case.body:
        fit_options(case, target)


# Aiming valid path parameters at the fixture's objects ---------------------------------------------

def fingerprint(case: schemathesis.Case) -> int:
    """A number that depends on the generated request only, so a replayed case is aimed the same way."""
    body = case.body if isinstance(case.body, (dict, list, str, int, float, bool)) else None
    request = [case.method, case.path_parameters, case.query, body]
    return zlib.crc32(json.dumps(request, sort_keys=True, default=repr).encode("utf-8", "surrogatepass"))


def aim(case: schemathesis.Case, target: Target) -> None:
    """Point path parameters that were generated valid at the fixture's objects, attributes and records.

    Four cases in five then name something that exists; the others keep their unknown names (404),
    unless createObject has made an object of that name. Only valid values change, so a case stays
    negative or positive as it was generated.
    """
    seed = fingerprint(case)
    path = case.path_parameters
    if seed % 5 == 0 and not target.created_slugs & {path.get("objectSlug"), path.get("slug")}:
        return
    if "objectSlug" in path:
        path["objectSlug"] = RECORDS_SLUG
    if "id" in path and target.record_ids:
        path["id"] = target.record_ids[seed % len(target.record_ids)]
    if "slug" in path:
        if case.method == "DELETE":
            choices = [*DOOMED_SLUGS, "people", "companies"]
        elif "key" in path:
            # The attributes of `people` and `companies` are standard and cannot be changed (400).
            choices = [SANDBOX_SLUG]
        else:
            choices = [SANDBOX_SLUG, "people", "companies"]
        path["slug"] = choices[seed % len(choices)]
    if "key" in path:
        path["key"] = KEYS[seed % len(KEYS)]


def is_valid_at(case: schemathesis.Case, location: ParameterLocation) -> bool:
    return case.meta is not None and not case.meta.is_negative_at(location)


@schema.parametrize()
def test_reference_server_conforms_to_the_document(case: schemathesis.Case, target: Target) -> None:
    if is_valid_at(case, ParameterLocation.PATH):
        aim(case, target)
    if case.meta is not None and case.meta.generation.mode.is_positive:
        fit_positive_case(case, target)
    response = case.call_and_validate(base_url=target.base_url)
    if case.operation.path == "/crm/objects" and response.status_code == 201:
        target.created_slugs.add(response.json()["object"]["slug"])
    if case.path_parameters.get("objectSlug") == RECORDS_SLUG:
        if response.status_code == 201:
            target.record_ids.append(response.json()["record"]["id"])
        elif case.method == "DELETE" and response.status_code == 200:
            target.record_ids = [i for i in target.record_ids if i != case.path_parameters["id"]]


class LinkedCalls(schema.as_state_machine()):
    """Chains of calls that follow the document's links, each chain against a fresh server.

    A fresh server per chain keeps every replay of a chain answering as the first run did, which
    Hypothesis needs; the chain still starts from the fixture's objects.
    """

    def setup(self) -> None:
        self.resources = ExitStack()
        self.target = self.resources.enter_context(provisioned_server())

    def teardown(self) -> None:
        self.resources.close()

    def before_call(self, case: schemathesis.Case) -> None:
        if "objectSlug" in case.path_parameters and is_valid_at(case, ParameterLocation.PATH):
            case.path_parameters["objectSlug"] = RECORDS_SLUG
        if case.meta is not None and case.meta.generation.mode.is_positive:
            fit_positive_case(case, self.target)

    def get_call_kwargs(self, case: schemathesis.Case) -> dict[str, Any]:
        return {"base_url": self.target.base_url}


def test_linked_calls_conform_to_the_document() -> None:
    LinkedCalls.run(settings=hypothesis.settings(max_examples=25, stateful_step_count=8, deadline=None))
