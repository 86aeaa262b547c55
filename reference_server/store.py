"""SQLite storage of objects, attributes and records, behind one small class.

Every public method runs in one transaction under one lock, so a lookup and the write that depends on
it (uniqueness, the assert's match) can never interleave with another request's (rules A10, A11).
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

__all__ = ["BUSY_WAIT_SECONDS", "AttributeDef", "ObjectDef", "RecordRow", "Store", "StoreBusy"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS objects (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    slug TEXT NOT NULL UNIQUE,
    singular_name TEXT NOT NULL,
    plural_name TEXT NOT NULL,
    is_standard INTEGER NOT NULL,
    is_active INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS attributes (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    object_slug TEXT NOT NULL,
    key TEXT NOT NULL,
    label TEXT NOT NULL,
    type TEXT NOT NULL,
    is_required INTEGER NOT NULL,
    is_standard INTEGER NOT NULL,
    is_unique INTEGER NOT NULL,
    is_archived INTEGER NOT NULL,
    options TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    UNIQUE (object_slug, key)
);
CREATE TABLE IF NOT EXISTS records (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    object_slug TEXT NOT NULL,
    data TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    deleted INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS records_by_object ON records (object_slug, seq);
CREATE TABLE IF NOT EXISTS record_values (
    object_slug TEXT NOT NULL,
    attr_key TEXT NOT NULL,
    value_key TEXT NOT NULL,
    record_seq INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS values_lookup ON record_values (object_slug, attr_key, value_key, record_seq);
CREATE INDEX IF NOT EXISTS values_by_record ON record_values (record_seq);
"""


_FIND = ("SELECT r.* FROM record_values v JOIN records r ON r.seq = v.record_seq WHERE {} v.attr_key = ?"
         " AND v.value_key = ? AND (r.deleted = 0 OR ?) ORDER BY v.record_seq")
_FIND_IN_OBJECT = _FIND.format("v.object_slug = ? AND")
_FIND_ANYWHERE = _FIND.format("")

# How long a write waits for the database file's lock (another process on the same `--db`) before the
# request is answered 503 with Retry-After instead.
BUSY_WAIT_SECONDS = 5.0


class StoreBusy(Exception):
    """The database file stayed locked (by another process) for BUSY_WAIT_SECONDS."""


def _is_busy(error: sqlite3.OperationalError) -> bool:
    text = str(error).lower()
    return "locked" in text or "busy" in text


@dataclass
class AttributeDef:
    key: str
    label: str
    type: str
    is_required: bool
    is_standard: bool
    is_unique: bool
    is_archived: bool
    options: list[dict[str, Any]] | None
    created_at: str
    updated_at: str

    @property
    def option_ids(self) -> set[int]:
        return {option["id"] for option in self.options or ()}


@dataclass
class ObjectDef:
    slug: str
    singular_name: str
    plural_name: str
    is_standard: bool
    is_active: bool
    created_at: str
    updated_at: str
    attributes: list[AttributeDef] = field(default_factory=list)

    def attribute(self, key: str) -> AttributeDef | None:
        return next((attr for attr in self.attributes if attr.key == key), None)

    @property
    def custom_attributes(self) -> list[AttributeDef]:
        return [attr for attr in self.attributes if not attr.is_standard]


@dataclass
class RecordRow:
    seq: int
    id: str
    object_slug: str
    data: dict[str, Any]
    created_at: str
    updated_at: str
    deleted: bool = False


def _record(row: sqlite3.Row) -> RecordRow:
    return RecordRow(row["seq"], row["id"], row["object_slug"], json.loads(row["data"]), row["created_at"],
                     row["updated_at"], bool(row["deleted"]))


class Store:
    """Objects, attributes and records in one SQLite database (`:memory:` or a file that survives restarts)."""

    def __init__(self, db_path: str = ":memory:") -> None:
        self._lock = threading.RLock()
        self._db = sqlite3.connect(db_path, check_same_thread=False, isolation_level=None,
                                   timeout=BUSY_WAIT_SECONDS)
        self._db.row_factory = sqlite3.Row
        if db_path != ":memory:":
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)
        columns = {row["name"] for row in self._db.execute("PRAGMA table_info(records)")}
        if "deleted" not in columns:  # a database written before records could be soft-deleted
            self._db.execute("ALTER TABLE records ADD COLUMN deleted INTEGER NOT NULL DEFAULT 0")

    @contextmanager
    def transaction(self) -> Iterator[Store]:
        """One atomic unit of work: everything inside commits together or not at all."""
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as error:
                if _is_busy(error):
                    raise StoreBusy(str(error)) from None
                raise
            try:
                yield self
            except BaseException as error:
                # Only a fault marks an error `commit`: its request keeps what it wrote (breaking A10).
                self._end("COMMIT" if getattr(error, "commit", False) else "ROLLBACK")
                if isinstance(error, sqlite3.OperationalError) and _is_busy(error):
                    raise StoreBusy(str(error)) from None
                raise
            self._end("COMMIT")

    def _end(self, how: str) -> None:
        try:
            self._db.execute(how)
        except sqlite3.OperationalError as error:
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
            if _is_busy(error):
                raise StoreBusy(str(error)) from None
            raise

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # Objects and attributes -------------------------------------------------------------------------

    def get_object(self, slug: str) -> ObjectDef | None:
        row = self._db.execute("SELECT * FROM objects WHERE slug = ?", (slug,)).fetchone()
        if row is None:
            return None
        obj = ObjectDef(row["slug"], row["singular_name"], row["plural_name"], bool(row["is_standard"]),
                        bool(row["is_active"]), row["created_at"], row["updated_at"])
        rows = self._db.execute("SELECT * FROM attributes WHERE object_slug = ? ORDER BY seq", (slug,))
        obj.attributes = [
            AttributeDef(r["key"], r["label"], r["type"], bool(r["is_required"]), bool(r["is_standard"]),
                         bool(r["is_unique"]), bool(r["is_archived"]),
                         json.loads(r["options"]) if r["options"] is not None else None,
                         r["created_at"], r["updated_at"])
            for r in rows
        ]
        return obj

    def list_objects(self) -> list[ObjectDef]:
        slugs = [row[0] for row in self._db.execute("SELECT slug FROM objects ORDER BY seq")]
        return [obj for slug in slugs if (obj := self.get_object(slug)) is not None]

    def save_object(self, obj: ObjectDef) -> None:
        self._db.execute(
            "INSERT INTO objects (slug, singular_name, plural_name, is_standard, is_active, created_at,"
            " updated_at) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (slug) DO UPDATE SET"
            " singular_name = excluded.singular_name, plural_name = excluded.plural_name,"
            " is_active = excluded.is_active, updated_at = excluded.updated_at",
            (obj.slug, obj.singular_name, obj.plural_name, obj.is_standard, obj.is_active, obj.created_at,
             obj.updated_at),
        )

    def delete_object(self, slug: str) -> None:
        for table, column in (("record_values", "object_slug"), ("records", "object_slug"),
                              ("attributes", "object_slug"), ("objects", "slug")):
            self._db.execute(f"DELETE FROM {table} WHERE {column} = ?", (slug,))  # noqa: S608

    def save_attribute(self, slug: str, attr: AttributeDef) -> None:
        options = json.dumps(attr.options) if attr.options is not None else None
        self._db.execute(
            "INSERT INTO attributes (object_slug, key, label, type, is_required, is_standard, is_unique,"
            " is_archived, options, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (object_slug, key) DO UPDATE SET label = excluded.label,"
            " is_required = excluded.is_required, is_archived = excluded.is_archived,"
            " options = excluded.options, updated_at = excluded.updated_at",
            (slug, attr.key, attr.label, attr.type, attr.is_required, attr.is_standard, attr.is_unique,
             attr.is_archived, options, attr.created_at, attr.updated_at),
        )

    # Records ----------------------------------------------------------------------------------------

    def get_record(self, slug: str, record_id: str) -> RecordRow | None:
        row = self._db.execute(
            "SELECT * FROM records WHERE id = ? AND object_slug = ? AND deleted = 0", (record_id, slug)
        ).fetchone()
        return _record(row) if row is not None else None

    def count_records(self, slug: str) -> int:
        query = "SELECT COUNT(*) FROM records WHERE object_slug = ? AND deleted = 0"
        return int(self._db.execute(query, (slug,)).fetchone()[0])

    def list_records(self, slug: str, offset: int, limit: int, newest_first: bool = False) -> list[RecordRow]:
        order = "DESC" if newest_first else "ASC"
        rows = self._db.execute(
            f"SELECT * FROM records WHERE object_slug = ? AND deleted = 0 ORDER BY seq {order} LIMIT ? OFFSET ?",
            (slug, limit, offset),
        )
        return [_record(row) for row in rows]

    def all_records(self, slug: str) -> list[RecordRow]:
        rows = self._db.execute(
            "SELECT * FROM records WHERE object_slug = ? AND deleted = 0 ORDER BY seq", (slug,))
        return [_record(row) for row in rows]

    def find_by_value(self, slug: str | None, key: str, value_key: str,
                      include_deleted: bool = False) -> list[RecordRow]:
        """Records of `slug` (of every object if None) whose attribute `key` has `value_key`, oldest first."""
        # Two statements, not one with `(v.object_slug = ? OR ? IS NULL)`: that form keeps SQLite off the
        # values_lookup index and scans every value of every record (tests/test_server_abuse.py).
        if slug is None:
            rows = self._db.execute(_FIND_ANYWHERE, (key, value_key, include_deleted))
        else:
            rows = self._db.execute(_FIND_IN_OBJECT, (slug, key, value_key, include_deleted))
        return [_record(row) for row in rows]

    def query_plan(self, slug: str | None) -> list[str]:
        """How SQLite runs the match lookup of `find_by_value` (one line per step), for the index test."""
        query, args = (_FIND_ANYWHERE, ("k", "v", 0)) if slug is None else (_FIND_IN_OBJECT, (slug, "k", "v", 0))
        with self._lock:
            return [str(row["detail"]) for row in self._db.execute("EXPLAIN QUERY PLAN " + query, args)]

    def insert_record(self, record: RecordRow, value_keys: dict[str, str]) -> RecordRow:
        cursor = self._db.execute(
            "INSERT INTO records (id, object_slug, data, created_at, updated_at) VALUES (?, ?, ?, ?, ?)",
            (record.id, record.object_slug, json.dumps(record.data, ensure_ascii=False), record.created_at,
             record.updated_at),
        )
        record.seq = int(cursor.lastrowid or 0)
        self._write_values(record, value_keys)
        return record

    def update_record(self, record: RecordRow, value_keys: dict[str, str]) -> None:
        self._db.execute(
            "UPDATE records SET id = ?, data = ?, created_at = ?, updated_at = ? WHERE seq = ?",
            (record.id, json.dumps(record.data, ensure_ascii=False), record.created_at, record.updated_at,
             record.seq),
        )
        self._db.execute("DELETE FROM record_values WHERE record_seq = ?", (record.seq,))
        self._write_values(record, value_keys)

    def delete_record(self, record: RecordRow, soft: bool = False) -> None:
        """Remove a record; `soft` (a fault) only hides it, and its values stay matchable."""
        if soft:
            self._db.execute("UPDATE records SET deleted = 1 WHERE seq = ?", (record.seq,))
            return
        self._db.execute("DELETE FROM record_values WHERE record_seq = ?", (record.seq,))
        self._db.execute("DELETE FROM records WHERE seq = ?", (record.seq,))

    def last_seq(self, slug: str) -> int:
        row = self._db.execute("SELECT MAX(seq) FROM records WHERE object_slug = ?", (slug,)).fetchone()
        return int(row[0] or 0)

    def records_after(self, slug: str, seq: int) -> list[RecordRow]:
        """The records of `slug` created after the one numbered `seq` (for a fault that loses them)."""
        rows = self._db.execute("SELECT * FROM records WHERE object_slug = ? AND seq > ? ORDER BY seq", (slug, seq))
        return [_record(row) for row in rows]

    def restore_record(self, record: RecordRow) -> None:
        self._db.execute("UPDATE records SET deleted = 0 WHERE seq = ?", (record.seq,))
        record.deleted = False

    def _write_values(self, record: RecordRow, value_keys: dict[str, str]) -> None:
        self._db.executemany(
            "INSERT INTO record_values (object_slug, attr_key, value_key, record_seq) VALUES (?, ?, ?, ?)",
            [(record.object_slug, key, value_key, record.seq) for key, value_key in value_keys.items()],
        )
