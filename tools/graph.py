"""The asset graph as reviewable JSON: keys, partitions, deps, checks, jobs, schedules, sensors.

`python -m tools.graph` prints the difference from `tests/snapshots/asset_graph.json` (exit 1
if any); `--update` rewrites the snapshot. `tests/test_asset_graph.py` fails on any
difference, so a change to the graph shows up as a diff of that file in review.
"""

from __future__ import annotations

import argparse
import difflib
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import dagster as dg

SNAPSHOT = Path(__file__).resolve().parent.parent / "tests" / "snapshots" / "asset_graph.json"


def _partitions(partitions_def: dg.PartitionsDefinition | None) -> str | None:
    if partitions_def is None:
        return None
    if isinstance(partitions_def, dg.TimeWindowPartitionsDefinition):
        # No start date: it is configuration (SORACOM_PARTITIONS_START) that follows the clock.
        return f"{partitions_def.cron_schedule} ({partitions_def.timezone})"
    return type(partitions_def).__name__


def graph_of(defs: dg.Definitions) -> dict[str, Any]:
    """A JSON-able description of everything a reviewer should see change."""
    graph = defs.resolve_asset_graph()
    repo = defs.get_repository_def()
    assets: dict[str, Any] = {}
    for key in sorted(graph.get_all_asset_keys(), key=lambda k: k.to_user_string()):
        node = graph.get(key)
        assets[key.to_user_string()] = {
            "group": node.group_name,
            "partitions": _partitions(node.partitions_def),
            "deps": sorted(k.to_user_string() for k in node.parent_keys),
            "kinds": sorted(node.kinds),
            "checks": sorted(c.name for c in node.check_keys),
            "pools": sorted(node.pools or []),
        }
    jobs = {}
    for job in sorted(defs.resolve_all_job_defs(), key=lambda j: j.name):
        if job.name.startswith("__"):
            continue
        layer = job.asset_layer
        jobs[job.name] = {
            "assets": sorted(k.to_user_string() for k in layer.selected_asset_keys),
            "checks": sorted(
                f"{c.asset_key.to_user_string()}:{c.name}" for c in layer.asset_graph.asset_check_keys
            ),
            "tags": dict(sorted(job.tags.items())),
        }
    schedules = {
        s.name: {
            "job": s.job_name,
            "cron": s.cron_schedule,
            "timezone": s.execution_timezone,
            "default_status": s.default_status.value,
        }
        for s in sorted(repo.schedule_defs, key=lambda s: s.name)
    }
    sensors = {
        s.name: {
            "jobs": sorted(j.name for j in s.jobs) if s.has_jobs else [],
            "default_status": s.default_status.value,
        }
        for s in sorted(repo.sensor_defs, key=lambda s: s.name)
    }
    return {"assets": assets, "jobs": jobs, "schedules": schedules, "sensors": sensors}


def render(defs: dg.Definitions) -> str:
    return json.dumps(graph_of(defs), indent=1, sort_keys=False) + "\n"


def current() -> str:
    from pipelines.definitions import defs

    return render(defs)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.graph", description=__doc__)
    parser.add_argument("--update", action="store_true", help=f"rewrite {SNAPSHOT.name}")
    args = parser.parse_args(argv)
    text = current()
    if args.update:
        SNAPSHOT.parent.mkdir(parents=True, exist_ok=True)
        SNAPSHOT.write_text(text)
        print(f"wrote {SNAPSHOT}")
        return 0
    old = SNAPSHOT.read_text() if SNAPSHOT.exists() else ""
    diff = list(
        difflib.unified_diff(old.splitlines(), text.splitlines(), "snapshot", "definitions", lineterm="")
    )
    print("\n".join(diff) if diff else "asset graph matches the snapshot")
    return 1 if diff else 0


if __name__ == "__main__":
    sys.exit(main())
