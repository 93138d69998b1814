"""A Dagster load in its own process, for tests that kill it, race it or starve it.

    python -m tests.reliability.run_load --root DIR --job daily --first KEY [--last KEY] \
        [--tag name=value] [--slow-writes]

Credentials, endpoints and the clock come from the environment (`SORACOM_AUTH_KEY_ID`, ...,
`SORACOM_ENDPOINT_JP`, `SORACOM_NOW`), as in production; the Dagster instance is `DAGSTER_HOME`'s when
set (so concurrency pools apply across processes), else an ephemeral one. Prints one line
`RESULT {json}` with the run's success and step errors.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import dagster as dg

from assets.catalog import catalog
from pipelines import settings
from pipelines.jobs import DAILY_ASSETS, HOURLY_ASSETS, MONTHLY_ASSETS, SNAPSHOT_ASSETS
from pipelines.runs import guarded_load, owner_tags, run_failure_message
from pipelines.stopping import LoadStopped, StopOnSignal
from tests.reliability import harness

JOBS = {
    "daily": DAILY_ASSETS,
    "snapshot": SNAPSHOT_ASSETS,
    "hourly": HOURLY_ASSETS,
    "billing": MONTHLY_ASSETS,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--root", required=True, type=Path)
    parser.add_argument("--job", choices=sorted(JOBS), required=True)
    parser.add_argument("--first", required=True)
    parser.add_argument("--last", default=None)
    parser.add_argument("--tag", action="append", default=[], help="name=value run tag")
    parser.add_argument("--catalog", action="store_true", help="also rebuild the catalog (as the jobs do)")
    args = parser.parse_args(argv)
    env = os.environ
    urls = {
        c: env[settings.ENDPOINT_JP if c == "jp" else settings.ENDPOINT_G]
        for c in env[settings.COVERAGES].split(",")
    }
    credentials = {"authKeyId": env[settings.AUTH_KEY_ID], "authKey": env[settings.AUTH_KEY]}
    res = harness.resources(urls, credentials, args.root, now=settings.now_setting())
    instance = dg.DagsterInstance.get() if env.get("DAGSTER_HOME") else dg.DagsterInstance.ephemeral()
    tags = dict(tag.split("=", 1) for tag in args.tag)
    if args.last and args.last != args.first:
        tags.update(
            {
                "dagster/asset_partition_range_start": args.first,
                "dagster/asset_partition_range_end": args.last,
            }
        )
    say = lambda message: print(message, file=sys.stderr, flush=True)  # noqa: E731
    with StopOnSignal() as stopper:
        try:
            with guarded_load(instance, say, stopper.check):
                result = dg.materialize(
                    [*JOBS[args.job], *([catalog] if args.catalog else [])],
                    partition_key=None if args.last and args.last != args.first else args.first,
                    resources=res,
                    instance=instance,
                    run_config=harness.QUIET,
                    raise_on_error=False,
                    tags={**owner_tags(), **tags},
                )
                if not result.success:
                    instance.event_log_storage.free_concurrency_slots_for_run(result.run_id)
                stopper.check()
        except LoadStopped as stopped:
            print("RESULT " + json.dumps({"success": False, "stopped": stopped.signum}), flush=True)
            return stopped.exit_code
    errors = harness.failure_messages(result)
    if not result.success and not errors:
        errors = [run_failure_message(instance, result.run_id) or "the run failed"]
    print(
        "RESULT " + json.dumps({"success": result.success, "run_id": result.run_id, "errors": errors}),
        flush=True,
    )
    return 0 if result.success else 1


if __name__ == "__main__":
    sys.exit(main())
