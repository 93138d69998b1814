"""Runs whose process died must not wedge the next load.

A load killed with SIGKILL leaves its Dagster run STARTED, holding its slots of the API pools
(`soracom_api.<family>`), and its pending steps queued for them; every later load then waits
forever for a slot nobody will free. So each load tags its runs with the process that
executes them (`owner_tags`), and `reap_dead_runs` — at the start of every load, while a load
waits for a slot, and in the daemon (`dead_run_reaper` sensor) — marks the runs of processes
that are gone as failed and frees what they held. A load waiting for a slot says which run holds
it, and gives up after `SORACOM_SLOT_WAIT_S` seconds (default 3600) with that run's name.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import dagster as dg
import psutil

from assets.loading import API_POOL
from pipelines import settings

PID_TAG = "soracom-lake/pid"
HOST_TAG = "soracom-lake/host"
PROCESS_START_TAG = "soracom-lake/process-start"  # tells a reused pid from the original
_EPOCH_TAGS_AFTER = 1e9  # seconds since boot never get there; epoch seconds did in 2001
SLOT_WAIT_ENV = settings.BY_NAME["SORACOM_SLOT_WAIT_S"].name
NOTICE_EVERY_S = 60.0
UNFINISHED = (dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.STARTED, dg.DagsterRunStatus.CANCELING)


class SlotWaitTimeout(Exception):
    """A load waited longer than `SORACOM_SLOT_WAIT_S` for the API pool's slot."""


def _process_start(pid: int) -> str:
    # Seconds from boot to the process's start: fixed for a process's life. psutil's epoch start
    # time adds the boot time as the wall clock now puts it, which moves when the clock is
    # stepped; a moved value would make every live run look dead to the reaper (slots freed).
    return f"{psutil.Process(pid).create_time() - psutil.boot_time():.2f}"


def _same_process(pid: int, recorded: str | None) -> bool:
    try:
        started = float(recorded or "")
    except ValueError:
        return False
    if started > _EPOCH_TAGS_AFTER:  # a tag written as epoch seconds (before 2026-12): within a second
        return abs(psutil.Process(pid).create_time() - started) < 1.5
    return _process_start(pid) == recorded


def owner_tags(pid: int | None = None) -> dict[str, str]:
    """Tags naming the process that executes a run (in-process runs: this one)."""
    pid = pid or os.getpid()
    return {PID_TAG: str(pid), HOST_TAG: socket.gethostname(), PROCESS_START_TAG: _process_start(pid)}


def process_gone(tags: dict[str, str]) -> bool:
    """True if the run's owner process (on this host) no longer exists; False if it lives or
    is unknown (no owner tags, or another host: that host's own reaper decides)."""
    if PID_TAG not in tags or tags.get(HOST_TAG) != socket.gethostname():
        return False
    try:
        return not _same_process(int(tags[PID_TAG]), tags.get(PROCESS_START_TAG))
    except (psutil.NoSuchProcess, psutil.ZombieProcess, ValueError):
        return True


def describe_run(instance: dg.DagsterInstance, run_id: str) -> str:
    run = instance.get_run_by_id(run_id)
    if run is None:
        return f"run {run_id} (not in the run history)"
    where = f", pid {run.tags[PID_TAG]}" if PID_TAG in run.tags else ""
    return f"run {run_id} ({run.job_name}, {run.status.value}{where})"


def reap_dead_runs(instance: dg.DagsterInstance, say: Callable[[str], None] | None = None) -> list[str]:
    """Mark unfinished runs whose process is gone as failed, and free the slots and queued
    claims, in every API pool, of every run that is gone or finished. Returns the run ids reaped."""
    reaped: list[str] = []
    for run in instance.get_runs(filters=dg.RunsFilter(statuses=list(UNFINISHED))):
        if process_gone(dict(run.tags)):
            message = (
                f"soracom-lake: the process of this run (pid {run.tags[PID_TAG]}) is gone; "
                "marked failed and its concurrency slots freed"
            )
            instance.report_run_failed(run, message)
            reaped.append(run.run_id)
    storage = instance.event_log_storage
    pools_of: dict[str, set[str]] = {}  # run id -> the API pools it holds or waits in
    if storage.supports_global_concurrency_limits:
        for pool in api_pools_in(storage):
            info = storage.get_concurrency_info(pool)
            for run_id in {s.run_id for s in info.claimed_slots} | {p.run_id for p in info.pending_steps}:
                pools_of.setdefault(run_id, set()).add(pool)
        for run_id in sorted(pools_of):
            run = instance.get_run_by_id(run_id)
            if run is None or run.is_finished or run_id in reaped:
                storage.free_concurrency_slots_for_run(run_id)  # every pool's claims of the run
                if run_id not in reaped:
                    reaped.append(run_id)
    if say:
        for run_id in reaped:
            held = ", ".join(sorted(pools_of.get(run_id, ())))
            where = f" in {held}" if held else ""
            run = describe_run(instance, run_id)
            say(f"freed the API pool slots and queues{where} of dead or finished {run}")
    return reaped


def api_pools_in(storage: Any) -> list[str]:
    """The API pools the instance's storage knows (`soracom_api.<family>`, and `soracom_api` of
    an instance set up before the pools were per family), sorted. From the storage, not the code
    location: a run of an older code version may hold a pool this one no longer has."""
    return sorted(
        key for key in storage.get_concurrency_keys() if key == API_POOL or key.startswith(f"{API_POOL}.")
    )


def slot_wait_limit() -> float:
    """`SORACOM_SLOT_WAIT_S`; a bad value raises a ValueError naming the variable."""
    return float(settings.value(SLOT_WAIT_ENV))  # type: ignore[arg-type]


@dataclass
class SlotWait:
    """Claim guard (`pipelines.slots.claim_guard`) of a load: while one of its steps waits for
    the API pool, reap dead holders, say who holds the slot, and give up after `limit_s`."""

    instance: dg.DagsterInstance
    limit_s: float
    say: Callable[[str], None]
    stop: Callable[[], None] = lambda: None  # raises if the load was asked to stop
    _since: dict[tuple[str, str], float] = field(default_factory=dict)
    _noticed: dict[tuple[str, str], float] = field(default_factory=dict)

    def __call__(self, concurrency_key: str, run_id: str, step_key: str, claimed: bool) -> None:
        self.stop()
        key = (run_id, step_key)
        if claimed:
            self._since.pop(key, None)
            self._noticed.pop(key, None)
            return
        now = time.monotonic()
        since = self._since.setdefault(key, now)
        if reap_dead_runs(self.instance, self.say):
            return  # the slot may be free now: the next claim will tell
        holders = [
            s.run_id
            for s in self.instance.event_log_storage.get_concurrency_info(concurrency_key).claimed_slots
            if s.run_id != run_id
        ]
        held_by = ", ".join(describe_run(self.instance, r) for r in holders) or "steps queued before this one"
        waited = now - since
        if waited > self.limit_s:
            raise SlotWaitTimeout(
                f"gave up on step {step_key} after waiting {waited:.0f} s for the {concurrency_key} slot, "
                f"held by {held_by}. If that run is stuck, terminate it in the Dagster UI "
                f"or kill its process (the next load frees its slot). {SLOT_WAIT_ENV} sets the wait."
            )
        if now - self._noticed.get(key, since - NOTICE_EVERY_S) >= NOTICE_EVERY_S:
            self._noticed[key] = now
            self.say(f"    {step_key}: waiting for the {concurrency_key} slot, held by {held_by}")


@contextmanager
def guarded_load(
    instance: dg.DagsterInstance, say: Callable[[str], None], stop: Callable[[], None] = lambda: None
) -> Iterator[None]:
    """Around a load's runs in this process: first reap dead runs, then guard every slot claim
    (`SlotWait`: bounded wait, who holds the slot, `stop` may raise)."""
    from pipelines import slots

    limit = slot_wait_limit()
    reap_dead_runs(instance, say)
    slots.claim_guard = SlotWait(instance, limit, say, stop)
    try:
        yield
    finally:
        slots.claim_guard = None


@dg.sensor(
    minimum_interval_seconds=settings.reaper_interval_s(), default_status=dg.DefaultSensorStatus.RUNNING
)
def dead_run_reaper(context: dg.SensorEvaluationContext) -> dg.SkipReason:
    """In the daemon: free what runs of dead processes hold, so no load waits on them."""
    reaped = reap_dead_runs(context.instance)
    return dg.SkipReason(f"reaped {len(reaped)} run(s): {', '.join(reaped)}" if reaped else "no dead runs")


def run_failure_message(instance: dg.DagsterInstance, run_id: str) -> str | None:
    """The message of a run's RUN_FAILURE event, with its error (e.g. a slot-wait timeout)."""
    records = instance.get_records_for_run(run_id, of_type=dg.DagsterEventType.RUN_FAILURE).records
    for record in records:
        event: Any = record.event_log_entry.dagster_event
        data = event.event_specific_data if event else None
        error = getattr(data, "error", None)
        while error is not None and error.cause is not None:
            error = error.cause
        if error is not None:
            return error.message.strip()
        return event.message if event else None
    return None
