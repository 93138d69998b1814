"""The asset graph (keys, partitions, deps, checks, jobs, schedules, sensors) equals the reviewed
snapshot `tests/snapshots/asset_graph.json`. After an intended change, run
`python -m tools.graph --update` and commit the snapshot: the diff is what reviewers read."""

from __future__ import annotations

import json

from assets.source import LOAD_JOBS as KINDS
from assets.tables import SOURCES
from pipelines.jobs import LOAD_JOBS
from tools.graph import SNAPSHOT, current


def test_the_asset_graph_equals_the_reviewed_snapshot() -> None:
    want = SNAPSHOT.read_text()
    got = current()
    assert got == want, "the asset graph changed: review `python -m tools.graph`, then run it with --update"


def test_every_registered_source_is_in_the_snapshot_with_its_job() -> None:
    graph = json.loads(SNAPSHOT.read_text())
    assert set(LOAD_JOBS) == set(KINDS)
    jobs = {kind: job.name for kind, job in LOAD_JOBS.items()}
    for source in SOURCES:
        assert source.name in graph["assets"], source.name
        assert source.name in graph["jobs"][jobs[source.job]]["assets"], source.name
        assert "catalog" in graph["jobs"][jobs[source.job]]["assets"]
