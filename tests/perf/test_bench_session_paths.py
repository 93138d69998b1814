"""The nightly benchmark's session-path scenario: session events of one day loaded through
Soracom Query and through the per-SIM calls, the same rows, the API calls printed side by side."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow
@pytest.mark.integration
def test_session_events_via_query_and_via_the_api_side_by_side(tmp_path):
    out = tmp_path / "bench.json"
    done = subprocess.run(
        [
            sys.executable,
            "bench/nightly.py",
            *("--sims", "40", "--scenarios", "tight", "--sources", "session_events"),
            *("--session-path", "both", "--no-baseline", "--latency-ms", "2", "--jitter-ms", "1"),
            *("--time-cap", "300", "--json", str(out)),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=400,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    runs = {r["session_path"]: r for r in json.loads(out.read_text())["runs"]}
    assert set(runs) == {"query", "api"}
    assert runs["query"]["rows"] == runs["api"]["rows"] > 0
    assert "listSimSessionEvents" not in runs["query"]["calls_by_operation"]
    assert runs["query"]["calls"] < runs["api"]["calls"]
    assert "API calls via Soracom Query" in done.stdout and "via the per-SIM calls" in done.stdout
