"""`soracom-lake demo --real` checks its setup before starting any run (issue 14 item 7): with
an API host name that does not resolve it ends with exit code 2 and one line naming the
cause and the variable to fix, and starts no run."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from pipelines import settings

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parent.parent


def test_unresolvable_endpoint_ends_the_demo_with_one_line(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SORACOM_")}
    env.update(
        {
            settings.ENDPOINT: "http://soracom-lake-test.invalid",
            settings.AUTH_KEY_ID: "keyId-test",
            settings.AUTH_KEY: "secret-test-value",
        }
    )
    done = subprocess.run(
        [sys.executable, "-m", "pipelines.cli", "demo", "--real", "--data-dir", str(tmp_path)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2, done.stdout + done.stderr
    errors = [line for line in done.stdout.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, done.stdout
    assert "soracom-lake-test.invalid" in errors[0] and "does not resolve" in errors[0]
    assert "SORACOM_ENDPOINT" in errors[0]
    assert "[1/" not in done.stdout  # no run started
    assert "Traceback" not in done.stdout + done.stderr and "Stack Trace" not in done.stdout + done.stderr
    assert "secret-test-value" not in done.stdout + done.stderr
