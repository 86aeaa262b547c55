"""Section 1 of the contract against the reference server: auth, envelopes, bodies, methods, order."""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest
from crm_contract.reference_server import DEFAULT_WRITE_TOKEN

Api = Any  # the `api` fixture's class lives in tests/conftest.py

# (name, method, path template, body); `{slug}` is an object with a text attribute `name`,
# `{rid}` a record of it. Together they are every kind of call the contract defines.
CALLS: list[tuple[str, str, str, Any]] = [
    ("list-objects", "GET", "/crm/objects", None),
    ("create-object", "POST", "/crm/objects", {"slug": "fresh", "singularName": "F", "pluralName": "Fs"}),
    ("get-object", "GET", "/crm/objects/{slug}", None),
    ("patch-object", "PATCH", "/crm/objects/{slug}", {"singularName": "Changed"}),
    ("delete-object", "DELETE", "/crm/objects/{slug}", None),
    ("create-attribute", "POST", "/crm/objects/{slug}/attributes",
     {"label": "Extra", "type": "text", "isRequired": False}),
    ("patch-attribute", "PATCH", "/crm/objects/{slug}/attributes/name", {"label": "Renamed"}),
    ("list-records", "GET", "/crm/{slug}", None),
    ("create-record", "POST", "/crm/{slug}", {"name": "other"}),
    ("assert-record", "PUT", "/crm/{slug}?matchingAttribute=name", {"name": "asserted"}),
    ("get-record", "GET", "/crm/{slug}/{rid}", None),
    ("patch-record", "PATCH", "/crm/{slug}/{rid}", {"name": "patched"}),
    ("delete-record", "DELETE", "/crm/{slug}/{rid}", None),
]
WRITES = [c for c in CALLS if c[1] != "GET"]
READS = [c for c in CALLS if c[1] == "GET"]
BODY_CALLS = [c for c in WRITES if c[3] is not None]


@pytest.fixture
def world(api: Api) -> dict[str, str]:
    slug = api.new_object({"label": "Name", "type": "text"})
    rid = api.create(slug, {"name": "first"})["id"]
    return {"slug": slug, "rid": rid}


def snapshot(api: Api, slug: str) -> Any:
    objects = api.ok(api.get("/crm/objects"), 200, "objects", "snapshot")
    return sorted(objects, key=lambda o: o["slug"]), api.object(slug), api.records(slug)


def send(api: Api, call: tuple[str, str, str, Any], world: dict[str, str], **kw: Any) -> Any:
    _, method, template, body = call
    path = template.format(**world)
    if "content" in kw:
        return api.request(method, path, **kw)
    return api.request(method, path, json=body, **kw) if body is not None else api.request(method, path, **kw)


@pytest.mark.parametrize("call", CALLS, ids=[c[0] for c in CALLS])
@pytest.mark.parametrize("token", [None, "not-a-known-token"], ids=["missing", "unknown"])
def test_missing_or_unknown_token_gives_401_and_changes_nothing(
    api: Api, world: dict[str, str], call: Any, token: str | None
) -> None:
    before = snapshot(api, world["slug"])
    api.fails(send(api, call, world, token=token), 401, "§1 Auth: missing/unknown token -> 401")
    assert snapshot(api, world["slug"]) == before, "§1 Auth: a 401 request must change nothing"


def test_malformed_authorization_header_gives_401(api: Api, world: dict[str, str]) -> None:
    for header in ["Basic " + DEFAULT_WRITE_TOKEN, DEFAULT_WRITE_TOKEN, "Bearer", "Bearer "]:
        resp = api.client.get("/crm/objects", headers={"Authorization": header})
        api.fails(resp, 401, f"§1 Auth: `Authorization: {header}` is not a bearer token -> 401")


@pytest.mark.parametrize("call", WRITES, ids=[c[0] for c in WRITES])
def test_read_only_token_gets_403_on_every_write(api: Api, world: dict[str, str], call: Any) -> None:
    before = snapshot(api, world["slug"])
    api.fails(send(api, call, world, token=api.READ), 403, "§1 Auth: write without crm:write -> 403")
    assert snapshot(api, world["slug"]) == before, "§1 Auth: a 403 request must change nothing"


@pytest.mark.parametrize("call", READS, ids=[c[0] for c in READS])
@pytest.mark.parametrize("token", ["READ", "WRITE_ONLY"], ids=["crm-read", "crm-write"])
def test_gets_are_allowed_with_read_or_write_scope(
    api: Api, world: dict[str, str], call: Any, token: str
) -> None:
    resp = send(api, call, world, token=getattr(api, token))
    api.ok(resp, 200, None, "§1 Auth: GET needs crm:read or crm:write")


def test_default_token_is_a_read_write_token(server_factory: Any) -> None:
    with server_factory(tokens=None) as api:
        slug = api.new_object({"label": "Name", "type": "text"})
        api.create(slug, {"name": "x"})
        api.ok(api.get(f"/crm/{slug}"), 200, "collection", "§1 Auth: default token reads")
        api.fails(api.get("/crm/objects", token="other"), 401, "§1 Auth: only the default token is known")


@pytest.mark.parametrize("call", CALLS, ids=[c[0] for c in CALLS])
def test_success_envelope_status_equals_http_status(api: Api, world: dict[str, str], call: Any) -> None:
    resp = send(api, call, world)
    assert resp.status_code in (200, 201), f"§1 setup: the call should succeed: {api.describe(resp)}"
    assert resp.headers["content-type"].startswith("application/json"), "§1 Content: JSON responses"
    body = api.ok(resp, resp.status_code, None, "§1 Success envelope")
    resource = {"list-objects": "objects", "list-records": "collection"}.get(call[0])
    if resource is None:
        resource = "message" if call[1] == "DELETE" else call[0].split("-")[1]
    assert resource in body, f"§1 Success envelope: resource key {resource!r} missing: {api.describe(resp)}"


INVALID_BODIES = {
    "truncated": b'{"name": ',
    "empty": b"",
    "not-json": b"name=x",
    "array": b'[{"name": "x"}]',
    "string": b'"name"',
    "number": b"42",
    "null": b"null",
    "nan": b'{"name": NaN}',
    "infinity": b'{"name": Infinity}',
    "not-utf8": b'{"name": "\xff\xfe"}',
    "lone-surrogate": b'{"name": "\\ud800"}',
    "deep-nesting": b'{"name": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
    "huge-integer": b'{"name": ' + b"7" * 5000 + b"}",
}


@pytest.mark.parametrize("raw", INVALID_BODIES.values(), ids=INVALID_BODIES.keys())
@pytest.mark.parametrize("call", BODY_CALLS, ids=[c[0] for c in BODY_CALLS])
def test_invalid_or_non_object_body_gives_400_never_500(
    api: Api, world: dict[str, str], call: Any, raw: bytes
) -> None:
    before = snapshot(api, world["slug"])
    api.fails(send(api, call, world, content=raw), 400, "§1 Content: invalid / non-object JSON body -> 400")
    assert snapshot(api, world["slug"]) == before, "§1 Content: a rejected body must change nothing"


UNSUPPORTED = [
    ("DELETE", "/crm/objects"),
    ("PUT", "/crm/objects"),
    ("PATCH", "/crm/objects"),
    ("POST", "/crm/objects/{slug}"),
    ("PUT", "/crm/objects/{slug}"),
    ("POST", "/crm/{slug}/{rid}"),
    ("PUT", "/crm/{slug}/{rid}"),
    ("PATCH", "/crm/{slug}"),
    ("DELETE", "/crm/{slug}"),
]


@pytest.mark.parametrize(("method", "template"), UNSUPPORTED, ids=[f"{m} {p}" for m, p in UNSUPPORTED])
def test_unsupported_method_on_known_path_gives_405_with_allow(
    api: Api, world: dict[str, str], method: str, template: str
) -> None:
    before = snapshot(api, world["slug"])
    resp = api.request(method, template.format(**world), json={"name": "x"})
    api.fails(resp, 405, "§1 Methods: unsupported method -> 405")
    allow = {m.strip().upper() for m in resp.headers.get("allow", "").split(",") if m.strip()}
    assert allow, f"§1 Methods: 405 must carry an Allow header: {api.describe(resp)}"
    assert method not in allow, f"§1 Methods: Allow must not list the rejected method: {api.describe(resp)}"
    assert "GET" in allow, f"§1 Methods: Allow must list the path's methods (GET): {api.describe(resp)}"
    assert snapshot(api, world["slug"]) == before, "§1 Methods: a 405 request must change nothing"


@pytest.mark.parametrize(
    "template",
    ["/nothing", "/crm", "/crm/objects/{slug}/attributes/name/more", "/crm/{slug}/{rid}/more",
     "/crm/objects/{slug}/elsewhere"],
)
def test_unknown_route_gives_404(api: Api, world: dict[str, str], template: str) -> None:
    api.fails(api.get(template.format(**world)), 404, "§1 Unknown route -> 404")


def test_paths_outside_v2_are_not_served(api: Api) -> None:
    headers = {"Authorization": f"Bearer {api.WRITE}"}
    resp = api.client.get("http://testserver/v1/crm/objects", headers=headers)
    assert resp.status_code == 404, f"§1: only /v2 is served: {api.describe(resp)}"


def test_order_401_before_403_before_404_before_400(api: Api, world: dict[str, str]) -> None:
    bad = b'{"name": '
    rule = "§1 Order of checks"
    api.fails(api.request("POST", "/crm/nope", content=bad, token=None), 401, f"{rule}: 401 first")
    api.fails(api.request("POST", "/crm/nope", content=bad, token="bogus"), 401, f"{rule}: 401 first")
    api.fails(api.request("POST", "/crm/nope", content=bad, token=api.READ), 403, f"{rule}: 403 before 404")
    api.fails(api.request("POST", "/crm/nope", content=bad), 404, f"{rule}: 404 before 400")
    api.fails(api.request("POST", f"/crm/{world['slug']}", content=bad), 400, f"{rule}: then 400")
    unknown = f"/crm/{world['slug']}/{uuid.uuid4()}"
    api.fails(api.request("PATCH", unknown, content=bad, token=api.READ), 403, f"{rule}: 403 before 404")
    api.fails(api.request("PATCH", unknown, content=bad), 404, f"{rule}: unknown record before body")
    api.fails(api.request("PATCH", "/crm/objects/nope/attributes/x", content=bad), 404, f"{rule}: 404")
    api.fails(api.upsert("nope", None, {"name": ""}), 404, f"{rule}: unknown object before query/body")
    api.fails(api.get("/crm/nope", params={"count": 0}), 404, f"{rule}: unknown object before query")
    api.fails(api.upsert("nope", "name", {"name": "x"}, token=api.READ), 403, f"{rule}: 403 before 404")


def test_timestamps_have_offsets_and_ids_are_uuids(api: Api) -> None:
    rule = "§1 Timestamps / Ids"
    slug = api.new_object({"label": "Name", "type": "text"})
    obj = api.object(slug)
    for thing in [obj, *obj["attributes"]]:
        api.timestamp(thing["createdAt"], rule)
        api.timestamp(thing["updatedAt"], rule)
    record = api.create(slug, {"name": "x"})
    assert api.is_uuid(record["id"]), f"{rule}: id {record['id']!r}"
    api.timestamp(record["createdAt"], rule)
    api.timestamp(record["updatedAt"], rule)
    asserted = api.ok(api.upsert(slug, "name", {"name": "y"}), 201, "record", rule)
    assert api.is_uuid(asserted["id"]), f"{rule}: asserted id {asserted['id']!r} is not a UUID"
    assert asserted["id"] != record["id"], f"{rule}: every new record gets a new id"


def test_rate_limit_gives_429_with_retry_after(server_factory: Any) -> None:
    rule = "§1 Rate limits"
    with server_factory(rate_limit=2) as api:
        responses = [api.get("/crm/objects") for _ in range(30)]
        first = responses[0]
        assert first.status_code == 200, f"{rule}: the first request passes: {api.describe(first)}"
        limited = [r for r in responses if r.status_code == 429]
        assert limited, f"{rule}: 30 requests at once over 2/s must hit 429"
        for resp in limited:
            api.fails(resp, 429, f"{rule}: 429 envelope")
            retry_after = resp.headers.get("retry-after", "")
            assert retry_after.isdigit(), f"{rule}: Retry-After in whole seconds: {api.describe(resp)}"
        time.sleep(int(limited[-1].headers["retry-after"]))
        api.ok(api.get("/crm/objects"), 200, "objects", f"{rule}: a request after Retry-After passes")


def test_rate_limit_comes_before_authentication(server_factory: Any) -> None:
    with server_factory(rate_limit=1) as api:
        statuses = [api.get("/crm/objects", token=None).status_code for _ in range(20)]
    assert statuses[0] == 401 and 429 in statuses, f"§1 (reference choice): 429 before 401: {statuses}"
    assert set(statuses) == {401, 429}, f"§1: only 401 and 429 for unauthenticated requests: {statuses}"


def test_no_rate_limit_by_default(api: Api) -> None:
    statuses = {api.get("/crm/objects").status_code for _ in range(60)}
    assert statuses == {200}, "§1 Rate limits: create_app(rate_limit=None) never limits"
