"""Open SQLite connections kept for the event log's busiest shards, and the tables it found.

Dagster's SQLite event log opens a new engine and connection for every statement it runs (each
event stored, each slot claimed or freed, each read of a run's events) and closes them after:
the nightly at 1,000 SIMs opened 548 (62 with this module), each paying SQLAlchemy's
first-connect checks and SQLite's schema read. All of it runs under the storage's one
`_db_lock`, so the steps of a run that overlap wait for each other's opens and closes. The
mixin here keeps one connection per shard for the shards a process uses most recently (its
runs' shards and the index), still used one statement at a time under that lock; SQLite
connections hold no lock between transactions, so other processes read and write the files
as before.

Dropped, so the next use opens the file afresh: when a statement fails (a connection in an
unknown state is never reused), when the storage deletes shard files (`wipe`), upgrades them,
or is disposed, when its file was deleted or replaced by another process (checked by inode
before each use), and the least recently used beyond `KEPT_SHARDS`.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections import OrderedDict
from collections.abc import Iterator
from typing import Any

import sqlalchemy as db
from dagster._core.storage.sqlite import SQLITE_BUSY_TIMEOUT_SECONDS
from sqlalchemy.pool import NullPool, StaticPool

# A run process writes its run's shard and the index; a webserver reads one run at a time.
KEPT_SHARDS = 8


def _inode(path: str) -> int:
    """The file's inode, -1 when it is gone: a kept connection is used only on the file it opened."""
    try:
        return os.stat(path).st_ino
    except FileNotFoundError:
        return -1


class KeptShardConnections:
    """Mixin for Dagster's `SqliteEventLogStorage`: its `_connect(shard)` on a kept connection."""

    _db_lock: threading.Lock
    _initialized_dbs: set[str]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._kept: OrderedDict[str, tuple[db.engine.Engine, int]] = OrderedDict()  # engine, inode
        self._tables_present: set[str] = set()
        super().__init__(*args, **kwargs)

    def has_table(self, table_name: str) -> bool:
        """Dagster asks before each slot claim and free (47 times in the nightly at 1,000 SIMs),
        each time on an engine of its own. Migrations add tables, never drop them, so a table
        once found is not asked for again; a missing one is, every time."""
        if table_name in self._tables_present:
            return True
        present = super().has_table(table_name)  # type: ignore[misc]
        if present:
            self._tables_present.add(table_name)
        return present

    def _engine(self, shard: str) -> db.engine.Engine:
        path = self.path_for_shard(shard)  # type: ignore[attr-defined]
        kept = self._kept.get(shard)
        if kept is not None:
            engine, inode = kept
            if _inode(path) == inode:
                self._kept.move_to_end(shard)
                return engine
            # deleted or replaced by another process (`dagster run wipe`): never write into a
            # file no one reads; make it afresh as Dagster does a new shard
            self._drop(shard)
            self._initialized_dbs.discard(shard)
        url = self.conn_string_for_shard(shard)  # type: ignore[attr-defined]
        if shard not in self._initialized_dbs:
            # Dagster's own way (creates the file and its tables), on a throwaway engine: its
            # schema checks open connections of their own.
            fresh = db.create_engine(
                url, poolclass=NullPool, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS}
            )
            try:
                self._initdb(fresh)  # type: ignore[attr-defined]
            finally:
                fresh.dispose()
            self._initialized_dbs.add(shard)
        engine = db.create_engine(
            url,
            poolclass=StaticPool,  # one connection, used under `_db_lock` by whichever thread holds it
            connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS, "check_same_thread": False},
        )
        self._kept[shard] = (engine, _inode(path))
        while len(self._kept) > KEPT_SHARDS:
            _, (oldest, _) = self._kept.popitem(last=False)
            oldest.dispose()
        return engine

    @contextlib.contextmanager
    def _connect(self, shard: str) -> Iterator[db.engine.Connection]:
        with self._db_lock:
            engine = self._engine(shard)
            try:
                with engine.connect() as conn, conn.begin():
                    yield conn
            except BaseException:
                self._drop(shard)
                raise

    def _drop(self, shard: str | None = None) -> None:
        """Close the kept connection of `shard`, or of every shard (and forget the tables seen)."""
        if shard is None:
            self._tables_present.clear()
        shards = list(self._kept) if shard is None else [shard]
        for name in shards:
            kept = self._kept.pop(name, None)
            if kept is not None:
                kept[0].dispose()

    def wipe(self) -> None:
        with self._db_lock:
            self._drop()
        super().wipe()  # type: ignore[misc]

    def upgrade(self) -> None:
        with self._db_lock:
            self._drop()
        super().upgrade()  # type: ignore[misc]

    def dispose(self) -> None:
        with self._db_lock:
            self._drop()
        super().dispose()  # type: ignore[misc]
