"""`contract/openapi.yaml` is a valid OpenAPI 3.1 document of every call in sections 1–6 of the contract."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import schemathesis
import yaml
from crm_contract.contract import OPENAPI_PATH
from openapi_spec_validator import validate

from crm_contract import contract

# Every call of sections 2, 3, 5 and 6 of the contract, as (path relative to /v2, method).
CONTRACT_CALLS = {
    ("/crm/objects", "post"),
    ("/crm/objects", "get"),
    ("/crm/objects/{slug}", "get"),
    ("/crm/objects/{slug}", "patch"),
    ("/crm/objects/{slug}", "delete"),
    ("/crm/objects/{slug}/attributes", "post"),
    ("/crm/objects/{slug}/attributes/{key}", "patch"),
    ("/crm/{objectSlug}", "post"),
    ("/crm/{objectSlug}", "get"),
    ("/crm/{objectSlug}", "put"),
    ("/crm/{objectSlug}/{id}", "get"),
    ("/crm/{objectSlug}/{id}", "patch"),
    ("/crm/{objectSlug}/{id}", "delete"),
}
HTTP_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    loaded = yaml.safe_load(OPENAPI_PATH.read_text(encoding="utf-8"))
    assert isinstance(loaded, dict)
    return loaded


def operations(document: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {
        (path, method): operation
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if method in HTTP_METHODS
    }


def test_public_surface() -> None:
    assert contract.__all__ == ["OPENAPI_PATH"]
    assert OPENAPI_PATH.is_file()
    assert OPENAPI_PATH.parent == Path(contract.__file__).resolve().parent


def test_document_is_valid_openapi_3_1(document: dict[str, Any]) -> None:
    assert document["openapi"].startswith("3.1")
    validate(document)


def test_servers_are_the_reference_and_the_real_api(document: dict[str, Any]) -> None:
    urls = [server["url"] for server in document["servers"]]
    assert urls == ["http://127.0.0.1:8080/v2", "https://api.zeeg.me/v2"]


def test_every_contract_call_is_described_and_nothing_else(document: dict[str, Any]) -> None:
    assert set(operations(document)) == CONTRACT_CALLS


def test_bearer_security_applies_to_every_operation(document: dict[str, Any]) -> None:
    schemes = document["components"]["securitySchemes"]
    assert document["security"] == [{"bearerAuth": []}]
    assert schemes["bearerAuth"] == {**schemes["bearerAuth"], "type": "http", "scheme": "bearer"}
    for key, operation in operations(document).items():
        assert "security" not in operation, f"{key} overrides the global bearer security"


@pytest.mark.parametrize("call", sorted(CONTRACT_CALLS))
def test_every_operation_declares_401_403_and_429_with_retry_after(
    document: dict[str, Any], call: tuple[str, str]
) -> None:
    responses = operations(document)[call]["responses"]
    assert {"401", "403", "429"} <= set(responses), f"{call}: {sorted(responses)}"
    too_many = document["components"]["responses"]["TooManyRequests"]
    assert responses["429"] == {"$ref": "#/components/responses/TooManyRequests"}
    retry_after = too_many["headers"]["Retry-After"]
    assert retry_after == {"$ref": "#/components/headers/Retry-After"}
    assert document["components"]["headers"]["Retry-After"]["required"] is True


def test_status_codes_of_the_contract(document: dict[str, Any]) -> None:
    ops = operations(document)
    assert "201" in ops[("/crm/objects", "post")]["responses"]
    assert "409" in ops[("/crm/objects", "post")]["responses"]
    assert {"200", "201", "400", "404"} <= set(ops[("/crm/{objectSlug}", "put")]["responses"])
    for (path, method), operation in ops.items():
        if "{" in path:
            assert "404" in operation["responses"], f"{method.upper()} {path} lacks 404"
        if "requestBody" in operation or operation.get("parameters"):
            assert "400" in operation["responses"], f"{method.upper()} {path} lacks 400"


def test_matching_attribute_is_required_on_assert(document: dict[str, Any]) -> None:
    components = document["components"]["parameters"]
    params = operations(document)[("/crm/{objectSlug}", "put")]["parameters"]
    resolved = [components[p["$ref"].rsplit("/", 1)[1]] for p in params]
    assert [(p["name"], p["in"], p["required"]) for p in resolved] == [("matchingAttribute", "query", True)]


def test_object_and_attribute_bodies_reject_unknown_keys(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    for name in [
        "ObjectCreate", "ObjectUpdate", "UniqueCapableAttributeCreate", "PlainAttributeCreate",
        "ChoiceAttributeCreate", "AttributeUpdate", "OptionCreate", "OptionUpdate", "SelectValue",
    ]:
        assert schemas[name]["additionalProperties"] is False, name


def test_response_schemas_allow_extra_fields(document: dict[str, Any]) -> None:
    def walk(node: Any, where: str) -> None:
        if isinstance(node, dict):
            assert node.get("additionalProperties") is not False, f"{where} forbids extra fields"
            assert "unevaluatedProperties" not in node, where
            for key, value in node.items():
                walk(value, f"{where}/{key}")
        elif isinstance(node, list):
            for index, value in enumerate(node):
                walk(value, f"{where}/{index}")

    schemas = document["components"]["schemas"]
    for name in ["Object", "Attribute", "Option", "Record", "Pagination", "ErrorEnvelope", "SuccessEnvelope",
                 "ObjectEnvelope", "ObjectListEnvelope", "AttributeEnvelope", "RecordEnvelope",
                 "RecordCollectionEnvelope", "MessageEnvelope", "StoredValue", "SelectedOption"]:
        walk(schemas[name], name)


def test_schemathesis_loads_every_operation() -> None:
    schema = schemathesis.openapi.from_path(OPENAPI_PATH)
    labels = set()
    for result in schema.get_all_operations():
        operation = result.ok()
        labels.add((operation.path, operation.method.lower()))
    assert labels == CONTRACT_CALLS


def test_links_name_existing_operations_and_parameters(document: dict[str, Any]) -> None:
    ops = {operation["operationId"]: (path, operation) for (path, _), operation in operations(document).items()}
    links = [
        (name, link)
        for response in document["components"]["responses"].values()
        for name, link in response.get("links", {}).items()
    ]
    assert links, "the document declares links for stateful runs"
    for name, link in links:
        assert link["operationId"] in ops, name
        path, _ = ops[link["operationId"]]
        assert set(link["parameters"]) == set(path.replace("}", "{").split("{")[1::2]), name
