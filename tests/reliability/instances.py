"""Dagster homes for the reliability tests: the shipped SQLite or Postgres instance file,
installed the way a user installs it, and the API steps' time spans read back from it."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg

from assets.tables import source
from pipelines.instance import PG_URL_ENV, POSTGRES_TEMPLATE, install_instance_config


@contextmanager
def pg_env(url: str) -> Iterator[None]:
    saved = os.environ.get(PG_URL_ENV)
    os.environ[PG_URL_ENV] = url
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop(PG_URL_ENV, None)
        else:
            os.environ[PG_URL_ENV] = saved


def install_home(home: Path, postgres_url: str | None = None) -> Path:
    """`home/dagster.yaml` from the shipped SQLite file, or the Postgres one on `postgres_url`."""
    if postgres_url is None:
        install_instance_config(home)
        return home
    with pg_env(postgres_url):
        install_instance_config(home, POSTGRES_TEMPLATE)
    return home


def step_intervals(instance: dg.DagsterInstance, run_id: str) -> dict[str, tuple[float, float]]:
    """{step key: (start, end)} of a run's steps, from its event log."""
    starts, ends = {}, {}
    for record in instance.all_logs(run_id):
        event = record.dagster_event
        if event is None:
            continue
        if event.event_type_value == "STEP_START":
            starts[event.step_key] = record.timestamp
        elif event.event_type_value in ("STEP_SUCCESS", "STEP_FAILURE"):
            ends[event.step_key] = record.timestamp
    return {k: (starts[k], ends[k]) for k in starts if k in ends}


def overlaps_in_a_pool(
    runs: list[dict[str, tuple[float, float]]],
) -> dict[str, list[tuple[tuple[float, float], tuple[float, float]]]]:
    """{pool: its overlapping step spans} across `runs` (each {step key: span}, as
    `step_intervals` gives; a source's step key is its table): the pool guarantee is that steps
    of one pool (`soracom_api.<family>`) never run at once; steps of different pools may."""
    by_pool: dict[str, list[tuple[float, float]]] = {}
    for run in runs:
        for step, span in run.items():
            by_pool.setdefault(source(step).pool_key, []).append(span)
    return {pool: found for pool, spans in sorted(by_pool.items()) if (found := overlaps(spans))}


def overlaps(spans: list[tuple[float, float]]) -> list[tuple[tuple[float, float], tuple[float, float]]]:
    """Pairs of spans that overlap (sorted by start)."""
    spans = sorted(spans)
    out = []
    for i, a in enumerate(spans):
        out.extend((a, b) for b in spans[i + 1 :] if b[0] < a[1])
    return out
