"""A 100k-SIM world builds and generates a full day of activity within 1 GB (measured in a subprocess)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

SCRIPT = """
import json, resource
from datetime import UTC, datetime
from sandbox.world import World

world = World(seed=1, sims=100_000, now=datetime(2026, 11, 30, 3, tzinfo=UTC), coverages=("jp", "g"))
day = world.now_ms // 86_400_000 - 1
usage = world.activity.day_usage(day)
rows = world.air_usage_rows("g", "day", day * 86400, day * 86400)
page = world.sims(world.sim_ids("jp")[:100])
print(json.dumps({"rss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, "keys": len(usage.sim),
                  "rows": len(rows), "page": len(page)}))
"""


@pytest.mark.slow
def test_100k_sims_and_a_day_of_activity_fit_in_1_gb():
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, check=True, timeout=300
    )
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["keys"] > 50_000, "most SIMs had traffic that day"
    assert result["rows"] > 10_000 and result["page"] == 100
    assert result["rss_kb"] < 1_000_000, f"peak RSS {result['rss_kb'] / 1024:.0f} MiB"
