"""Whether an answer has the shape `contract/openapi.yaml` gives it: the envelope, the resource, its fields.

Used to explain a test that ended in an exception of the suite's own code (`crm_contract.plugin.diagnosis`):
when an answer the test got is not shaped as the contract says, the failure is that answer's, and the
report shows it with its exchange. Only success answers (2xx) are judged, and only their declared
statuses and JSON bodies; extra fields are always fine (the document never forbids them).
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Any

import yaml
from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from crm_contract.contract import OPENAPI_PATH
from crm_contract.kit.client import Exchange

__all__ = ["clause_of_path", "relative_path", "shape_problem"]

_URN = "urn:crm-contract:openapi"


@dataclass(frozen=True)
class _Operation:
    method: str
    template: str
    pattern: re.Pattern[str]
    pointer: str  # of the operation in the document, as a JSON pointer
    responses: dict[str, Any]


def _escape(part: str) -> str:
    return part.replace("~", "~0").replace("/", "~1")


@functools.cache
def _document() -> tuple[Registry, tuple[_Operation, ...], dict[str, Any]]:
    document = yaml.safe_load(OPENAPI_PATH.read_text(encoding="utf-8"))
    registry: Registry = Registry().with_resource(_URN, Resource.from_contents(document, DRAFT202012))
    operations = []
    for template, item in document.get("paths", {}).items():
        regex = re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template))
        for method, operation in item.items():
            if isinstance(operation, dict) and "responses" in operation:
                pointer = f"/paths/{_escape(template)}/{method}"
                operations.append(_Operation(method.upper(), template, re.compile(rf"{regex}/?"), pointer,
                                             operation["responses"]))
    # Literal paths before templated ones: /crm/objects is not a record object named "objects".
    operations.sort(key=lambda op: op.template.count("{"))
    return registry, tuple(operations), document


def _declared(operation: _Operation, status: int) -> tuple[dict[str, Any], str] | None:
    """The response an operation declares for `status` (a `$ref` followed) and its JSON pointer."""
    node = operation.responses.get(str(status))
    pointer = f"{operation.pointer}/responses/{status}"
    document = _document()[2]
    while isinstance(node, dict) and isinstance(node.get("$ref"), str) and node["$ref"].startswith("#/"):
        pointer = node["$ref"][1:]
        node = document
        for part in pointer.strip("/").split("/"):
            node = node[part.replace("~1", "/").replace("~0", "~")]
    return (node, pointer) if isinstance(node, dict) else None


def _operation(method: str, path: str) -> _Operation | None:
    return next((op for op in _document()[1] if op.method == method and op.pattern.fullmatch(path)), None)


def relative_path(path: str) -> str:
    """The path without the base URL's own path and the query: from `/crm/` on."""
    path = path.split("?", 1)[0]
    at = path.find("/crm/")
    return path[at:] if at >= 0 else path


def clause_of_path(path: str) -> str:
    """The section of the contract a path's calls belong to: 2 objects, 3 attributes, 5 records."""
    relative = relative_path(path)
    if relative.startswith("/crm/objects"):
        return "section 3" if "/attributes" in relative else "section 2"
    return "section 5"


@functools.lru_cache(maxsize=64)
def _validator(pointer: str) -> Draft202012Validator:
    """A validator of the schema at `pointer` in the OpenAPI document, made once (its $refs resolve once)."""
    return Draft202012Validator({"$ref": f"{_URN}#{pointer}"}, registry=_document()[0])


def shape_problem(exchange: Exchange) -> str | None:
    """What is wrong with the shape of a success answer, or None (also for answers this cannot judge)."""
    if not 200 <= exchange.status < 300:
        return None
    operation = _operation(exchange.method, relative_path(exchange.path))
    if operation is None:
        return None
    found = _declared(operation, exchange.status)
    if found is None:
        statuses = ", ".join(sorted(code for code in operation.responses if code.startswith("2")))
        return f"HTTP {exchange.status} is not a success status of {exchange.method} {operation.template} ({statuses})"
    declared, pointer = found
    content = (declared.get("content") or {}).get("application/json")
    if content is None or "schema" not in content:
        return None
    if isinstance(exchange.response_body, str):
        return "the answer is not JSON" if exchange.response_body.strip() else "the answer is empty"
    pointer = f"{pointer}/content/application~1json/schema"
    validator = _validator(pointer)
    if validator.is_valid(exchange.response_body):
        return None  # the common case, without collecting every error to pick the best
    error = best_match(validator.iter_errors(exchange.response_body))
    if error is None:
        return None
    where = "".join(f"[{part!r}]" if isinstance(part, int) else f".{part}" for part in error.absolute_path)
    return f"{error.message} (at {where.lstrip('.') or 'the top level'})"
