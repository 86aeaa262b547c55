"""A11 through real HTTP: concurrent asserts of one new matching value create exactly one record.

The reference server runs under uvicorn on a loopback port (EmbeddedServer); 50 asserts start
together, from threads with their own connections and from one asyncio event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from crm_contract.hosting.embedded import EmbeddedServer

PARALLEL = 50
ROUNDS = 3
TIMEOUT = httpx.Timeout(60.0)


@pytest.fixture(params=["memory", "file"])
def server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[EmbeddedServer]:
    db_path = ":memory:" if request.param == "memory" else str(tmp_path / "crm.db")
    with EmbeddedServer(db_path=db_path) as running:
        yield running


def headers(server: EmbeddedServer) -> dict[str, str]:
    return {"Authorization": f"Bearer {server.token}"}


def new_object(server: EmbeddedServer, slug: str, unique: bool) -> None:
    with httpx.Client(base_url=server.base_url, headers=headers(server), timeout=TIMEOUT) as client:
        body = {"slug": slug, "singularName": "Item", "pluralName": "Items"}
        assert client.post("/crm/objects", json=body).status_code == 201, "A11 setup: create object"
        for attribute in [{"label": "Key", "type": "text", "isUnique": unique},
                          {"label": "Worker", "type": "number"}]:
            resp = client.post(f"/crm/objects/{slug}/attributes", json={"isRequired": False, **attribute})
            assert resp.status_code == 201, f"A11 setup: create attribute: {resp.text}"


def listed(server: EmbeddedServer, slug: str) -> list[dict[str, Any]]:
    with httpx.Client(base_url=server.base_url, headers=headers(server), timeout=TIMEOUT) as client:
        resp = client.get(f"/crm/{slug}", params={"count": 100})
        assert resp.status_code == 200, f"A11: list records: {resp.text}"
        return list(resp.json()["collection"])


def check_one_created(
    responses: list[httpx.Response], records: list[dict[str, Any]], key: str, rule: str
) -> None:
    """Exactly one 201, the rest 200, every response naming the same record, one record listed."""
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] * (len(responses) - 1) + [201], f"{rule}: statuses {statuses}"
    for resp in responses:
        body = resp.json()
        assert body["success"] is True and body["status"] == resp.status_code, f"{rule}: envelope {body}"
    ids = {r.json()["record"]["id"] for r in responses}
    assert len(ids) == 1, f"{rule}: every response names one record, got {len(ids)} ids"
    matching = [r for r in records if r["attributes"]["key"] == key]
    assert [r["id"] for r in matching] == list(ids), f"{rule}: exactly one record holds {key!r}: {matching}"


def assert_from_threads(clients: list[httpx.Client], slug: str, key: str) -> list[httpx.Response]:
    """One assert per client, each from its own thread, released together by a barrier."""
    barrier = threading.Barrier(len(clients))

    def one(worker: int) -> httpx.Response:
        barrier.wait(timeout=30)
        return clients[worker].put(f"/crm/{slug}", params={"matchingAttribute": "key"},
                                   json={"key": key, "worker": worker})

    with ThreadPoolExecutor(max_workers=len(clients)) as pool:
        return list(pool.map(one, range(len(clients))))


async def assert_from_event_loop(server: EmbeddedServer, slug: str, key: str) -> list[httpx.Response]:
    limits = httpx.Limits(max_connections=PARALLEL)
    async with httpx.AsyncClient(base_url=server.base_url, headers=headers(server), timeout=TIMEOUT,
                                 limits=limits) as client:
        return list(await asyncio.gather(*(
            client.put(f"/crm/{slug}", params={"matchingAttribute": "key"}, json={"key": key, "worker": w})
            for w in range(PARALLEL))))


@pytest.mark.parametrize("unique", [True, False], ids=["unique-key", "non-unique-key"])
def test_a11_concurrent_asserts_from_threads_create_exactly_one_record(
    server: EmbeddedServer, unique: bool
) -> None:
    rule = f"A11: {PARALLEL} concurrent asserts (threads) of one new value -> one 201, the rest 200"
    new_object(server, "items", unique)
    with contextlib.ExitStack() as stack:
        clients = [stack.enter_context(httpx.Client(base_url=server.base_url, headers=headers(server),
                                                    timeout=TIMEOUT)) for _ in range(PARALLEL)]
        for round_ in range(ROUNDS):
            key = f"new-value-{round_}"
            responses = assert_from_threads(clients, "items", key)
            check_one_created(responses, listed(server, "items"), key, f"{rule}, round {round_}")
    assert len(listed(server, "items")) == ROUNDS, f"{rule}: one record per value"


@pytest.mark.parametrize("unique", [True, False], ids=["unique-key", "non-unique-key"])
def test_a11_concurrent_asserts_from_an_event_loop_create_exactly_one_record(
    server: EmbeddedServer, unique: bool
) -> None:
    rule = f"A11: {PARALLEL} concurrent asserts (asyncio) of one new value -> one 201, the rest 200"
    new_object(server, "items", unique)
    for round_ in range(ROUNDS):
        key = f"async-value-{round_}"
        responses = asyncio.run(assert_from_event_loop(server, "items", key))
        check_one_created(responses, listed(server, "items"), key, f"{rule}, round {round_}")
    assert len(listed(server, "items")) == ROUNDS, f"{rule}: one record per value"
