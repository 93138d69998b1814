"""`bench/nightly.py` still runs end to end (tiny: 50 SIMs), and prints what it promises.

The benchmark itself is not part of `make test`; this only keeps the command working.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest

from bench.nightly import SCENARIOS, SourceRun

REPO = Path(__file__).resolve().parents[2]
SOURCES = ("session_events", "air_traffic_daily", "air_traffic_5min", "harvest_entries")


@pytest.mark.slow
@pytest.mark.integration
def test_nightly_benchmark_runs_on_50_sims(tmp_path):
    out = tmp_path / "bench.json"
    done = subprocess.run(
        [
            sys.executable,
            "bench/nightly.py",
            "--sims",
            "50",
            "--scenarios",
            "generous",
            "--latency-ms",
            "5",
            "--jitter-ms",
            "2",
            "--time-cap",
            "300",
            "--json",
            str(out),
            "--job",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=400,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    for heading in ("wall/floor", "peak RSS MB", "sandbox CPU s", "ours/baseline", "naive baseline:"):
        assert heading in done.stdout
    runs = json.loads(out.read_text())["runs"]
    ours = {r["source"]: r for r in runs if r["kind"] == "ours"}
    base = {r["source"]: r for r in runs if r["kind"] == "baseline"}
    assert set(ours) == set(base) == set(SOURCES)
    for source in SOURCES:
        assert ours[source]["error"] is None and base[source]["error"] is None
        assert ours[source]["calls"] > 0 and ours[source]["wall_s"] > 0
        assert ours[source]["peak_rss_mb"] > 0
        # both fetched the same day: the same rows (the baseline counts items/CSV lines)
        assert ours[source]["rows"] == base[source]["rows"], source
    # the real daily_load_job ran once, in one process, and was compared with the sources' floors
    (job,) = json.loads(out.read_text())["jobs"]
    assert job.get("error") is None and job["wall_s"] > 0 and job["check_evaluations"] > 0
    assert job["target_s"] == pytest.approx(job["floors_sum_s"] + 10, abs=0.11) and "met" in job
    assert "daily_load_job (one real run)" in done.stdout
    # ... and said where its time went: start-up, every step (the catalog's too), the rest
    assert {"session_events", "air_traffic_5min", "catalog"} <= set(job["step_s"])
    parts = job["startup_s"] + job["steps_s"] + job["between_steps_s"] + job["tail_s"]
    assert parts == pytest.approx(job["wall_s"], abs=0.1) and job["cpu_s"] > 0
    # the skip rule never makes more per-SIM calls than the naive one-call-per-SIM baseline
    assert (
        ours["session_events"]["calls_by_operation"]["listSimSessionEvents"]
        <= base["session_events"]["calls_by_operation"]["listSimSessionEvents"]
    )


def test_the_nightly_job_runs_its_io_bound_steps_in_one_process():
    from pipelines.executor import overlapping_in_process_executor
    from pipelines.jobs import daily_load_job

    assert daily_load_job.executor_def is overlapping_in_process_executor


def test_the_before_variant_is_the_same_job_on_the_multiprocess_executor():
    """`bench.daily_job --executor multiprocess` runs what the shipped job selects, a process per step."""
    from bench.multiprocess_defs import defs
    from pipelines.definitions import defs as shipped
    from pipelines.executor import overlapping_in_process_executor

    before, after = defs.resolve_job_def("daily_load_job"), shipped.resolve_job_def("daily_load_job")
    assert before.executor_def is dg.multiprocess_executor
    assert after.executor_def is overlapping_in_process_executor
    assert before.asset_layer.executable_asset_keys == after.asset_layer.executable_asset_keys
    assert before.asset_layer.asset_graph.asset_check_keys == after.asset_layer.asset_graph.asset_check_keys


def test_floor_is_calls_needed_over_the_allowed_rate():
    run = SourceRun("session_events", "tight", "ours", SCENARIOS["tight"])
    run.calls_by_operation = {"listSims": 100, "listSimSessionEvents": 2400}
    assert run.floor_s == pytest.approx((100 + 2400) * 60 / 1200)
    run.http_429 = 12  # refused calls were not needed
    assert run.floor_s == pytest.approx((100 + 2400 - 12) * 60 / 1200)


def test_throughput_benchmark_runs_and_prints_every_stage(capsys):
    from bench import throughput

    assert throughput.main(["--sims", "200", "--days", "1"]) == 0
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("| ")]
    assert "decoded->Parquet rows/s" in lines[0] and "bytes->Parquet rows/s" in lines[0]
    rows = {line.split(" | ")[0].strip("| "): line.split(" | ") for line in lines[1:]}
    assert set(rows) == {"session_events", "air_traffic_daily", "air_traffic_5min"}
    for cells in rows.values():
        assert int(cells[1].replace(",", "")) > 0  # rows written
