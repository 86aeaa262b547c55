"""The run's ledger: what it is about to create on a target, written down before the create is sent.

A run that is killed (SIGKILL, a cancelled CI job, a crashed container) cannot clean up after itself.
Its ledger can: one JSON line per event, flushed and fsynced before the request goes out, in
``<cache>/ledgers/<run id>.jsonl``. `crm-contract sweep` reads the ledgers of runs that are no longer
alive and removes what they left, and nothing else:

- ``{"event": "object", "slug": ...}``: an object the run is about to create;
- ``{"event": "record", "slug": ..., "id": ...}``: a record the run created in an object it did not
  make (``--object``), known by id;
- ``{"event": "key", "slug": ..., "attribute": ..., "value": ...}``: a run-unique matching value the run
  is about to write into such an object (a record whose answer was lost is found by it);
- ``{"event": "removed", "slug": ..., "id": ...}``: gone again (``id`` absent for an object).

The first line names the run: its id, the target's public URL, the host and the process id.
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["Ledger", "Leftovers", "read_ledgers"]


class Ledger:
    """An append-only, crash-safe list of what one run creates on one target."""

    def __init__(self, path: Path, run_id: str, base_url: str) -> None:
        self.path = path
        self.run_id = run_id
        self.base_url = base_url
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file = path.open("a", encoding="utf-8")
        if path.stat().st_size == 0:
            self._write({"event": "run", "run": run_id, "base_url": base_url, "host": socket.gethostname(),
                         "pid": os.getpid()})

    @classmethod
    def for_run(cls, directory: Path, run_id: str, base_url: str) -> Ledger:
        return cls(directory / f"{run_id}.jsonl", run_id, base_url)

    def _write(self, entry: dict[str, Any]) -> None:
        self._file.write(json.dumps(entry, ensure_ascii=False) + "\n")
        self._file.flush()
        os.fsync(self._file.fileno())

    def object(self, slug: str) -> None:
        self._write({"event": "object", "slug": slug})

    def record(self, slug: str, record_id: str) -> None:
        self._write({"event": "record", "slug": slug, "id": record_id})

    def key(self, slug: str, attribute: str, value: Any) -> None:
        self._write({"event": "key", "slug": slug, "attribute": attribute, "value": value})

    def removed(self, slug: str, record_id: str | None = None) -> None:
        self._write({"event": "removed", "slug": slug, **({"id": record_id} if record_id else {})})

    def close(self, *, finished: bool = False) -> None:
        """Close the file; `finished`: everything was removed, so the ledger itself goes too."""
        self._file.close()
        if finished:
            self.path.unlink(missing_ok=True)


@dataclass
class Leftovers:
    """What one ledger says its run may have left on its target."""

    path: Path
    run_id: str
    base_url: str
    host: str
    pid: int
    objects: list[str] = field(default_factory=list)
    records: dict[str, list[str]] = field(default_factory=dict)
    keys: dict[str, dict[str, set[Any]]] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        return not self.objects and not any(self.records.values()) and not any(self.keys.values())

    def alive(self) -> bool:
        """Whether the run that wrote the ledger is still running (on this host; another host's: assumed so)."""
        if self.host != socket.gethostname():
            return True
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        try:  # a killed process nobody has reaped yet is still there, as a zombie
            status = Path(f"/proc/{self.pid}/status").read_text()
        except OSError:
            return True
        return not any(line.startswith("State:") and "Z" in line.split()[1:2] for line in status.splitlines())


def read_ledgers(directory: Path) -> Iterator[Leftovers]:
    """Every readable ledger in `directory`, with what its run created and did not remove."""
    for path in sorted(directory.glob("*.jsonl")):
        left = _read(path)
        if left is not None:
            yield left


def _read(path: Path) -> Leftovers | None:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError:
        return None
    entries = []
    for line in lines:
        try:
            entries.append(json.loads(line))
        except ValueError:
            continue  # a line cut short by a crash
    if not entries or entries[0].get("event") != "run":
        return None
    head = entries[0]
    left = Leftovers(path, str(head.get("run")), str(head.get("base_url")), str(head.get("host")),
                     int(head.get("pid") or 0))
    for entry in entries[1:]:
        event, slug = entry.get("event"), entry.get("slug")
        if event == "object" and slug not in left.objects:
            left.objects.append(slug)
        elif event == "record":
            left.records.setdefault(slug, []).append(entry.get("id"))
        elif event == "key":
            left.keys.setdefault(slug, {}).setdefault(entry.get("attribute"), set()).add(
                json.dumps(entry.get("value")))
        elif event == "removed":
            if "id" in entry:
                ids = left.records.get(slug, [])
                if entry["id"] in ids:
                    ids.remove(entry["id"])
            elif slug in left.objects:
                left.objects.remove(slug)
    return left
