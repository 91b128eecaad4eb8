"""The embedded store: one SQLite file in WAL mode, written off the event loop.

SQLite calls block, so each runs on a worker thread (``asyncio.to_thread``) over one
connection guarded by a lock. WAL lets readers (another process inspecting the file) proceed
during writes; ``synchronous=NORMAL`` is durable across process crashes, which is what a
registry needs. A file that is not a SQLite database, is corrupt, or stays locked by another
process past ``busy_timeout`` raises :class:`~meshkit.errors.StoreError` naming the file and
the cause — never a bare ``sqlite3`` error, never a half-written catalog.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from meshkit.errors import StoreError
from meshkit.registry.models import Instance, Service
from meshkit.registry.store import (
    ApplyRemote,
    ResyncRemote,
    decode_instance,
    decode_service,
    encode,
)

__all__ = ["SqliteStore"]

T = TypeVar("T")

_SCHEMA_VERSION = 1
_SCHEMA = """
CREATE TABLE IF NOT EXISTS services (name TEXT PRIMARY KEY, record TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS instances (
    id TEXT PRIMARY KEY,
    service TEXT NOT NULL,
    record TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS instances_by_service ON instances (service);
"""


class SqliteStore:
    """Services and instances in a SQLite file at ``path`` (created if missing)."""

    def __init__(self, path: str | Path, *, busy_timeout: float = 2.0) -> None:
        self.path = Path(path)
        self.busy_timeout = busy_timeout
        self._db: sqlite3.Connection | None = None
        self._lock = threading.Lock()

    async def open(self) -> None:
        await self._run(self._open)

    async def load(self) -> tuple[list[Service], list[Instance]]:
        def read(db: sqlite3.Connection) -> tuple[list[Service], list[Instance]]:
            services = [decode_service(r) for (r,) in db.execute("SELECT record FROM services")]
            instances = [decode_instance(r) for (r,) in db.execute("SELECT record FROM instances")]
            return services, instances

        return await self._with_db(read)

    async def put_service(self, service: Service) -> None:
        await self._write(
            "INSERT OR REPLACE INTO services (name, record) VALUES (?, ?)",
            (service.name, encode(service)),
        )

    async def delete_service(self, name: str) -> None:
        def delete(db: sqlite3.Connection) -> None:
            with db:
                db.execute("DELETE FROM instances WHERE service = ?", (name,))
                db.execute("DELETE FROM services WHERE name = ?", (name,))

        await self._with_db(delete)

    async def put_instance(self, instance: Instance) -> None:
        await self._write(
            "INSERT OR REPLACE INTO instances (id, service, record) VALUES (?, ?, ?)",
            (instance.id, instance.service, encode(instance)),
        )

    async def delete_instance(self, instance_id: str) -> None:
        await self._write("DELETE FROM instances WHERE id = ?", (instance_id,))

    async def follow(self, apply: ApplyRemote, resync: ResyncRemote) -> None:
        return None  # one process owns the file

    async def close(self) -> None:
        if self._db is not None:
            db, self._db = self._db, None
            await asyncio.to_thread(db.close)

    # -- internals ---------------------------------------------------------------------------
    def _open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(self.path, timeout=self.busy_timeout, check_same_thread=False)
        try:
            mode = db.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise StoreError(f"{self.path}: could not switch to WAL (journal_mode={mode})")
            db.execute("PRAGMA synchronous=NORMAL")
            version = db.execute("PRAGMA user_version").fetchone()[0]
            if version > _SCHEMA_VERSION:
                raise StoreError(
                    f"{self.path}: written by a newer meshkit (schema {version}, "
                    f"this one reads up to {_SCHEMA_VERSION})"
                )
            with db:
                db.executescript(_SCHEMA)
                db.execute(f"PRAGMA user_version={_SCHEMA_VERSION}")
            db.execute("PRAGMA quick_check").fetchone()
        except BaseException:
            db.close()
            raise
        self._db = db

    async def _write(self, sql: str, params: tuple[object, ...]) -> None:
        def write(db: sqlite3.Connection) -> None:
            with db:
                db.execute(sql, params)

        await self._with_db(write)

    async def _with_db(self, work: Callable[[sqlite3.Connection], T]) -> T:
        def run() -> T:
            db = self._db
            if db is None:
                raise StoreError(f"{self.path}: the store is not open")
            return work(db)

        return await self._run(run)

    async def _run(self, work: Callable[[], T]) -> T:
        def guarded() -> T:
            with self._lock:
                try:
                    return work()
                except sqlite3.DatabaseError as exc:
                    raise StoreError(_explain(self.path, exc)) from exc

        return await asyncio.to_thread(guarded)

    def __repr__(self) -> str:
        return f"SqliteStore({str(self.path)!r})"


def _explain(path: Path, exc: sqlite3.DatabaseError) -> str:
    text = str(exc)
    if "locked" in text or "busy" in text:
        return f"{path}: the database is locked by another process ({text})"
    if "not a database" in text or "malformed" in text or "corrupt" in text:
        return f"{path}: not a meshkit SQLite store, or the file is corrupt ({text})"
    return f"{path}: SQLite error: {text}"
