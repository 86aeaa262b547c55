"""Fixtures for the reference-server tests: an in-process app behind a small request helper.

Every test gets a fresh in-memory database. The helper `Api` sends requests with a token of
choice (or none), and checks envelopes; its assertion messages always name the contract rule.
"""

from __future__ import annotations

import contextlib
import itertools
import re
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import httpx
import pytest
from crm_contract.reference_server import DEFAULT_WRITE_TOKEN, create_app
from starlette.testclient import TestClient

WRITE = DEFAULT_WRITE_TOKEN
READ = "test-read-only-token"
WRITE_ONLY = "test-write-scope-only-token"
TOKENS = {
    WRITE: {"crm:read", "crm:write"},
    READ: {"crm:read"},
    WRITE_ONLY: {"crm:write"},
}
UUID_RE = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_UNSET: Any = object()


def describe(resp: httpx.Response) -> str:
    """One line naming the request and the response, for assertion messages."""
    req = resp.request
    body = req.content.decode("utf-8", "replace")[:300] if req.content else ""
    return f"{req.method} {req.url} {body} -> {resp.status_code} {resp.text[:400]}"


def parse_timestamp(value: Any, rule: str) -> datetime:
    """Parse an ISO 8601 timestamp that must carry an explicit offset."""
    assert isinstance(value, str), f"{rule}: timestamp must be a string, got {value!r}"
    parsed = datetime.fromisoformat(value)
    assert parsed.utcoffset() is not None, f"{rule}: timestamp {value!r} has no offset"
    return parsed


class Api:
    """Requests against one app, plus the few setup steps that almost every test needs.

    Test modules reach the tokens and helpers through this class (`api.READ`, `api.describe`),
    since importing `conftest` from a test module is ambiguous next to the root conftest.
    """

    WRITE = WRITE
    READ = READ
    WRITE_ONLY = WRITE_ONLY
    describe = staticmethod(describe)
    timestamp = staticmethod(parse_timestamp)

    @staticmethod
    def is_uuid(value: Any) -> bool:
        return isinstance(value, str) and UUID_RE.match(value) is not None

    def __init__(self, client: TestClient) -> None:
        self.client = client
        self._slugs = itertools.count(1)

    # -- raw requests -------------------------------------------------------------------------
    def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = _UNSET,
        content: bytes | None = None,
        params: dict[str, Any] | None = None,
        token: str | None = WRITE,
    ) -> httpx.Response:
        headers = {} if token is None else {"Authorization": f"Bearer {token}"}
        kwargs: dict[str, Any] = {"headers": headers, "params": params}
        if json is not _UNSET:
            kwargs["json"] = json
        if content is not None:
            kwargs["content"] = content
            headers["Content-Type"] = "application/json"
        return self.client.request(method, path, **kwargs)

    def get(self, path: str, **kw: Any) -> httpx.Response:
        return self.request("GET", path, **kw)

    def post(self, path: str, json: Any = _UNSET, **kw: Any) -> httpx.Response:
        return self.request("POST", path, json=json, **kw)

    def patch(self, path: str, json: Any = _UNSET, **kw: Any) -> httpx.Response:
        return self.request("PATCH", path, json=json, **kw)

    def put(self, path: str, json: Any = _UNSET, **kw: Any) -> httpx.Response:
        return self.request("PUT", path, json=json, **kw)

    def delete(self, path: str, **kw: Any) -> httpx.Response:
        return self.request("DELETE", path, **kw)

    # -- envelopes ----------------------------------------------------------------------------
    @staticmethod
    def ok(resp: httpx.Response, status: int, key: str | None, rule: str) -> Any:
        """Check a success envelope with `status` and return `body[key]` (or the body)."""
        assert resp.status_code == status, f"{rule}: expected {status}: {describe(resp)}"
        body = resp.json()
        assert isinstance(body, dict), f"{rule} / envelope: body is not an object: {describe(resp)}"
        assert body.get("success") is True, f"{rule} / envelope: success must be true: {describe(resp)}"
        assert body.get("status") == status, f"{rule} / envelope: status != HTTP status: {describe(resp)}"
        if key is None:
            return body
        assert key in body, f"{rule} / envelope: missing {key!r}: {describe(resp)}"
        return body[key]

    @staticmethod
    def fails(resp: httpx.Response, status: int, rule: str) -> dict[str, Any]:
        """Check an error envelope with `status`; never looks at the message wording."""
        assert resp.status_code == status, f"{rule}: expected {status}: {describe(resp)}"
        body = resp.json()
        assert isinstance(body, dict), f"{rule} / error envelope: not an object: {describe(resp)}"
        assert body.get("success") is False, f"{rule} / error envelope: success not false: {describe(resp)}"
        assert body.get("status") == status, f"{rule} / error envelope: status mismatch: {describe(resp)}"
        assert isinstance(body.get("message"), str), f"{rule} / error envelope: no message: {describe(resp)}"
        return body

    # -- setup helpers ------------------------------------------------------------------------
    def new_slug(self) -> str:
        return f"obj-{next(self._slugs)}"

    def new_object(self, *attributes: dict[str, Any], slug: str | None = None) -> str:
        """Create a custom object with the given attribute bodies; return its slug."""
        slug = slug or self.new_slug()
        body = {"slug": slug, "singularName": slug.title(), "pluralName": slug.title() + "s"}
        self.ok(self.post("/crm/objects", json=body), 201, "object", "setup: create object")
        for attribute in attributes:
            self.add_attribute(slug, **attribute)
        return slug

    def add_attribute(self, slug: str, label: str, type: str, **extra: Any) -> dict[str, Any]:
        body = {"label": label, "type": type, "isRequired": False, **extra}
        resp = self.post(f"/crm/objects/{slug}/attributes", json=body)
        return self.ok(resp, 201, "attribute", "setup: create attribute")

    def object(self, slug: str) -> dict[str, Any]:
        return self.ok(self.get(f"/crm/objects/{slug}"), 200, "object", "setup: get object")

    def attribute(self, slug: str, key: str) -> dict[str, Any]:
        found = [a for a in self.object(slug)["attributes"] if a["key"] == key]
        assert len(found) == 1, f"setup: attribute {key!r} not found exactly once on {slug!r}"
        return found[0]

    def create(self, slug: str, body: dict[str, Any]) -> dict[str, Any]:
        return self.ok(self.post(f"/crm/{slug}", json=body), 201, "record", "setup: create record")

    def record(self, slug: str, record_id: str) -> dict[str, Any]:
        return self.ok(self.get(f"/crm/{slug}/{record_id}"), 200, "record", "setup: get record")

    def upsert(self, slug: str, key: str | None, body: Any, **kw: Any) -> httpx.Response:
        params = {} if key is None else {"matchingAttribute": key}
        return self.put(f"/crm/{slug}", json=body, params=params, **kw)

    def records(self, slug: str) -> list[dict[str, Any]]:
        """Every record of the object, oldest first, following pages of 100."""
        out: list[dict[str, Any]] = []
        for page in itertools.count(1):
            resp = self.get(f"/crm/{slug}", params={"page": page, "count": 100})
            batch = self.ok(resp, 200, "collection", "setup: list records")
            out.extend(batch)
            if len(batch) < 100:
                return out
        raise AssertionError("unreachable")


def make_api(**app_kwargs: Any) -> Iterator[Api]:
    app_kwargs.setdefault("tokens", TOKENS)
    with TestClient(create_app(**app_kwargs), base_url="http://testserver/v2") as client:
        yield Api(client)


@pytest.fixture
def api() -> Iterator[Api]:
    """A fresh reference server (in-memory database) with write, read-only and write-only tokens."""
    yield from make_api()


@pytest.fixture
def server_factory() -> Any:
    """`with server_factory(rate_limit=2) as api:` for a server with other settings."""
    return contextlib.contextmanager(make_api)


@pytest.fixture(scope="module")
def shared_api() -> Iterator[Api]:
    """One server per module, for Hypothesis tests that create their own objects per example."""
    yield from make_api()


SHOP_ATTRIBUTES = [
    {"label": "Sku", "type": "text", "isUnique": True},
    {"label": "Name", "type": "text"},
    {"label": "Qty", "type": "number"},
    {"label": "Ext", "type": "text"},
    {"label": "Email", "type": "text", "isUnique": True},
    {"label": "Day", "type": "date"},
]


@pytest.fixture
def shop(api: Api) -> str:
    """An object for assert tests: unique `sku` and `email`, plain `name` and `ext`, `qty`, `day`."""
    return api.new_object(*SHOP_ATTRIBUTES)
