"""A11: concurrent asserts of one new matching value create exactly one record.

Each example sends the same assert of a fresh key from `PARALLEL` threads at once, each thread with its
own connection (an `httpx.Client` of its own), released together by a barrier. Exactly one answer may
be 201; the rest are 200 with the same id, and the object then holds one record with the key.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from crm_contract.contract_tests.checks import fail, record_of
from crm_contract.contract_tests.rule_support import Arena, Arenas, Joined
from hypothesis import assume, given
from hypothesis import strategies as st

from crm_contract.kit.client import ContractClient, Exchange, OutcomeUnknown
from crm_contract.kit.target import Target
from crm_contract.kit.workspace import Workspace

PARALLEL = 32


@pytest.fixture(scope="module")
def arenas(target: Target, api: ContractClient, workspace: Workspace) -> Arenas:
    return Arenas(target, api, workspace)


@pytest.fixture(scope="module")
def callers(target: Target) -> Iterator[list[ContractClient]]:
    """`PARALLEL` clients with open connections, so that the barrier releases requests, not handshakes."""
    clients = [target.client() for _ in range(PARALLEL)]
    try:
        with ThreadPoolExecutor(PARALLEL) as pool:
            list(pool.map(lambda http: ContractClient(http).get("/crm/objects"), clients))
        yield [ContractClient(http) for http in clients]
    finally:
        for http in clients:
            http.close()


def at_once(arena: Arena, callers: list[ContractClient],
            body: dict[str, Any]) -> list[tuple[httpx.Response | None, list[Exchange]]]:
    """The same assert from every caller, released together; each response with its exchanges.

    A response lost to the network is None: that assert may or may not have been the one that created
    the record, which the test allows for rather than discarding 31 good answers.
    """
    barrier = threading.Barrier(len(callers), timeout=30)

    def send(caller: ContractClient) -> tuple[httpx.Response | None, list[Exchange]]:
        with caller.exchanges() as sent:
            barrier.wait()
            try:
                response: httpx.Response | None = caller.put(arena.path, json=body,
                                                             params={"matchingAttribute": arena.matching})
            except OutcomeUnknown:
                response = None
        return response, sent

    with ThreadPoolExecutor(len(callers)) as pool:
        return list(pool.map(send, callers))


@pytest.mark.rule("A11")
@pytest.mark.reference
@pytest.mark.long
@pytest.mark.parametrize("unique", [True, False], ids=["unique-key", "non-unique-key"])
@given(data=st.data())
def test_a11_concurrent_asserts_of_one_new_value_create_exactly_one_record(
    arenas: Arenas, callers: list[ContractClient], unique: bool, data: st.DataObject
) -> None:
    arena = arenas.get(unique=unique)
    body = data.draw(arena.bodies(full=False), label="body")
    key = body[arena.matching]
    answers = at_once(arena, callers, body)
    known = [response for response, _ in answers if response is not None]
    lost = len(answers) - len(known)
    with arena.api.exchanges() as after:
        log = Joined(*(sent for _, sent in answers), after)
        statuses = [response.status_code for response in known]
        summary = f"{PARALLEL} concurrent asserts of the new key {key!r} answered {sorted(statuses)}" + (
            f" ({lost} answers lost to the network)" if lost else "")
        creates = statuses.count(201)
        if any(status not in (200, 201) for status in statuses) or creates > 1 or (creates == 0 and not lost):
            fail("A11", f"{summary}; expected exactly one 201 and {PARALLEL - 1} × 200", log)
        if not known:
            assume(False)  # every answer lost: nothing to judge
        records = [record_of(response, response.status_code, "A11", log, arena.slug) for response in known]
        ids = {record["id"] for record in records}
        if len(ids) != 1:
            fail("A11", f"{summary} with {len(ids)} different ids {sorted(ids)}; expected one", log)
        (record_id,) = ids
        if creates:
            arena.created(next(response for response in known if response.status_code == 201), "A11", log)
        else:  # the create's answer was lost: the record is the one every update named
            arena.seen.add(record_id)
            arena.workspace.track(arena.slug, record_id)
        arena.fetch(record_id, "A11", log)
        again = record_of(arena.assert_record(body), 200, "A11", log, arena.slug)
        if again["id"] != record_id:
            fail("A11", f"after the concurrent asserts, {key!r} matches {again['id']}, not {record_id}", log)
        if arena.owned:
            holders = [record["id"] for record in arena.holding(arena.matching, key, "A11", log)]
            if holders != [record_id]:
                fail("A11", f"after the concurrent asserts the list holds {len(holders)} records with {key!r}: "
                     f"{holders}; expected only {record_id}", log)
