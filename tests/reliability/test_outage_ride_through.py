"""A Dagster load rides through a 20-second API outage (issue 17 item 4).

The load (`python -m tests.reliability.run_load`, its own process) talks to the sandbox
through a loopback TCP proxy this test controls. Once the load has written its first
partition, the proxy goes away for 20 s: its port is closed (connections refused) and every
open connection is cut; then it listens on the same port again. The sandbox itself keeps
running, so export jobs started before the outage are still there after it, as on the real
API. The load must succeed and the lake must equal the World.
"""

from __future__ import annotations

import contextlib
import json
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from assets.partitions import last_days
from pipelines import settings
from pipelines.demo import PlannedRun
from pipelines.jobs import DAILY_ASSETS
from pipelines.lake import Lake
from sandbox.process import ProcessSandbox, start_sandbox_process
from tests.reliability import harness

pytestmark = [pytest.mark.reliability, pytest.mark.integration, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
SIMS, SEED = 20, 11
OUTAGE_S = 20.0


class Proxy:
    """Forwards 127.0.0.1:<port> to the sandbox; `down()` refuses and cuts, `up()` listens again."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.port = 0
        self.accepted = 0
        self._conns: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._listener: socket.socket | None = None
        self.up()

    def up(self) -> None:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self.port = listener.getsockname()[1]
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def down(self) -> None:
        if self._listener is not None:
            self._listener.close()
            self._listener = None
        with self._lock:
            conns, self._conns = self._conns, set()
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
            conn.close()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            self.accepted += 1
            try:
                upstream = socket.create_connection(("127.0.0.1", self.upstream_port))
            except OSError:
                client.close()
                continue
            with self._lock:
                self._conns.update((client, upstream))
            for src, dst in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(src, dst), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (src, dst):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)


@pytest.fixture
def box() -> Iterator[ProcessSandbox]:
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    with start_sandbox_process(sims=SIMS, seed=SEED, now=now, coverage="jp", latency_ms=20) as handle:
        yield handle


def test_a_daily_load_rides_through_a_twenty_second_outage(box: ProcessSandbox, tmp_path: Path) -> None:
    proxy = Proxy(box.port)
    days = last_days(box.now, 3)  # the load's clock (SORACOM_NOW below) is the sandbox's now too
    env = harness.env_without_soracom()
    env.update(
        {
            settings.NOW: box.info["now"],
            settings.AUTH_KEY_ID: box.credentials["authKeyId"],
            settings.AUTH_KEY: box.credentials["authKey"],
            settings.COVERAGES: "jp",
            settings.ENDPOINT_JP: f"http://127.0.0.1:{proxy.port}",
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.pop("DAGSTER_HOME", None)
    args = ["--root", str(tmp_path), "--job", "daily", "--first", days[0], "--last", days[-1]]
    load = subprocess.Popen(
        [sys.executable, "-m", "tests.reliability.run_load", *args],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 180
        while not harness.visible_parquet_files(tmp_path / "lake"):
            assert load.poll() is None, f"the load ended before the outage: {load.communicate()}"
            assert time.monotonic() < deadline, "the load wrote nothing in 180 s"
            time.sleep(0.05)
        proxy.down()
        time.sleep(OUTAGE_S)
        assert load.poll() is None, "the load ended during the outage"
        proxy.up()
        out, err = load.communicate(timeout=300)
    finally:
        proxy.down()
        if load.poll() is None:
            load.kill()
    lines = [line for line in out.splitlines() if line.startswith("RESULT ")]
    assert lines, f"the load printed no RESULT line (exit {load.returncode}):\n{err[-3000:]}"
    result = json.loads(lines[-1][len("RESULT ") :])
    assert result["success"], result["errors"]
    world = harness.world_for(box.info, SIMS, SEED)
    runs = [PlannedRun("days", DAILY_ASSETS, days[0], days[-1])]
    harness.assert_lake_matches_world(world, Lake(tmp_path / "lake"), runs, ("jp",))
