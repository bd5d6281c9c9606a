"""Landing a retried record once: the idempotency ids a partition has landed.

A collector keys a record that carries an idempotency id by `bdp.collect.id_key(id)`
and keeps it in a fixed partition, so a client's retry of a request whose
acknowledgement it never saw arrives in the same partition as the original, at a later
offset. The `Lander` asks `claim` which records of a batch are such repeats before it
publishes anything; a repeat is quarantined as `duplicate_id`, naming the offset of the
first copy, so counts still reconcile and nothing vanishes.

An id is remembered with the offset of its first copy, and claiming is a pure function
of what is stored: re-landing a range after a crash — when its ids are already stored
with their own offsets — keeps the same records and rejects the same repeats, so the
re-landed files are the same as the first time. Ids are forgotten after
`stream.dedupe_window_hours`. The store is SQLite in the data home, shared by the
stream job's worker processes (each partition has one lander at a time).
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Sequence
from pathlib import Path

__all__ = ["ID_KEY_PREFIX", "DedupeStore", "Repeat", "id_key", "record_id"]

ID_KEY_PREFIX = b"\x1eid\x1e"
"""Bus key of a record that carries an idempotency id: this prefix, then the id. The
record separator byte keeps it apart from any partition key a simulator or a user's
data gives (collectors never use a partition key that starts with it as a key)."""


def id_key(record_id: bytes) -> bytes:
    return ID_KEY_PREFIX + record_id


def record_id(key: bytes | None) -> bytes | None:
    """The idempotency id a bus key carries, or None."""
    if key is not None and key.startswith(ID_KEY_PREFIX):
        return key[len(ID_KEY_PREFIX) :]
    return None


_SCHEMA = """
CREATE TABLE IF NOT EXISTS landed_ids (
    topic TEXT NOT NULL,
    partition INTEGER NOT NULL,
    id BLOB NOT NULL,
    first_offset INTEGER NOT NULL,
    landed_ms INTEGER NOT NULL,
    PRIMARY KEY (topic, partition, id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS landed_ids_age ON landed_ids (landed_ms);
"""
_LOOKUP_CHUNK = 500
"""Ids per lookup query: under SQLite's limit on bound parameters."""
_EXPIRE_EVERY_MS = 60_000


Repeat = tuple[int, int]
"""(index in the batch, offset of the first copy)."""


class DedupeStore:
    def __init__(self, path: Path, window_hours: float) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.window_ms = int(window_hours * 3_600_000)
        self._db = sqlite3.connect(path, timeout=60.0, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)
        self._expired_at: int | None = None

    def claim(
        self,
        topic: str,
        partition: int,
        ids: Sequence[bytes | None],
        offsets: Sequence[int],
        now_ms: int | None = None,
    ) -> list[Repeat]:
        """Record the first copy of every id in the batch; return the repeats."""
        now_ms = int(time.time() * 1000) if now_ms is None else now_ms
        wanted = {rid for rid in ids if rid is not None}
        if not wanted:
            return []
        self._expire(now_ms)
        self._db.execute("BEGIN IMMEDIATE")
        try:
            known = self._lookup(topic, partition, list(wanted))
            repeats: list[Repeat] = []
            fresh: list[tuple[str, int, bytes, int, int]] = []
            for index, (rid, offset) in enumerate(zip(ids, offsets, strict=True)):
                if rid is None:
                    continue
                first = known.get(rid)
                if first is None:
                    known[rid] = int(offset)
                    fresh.append((topic, partition, rid, int(offset), now_ms))
                elif first != int(offset):
                    repeats.append((index, first))
            self._db.executemany("INSERT INTO landed_ids VALUES (?, ?, ?, ?, ?)", fresh)
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        return repeats

    def _lookup(self, topic: str, partition: int, ids: list[bytes]) -> dict[bytes, int]:
        known: dict[bytes, int] = {}
        for start in range(0, len(ids), _LOOKUP_CHUNK):
            chunk = ids[start : start + _LOOKUP_CHUNK]
            marks = ",".join("?" * len(chunk))
            rows = self._db.execute(
                "SELECT id, first_offset FROM landed_ids "
                f"WHERE topic = ? AND partition = ? AND id IN ({marks})",
                [topic, partition, *chunk],
            )
            known.update((bytes(rid), int(offset)) for rid, offset in rows)
        return known

    def _expire(self, now_ms: int) -> None:
        if self._expired_at is not None and now_ms - self._expired_at < _EXPIRE_EVERY_MS:
            return
        self._expired_at = now_ms
        self._db.execute("DELETE FROM landed_ids WHERE landed_ms < ?", (now_ms - self.window_ms,))

    def close(self) -> None:
        self._db.close()
