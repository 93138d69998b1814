"""The SQLite event log keeps one open connection per shard (`pipelines/sqlite_shards.py`)
without losing or hiding an event: other processes read and write the same files meanwhile,
a shard wiped here or under it is written afresh, a failed statement never leaves its
connection in use, and no more than `KEPT_SHARDS` stay open."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as db
from dagster._core.events.log import EventLogEntry
from dagster._core.storage.event_log import SqliteEventLogStorage
from dagster._core.utils import make_new_run_id

from pipelines import sqlite_shards
from pipelines.slots import LockedSqliteEventLogStorage

pytestmark = pytest.mark.reliability
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def connects() -> Iterator[list[str]]:
    """The database file of every SQLite connection opened while the test runs."""
    opened: list[str] = []

    def on_connect(dbapi_connection: object, record: object) -> None:
        opened.append(dbapi_connection.execute("PRAGMA database_list").fetchone()[2])  # type: ignore[attr-defined]

    db.event.listen(db.engine.Engine, "connect", on_connect)
    try:
        yield opened
    finally:
        db.event.remove(db.engine.Engine, "connect", on_connect)


def _event(run_id: str, n: int) -> EventLogEntry:
    return EventLogEntry(
        error_info=None,
        level="INFO",
        user_message=f"message {n}",
        run_id=run_id,
        timestamp=1_700_000_000.0 + n,
        step_key=None,
        job_name="job",
        dagster_event=None,
    )


def _messages(storage: SqliteEventLogStorage, run_id: str) -> list[str]:
    return [e.user_message for e in storage.get_logs_for_run(run_id)]


def _messages_read_afresh(base_dir: Path, run_id: str) -> list[str]:
    """What a new storage (another process's) reads of the run from the files."""
    fresh = SqliteEventLogStorage(str(base_dir))
    try:
        return _messages(fresh, run_id)
    finally:
        fresh.dispose()


def test_a_run_shard_is_opened_once_not_per_event(tmp_path: Path, connects: list[str]) -> None:
    """After a run's first event (its shard created), 50 more events and a read: Dagster's own
    storage opens the shard for each statement, the shipped one not once more."""
    for storage in (
        SqliteEventLogStorage(str(tmp_path / "plain")),
        LockedSqliteEventLogStorage(str(tmp_path / "kept")),
    ):
        run_id = make_new_run_id()
        try:
            storage.store_event(_event(run_id, 0))
            connects.clear()
            for n in range(1, 51):
                storage.store_event(_event(run_id, n))
            assert _messages(storage, run_id) == [f"message {n}" for n in range(51)]
        finally:
            storage.dispose()
        opened = len([path for path in connects if path.endswith(f"{run_id}.db")])
        assert opened == 0 if isinstance(storage, LockedSqliteEventLogStorage) else opened >= 51


def test_a_table_once_found_is_not_asked_for_again(tmp_path: Path, connects: list[str]) -> None:
    """Dagster checks for its slot tables before each claim; a missing table is asked for each
    time, so one a migration creates later is seen."""
    storage = LockedSqliteEventLogStorage(str(tmp_path))
    try:
        connects.clear()
        assert all(storage.has_table("concurrency_slots") for _ in range(20))
        assert len(connects) == 1
        assert not storage.has_table("made_later")
        with storage.index_connection() as conn:
            conn.execute(db.text("CREATE TABLE made_later (id INTEGER)"))
        assert storage.has_table("made_later")
    finally:
        storage.dispose()


READER = """
import sys
from dagster._core.storage.event_log import SqliteEventLogStorage
storage = SqliteEventLogStorage(sys.argv[1])
print(len(storage.get_logs_for_run(sys.argv[2])))
"""

WRITER = """
import sys
from tests.reliability.test_sqlite_shards import _event
from dagster._core.storage.event_log import SqliteEventLogStorage
storage = SqliteEventLogStorage(sys.argv[1])
for n in range(100, 110):
    storage.store_event(_event(sys.argv[2], n))
"""


def test_other_processes_read_and_write_the_shard_it_keeps_open(tmp_path: Path) -> None:
    """A webserver or a second run process reads what this one stored at once, and writes while
    this one keeps the shard open; this one then reads those writes."""
    storage = LockedSqliteEventLogStorage(str(tmp_path))
    run_id = make_new_run_id()
    try:
        for n in range(5):
            storage.store_event(_event(run_id, n))
        read = subprocess.run(
            [sys.executable, "-c", READER, str(tmp_path), run_id],
            capture_output=True,
            text=True,
            check=True,
            cwd=REPO,
        )
        assert read.stdout.strip() == "5"
        subprocess.run(
            [sys.executable, "-c", WRITER, str(tmp_path), run_id],
            capture_output=True,
            text=True,
            check=True,
            cwd=REPO,
        )
        storage.store_event(_event(run_id, 200))
        assert len(_messages(storage, run_id)) == 16
    finally:
        storage.dispose()


def test_a_wiped_shard_is_written_afresh_not_into_the_deleted_file(tmp_path: Path) -> None:
    """`wipe` deletes the shard files: a connection kept on a deleted file would take later
    events where no one reads them."""
    storage = LockedSqliteEventLogStorage(str(tmp_path))
    run_id = make_new_run_id()
    try:
        storage.store_event(_event(run_id, 1))
        storage.wipe()
        storage.store_event(_event(run_id, 2))
    finally:
        storage.dispose()
    assert _messages_read_afresh(tmp_path, run_id) == ["message 2"]


def test_a_shard_deleted_under_it_is_made_afresh(tmp_path: Path) -> None:
    """Another storage on the same files (as `dagster run wipe` in another process) deletes the
    shard this one keeps open: its next events go to a new file that others read, not into
    the deleted one."""
    storage = LockedSqliteEventLogStorage(str(tmp_path))
    run_id = make_new_run_id()
    try:
        storage.store_event(_event(run_id, 1))
        other = SqliteEventLogStorage(str(tmp_path))
        other.wipe()
        other.dispose()
        storage.store_event(_event(run_id, 2))
    finally:
        storage.dispose()
    assert _messages_read_afresh(tmp_path, run_id) == ["message 2"]


def test_a_failed_statement_drops_its_connection(tmp_path: Path) -> None:
    storage = LockedSqliteEventLogStorage(str(tmp_path))
    run_id = make_new_run_id()
    try:
        storage.store_event(_event(run_id, 1))
        with pytest.raises(db.exc.OperationalError), storage.run_connection(run_id) as conn:
            conn.execute(db.text("SELECT * FROM no_such_table"))
        assert run_id not in storage._kept
        storage.store_event(_event(run_id, 2))
        assert _messages(storage, run_id) == ["message 1", "message 2"]
    finally:
        storage.dispose()


def test_at_most_kept_shards_stay_open_and_threads_take_turns(tmp_path: Path) -> None:
    """Twelve runs written by four threads at once: every event stored, the oldest shards closed."""
    storage = LockedSqliteEventLogStorage(str(tmp_path))
    runs = [make_new_run_id() for _ in range(12)]
    errors: list[BaseException] = []

    def write(chunk: list[str]) -> None:
        try:
            for n in range(20):
                for run_id in chunk:
                    storage.store_event(_event(run_id, n))
        except BaseException as error:  # surfaced by the assertion below
            errors.append(error)

    threads = [threading.Thread(target=write, args=(runs[i::4],)) for i in range(4)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        assert len(storage._kept) == sqlite_shards.KEPT_SHARDS
        assert all(len(_messages(storage, run_id)) == 20 for run_id in runs)
    finally:
        storage.dispose()
    assert storage._kept == {}
