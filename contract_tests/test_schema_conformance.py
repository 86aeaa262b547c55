"""Section 1: every operation of `contract/openapi.yaml`, run by schemathesis against the target.

Each generated request is validated with every default schemathesis check: no 5xx, documented status
codes, content types and response schemas (the envelopes, the record list), negative data rejected,
positive data accepted, 401 without the token, 405 with `Allow` for an undeclared method.

The run touches only what it made. Every object path parameter names a run-made object: `objectSlug`
the records object, `slug` the sandbox (renamed, given attributes) or, for `DELETE`, an object made
for that one call; `key` a sandbox attribute. Record ids are the records object's, so they are the
run's too. `POST /crm/objects` gets run-prefixed slugs, and the objects it makes are deleted at the end.
Only `GET /crm/objects` reads beyond the run: it lists every object of the account.

Positive cases are fitted to the run-made objects (OpenAPI cannot say which keys and values an
object's records take): each generated value moves to an attribute that accepts it. Negative data
is sent only in the query and body of the record calls, where the contract itself demands the 400
(the object and attribute bodies of the document are stricter than the contract: reference choices),
and as undeclared methods (GET, POST, PUT, PATCH, DELETE) on paths that name a run-made object. A
negative path or a dropped token is never sent: the first could name foreign data, the second is
test_auth's. HEAD and OPTIONS are left open by the contract and never sent.

Every request goes through the suite's client (`SuiteTransport`), the checks' own probes included
(``ignored_auth`` sends the request again without its token): a 429, a gateway error or a dropped
connection is handled as everywhere else in the suite, and never judged as an answer of the target.
"""

from __future__ import annotations

import json
import secrets
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import pytest
import schemathesis
from crm_contract.contract import OPENAPI_PATH
from crm_contract.contract_tests.calls import definition, fresh_key
from crm_contract.strategies import OPTION_TYPES, SUPPORTED_TYPES, ObjectDefinition, run_id, type_label, typed_attribute
from schemathesis.config import SchemathesisConfig
from schemathesis.core.failures import FailureGroup
from schemathesis.core.parameters import ParameterLocation
from schemathesis.core.transport import Response
from schemathesis.generation.meta import CoverageScenario
from schemathesis.specs.openapi.schemas import OpenApiSchema
from schemathesis.transport.requests import REQUESTS_TRANSPORT, RequestsTransport

from crm_contract.kit.client import ContractClient, Exchange
from crm_contract.kit.target import Target
from crm_contract.kit.violations import ContractViolation
from crm_contract.kit.workspace import CreatedObject, Workspace

# Negative data only where the path names the run's object and the contract demands the 400.
NEGATIVE_OPERATIONS = frozenset({"listRecords", "createRecord", "assertRecord", "updateRecord"})
PLAIN_METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE"})
TYPES = tuple(sorted(SUPPORTED_TYPES))



class SuiteTransport(RequestsTransport):
    """schemathesis' requests, serialized as it would send them, sent by the suite's client."""

    def __init__(self) -> None:
        super().__init__()
        self._serializers = REQUESTS_TRANSPORT._serializers  # JSON and the rest, as schemathesis registered them
        self.client: ContractClient | None = None  # set by the `scope` fixture: anonymous, headers per call

    def send(self, case: schemathesis.Case, *, session: Any = None, **kwargs: Any) -> Response:
        if self.client is None:
            raise RuntimeError("the conformance test sent a request before its scope set up the client")
        data = self._build_request_data(case, kwargs)
        headers = {str(name): str(value) for name, value in (data.get("headers") or {}).items()}
        cookies = data.get("cookies") or {}
        if cookies:
            headers["Cookie"] = "; ".join(f"{name}={value}" for name, value in cookies.items())
        body: dict[str, Any] = {}
        if "json" in data:
            body["json"] = data["json"]
        elif data.get("data") is not None:
            sent = data["data"]
            body["content"] = urlencode(sent, doseq=True) if isinstance(sent, dict) else sent
        response = self.client.request(data["method"], data["url"], params=data.get("params"), headers=headers,
                                       **body)
        return Response.from_httpx(response, verify=True)


TRANSPORT = SuiteTransport()


class _RoutedSchema(OpenApiSchema):
    """The OpenAPI schema class, with every request of its cases and checks sent through `TRANSPORT`."""

    @property
    def transport(self) -> Any:
        return TRANSPORT


# Hypothesis settings come from the active profile (`--hypothesis-profile`): no max-examples here.
schema = schemathesis.openapi.from_path(OPENAPI_PATH, config=SchemathesisConfig.from_dict(
    {"generation": {"mode": "all"}}))
schema.__class__ = _RoutedSchema


@dataclass
class Scope:
    """The run-made objects and records that generated requests may name, and what the run created."""

    api: ContractClient
    workspace: Workspace
    make: Callable[[ObjectDefinition], CreatedObject]
    records: CreatedObject
    sandbox: CreatedObject
    record_ids: list[str] = field(default_factory=list)
    made_slugs: set[str] = field(default_factory=set)

    def new_slug(self) -> str:
        slug = f"{run_id()}-st-{secrets.token_hex(4)}".lower().replace("_", "-")
        self.made_slugs.add(slug)
        self.workspace.adopt(slug)  # in the ledger before createObject sends it
        return slug

    def doomed(self) -> str:
        """A fresh run-made object for one DELETE to remove."""
        slug = self.make(definition("st-doomed")).slug
        self.made_slugs.add(slug)
        return slug

    def guard(self, case: schemathesis.Case) -> None:
        """Refuse to send a request that names an object the run did not make (a bug of this module)."""
        own = {self.records.slug, self.sandbox.slug, *self.made_slugs}
        named = [case.path_parameters.get(name) for name in ("objectSlug", "slug")]
        if case.operation.path == "/crm/objects" and isinstance(case.body, dict):
            named.append(case.body.get("slug"))
        if any(slug is not None and slug not in own for slug in named):
            raise RuntimeError(f"the suite was about to send {case.method} {case.formatted_path} naming an "
                               f"object that the run did not make: {named}")


@pytest.fixture(scope="module")
def scope(api: ContractClient, make_object: Callable[[ObjectDefinition], CreatedObject],
          workspace: Workspace, target: Target) -> Iterator[Scope]:
    attributes = [typed_attribute("Key", "text"), *(typed_attribute(type_label(t), t) for t in TYPES)]
    made = Scope(api, workspace, make_object, make_object(definition("st-records", *attributes)),
                 make_object(definition("st-sandbox", *attributes)))
    for n in range(3):
        response = api.post(f"/crm/{made.records.slug}", json={made.records.key("Key"): f"{run_id()}-seed-{n}"})
        if response.status_code != 201:
            pytest.fail(f"set-up: cannot create a record in {made.records.slug}: {response.status_code}",
                        pytrace=False)
        made.record_ids.append(response.json()["record"]["id"])
    with target.client(anonymous=True) as http:  # each request names its own token, or none (the probes)
        TRANSPORT.client = ContractClient(http)
        try:
            yield made
        finally:
            TRANSPORT.client = None
    for slug in sorted(made.made_slugs):  # every one run-prefixed: made by createObject, or never made
        workspace.delete_object(slug)
    workspace.delete_object(made.sandbox.slug)
    workspace.delete_object(made.records.slug)


@schema.hook
def filter_case(context: schemathesis.HookContext, case: schemathesis.Case) -> bool:
    """Never send a negative path (it would name something the run did not make), nor foreign negatives."""
    meta = case.meta
    if meta is None or not meta.generation.mode.is_negative:
        return True
    if meta.is_negative_at(ParameterLocation.PATH) or meta.is_negative_at(ParameterLocation.HEADER):
        return False  # a header case only drops the token, which test_auth covers
    if getattr(meta.phase.data, "scenario", None) == CoverageScenario.UNSPECIFIED_HTTP_METHOD:
        # /crm/objects names no run-made object, so no undeclared method goes there; HEAD and OPTIONS are
        # left open by the contract, and TRACE or QUERY may never reach an API behind a proxy.
        return "{" in case.operation.path and case.method.upper() in PLAIN_METHODS
    return case.operation.definition.raw.get("operationId") in NEGATIVE_OPERATIONS


# Confining and fitting cases ---------------------------------------------------------------------------

def fingerprint(case: schemathesis.Case) -> int:
    """A number that depends on the generated request only, so a replayed case is aimed the same way."""
    body = case.body if isinstance(case.body, dict | list | str | int | float | bool) else None
    request = [case.method, case.path_parameters, case.query, body]
    return zlib.crc32(json.dumps(request, sort_keys=True, default=repr).encode("utf-8", "surrogatepass"))


def confine(case: schemathesis.Case, scope: Scope) -> None:
    """Every path parameter names something the run made; createObject gets a run-prefixed slug."""
    seed, path = fingerprint(case), case.path_parameters
    if "objectSlug" in path:
        path["objectSlug"] = scope.records.slug
    if "id" in path and scope.record_ids and seed % 4:
        path["id"] = scope.record_ids[seed % len(scope.record_ids)]  # else a generated UUID: 404 in the run's object
    if "slug" in path:
        deleting = case.method == "DELETE" and case.operation.path == "/crm/objects/{slug}"
        path["slug"] = scope.doomed() if deleting else scope.sandbox.slug
    if "key" in path:
        keys = scope.sandbox.schema.keys
        path["key"] = keys[seed % len(keys)]
    if case.operation.path == "/crm/objects" and case.method == "POST" and isinstance(case.body, dict):
        case.body["slug"] = scope.new_slug()


def whole(value: Any) -> Any:
    """JSON Schema's `integer` admits `29.0`, which the contract leaves open: send `29`.

    NUL becomes "0" (same length, never blank): SQL text columns refuse it, for reasons the contract
    does not speak of, so a correct API may too.
    """
    if isinstance(value, float):
        return int(value)
    if isinstance(value, str):
        return value.replace("\x00", "0")
    if isinstance(value, dict):
        return {key: whole(item) for key, item in value.items()}
    if isinstance(value, list):
        return [whole(item) for item in value]
    return value


def fit_record_body(body: Any, obj: CreatedObject) -> Any:
    """Each generated value, moved to an attribute of `obj` that accepts it (the matching `key` left out)."""
    if not isinstance(body, dict):
        return body
    key = {attr.type: attr.key for attr in obj.schema.attributes if attr.key != obj.key("Key")}
    options = {attr.type: attr.option_ids for attr in obj.schema.attributes}
    fitted: dict[str, Any] = {}
    for index, value in enumerate(whole(list(body.values()))):
        if value is None:
            fitted[key[TYPES[index % len(TYPES)]]] = None
        elif isinstance(value, bool):
            fitted[key["checkbox"]] = value
        elif isinstance(value, str):
            fitted[key["text"]] = value
        elif isinstance(value, int):
            fitted[key["number"]] = value
        elif isinstance(value, dict):
            ids = options["select"]
            fitted[key["select"]] = {"id": ids[value["id"] % len(ids)]}
        else:
            ids = options["multiselect"]
            fitted[key["multiselect"]] = [{"id": ids[item["id"] % len(ids)]} for item in value]
    return fitted


def fit_options(case: schemathesis.Case, scope: Scope) -> None:
    """Options only for a select or multiselect attribute, with ids that it has (each once)."""
    body: Any = case.body
    if not isinstance(body, dict) or "options" not in body:
        return
    key = case.path_parameters["key"]
    attributes = scope.api.get(f"/crm/objects/{scope.sandbox.slug}").json()["object"]["attributes"]
    found = next(attr for attr in attributes if attr["key"] == key)
    if found["type"] not in OPTION_TYPES:
        del body["options"]
        return
    current, kept = [option["id"] for option in found.get("options") or []], set()
    for option in body["options"]:
        if option.get("id") is not None and current:
            option["id"] = current[option["id"] % len(current)]
            if option["id"] in kept:
                del option["id"]
            kept.add(option.get("id"))


def fit_positive(case: schemathesis.Case, scope: Scope) -> None:
    """A schema-valid case made valid for the run's objects too (keys and values they accept)."""
    operation = case.operation.definition.raw.get("operationId")
    if isinstance(case.body, dict | list):
        case.body = whole(case.body)
    if operation in ("createRecord", "updateRecord", "assertRecord"):
        case.body = fit_record_body(case.body, scope.records)
    if operation == "assertRecord" and isinstance(case.body, dict):
        match = scope.records.key("Key")
        case.query["matchingAttribute"] = match
        # One of a few run keys (so some asserts update), or a fresh one.
        seed = fingerprint(case) % 4
        body: Any = case.body
        body[match] = fresh_key() if seed == 3 else f"{run_id()}-st-key-{seed}"
    if operation == "updateAttribute":
        fit_options(case, scope)


def note(case: schemathesis.Case, response: Any, scope: Scope) -> None:
    """Keep the list of live records in step with what the call did."""
    if case.path_parameters.get("objectSlug") != scope.records.slug:
        return
    if response.status_code == 201 and case.method in ("POST", "PUT"):
        scope.record_ids.append(response.json()["record"]["id"])
    elif case.method == "DELETE" and response.status_code == 200 and case.path_parameters["id"] in scope.record_ids:
        scope.record_ids.remove(case.path_parameters["id"])


@pytest.mark.rule("section 1")
@pytest.mark.reference
@schema.parametrize()
def test_every_operation_conforms_to_the_openapi_document(case: schemathesis.Case, target: Target,
                                                          scope: Scope) -> None:
    confine(case, scope)
    if case.meta is not None and case.meta.generation.mode.is_positive:
        fit_positive(case, scope)
    scope.guard(case)
    headers = {"Authorization": f"Bearer {target.token}"}
    assert TRANSPORT.client is not None
    with TRANSPORT.client.exchanges() as log:
        response = case.call(base_url=target.base_url, headers=headers)
        try:
            case.validate_response(response, headers=headers, transport_kwargs={"base_url": target.base_url,
                                                                                "headers": headers})
        except FailureGroup as failures:
            detail = f"{case.method} {case.operation.path}: the answer does not conform to contract/openapi.yaml"
            raise ContractViolation("section 1", detail, list(log) or [exchange_of(case, response)],
                                    f"[section 1] {detail}\n{failures.message}",
                                    observed={"status": response.status_code}) from None
    note(case, response, scope)


def exchange_of(case: schemathesis.Case, response: Any) -> Exchange:
    """The request schemathesis sent and the answer, as the suite's own client records them."""
    try:
        body: Any = json.loads(response.content)
    except ValueError:
        body = response.content.decode("utf-8", "replace")
    sent = case.body if isinstance(case.body, dict | list | str | int | float | bool) or case.body is None else None
    return Exchange(case.method, response.request.path_url, sent, response.status_code, body)
