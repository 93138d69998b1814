"""Concurrency-slot claims that cannot race across processes.

Dagster's slot claim is check-then-take: `has_unassigned_slots` counts, `add_pending_step`
assigns, `_claim_concurrency_slot` selects a free slot row and updates it by id. Two processes
claiming at once can both see a free slot and both take the same row (SQLite ignores
`FOR UPDATE`; Postgres runs these statements in autocommit, so its row lock ends with each
statement). Two steps of one API pool then ran at once despite `default_limit: 1` (8 processes
claiming at a barrier: 2 got the one slot in 3 of 5 rounds, on SQLite and on Postgres alike;
tests/reliability/test_slot_claims.py).

The storages here run every claim and free of a slot under one cross-process lock: an
`flock` on a file next to the SQLite event log, a Postgres advisory lock for Postgres. Both
are released by the operating system or the server when their process dies, so a killed
load cannot wedge the lock. They are wired in through the shipped instance files
(`pipelines/dagster_instance.yaml`: `instance_class`; `..._postgres.yaml`: `storage.custom`).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import threading
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from pipelines.startup import collector_paused

# The instance is the first of this project a Dagster process imports (pipelines.instance pulls
# in the assets): its imports run with the collector paused (see `startup`).
with collector_paused():
    import sqlalchemy as db
    import yaml
    from dagster import DagsterEventType, DagsterInstance
    from dagster._core.storage.event_log import SqliteEventLogStorage
    from dagster._core.storage.runs import SqliteRunStorage
    from dagster._core.storage.schedules import SqliteScheduleStorage
    from dagster._core.storage.sqlite_storage import (
        DagsterSqliteStorage,
        _event_logs_directory,
        _runs_directory,
        _schedule_directory,
    )
    from dagster._serdes import ConfigurableClassData
    from dagster_postgres import DagsterPostgresStorage, PostgresEventLogStorage
    from dagster_postgres.run_storage import PostgresRunStorage
    from dagster_postgres.schedule_storage import PostgresScheduleStorage
    from dagster_postgres.utils import get_token_provider_from_config, pg_url_from_config

    from pipelines.instance import restrict_umask
    from pipelines.sqlite_shards import KeptShardConnections

LOCK_FILE = "concurrency-slots.lock"
# pg_advisory_lock key: any bigint fixed for this project ("soracom" in ASCII, 7 bytes)
PG_LOCK_KEY = int.from_bytes(b"soracom", "big")


# Called after every claim of this process, with (pool, run id, step key, claimed): Dagster
# retries a blocked claim in a loop that no signal ends, so a load sets a guard that may
# raise (stop requested, waited too long; pipelines/runs.py, pipelines/stopping.py).
claim_guard: Callable[[str, str, str, bool], None] | None = None


class _ProcessLock:
    """A cross-process lock that a thread of the holding process may take again (Dagster's
    free methods call one another); `acquire`/`release` are the cross-process part."""

    def __init__(self, acquire: Callable[[], Any], release: Callable[[Any], None]) -> None:
        self._acquire, self._release = acquire, release
        self._local = threading.RLock()
        self._depth = 0
        self._token: Any = None

    @contextlib.contextmanager
    def held(self) -> Iterator[None]:
        with self._local:
            if self._depth == 0:
                self._token = self._acquire()
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
                if self._depth == 0:
                    token, self._token = self._token, None
                    self._release(token)


class _ClaimsUnderLock:
    """Mixin for a `SqlEventLogStorage`: every method that reads-then-writes slot rows runs
    under `self._slot_lock`."""

    _slot_lock: _ProcessLock

    def claim_concurrency_slot(
        self, concurrency_key: str, run_id: str, step_key: str, priority: int | None = None
    ) -> Any:
        with self._slot_lock.held():
            status = super().claim_concurrency_slot(concurrency_key, run_id, step_key, priority)  # type: ignore[misc]
        if claim_guard is not None:
            claim_guard(concurrency_key, run_id, step_key, status.is_claimed)
        return status

    def free_concurrency_slot_for_step(self, run_id: str, step_key: str) -> None:
        with self._slot_lock.held():
            super().free_concurrency_slot_for_step(run_id, step_key)  # type: ignore[misc]

    def free_concurrency_slots_for_run(self, run_id: str) -> None:
        with self._slot_lock.held():
            super().free_concurrency_slots_for_run(run_id)  # type: ignore[misc]

    def set_concurrency_slots(self, concurrency_key: str, num: int) -> None:
        with self._slot_lock.held():
            super().set_concurrency_slots(concurrency_key, num)  # type: ignore[misc]

    def initialize_concurrency_limit_to_default(self, concurrency_key: str) -> bool:
        with self._slot_lock.held():
            return super().initialize_concurrency_limit_to_default(concurrency_key)  # type: ignore[misc]

    def delete_concurrency_limit(self, concurrency_key: str) -> None:
        with self._slot_lock.held():
            super().delete_concurrency_limit(concurrency_key)  # type: ignore[misc]


def _file_lock(path: str) -> _ProcessLock:
    def acquire() -> int:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX)
        return fd

    def release(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)

    return _ProcessLock(acquire, release)


class LockedSqliteEventLogStorage(_ClaimsUnderLock, KeptShardConnections, SqliteEventLogStorage):
    """SQLite event log whose slot claims hold an `flock` (released if the process dies), on
    kept connections (`pipelines.sqlite_shards`)."""

    def __init__(self, base_dir: str, inst_data: ConfigurableClassData | None = None) -> None:
        super().__init__(base_dir, inst_data)
        self._slot_lock = _file_lock(os.path.join(self._base_dir, LOCK_FILE))

    @classmethod
    def from_config_value(
        cls, inst_data: ConfigurableClassData | None, config_value: Mapping[str, Any]
    ) -> LockedSqliteEventLogStorage:
        return cls(inst_data=inst_data, **config_value)


class LockedSqliteStorage(DagsterSqliteStorage):
    """`DagsterSqliteStorage` with `LockedSqliteEventLogStorage` as its event log."""

    def __init__(self, base_dir: str, inst_data: ConfigurableClassData | None = None) -> None:
        restrict_umask()  # its folders and databases: never writable by others
        self.base_dir = base_dir
        self._run_storage = SqliteRunStorage.from_local(_runs_directory(base_dir))
        self._event_log_storage = LockedSqliteEventLogStorage(_event_logs_directory(base_dir))
        self._schedule_storage = SqliteScheduleStorage.from_local(_schedule_directory(base_dir))
        self._inst_data = inst_data
        super(DagsterSqliteStorage, self).__init__()

    @classmethod
    def from_config_value(
        cls, inst_data: ConfigurableClassData | None, config_value: Mapping[str, Any]
    ) -> LockedSqliteStorage:
        os.makedirs(config_value["base_dir"], exist_ok=True)
        return cls(inst_data=inst_data, **config_value)


_RUN_ENDS = frozenset(
    {DagsterEventType.RUN_SUCCESS, DagsterEventType.RUN_FAILURE, DagsterEventType.RUN_CANCELED}
)


class SoracomInstance(DagsterInstance):
    """The instance class named by `pipelines/dagster_instance.yaml`: Dagster's defaults for a
    home directory, except that its SQLite storage claims slots under a file lock. (An
    `instance_class` is the one hook that receives the home directory, which a `storage`
    block would have to spell out as a path.) It also keeps group/other write out of the
    process umask."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        restrict_umask()  # what Dagster writes (logs, history) is never writable by others
        super().__init__(*args, **kwargs)
        self._runs_started_here: set[str] = set()

    def handle_new_event(self, event: Any, **kwargs: Any) -> None:
        """Also tag a run with the process that executes it, so the `dead_run_reaper` can tell
        when a daemon-launched run's worker is gone (the default run launcher cannot check its
        workers; run monitoring then never fails such a run).

        Tagged at the run's start when the tags name another process: a retried run inherits
        its failed parent's tags, the dead worker's pid among them, which made the reaper fail
        the retry at its first tick. Checked again at each of its steps' starts in the process
        that started it (one read each; a multiprocess run's step processes do not touch it):
        Dagster rewrites a run's stored tags read-modify-write, and a deployment run was once
        seen finished without the tag; a lost tag is restored at the next step."""
        super().handle_new_event(event, **kwargs)
        dagster_event = event.dagster_event
        if dagster_event is None:
            return
        kind = dagster_event.event_type
        if kind == DagsterEventType.RUN_START:
            self._runs_started_here.add(event.run_id)
        elif kind in _RUN_ENDS:
            self._runs_started_here.discard(event.run_id)
            return
        elif kind != DagsterEventType.STEP_START or event.run_id not in self._runs_started_here:
            return
        from pipelines.runs import PID_TAG, owner_tags  # runs.py imports this module

        run = self.get_run_by_id(event.run_id)
        if run is not None and run.tags.get(PID_TAG) != str(os.getpid()):
            self.add_run_tags(event.run_id, owner_tags())

    @classmethod
    def config_schema(cls) -> dict[str, Any]:
        return {}

    @staticmethod
    def config_defaults(base_dir: str) -> Mapping[str, ConfigurableClassData | None]:
        from dagster._core.instance.ref import InstanceRef

        defaults = dict(InstanceRef.config_defaults(base_dir))
        defaults["storage"] = ConfigurableClassData(
            __name__, LockedSqliteStorage.__name__, yaml.dump({"base_dir": base_dir})
        )
        defaults["event_log_storage"] = ConfigurableClassData(
            __name__,
            LockedSqliteEventLogStorage.__name__,
            yaml.dump({"base_dir": _event_logs_directory(base_dir)}),
        )
        return defaults


# --- Postgres ---------------------------------------------------------------------------


def _advisory_lock(engine: db.engine.Engine) -> _ProcessLock:
    """A session-level advisory lock on a connection of its own: held until unlocked or until
    the session ends (the server releases it when the holding process dies)."""

    def acquire() -> db.engine.Connection:
        conn = engine.connect()
        try:
            conn.execute(db.text("SELECT pg_advisory_lock(:key)"), {"key": PG_LOCK_KEY})
        except BaseException:
            conn.close()
            raise
        return conn

    def release(conn: db.engine.Connection) -> None:
        try:
            conn.execute(db.text("SELECT pg_advisory_unlock(:key)"), {"key": PG_LOCK_KEY})
        finally:
            conn.close()

    return _ProcessLock(acquire, release)


class LockedPostgresEventLogStorage(_ClaimsUnderLock, PostgresEventLogStorage):
    """Postgres event log whose slot claims hold a Postgres advisory lock."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._slot_lock = _advisory_lock(self._engine)


class LockedPostgresStorage(DagsterPostgresStorage):
    """`DagsterPostgresStorage` with `LockedPostgresEventLogStorage` as its event log."""

    def __init__(
        self,
        postgres_url: str,
        should_autocreate_tables: bool = True,
        inst_data: ConfigurableClassData | None = None,
        token_provider: Any = None,
    ) -> None:
        self.postgres_url = postgres_url
        self.should_autocreate_tables = should_autocreate_tables
        self._inst_data = inst_data
        self._run_storage = PostgresRunStorage(
            postgres_url, should_autocreate_tables, token_provider=token_provider
        )
        self._event_log_storage = LockedPostgresEventLogStorage(
            postgres_url, should_autocreate_tables, token_provider=token_provider
        )
        self._schedule_storage = PostgresScheduleStorage(
            postgres_url, should_autocreate_tables, token_provider=token_provider
        )
        super(DagsterPostgresStorage, self).__init__()

    @classmethod
    def from_config_value(
        cls, inst_data: ConfigurableClassData | None, config_value: Mapping[str, Any]
    ) -> LockedPostgresStorage:
        return cls(
            inst_data=inst_data,
            postgres_url=pg_url_from_config(config_value),
            should_autocreate_tables=config_value.get("should_autocreate_tables", True),
            token_provider=get_token_provider_from_config(config_value),
        )
