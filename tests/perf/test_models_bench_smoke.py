"""`bench/models.py` still runs end to end (tiny: 50 SIMs, 40 days), prints the figures it
promises, floor included, and leaves nothing of its floor's writes in the lake; and
`bench/models_job.py` runs the real models_job over the lake it filled."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def _bench(*args: str) -> str:
    """Run `python -m <args>` from the repository root; its output, once it succeeded."""
    done = subprocess.run(
        [sys.executable, "-m", *args], cwd=REPO, capture_output=True, text=True, timeout=600, check=False
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    return done.stdout


@pytest.mark.slow
def test_models_benchmark_runs_on_50_sims(tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    out = _bench("bench.models", "--sims", "50", "--days", "40", "--session-days", "5", "--lake", str(lake))
    for line in ("rebuild / scan =", "incremental build / scan of the day =", "| - sim_daily_usage |"):
        assert line in out
    floor = re.search(r"\| floor: .*?\((\d+) marts, ([\d,]+) rows: .*\| ([\d.]+)x the scan \|", out)
    assert floor is not None, out[-2000:]
    assert int(floor.group(1)) >= 3 and int(floor.group(2).replace(",", "")) > 0
    assert float(floor.group(3)) > 1  # the scan plus something written
    ran = r"\| the floor \+ the queries the build ran \((\d+) partitioned marts recomputed: .*idle_sims"
    queries = re.search(ran, out)
    assert queries is not None and int(queries.group(1)) >= 3, out[-2000:]
    assert lake.joinpath("_models").is_dir()
    assert [p for p in lake.joinpath("_bench_floor").rglob("*") if p.is_file()] == []

    job = _bench("bench.models_job", "--sims", "50", "--lake", str(lake))
    first = json.loads(job.splitlines()[0])
    assert first["executor"] == "in_process" and first["steps"] > 20 and first["wall_s"] > first["run_s"] > 0
    assert "slowest steps:" in job and re.search(r"in_process: median [\d.]+ s of 1 run", job)
