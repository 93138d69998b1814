"""The deployment as teams run it, end to end: a code server (`dagster api grpc`), the
webserver and the daemon as separate processes on the Postgres instance (a real PostgreSQL
started by the suite), a workspace.yaml pointing at the gRPC server. A run of the nightly job
is submitted through the webserver's GraphQL API into the run queue; the daemon launches it;
the daemon is SIGKILLed mid-run and started again; the run ends once, and the lake equals
the sandbox's ground truth, on a local lake and on an `s3://` lake (moto_server). Then
everything is shut down with SIGTERM.

Timings (start-up, run, shutdown) are printed: `pytest -s tests/deploy/test_real_processes.py`.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import psutil
import pytest
from dagster_graphql import DagsterGraphQLClient

from assets.partitions import last_days
from pipelines import settings
from pipelines.demo import PlannedRun
from pipelines.instance import PG_URL_ENV
from pipelines.jobs import DAILY_ASSETS, daily_load_job
from pipelines.lake import Lake
from pipelines.runs import PID_TAG, run_failure_message
from sandbox.process import ProcessSandbox, start_sandbox_process
from testkit.ports import reserve_port
from tests.deploy import processes
from tests.reliability import harness
from tests.reliability.instances import install_home, pg_env

pytestmark = [
    pytest.mark.integration,
    pytest.mark.slow,
    pytest.mark.filterwarnings("ignore::DeprecationWarning:gql"),  # dagster_graphql's own call style
]

REPO = Path(__file__).resolve().parents[2]
SIMS, SEED = 20, 5
LOCATION = "soracom_lake"
FINISHED = (dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED)


@pytest.fixture
def sandbox_process() -> Iterator[ProcessSandbox]:
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    with start_sandbox_process(sims=SIMS, seed=SEED, now=now, coverage="jp", latency_ms=5) as box:
        yield box


def deployment_env(
    box: ProcessSandbox, home: Path, postgres_url: str, root: Path, lake_root: str | None = None
) -> dict[str, str]:
    """The services' environment; an `s3://` lake root takes the AWS variables the `s3_bucket`
    fixture set (inherited) and its staging folder."""
    env = harness.env_without_soracom()
    if staging := os.environ.get("SORACOM_LAKE_STAGING"):
        env["SORACOM_LAKE_STAGING"] = staging
    env.update(
        {
            "DAGSTER_HOME": str(home),
            PG_URL_ENV: postgres_url,
            settings.AUTH_KEY_ID: box.credentials["authKeyId"],
            settings.AUTH_KEY: box.credentials["authKey"],
            settings.COVERAGES: "jp",
            settings.ENDPOINT_JP: box.url_for("jp"),
            settings.LAKE_ROOT: lake_root or str(root / "lake"),
            settings.CATALOG_PATH: str(root / "soracom.duckdb"),
            "PYTHONUNBUFFERED": "1",
        }
    )
    return env


def write_workspace(path: Path, grpc_port: int) -> Path:
    path.write_text(
        "load_from:\n"
        "  - grpc_server:\n"
        "      host: 127.0.0.1\n"
        f"      port: {grpc_port}\n"
        f"      location_name: {LOCATION}\n"
    )
    return path


def lean_run_config() -> dict:
    """The job's steps in the run worker itself, not a subprocess each (~25 steps with the
    checks: minutes of Python start-ups on 2 busy cores). Only for Dagster's default
    executor; a job with its own executor runs as it is."""
    if daily_load_job.executor_def is None:
        return {"execution": {"config": {"in_process": {}}}}
    return {}


@dataclass(frozen=True)
class Deployment:
    """What both end-to-end tests start their services with."""

    home: Path
    env: dict[str, str]
    logs: Path
    grpc_port: int
    web_port: int
    workspace: Path
    key: str  # the daily partition the run loads

    @classmethod
    def prepare(
        cls, box: ProcessSandbox, postgres_url: str, tmp_path: Path, lake_root: str | None = None
    ) -> Deployment:
        home = install_home(tmp_path / "dagster_home", postgres_url)
        logs = tmp_path / "logs"
        logs.mkdir()
        grpc_port, web_port = reserve_port(), reserve_port()
        return cls(
            home=home,
            env=deployment_env(box, home, postgres_url, tmp_path, lake_root),
            logs=logs,
            grpc_port=grpc_port,
            web_port=web_port,
            workspace=write_workspace(tmp_path / "workspace.yaml", grpc_port),
            key=last_days(datetime.now(UTC), 1)[0],
        )


def submit_nightly(client: DagsterGraphQLClient, key: str) -> str:
    """Queue one `daily_load_job` run of partition `key` through the webserver's GraphQL API."""
    return client.submit_job_execution(
        daily_load_job.name,
        repository_location_name=LOCATION,
        repository_name="__repository__",
        tags={"dagster/partition": key},
        run_config=lean_run_config(),
    )


REAPER_TICK = "Checking for new runs for sensor: dead_run_reaper"


def start_deployment(d: Deployment, services: list[processes.Service]) -> DagsterGraphQLClient:
    """Start the code server, the webserver and the daemon into `services` (the caller stops
    them), and return once both the webserver and the daemon have the code location (the
    daemon's sensor daemon evaluated the reaper). The daemon loads it when it starts and then
    about once a minute: started before the code server answered, it cannot launch a run for
    up to a minute (such a run goes back in the queue: the `run_queue` retries, tested below)."""
    services.append(processes.code_server(d.grpc_port, d.env, REPO, d.logs))
    services.append(processes.webserver(d.web_port, d.workspace, d.env, REPO, d.logs))
    services.append(processes.daemon(d.workspace, d.env, REPO, d.logs))
    client = DagsterGraphQLClient("127.0.0.1", port_number=d.web_port)
    processes.wait_for("code location loaded", lambda: location_loaded(client), services)
    processes.wait_for("the daemon reached the code server", lambda: services[2].said(REAPER_TICK), services)
    return client


def failure_of(d: Deployment, run_id: str) -> str | None:
    """The run's failure message, read from the instance (the GraphQL client gives a status)."""
    with pg_env(d.env[PG_URL_ENV]):
        instance = dg.DagsterInstance.from_config(str(d.home))
        try:
            return run_failure_message(instance, run_id)
        finally:
            instance.dispose()


def location_loaded(client: DagsterGraphQLClient) -> bool:
    try:
        answer = client._execute(  # the client's own GraphQL call: no public one lists locations
            "{ workspaceOrError { ... on Workspace { locationEntries { name "
            "locationOrLoadError { __typename } } } } }"
        )
    except Exception:
        return False
    entries = answer["workspaceOrError"].get("locationEntries", [])
    return any(
        e["name"] == LOCATION and e["locationOrLoadError"]["__typename"] == "RepositoryLocation"
        for e in entries
    )


def test_a_queued_run_survives_a_daemon_kill_and_loads_the_lake_once(
    sandbox_process: ProcessSandbox, postgres_url: str, tmp_path: Path, lake_root: str
) -> None:
    box = sandbox_process
    d = Deployment.prepare(box, postgres_url, tmp_path, lake_root)

    began = time.monotonic()
    services: list[processes.Service] = []
    try:
        client = start_deployment(d, services)
        started_up = time.monotonic()

        run_id = submit_nightly(client, d.key)
        processes.wait_for(
            "the daemon launched the queued run",
            lambda: client.get_run_status(run_id) in (dg.DagsterRunStatus.STARTED, *FINISHED),
            services,
        )
        daemon = services.pop()
        daemon.kill()
        killed_while = client.get_run_status(run_id)
        assert killed_while == dg.DagsterRunStatus.STARTED, (
            f"the run ended ({killed_while.value}) before the daemon was killed: "
            f"{failure_of(d, run_id)}\n" + "\n".join(s.tail() for s in [*services, daemon])
        )
        services.append(processes.daemon(d.workspace, d.env, REPO, d.logs))
        processes.wait_for("the run ended", lambda: client.get_run_status(run_id) in FINISHED, services, 420)
        ran = time.monotonic()
        status = client.get_run_status(run_id)
        assert status == dg.DagsterRunStatus.SUCCESS, "\n".join(s.tail() for s in services)
    finally:
        codes = {s.name: s.stop() for s in reversed(services)}
    stopped = time.monotonic()
    print(
        f"\nend-to-end timings: start-up {started_up - began:.1f} s, run {ran - started_up:.1f} s "
        f"(daemon killed while the run was {killed_while.value}), shutdown {stopped - ran:.1f} s; "
        f"exit codes {codes}"
    )
    assert all(p.process.poll() is not None for p in services)

    with pg_env(postgres_url):
        instance = dg.DagsterInstance.from_config(str(d.home))
        try:
            runs = instance.get_runs(filters=dg.RunsFilter(job_name=daily_load_job.name))
            events = [r for r in instance.all_logs(run_id) if r.dagster_event]
            steps = [
                r.dagster_event.step_key for r in events if r.dagster_event.event_type_value == "STEP_SUCCESS"
            ]
        finally:
            instance.dispose()
    first = events[0].timestamp
    at = {
        r.dagster_event.event_type_value: r.timestamp - first for r in events if not r.dagster_event.step_key
    }
    print(f"run events (s after queueing): {', '.join(f'{k} {v:.1f}' for k, v in at.items())}")
    assert [r.run_id for r in runs] == [run_id], "the run was launched more than once"
    assert len(steps) == len(set(steps)), f"a step ran twice: {steps}"

    world = harness.world_for(box.info, SIMS, SEED)
    comparison = harness.assert_lake_matches_world(
        world, Lake(lake_root), [PlannedRun("d", DAILY_ASSETS, d.key, d.key)], ("jp",)
    )
    assert comparison.total > 0


def test_a_run_lost_with_its_code_server_is_failed_by_the_reaper_retried_and_loads_the_lake_once(
    sandbox_process: ProcessSandbox, postgres_url: str, tmp_path: Path
) -> None:
    """Run monitoring for dead workers: the code server (and the run worker, its subprocess)
    is SIGKILLed mid-run and started again. Nobody is left to report the run failed and the
    default launcher cannot check its workers, so the run tags itself with its worker process
    when it starts (pipelines/slots.py); the `dead_run_reaper` sensor fails it once that
    process is gone, and the instance's `run_retries` re-executes it from its failed steps. The
    reaper runs every 10 s here (`SORACOM_REAPER_INTERVAL_S`; 60 by default), so the test waits
    for it less."""
    box = sandbox_process
    d = Deployment.prepare(box, postgres_url, tmp_path)
    d.env[settings.REAPER_INTERVAL_S] = "10"

    began = time.monotonic()
    services: list[processes.Service] = []
    with pg_env(postgres_url):
        instance = dg.DagsterInstance.from_config(str(d.home))
    try:
        client = start_deployment(d, services)
        run_id = submit_nightly(client, d.key)
        processes.wait_for(
            "the run tagged with its worker", lambda: PID_TAG in instance.get_run_by_id(run_id).tags, services
        )
        worker = int(instance.get_run_by_id(run_id).tags[PID_TAG])
        services[0].kill()  # the code server's whole session: the run worker with it
        assert not psutil.pid_exists(worker) or psutil.Process(worker).status() == psutil.STATUS_ZOMBIE
        killed = time.monotonic()
        services[0] = processes.code_server(d.grpc_port, d.env, REPO, d.logs)

        def retried() -> list[dg.DagsterRun]:
            return instance.get_runs(filters=dg.RunsFilter(tags={"dagster/parent_run_id": run_id}))

        processes.wait_for(
            "the dead run retried to the end",
            lambda: any(r.status in FINISHED for r in retried()),
            services,
            420,
        )
        ran = time.monotonic()
        original, retries = instance.get_run_by_id(run_id), retried()
    finally:
        codes = {s.name: s.stop() for s in reversed(services)}
        instance.dispose()
    print(
        f"\ncode server and run worker killed {killed - began:.1f} s after start-up began; "
        f"failed and retried to the end {ran - killed:.1f} s later; exit codes {codes}"
    )
    assert original.status == dg.DagsterRunStatus.FAILURE
    assert [r.status for r in retries] == [dg.DagsterRunStatus.SUCCESS], "\n".join(s.tail() for s in services)
    # the retry inherits its parent's tags: its own worker replaced the dead one's (or the reaper fails it)
    assert retries[0].tags[PID_TAG] != str(worker)

    world = harness.world_for(box.info, SIMS, SEED)
    harness.assert_lake_matches_world(
        world, Lake(tmp_path / "lake"), [PlannedRun("d", DAILY_ASSETS, d.key, d.key)], ("jp",)
    )


REQUEUED = "re-submitting the run into the queue"


def engine_messages(instance: dg.DagsterInstance, run_id: str) -> list[str]:
    records = instance.get_records_for_run(run_id, of_type=dg.DagsterEventType.ENGINE_EVENT).records
    return [r.event_log_entry.dagster_event.message or "" for r in records if r.event_log_entry.dagster_event]


def test_a_run_dequeued_while_the_code_server_is_down_goes_back_in_the_queue_and_runs(
    sandbox_process: ProcessSandbox, postgres_url: str, tmp_path: Path
) -> None:
    """A code server restarting (a deploy, a crash) while the daemon dequeues a run: Dagster's
    default fails the run at once ("marked as failed from outside the execution context"; a
    fresh-clone CI run saw it when the daemon started before the code server answered). The
    instance files' `run_queue` retries put it back in the queue, and it runs once the code
    server is back. The daemon is paused while the run is submitted, so it dequeues the run
    only after the code server is gone. The retry delay is cut from the files' 60 s to 10 s."""
    box = sandbox_process
    d = Deployment.prepare(box, postgres_url, tmp_path)
    config = d.home / "dagster.yaml"
    shipped = config.read_text()
    assert "user_code_failure_retry_delay: 60" in shipped and "max_user_code_failure_retries: 5" in shipped
    config.write_text(
        shipped.replace("user_code_failure_retry_delay: 60", "user_code_failure_retry_delay: 10")
    )

    services: list[processes.Service] = []
    with pg_env(postgres_url):
        instance = dg.DagsterInstance.from_config(str(d.home))
    try:
        client = start_deployment(d, services)
        services[2].pause()
        run_id = submit_nightly(client, d.key)
        services[0].kill()  # the code server
        services[2].resume()

        def requeued() -> bool:  # the engine event is written before the run's status
            said = any(REQUEUED in m for m in engine_messages(instance, run_id))
            return said and client.get_run_status(run_id) == dg.DagsterRunStatus.QUEUED

        processes.wait_for(
            "the daemon tried to launch the run",
            lambda: requeued() or client.get_run_status(run_id) in FINISHED,
            services[1:],
        )
        assert any(REQUEUED in m for m in engine_messages(instance, run_id)), (
            f"the run was not put back in the queue: {failure_of(d, run_id)}"
        )
        services[0] = processes.code_server(d.grpc_port, d.env, REPO, d.logs)
        processes.wait_for("the run ended", lambda: client.get_run_status(run_id) in FINISHED, services, 420)
        status, messages = client.get_run_status(run_id), engine_messages(instance, run_id)
        assert status == dg.DagsterRunStatus.SUCCESS, f"{failure_of(d, run_id)}\n" + "\n".join(
            s.tail() for s in services
        )
    finally:
        for service in reversed(services):
            service.resume()  # a stopped process ignores SIGTERM until it runs again
            service.stop()
        instance.dispose()
    print(f"\nthe run went back in the queue {sum(REQUEUED in m for m in messages)} time(s), then ran")

    world = harness.world_for(box.info, SIMS, SEED)
    harness.assert_lake_matches_world(
        world, Lake(tmp_path / "lake"), [PlannedRun("d", DAILY_ASSETS, d.key, d.key)], ("jp",)
    )
