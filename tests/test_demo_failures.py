"""The demo over a failed load (issue 17 items 6 and 7): the models are not built over it, the
summary gives each failure's cause (not Dagster's wrapper), and the partitions the failed load
left out are listed."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import dagster as dg
import pytest

from assets import quarantine
from assets.models import MODELS, MODELS_BY_NAME
from assets.tables import SOURCES, TABLE_SPECS, source
from pipelines import cli, settings
from pipelines.demo import execute_runs, missing_partitions, plan_runs
from pipelines.lake import Lake, ModelError, materialise_model
from sandbox.testing import start_sandbox
from tests.reliability import harness

pytestmark = pytest.mark.integration


def test_a_failed_load_leaves_the_models_alone_and_says_why(tmp_path: Path) -> None:
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    runs = plan_runs(now, 1, audit=False, billing=False)
    day = runs[0].first
    with start_sandbox(sims=10, seed=3, now=now, coverage="jp") as box:
        resources = harness.resources({"jp": box.url}, box.credentials, tmp_path, now=now)
        with box.configured(bad_input="not_json", bad_input_operations="listSimSessionEvents"):
            outcomes = execute_runs(runs, resources, dg.DagsterInstance.ephemeral())
    loads, models = outcomes[:-1], outcomes[-1]
    failed = [o for o in loads if not o.success]
    assert [o.run.label for o in failed] == [runs[0].label]
    errors = failed[0].errors
    assert errors and all("DagsterExecutionStepExecutionError" not in e for e in errors), errors
    assert any(e.startswith("session_events: ") and "not JSON" in e for e in errors), errors
    assert models.skipped and models.success, models.errors
    assert "models not rebuilt: 1 load run(s) failed" in models.errors[0]
    lake = Lake(tmp_path / "lake")
    assert not (tmp_path / "lake" / "_models").exists(), "a mart was built over a failed load"
    assert (tmp_path / "soracom.duckdb").exists(), "the catalog still shows the tables"
    missing = missing_partitions(runs, lake)
    assert f"session_events: {day}" in missing, missing
    assert not any(line.startswith(("sims:", "air_traffic_daily:")) for line in missing), missing
    assert lake.has_partition(source("sims").spec, source("sims").lake_partition_of(day))


def test_a_wrong_key_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """781 lines and 16 stack traces once; the preflight makes it one line naming the variables."""
    with start_sandbox(sims=5, seed=1, now=datetime.now(UTC), coverage="jp") as box:
        monkeypatch.setenv(settings.ENDPOINT, box.url)
        monkeypatch.setenv(settings.AUTH_KEY_ID, box.credentials["authKeyId"])
        monkeypatch.setenv(settings.AUTH_KEY, "secret-wrong-value")
        code = cli.main(["demo", "--real", "--data-dir", str(tmp_path), "--days", "1", "--skip-audit"])
    out = capsys.readouterr()
    text = out.out + out.err
    errors = [line for line in text.splitlines() if line.startswith("error:")]
    assert code == 2 and len(errors) == 1 and len(text.splitlines()) <= 2, text
    assert "rejected the credentials" in errors[0] and settings.AUTH_KEY in errors[0], errors
    assert "Traceback" not in text and "secret-wrong-value" not in text


def _corrupt_pages(path: Path) -> None:
    """Flip bytes just after the magic number: the first column chunk no longer decompresses."""
    data = bytearray(path.read_bytes())
    for i in range(8, min(len(data) // 2, 400)):
        data[i] ^= 0x5A
    path.write_bytes(bytes(data))


def test_a_corrupt_file_is_named_and_an_expired_one_moved_aside(tmp_path: Path) -> None:
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    runs = plan_runs(now, 1, audit=False, billing=False)
    sessions = source("session_events")
    lake = Lake(tmp_path / "lake")
    loaded = tmp_path / "lake" / lake.partition_key(sessions.spec, sessions.lake_partition_of(runs[0].first))
    expired = tmp_path / "lake" / lake.partition_key(sessions.spec, {"date": date(2025, 1, 1)})
    with start_sandbox(sims=10, seed=3, now=now, coverage="jp") as box:
        resources = harness.resources({"jp": box.url}, box.credentials, tmp_path, now=now)
        first = execute_runs(runs, resources, dg.DagsterInstance.ephemeral())
        assert all(o.success for o in first), [o.errors for o in first]
        good = loaded.read_bytes()

        # A corrupt partition Soracom still holds: the mart's error names the file; it stays put.
        _corrupt_pages(loaded)
        with pytest.raises(ModelError) as raised:
            materialise_model(lake, MODELS_BY_NAME["sim_daily_usage"], TABLE_SPECS, MODELS)
        message = str(raised.value)
        assert str(loaded) in message and "unreadable data file" in message, message
        assert "table session_events" in message and "Reload those partitions" in message, message
        lines, moved = quarantine.sweep(lake, SOURCES, now)
        assert moved == 0 and len(lines) == 1 and "load that partition again" in lines[0] and loaded.exists()
        loaded.write_bytes(good)

        # One older than Soracom keeps session events: moved aside, said, and the marts build.
        expired.parent.mkdir(parents=True)
        expired.write_bytes(good)
        _corrupt_pages(expired)
        outcomes = execute_runs(runs, resources, dg.DagsterInstance.ephemeral())
    models = outcomes[-1]
    assert models.success and not models.skipped, models.errors
    said = " | ".join(models.errors)
    assert "session_events date=2025-01-01" in said and "moved aside to" in said, said
    assert str(expired) in said and "32 days" in said, said
    assert not expired.exists()
    assert list((tmp_path / "lake" / "_quarantine" / "session_events").rglob("part-0.parquet.*"))
