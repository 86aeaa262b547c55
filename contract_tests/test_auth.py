"""Section 1 and A15: every call needs a bearer token (401), every write the `crm:write` scope (403).

Each test makes a fresh record on a run-made object, sends one call without a token, with an unknown
token or with the read-only token (`--read-token`), and then reads with the write token that nothing
changed: the record is as before, and a key that a refused create named is still free (asserting it
creates, A1). All requests go through one client that carries no token of its own, so the failure
message shows them all, in order.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from crm_contract.contract_tests.calls import definition, fresh_key
from crm_contract.contract_tests.checks import envelope_of, error_of, fail, record_of
from crm_contract.strategies import AttributeDefinition, ObjectDefinition, run_id

from crm_contract.kit.client import ContractClient, Exchange
from crm_contract.kit.target import Target
from crm_contract.kit.workspace import CreatedObject, Workspace


@pytest.fixture(scope="module")
def bare(target: Target) -> Iterator[ContractClient]:
    """A client without a token of its own: each request names its token (or none)."""
    with target.client(anonymous=True) as http:
        yield ContractClient(http)


@pytest.fixture(scope="module")
def auth_object(make_object: Callable[[ObjectDefinition], CreatedObject],
                workspace: Workspace) -> Iterator[CreatedObject]:
    made = make_object(definition("auth", AttributeDefinition("Key", "text", is_unique=True),
                                  AttributeDefinition("Note", "text")))
    yield made
    workspace.delete_object(made.slug)


@dataclass(frozen=True)
class Call:
    """One kind of call: method, path and body, given the object, a record id and fresh names."""

    method: str
    path: str
    body: Any = None
    params: dict[str, str] | None = None
    # "record" or "object": what the call would make; "spare": it would delete the scene's spare object
    creates: str = ""


@dataclass
class Scene:
    """What a test works on: a fresh record, a key no record holds and a slug no object has."""

    client: ContractClient
    target: Target
    obj: CreatedObject
    record: dict[str, Any]
    new_key: str
    new_slug: str
    log: list[Exchange]
    spare_slug: str = ""  # an object of its own for DELETE object, so that a wrong delete harms no other test

    def calls(self) -> dict[str, Call]:
        slug, key, note = self.obj.slug, self.obj.key("Key"), self.obj.key("Note")
        record, matching = f"/crm/{slug}/{self.record['id']}", {"matchingAttribute": key}
        new_object = {"slug": self.new_slug, "singularName": "Refused", "pluralName": "Refused"}
        return {
            "GET list": Call("GET", f"/crm/{slug}", params={"page": "1", "count": "20"}),
            "GET record": Call("GET", record),
            "POST record": Call("POST", f"/crm/{slug}", {key: self.new_key, note: "refused"}, creates="record"),
            "PUT assert (new key)": Call("PUT", f"/crm/{slug}", {key: self.new_key}, matching, creates="record"),
            "PUT assert (existing key)": Call("PUT", f"/crm/{slug}", {key: self.record_key, note: "changed"},
                                              matching),
            "PATCH record": Call("PATCH", record, {note: "changed"}),
            "DELETE record": Call("DELETE", record),
            "GET objects": Call("GET", "/crm/objects"),
            "GET object": Call("GET", f"/crm/objects/{slug}"),
            "POST object": Call("POST", "/crm/objects", new_object, creates="object"),
            "PATCH object": Call("PATCH", f"/crm/objects/{slug}", {"singularName": "Changed"}),
            "DELETE object": Call("DELETE", f"/crm/objects/{self.spare_slug}", creates="spare"),
            "POST attribute": Call("POST", f"/crm/objects/{slug}/attributes",
                                   {"label": "Refused", "type": "text", "isRequired": False}),
            "PATCH attribute": Call("PATCH", f"/crm/objects/{slug}/attributes/{note}", {"label": "Changed"}),
        }

    @property
    def record_key(self) -> str:
        return str(self.record["attributes"][self.obj.key("Key")])

    def send(self, call: Call, token: str | None) -> Any:
        headers = {"Authorization": f"Bearer {token}"} if token is not None else None
        body = {} if call.body is None else {"json": call.body}
        # Each call is expected to be refused, and its effects are checked afterwards: a lost answer is met
        # by sending it again (a wrong acceptance only shows the more).
        return self.client.request(call.method, call.path, params=call.params, headers=headers, resend_if_lost=True,
                                   **body)

    @property
    def writer(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.target.token}"}

    def read(self, path: str) -> Any:
        return self.client.get(path, headers=self.writer)

    def nothing_changed(self, call: Call, before: dict[str, Any], rule: str) -> None:
        """With the write token: the object and the record read as before; nothing new exists."""
        slug = self.obj.slug
        record = record_of(self.read(f"/crm/{slug}/{self.record['id']}"), 200, rule, self.log, slug)
        obj = envelope_of(self.read(f"/crm/objects/{slug}"), 200, rule, self.log).get("object")
        if {"record": record, "object": obj} != before:
            fail(rule, f"the refused {call.method} {call.path} changed the object or the record", self.log)
        if call.creates == "spare" and (status := self.read(f"/crm/objects/{self.spare_slug}").status_code) != 200:
            fail(rule, f"the refused call deleted the object {self.spare_slug} (GET answers {status})", self.log)
        if call.creates == "object":
            status = self.read(f"/crm/objects/{self.new_slug}").status_code
            if status != 404:
                fail(rule, f"the refused call made the object {self.new_slug} (GET answers {status})", self.log)
        if call.creates == "record":  # A1: the key is still free, so asserting it creates a record
            key = self.obj.key("Key")
            response = self.client.put(f"/crm/{slug}", json={key: self.new_key}, params={"matchingAttribute": key},
                                       headers=self.writer)
            if response.status_code in (200, 201):
                made = record_of(response, response.status_code, rule, self.log, slug)
                self.client.delete(f"/crm/{slug}/{made['id']}", headers=self.writer, resend_if_lost=True)
            if response.status_code != 201:
                fail(rule, f"asserting the refused call's key afterwards answered {response.status_code}, not 201: "
                     "the refused call made a record", self.log)

    def snapshot(self) -> dict[str, Any]:
        slug = self.obj.slug
        record = record_of(self.read(f"/crm/{slug}/{self.record['id']}"), 200, "set-up", self.log, slug)
        return {"record": record,
                "object": envelope_of(self.read(f"/crm/objects/{slug}"), 200, "set-up", self.log).get("object")}


@pytest.fixture
def scene(request: pytest.FixtureRequest, target: Target, bare: ContractClient, auth_object: CreatedObject,
          make_object: Callable[[ObjectDefinition], CreatedObject], workspace: Workspace) -> Iterator[Scene]:
    auth = {"Authorization": f"Bearer {target.token}"}
    key = auth_object.key("Key")
    spare = make_object(definition("auth-spare")).slug if "DELETE object" in request.node.name else ""
    with bare.exchanges() as log:
        response = bare.post(f"/crm/{auth_object.slug}", json={key: fresh_key()}, headers=auth)
        record = record_of(response, 201, "set-up: create a record", log, auth_object.slug)
        new_slug = f"{run_id()}-refused-{secrets.token_hex(3)}".lower().replace("_", "-")
        yield Scene(bare, target, auth_object, record, fresh_key(), new_slug, log, spare)
        bare.delete(f"/crm/{auth_object.slug}/{record['id']}", headers=auth, resend_if_lost=True)
        # Only if a refused call made it after all:
        bare.delete(f"/crm/objects/{new_slug}", headers=auth, resend_if_lost=True)
    if spare:
        workspace.delete_object(spare)


RECORD_CALLS = ["GET list", "GET record", "POST record", "PUT assert (new key)", "PUT assert (existing key)",
                "PATCH record", "DELETE record"]
OBJECT_CALLS = ["GET objects", "GET object", "POST object", "PATCH object", "DELETE object", "POST attribute",
                "PATCH attribute"]
WRITES = [name for name in RECORD_CALLS + OBJECT_CALLS if not name.startswith("GET")]
READS = [name for name in RECORD_CALLS + OBJECT_CALLS if name.startswith("GET")]


@pytest.mark.rule("section 1", "A15")
@pytest.mark.documented
@pytest.mark.parametrize("credentials", ["no token", "unknown token"])
@pytest.mark.parametrize("name", RECORD_CALLS + OBJECT_CALLS)
def test_missing_or_unknown_token_is_401_and_changes_nothing(scene: Scene, name: str, credentials: str) -> None:
    call = scene.calls()[name]
    before = scene.snapshot()
    token = None if credentials == "no token" else f"{run_id()}-unknown-{secrets.token_hex(8)}"
    rule = f"section 1: {name} with {credentials} is 401"
    error_of(scene.send(call, token), 401, rule, scene.log, expect=scene.target.expect)
    scene.nothing_changed(call, before, rule)


def read_token(target: Target) -> str:
    if target.read_token is None:
        pytest.skip("not run: no --read-token given")
    return target.read_token


@pytest.mark.rule("section 1", "A15")
@pytest.mark.documented
@pytest.mark.parametrize("name", WRITES)
def test_read_only_token_is_403_on_every_write_and_changes_nothing(scene: Scene, name: str) -> None:
    """Every write needs crm:write (section 1 [D]); that the refusal is exactly 403 is A15 [R]."""
    token = read_token(scene.target)
    call = scene.calls()[name]
    before = scene.snapshot()
    rule = f"section 1: {name} with a token without crm:write is 403"
    error_of(scene.send(call, token), 403, rule, scene.log, expect=scene.target.expect, part="A15-scope-status")
    scene.nothing_changed(call, before, rule)


@pytest.mark.rule("section 1")
@pytest.mark.documented
@pytest.mark.parametrize("name", READS)
def test_read_only_token_may_read(scene: Scene, name: str) -> None:
    """crm:read is the scope of every GET [D]."""
    token = read_token(scene.target)
    response = scene.send(scene.calls()[name], token)
    envelope_of(response, 200, f"section 1: {name} with a crm:read token is 200", scene.log)
    if name == "GET record":
        record_of(response, 200, "section 1", scene.log, scene.obj.slug)


@pytest.mark.rule("section 1", "A15")
@pytest.mark.reference
@pytest.mark.parametrize("method", ["GET", "POST", "PUT", "PATCH", "DELETE"])
def test_authentication_and_scope_come_before_existence(scene: Scene, method: str) -> None:
    """On an unknown object: no token is 401, a read-only write is 403, not 404 (order of checks [R])."""
    path = f"/crm/{scene.new_slug}" if method in ("GET", "POST", "PUT") else f"/crm/{scene.new_slug}/{fresh_key()}"
    call = Call(method, path, None if method in ("GET", "DELETE") else {"key": "x"},
                {"matchingAttribute": "key"} if method == "PUT" else None)
    error_of(scene.send(call, None), 401, f"section 1: {method} of an unknown object without a token is 401 "
             "(authentication before existence)", scene.log, expect=scene.target.expect)
    if method != "GET" and scene.target.read_token is not None:
        error_of(scene.send(call, scene.target.read_token), 403, f"section 1: {method} of an unknown object "
                 "with a read-only token is 403 (scope before existence)", scene.log,
                 expect=scene.target.expect)
