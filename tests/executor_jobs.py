"""Jobs on the load jobs' executor (`pipelines/executor.py`) for tests/test_executor.py: each step
records when it ran in a folder named by `EXECUTOR_TEST_DIR`, so the test can tell what
overlapped. Importable (`dagster job execute -m tests.executor_jobs`, `dg.reconstructable`)."""

import asyncio
import os
import threading
import time
from pathlib import Path
from typing import Any

import dagster as dg
from dagster import AssetExecutionContext

from assets.loading import run_stoppable
from pipelines.executor import overlapping_in_process_executor

MEET_TIMEOUT_ENV = "EXECUTOR_TEST_MEET_S"  # how long a step waits for the other (default 30 s)
_meeting = threading.Barrier(2)


def _folder() -> Path:
    return Path(os.environ["EXECUTOR_TEST_DIR"])


def _record(name: str, what: str) -> None:
    with (_folder() / f"{name}.{what}").open("w") as out:
        out.write(f"{time.time():.6f}\n")


def _meet(name: str) -> None:
    """Wait (in this process) until another step calls `_meet` too; a broken barrier fails the step."""
    _record(name, "start")
    _meeting.wait(timeout=float(os.environ.get(MEET_TIMEOUT_ENV, "30")))
    _record(name, "end")


def _held(name: str, seconds: float = 0.5) -> None:
    _record(name, "start")
    time.sleep(seconds)
    _record(name, "end")


@dg.asset(pool="test_api.a")
def meets_a() -> None:
    _meet("meets_a")


@dg.asset(pool="test_api.b")
def meets_b() -> None:
    _meet("meets_b")


@dg.asset(pool="test_api.a", deps=[meets_a, meets_b])
def after_both() -> None:
    _record("after_both", "start")


@dg.asset(pool="test_api.c")
def same_pool_1() -> None:
    _held("same_pool_1")


@dg.asset(pool="test_api.c")
def same_pool_2() -> None:
    _held("same_pool_2")


@dg.asset(pool="test_api.d")
def fails() -> None:
    _record("fails", "start")
    raise RuntimeError("this step fails on purpose")


@dg.asset(pool="test_api.d", deps=[fails])
def after_failure() -> None:
    _record("after_failure", "start")


@dg.asset(pool="test_api.e")
def slow_neighbour() -> None:
    _held("slow_neighbour", 1.0)


@dg.asset(pool="test_api.f")
def retried(context: AssetExecutionContext) -> None:
    _record(f"retried_{context.retry_number}", "start")
    if context.retry_number == 0:
        raise dg.RetryRequested(max_retries=1, seconds_to_wait=0.2)


def _load_for_a_minute(name: str) -> None:
    """A load's asyncio work as `assets.loading` runs it: a minute unless the step is stopped."""
    _record(name, "start")
    run_stoppable(asyncio.sleep(60))
    _record(name, "end")


@dg.asset(pool="test_api.g")
def loads_for_a_minute_1() -> None:
    _load_for_a_minute("loads_for_a_minute_1")


@dg.asset(pool="test_api.h")
def loads_for_a_minute_2() -> None:
    _load_for_a_minute("loads_for_a_minute_2")


@dg.asset(pool="test_api.g", deps=[loads_for_a_minute_1, loads_for_a_minute_2])
def after_the_minute() -> None:
    _record("after_the_minute", "start")


def _job(name: str, *assets: dg.AssetsDefinition) -> Any:
    return dg.define_asset_job(name, selection=dg.AssetSelection.assets(*assets))


defs = dg.Definitions(
    assets=[
        meets_a,
        meets_b,
        after_both,
        same_pool_1,
        same_pool_2,
        fails,
        after_failure,
        slow_neighbour,
        retried,
        loads_for_a_minute_1,
        loads_for_a_minute_2,
        after_the_minute,
    ],
    jobs=[
        _job("meeting", meets_a, meets_b, after_both),
        _job("one_pool", same_pool_1, same_pool_2, meets_a, meets_b),
        _job("failure", fails, after_failure, slow_neighbour),
        _job("retry", retried, slow_neighbour),
        _job("stoppable", loads_for_a_minute_1, loads_for_a_minute_2, after_the_minute),
    ],
    executor=overlapping_in_process_executor,
)


def job(name: str) -> dg.JobDefinition:
    return defs.resolve_job_def(name)


def meeting() -> dg.JobDefinition:
    return job("meeting")


def one_pool() -> dg.JobDefinition:
    return job("one_pool")


def failure() -> dg.JobDefinition:
    return job("failure")


def retry() -> dg.JobDefinition:
    return job("retry")
