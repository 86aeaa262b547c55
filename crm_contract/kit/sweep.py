"""Removing what killed runs left on a target: from their ledgers, and by the run-prefix naming.

Two passes, each removing only what a run of this kit made:

1. **Ledgers** (`crm_contract.kit.ledger`) of runs that are no longer alive and targeted this base URL:
   their objects, their records in the user's objects (by id), and records holding a run-unique key
   they ledgered before sending it. A ledger whose every entry is gone is deleted.
2. **Naming**, for objects no ledger on this machine knows (a CI container that was killed with its
   cache): objects whose slug has the shape this kit gives them (``cc`` and six hex digits, then
   ``-``, then an optional purpose and four or three random bytes in hex) and whose ``createdAt`` is
   older than ``older_than`` seconds, so that a run in progress elsewhere keeps its objects. A run id
   given explicitly (``run_id``) is swept whatever the age.

Records of objects the kit did not make are never deleted by naming, only by a ledger.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from crm_contract.kit.client import ContractClient, TargetInconclusive
from crm_contract.kit.ledger import Leftovers, read_ledgers

__all__ = ["RUN_SLUG", "Swept", "ledger_directory", "sweep", "sweep_keys"]

# The slugs this kit gives objects: `<run id>-<8 hex>`, `<run id>-<purpose>-<6 hex>`, `<run id>-st-<8 hex>`.
RUN_SLUG = re.compile(r"^(cc[0-9a-f]{6})-(?:[a-z0-9]+(?:-[a-z0-9]+)*-)?[0-9a-f]{6,8}$")


def ledger_directory() -> Path:
    from crm_contract.kit.cache import cache_root

    return cache_root() / "ledgers"


@dataclass
class Swept:
    """What a sweep removed, what it left (and why), and the live runs it did not touch."""

    removed: list[str] = field(default_factory=list)
    left: list[str] = field(default_factory=list)
    live_runs: list[str] = field(default_factory=list)


def _records(api: ContractClient, slug: str) -> Iterator[dict[str, Any]]:
    page = 1
    while True:
        response = api.get(f"/crm/{slug}", params={"page": page, "count": 100})
        if response.status_code != 200:
            return
        body = response.json()
        collection = body.get("collection") or []
        yield from collection
        total = (body.get("pagination") or {}).get("totalPages")
        if not collection or (total is not None and page >= int(total)):
            return
        page += 1


def _delete(api: ContractClient, path: str) -> int:
    """DELETE `path` (sent again after a lost answer: 404 then); 0 when the target would not answer."""
    try:
        return api.delete(path, resend_if_lost=True).status_code
    except TargetInconclusive:
        return 0


def _remove_keyed(api: ContractClient, keys: dict[str, dict[str, set[str]]], swept: Swept,
                  on_removed: Callable[[str, str], None] | None = None) -> None:
    for slug, by_attribute in keys.items():
        doomed = [record["id"] for record in _records(api, slug)
                  if any(json.dumps((record.get("attributes") or {}).get(attribute)) in values
                         for attribute, values in by_attribute.items())]
        for record_id in doomed:
            status = _delete(api, f"/crm/{slug}/{record_id}")
            if status in (200, 404):
                swept.removed.append(f"record {slug}/{record_id}")
                if on_removed is not None:
                    on_removed(slug, record_id)
            else:
                swept.left.append(f"record {slug}/{record_id} ({status or 'no answer'})")


def sweep_keys(api: ContractClient, ledger: Path) -> list[str]:
    """At the end of a run: delete records of the user's object that hold a key the run ledgered.

    These are records whose create answer was lost, so the run never learnt their ids. Returns what
    could not be deleted.
    """
    left = next((entry for entry in read_ledgers(ledger.parent) if entry.path == ledger), None)
    if left is None or not left.keys:
        return []
    swept = Swept()
    _remove_keyed(api, left.keys, swept)
    return swept.left


def _sweep_ledger(api: ContractClient, left: Leftovers, swept: Swept) -> None:
    before = len(swept.left)
    for slug, ids in left.records.items():
        for record_id in ids:
            status = _delete(api, f"/crm/{slug}/{record_id}")
            if status in (200, 404):
                swept.removed.append(f"record {slug}/{record_id}" if status == 200 else "")
            else:
                swept.left.append(f"record {slug}/{record_id} ({status or 'no answer'})")
    _remove_keyed(api, left.keys, swept)
    for slug in left.objects:
        status = _delete(api, f"/crm/objects/{slug}")
        if status in (200, 404):
            swept.removed.append(f"object {slug}" if status == 200 else "")
        else:
            swept.left.append(f"object {slug} ({status or 'no answer'})")
    swept.removed[:] = [item for item in swept.removed if item]
    if len(swept.left) == before:
        left.path.unlink(missing_ok=True)


def _still_alive(left: Leftovers, grace: float = 5.0) -> bool:
    """Whether the ledger's run is alive, given `grace` seconds to end (a run killed a moment ago)."""
    deadline = time.monotonic() + grace
    while left.alive():
        if time.monotonic() >= deadline:
            return True
        time.sleep(0.1)
    return False


def _age(created: Any, now: datetime) -> float | None:
    if not isinstance(created, str):
        return None
    try:
        when = datetime.fromisoformat(created.replace("Z", "+00:00"))
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return (now - when).total_seconds()


def sweep(api: ContractClient, base_url: str, *, older_than: float = 3600.0, run_id: str | None = None,
          directory: Path | None = None, naming: bool = True) -> Swept:
    """Remove what dead runs left on the target at `base_url` (its public URL, as ledgers name it)."""
    swept = Swept()
    live: set[str] = set()
    for left in read_ledgers(directory or ledger_directory()):
        if left.base_url.rstrip("/") != base_url.rstrip("/") or (run_id and left.run_id != run_id):
            continue
        if _still_alive(left):
            live.add(left.run_id)
            swept.live_runs.append(left.run_id)
            continue
        _sweep_ledger(api, left, swept)
    if not naming:
        return swept
    response = api.get("/crm/objects")
    if response.status_code != 200:
        swept.left.append(f"the object list (GET /crm/objects answered {response.status_code})")
        return swept
    now = datetime.now(UTC)
    for obj in response.json().get("objects") or []:
        slug = obj.get("slug") if isinstance(obj, dict) else None
        found = RUN_SLUG.match(slug) if isinstance(slug, str) else None
        if found is None or obj.get("isStandard") or found.group(1) in live:
            continue
        if run_id is not None:
            if found.group(1) != run_id:
                continue
        else:
            age = _age(obj.get("createdAt"), now)
            if age is None or age < older_than:
                continue
        status = _delete(api, f"/crm/objects/{slug}")
        if status == 200:
            swept.removed.append(f"object {slug}")
        elif status != 404:
            swept.left.append(f"object {slug} ({status or 'no answer'})")
    return swept
