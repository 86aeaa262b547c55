"""The ledger and `crm-contract sweep`: what killed runs left is removed, and nothing else, ever."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from crm_contract.contract_tests.calls import definition
from crm_contract.contract_tests.subjects import MATCHING_LABEL, assert_object_definition
from crm_contract.strategies import AttributeDefinition, ObjectDefinition

from crm_contract.hosting.embedded import EmbeddedServer
from crm_contract.kit.client import ContractClient
from crm_contract.kit.ledger import Ledger, read_ledgers
from crm_contract.kit.sweep import RUN_SLUG, sweep
from crm_contract.kit.workspace import Workspace

TOKEN = "sweep-test-token"


@pytest.fixture
def server() -> Iterator[EmbeddedServer]:
    with EmbeddedServer(tokens={TOKEN: ("crm:read", "crm:write")}) as running:
        yield running


@pytest.fixture
def api(server: EmbeddedServer) -> Iterator[ContractClient]:
    with httpx.Client(base_url=server.base_url, headers={"Authorization": f"Bearer {TOKEN}"}) as http:
        yield ContractClient(http)


def dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def killed_run(ledger: Ledger) -> None:
    """Make the ledger's run look killed: its process is gone, and it never cleaned up."""
    text = ledger.path.read_text().replace(f'"pid": {os.getpid()}', f'"pid": {dead_pid()}', 1)
    ledger.close()
    ledger.path.write_text(text)


def slugs(api: ContractClient) -> list[str]:
    return sorted(obj["slug"] for obj in api.get("/crm/objects").json()["objects"] if not obj["isStandard"])


def foreign_object(api: ContractClient) -> tuple[str, str]:
    """The user's own object, with a record of theirs: the sweep must leave both exactly as they are."""
    users = ObjectDefinition("customers", "Customer", "Customers", (AttributeDefinition("Email", "text"),))
    made = Workspace(api).create_object(users)
    key = made.key("Email")
    api.post("/crm/customers", json={key: "ada@example.com"})
    return key, api.get("/crm/customers").text


def test_a_killed_run_s_objects_and_records_are_swept_and_foreign_data_is_untouched(
        api: ContractClient, server: EmbeddedServer, tmp_path: Path) -> None:
    key, foreign_before = foreign_object(api)
    ledger = Ledger.for_run(tmp_path, "cc0a0b0c", server.base_url)
    work = Workspace(api, ledger=ledger, foreign=("customers", key))
    made = work.create_object(assert_object_definition(unique_matching=True, prefix="cc0a0b0c"))
    api.put(f"/crm/{made.slug}", json={made.key(MATCHING_LABEL): "cc0a0b0c-1"},
            params={"matchingAttribute": made.key(MATCHING_LABEL)})
    tracked = api.post("/crm/customers", json={key: "cc0a0b0c-tracked"}).json()["record"]["id"]
    work.track("customers", tracked)
    # A create whose answer was lost: the run never learnt the id, but wrote the key down first.
    work.note_write("PUT", "/crm/customers", {"matchingAttribute": key}, {key: "cc0a0b0c-lost"})
    api.put("/crm/customers", json={key: "cc0a0b0c-lost"}, params={"matchingAttribute": key})
    killed_run(ledger)

    swept = sweep(api, server.base_url, directory=tmp_path, naming=False)

    # The object, the tracked record by id, and the record of the lost answer by its key.
    assert f"object {made.slug}" in swept.removed and f"record customers/{tracked}" in swept.removed
    assert len(swept.removed) == 3 and not swept.left
    assert slugs(api) == ["customers"]
    assert api.get("/crm/customers").text == foreign_before  # byte for byte
    assert not list(tmp_path.iterdir())  # everything gone: the ledger too


def test_a_live_run_is_left_alone(api: ContractClient, server: EmbeddedServer, tmp_path: Path) -> None:
    ledger = Ledger.for_run(tmp_path, "cc0d0e0f", server.base_url)
    made = Workspace(api, ledger=ledger).create_object(definition("live"))
    swept = sweep(api, server.base_url, directory=tmp_path, naming=False)
    assert swept.live_runs == ["cc0d0e0f"] and not swept.removed
    assert made.slug in slugs(api)
    ledger.close()


def test_a_run_that_cleaned_up_leaves_no_ledger(api: ContractClient, server: EmbeddedServer, tmp_path: Path) -> None:
    ledger = Ledger.for_run(tmp_path, "cc010203", server.base_url)
    work = Workspace(api, ledger=ledger)
    work.create_object(definition("tidy"))
    assert work.cleanup() == []
    ledger.close(finished=True)
    assert not list(tmp_path.iterdir())
    assert slugs(api) == []


def test_naming_removes_only_old_objects_of_the_run_shape(api: ContractClient, server: EmbeddedServer,
                                                          tmp_path: Path) -> None:
    work = Workspace(api)
    ours = work.create_object(definition("orphan")).slug  # no ledger: a container killed with its cache
    theirs = [work.create_object(ObjectDefinition(slug, slug.title(), f"{slug.title()}s", ())).slug
              for slug in ("cc-invoices", "ccdead00", "cc12ab34-notes", "invoices-cc12ab34-deadbeef")]
    assert RUN_SLUG.match(ours) and not any(RUN_SLUG.match(slug) for slug in theirs)

    assert sweep(api, server.base_url, directory=tmp_path, older_than=3600).removed == []  # too young
    assert sweep(api, server.base_url, directory=tmp_path, older_than=0).removed == [f"object {ours}"]
    assert slugs(api) == sorted(theirs)


def test_a_run_id_sweeps_that_run_whatever_its_age(api: ContractClient, server: EmbeddedServer,
                                                   tmp_path: Path) -> None:
    work = Workspace(api)
    mine = work.create_object(ObjectDefinition("cc0a0b0c-1a2b3c4d", "A", "As", ())).slug
    other = work.create_object(ObjectDefinition("ccffeedd-1a2b3c4d", "B", "Bs", ())).slug
    swept = sweep(api, server.base_url, directory=tmp_path, run_id="cc0a0b0c")
    assert swept.removed == [f"object {mine}"] and other in slugs(api)


def test_a_ledger_cut_short_by_a_crash_is_still_read(tmp_path: Path) -> None:
    ledger = Ledger.for_run(tmp_path, "cc0a0b0c", "http://target/v2")
    ledger.object("cc0a0b0c-1a2b3c4d")
    ledger.close()
    with ledger.path.open("a") as file:
        file.write('{"event": "object", "slug": "cc0a0b0c-')  # the line a SIGKILL interrupted
    [left] = read_ledgers(tmp_path)
    assert left.objects == ["cc0a0b0c-1a2b3c4d"] and left.base_url == "http://target/v2"


def test_the_sweep_command_says_what_it_removed_and_refuses_bad_input(api: ContractClient, server: EmbeddedServer,
                                                                      tmp_path: Path) -> None:
    ledger = Ledger.for_run(tmp_path / "ledgers", "cc0a0b0c", server.base_url)
    made = Workspace(api, ledger=ledger).create_object(definition("killed"))
    killed_run(ledger)
    env = {**os.environ, "ZEEG_API_TOKEN": TOKEN, "CRM_CONTRACT_CACHE_DIR": str(tmp_path)}

    def sweep_command(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "crm_contract", "sweep", *args], env=env,
                              capture_output=True, text=True, check=False, timeout=120)

    done = sweep_command("--base-url", server.base_url)
    assert done.returncode == 0, done.stderr
    assert f"removed object {made.slug}" in done.stdout and "removed 1, could not remove 0" in done.stdout
    assert slugs(api) == []
    for args in (["--base-url", server.base_url, "--older-than", "soon"], ["--base-url", "ftp://x"], []):
        refused = sweep_command(*args)
        assert refused.returncode == 2 and len(refused.stderr.strip().splitlines()) == 1, refused.stderr
