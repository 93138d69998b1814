"""The run-failure alert (`run_failure_alert`, pipelines/alerts.py): a real failed Dagster
run, the sensor evaluated on it, and a real HTTP receiver on 127.0.0.1 taking the POST."""

from __future__ import annotations

import dagster as dg
import pytest

from pipelines import settings
from pipelines.alerts import AlertNotSent, RunFailureAlert, post_alert
from pipelines.sensors import run_failure_alert
from tests.deploy.receiver import webhook_receiver

PARTITIONS = dg.DailyPartitionsDefinition(start_date="2026-11-01")


@dg.asset(partitions_def=PARTITIONS)
def flaky_source() -> None:
    raise RuntimeError("Soracom answered 503 for /v1/stats/air after 4 attempts")


@pytest.fixture
def failed_run() -> tuple[dg.DagsterInstance, dg.DagsterRun, dg.DagsterEvent]:
    instance = dg.DagsterInstance.ephemeral()
    result = dg.materialize(
        [flaky_source], partition_key="2026-11-29", instance=instance, raise_on_error=False
    )
    assert not result.success
    run = instance.get_run_by_id(result.run_id)
    failure = next(
        r.dagster_event
        for r in instance.all_logs(result.run_id)
        if r.dagster_event and r.dagster_event.event_type == dg.DagsterEventType.RUN_FAILURE
    )
    return instance, run, failure


def evaluate(failed_run: tuple) -> object:
    instance, run, failure = failed_run
    context = dg.build_run_status_sensor_context(
        sensor_name="run_failure_alert", dagster_event=failure, dagster_instance=instance, dagster_run=run
    ).for_run_failure()
    return run_failure_alert(context)


def test_a_failed_run_is_posted_to_the_webhook_with_its_job_partition_and_error(
    failed_run: tuple, monkeypatch: pytest.MonkeyPatch
) -> None:
    with webhook_receiver() as hook:
        monkeypatch.setenv(settings.ALERT_WEBHOOK_URL, hook.url)
        evaluate(failed_run)
    _, run, _ = failed_run
    assert len(hook.bodies) == 1
    body = hook.bodies[0]
    assert body["run_id"] == run.run_id
    assert body["partition"] == "2026-11-29"
    assert "Soracom answered 503 for /v1/stats/air" in body["error"]
    assert body["text"].startswith(f"soracom-lake: run {run.run_id} of {run.job_name} partition 2026-11-29")


def test_a_webhook_briefly_down_gets_the_alert_on_a_later_attempt(failed_run: tuple) -> None:
    _, run, _ = failed_run
    alert = RunFailureAlert(run.run_id, run.job_name, "2026-11-29", "boom")
    with webhook_receiver() as hook:
        hook.first_statuses = [503, 429]
        assert post_alert(hook.url, alert, backoff_s=0.01) == 200
    assert [b["run_id"] for b in hook.bodies] == [run.run_id] * 3


def test_a_refusing_webhook_fails_the_tick_naming_the_host_not_the_token(
    failed_run: tuple, monkeypatch: pytest.MonkeyPatch
) -> None:
    with webhook_receiver() as hook:
        hook.status = 404
        monkeypatch.setenv(settings.ALERT_WEBHOOK_URL, hook.url)
        with pytest.raises(AlertNotSent) as refused:
            evaluate(failed_run)
    message = str(refused.value)
    assert "HTTP 404" in message and "127.0.0.1" in message and "SORACOM_ALERT_WEBHOOK_URL" in message
    assert "secret-token" not in message
    assert len(hook.bodies) == 1  # a 404 is not retried: the hook is gone, not busy


def test_without_a_webhook_url_the_sensor_skips_and_says_why(
    failed_run: tuple, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(settings.ALERT_WEBHOOK_URL, raising=False)
    skipped = evaluate(failed_run)
    assert isinstance(skipped, dg.SkipReason)
    assert settings.ALERT_WEBHOOK_URL in (skipped.skip_message or "")


def test_a_webhook_url_that_is_not_http_is_refused_with_what_to_give() -> None:
    with pytest.raises(ValueError, match="full http\\(s\\):// URL") as refused:
        settings.value(settings.ALERT_WEBHOOK_URL, {settings.ALERT_WEBHOOK_URL: "hooks.example.com/T0/s"})
    assert "T0/s" not in str(refused.value)
