"""The run's owner tags (pipelines/slots.py `SoracomInstance`): the process that starts a run
tags it with itself, replacing the tags a retried run inherits from its dead parent, and puts
them back at a step's start when a concurrent rewrite of the run lost them."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import dagster as dg
import pytest
from dagster._core.events import DagsterEventType
from dagster._core.storage.runs.schema import RunsTable
from dagster._serdes import serialize_value

from pipelines.runs import PID_TAG, reap_dead_runs
from tests.reliability.instances import install_home
from tests.reliability.test_reaper import dead_owner_tags

pytestmark = pytest.mark.reliability


def report(
    instance: dg.DagsterInstance, run_id: str, kind: DagsterEventType, step: str | None = None
) -> None:
    event = dg.DagsterEvent(event_type_value=kind.value, job_name="load", step_key=step)
    instance.report_dagster_event(event, run_id=run_id)


def started_run(instance: dg.DagsterInstance, tags: dict[str, str]) -> str:
    run_id = str(uuid.uuid4())
    instance.add_run(
        dg.DagsterRun(job_name="load", run_id=run_id, status=dg.DagsterRunStatus.STARTING, tags=tags)
    )
    report(instance, run_id, DagsterEventType.RUN_START)
    return run_id


def drop_tag(instance: dg.DagsterInstance, run_id: str) -> None:
    """What a concurrent read-modify-write of the run's body leaves: the run without the tag."""
    run = instance.get_run_by_id(run_id)
    body = serialize_value(run.with_tags({k: v for k, v in run.tags.items() if k != PID_TAG}))
    with instance.run_storage.connect() as conn:
        conn.execute(RunsTable.update().where(RunsTable.c.run_id == run_id).values(run_body=body))
    assert PID_TAG not in instance.get_run_by_id(run_id).tags


def test_a_retried_run_is_tagged_with_its_own_process_not_its_dead_parents(tmp_path: Path) -> None:
    instance = dg.DagsterInstance.from_config(str(install_home(tmp_path / "home")))
    try:
        retry = started_run(instance, {"dagster/parent_run_id": "x", **dead_owner_tags()})
        assert instance.get_run_by_id(retry).tags[PID_TAG] == str(os.getpid())
        assert reap_dead_runs(instance) == []  # the live retry is not taken for its dead parent
        assert instance.get_run_by_id(retry).status == dg.DagsterRunStatus.STARTED
    finally:
        instance.dispose()


def test_a_lost_tag_comes_back_at_the_next_step_in_the_process_that_started_the_run(tmp_path: Path) -> None:
    home = install_home(tmp_path / "home")
    instance = dg.DagsterInstance.from_config(str(home))
    other = dg.DagsterInstance.from_config(str(home))  # e.g. a multiprocess run's step process
    try:
        run_id = started_run(instance, {})
        drop_tag(instance, run_id)
        report(other, run_id, DagsterEventType.STEP_START, "a")
        assert PID_TAG not in instance.get_run_by_id(run_id).tags  # not its run to claim
        report(instance, run_id, DagsterEventType.STEP_START, "b")
        assert instance.get_run_by_id(run_id).tags[PID_TAG] == str(os.getpid())
        report(instance, run_id, DagsterEventType.RUN_SUCCESS)
        drop_tag(instance, run_id)
        report(instance, run_id, DagsterEventType.STEP_START, "c")  # after its end: left alone
        assert PID_TAG not in instance.get_run_by_id(run_id).tags
    finally:
        other.dispose()
        instance.dispose()
