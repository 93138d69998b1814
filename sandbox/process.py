"""Run the sandbox in a child process (`soracom-lake sandbox --port 0 ...`) and talk to it over
its `/_sandbox/...` admin endpoints: what the demo, crash/outage tests and benchmarks use.

Production code (the demo) imports this module, never `sandbox.testing` (in-process test
helpers), which re-exports these names for older imports.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx

from sandbox.server.state import COVERAGE_PREFIX


def parse_coverages(coverage: str | tuple[str, ...] | list[str]) -> tuple[str, ...]:
    """`jp`, `g`, `both` (or a tuple of them) -> the World's coverages tuple."""
    if isinstance(coverage, str):
        if coverage == "both":
            return ("jp", "g")
        coverage = (coverage,)
    result = tuple(coverage)
    if not result or any(c not in COVERAGE_PREFIX for c in result):
        raise ValueError(f"coverage must be jp, g or both, got {coverage!r}")
    return result


def _url_for(base: str, coverages: tuple[str, ...], coverage: str) -> str:
    if coverage not in coverages:
        raise ValueError(f"this sandbox serves coverages {coverages}, not {coverage!r}")
    return base + COVERAGE_PREFIX[coverage]


_CLI_FLAGS = {
    "sims": "--sims",
    "seed": "--seed",
    "now": "--now",
    "coverage": "--coverage",
    "operator_id": "--operator-id",
    "auth_key_id": "--auth-key-id",
    "auth_key": "--auth-key",
    "email": "--email",
    "password": "--password",
    "sam_user_name": "--sam-user-name",
    "sam_user_password": "--sam-user-password",
    "latency_ms": "--latency-ms",
    "jitter_ms": "--jitter-ms",
    "error_rate": "--error-rate",
    "drop_rate": "--drop-rate",
    "rate_limit_per_minute": "--rate-limit-per-minute",
    "rate_limit_window_s": "--rate-limit-window-s",
    "token_ttl": "--token-ttl",
    "export_delay_s": "--export-delay-s",
    "fault_seed": "--fault-seed",
}


def parse_ready_line(line: str) -> dict[str, str]:
    """`SANDBOX READY url=... key=value ...` -> {"url": ..., ...}."""
    parts = line.strip().split()
    if parts[:2] != ["SANDBOX", "READY"]:
        raise ValueError(f"not a sandbox ready line: {line!r}")
    return dict(part.split("=", 1) for part in parts[2:])


@dataclass
class ProcessSandbox:
    """A sandbox in a child process, controlled over HTTP admin endpoints."""

    args: list[str]
    process: subprocess.Popen
    info: dict[str, str]
    coverages: tuple[str, ...] = field(default=("jp",))

    @property
    def url(self) -> str:
        return self.info["url"]

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def operator_id(self) -> str:
        return self.info["operator_id"]

    @property
    def now(self) -> datetime:
        """Its World's now: the moment it serves (`clock=fixed`: its `--now`, or the minute it
        started), so a test can count its days from it and run the pipeline's clock at it."""
        return datetime.fromisoformat(self.info["now"])

    @property
    def credentials(self) -> dict[str, str]:
        return {"authKeyId": self.info["auth_key_id"], "authKey": self.info["auth_key"]}

    def url_for(self, coverage: str) -> str:
        return _url_for(self.url, self.coverages, coverage)

    def get_settings(self) -> dict[str, Any]:
        return httpx.get(self.url + "/_sandbox/settings").json()

    def update_settings(self, **changes: Any) -> dict[str, Any]:
        response = httpx.post(self.url + "/_sandbox/settings", json=changes)
        if response.status_code != 200:
            raise ValueError(response.json()["error"])
        return response.json()

    def get_stats(self) -> dict[str, Any]:
        return httpx.get(self.url + "/_sandbox/stats").json()

    def expire_tokens(self) -> int:
        return httpx.post(self.url + "/_sandbox/tokens/expire").json()["expired"]

    def kill(self) -> None:
        """Crash the server (SIGKILL): connections break, nothing is cleaned up."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)

    def stop(self) -> None:
        """Graceful stop (SIGTERM)."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()

    def restart(self) -> None:
        """Stop if running, then start again on the same port with the same options."""
        self.stop()
        args = [*self.args]
        if "--port" in args:
            args[args.index("--port") + 1] = str(self.port)
        self.process, self.info = _spawn(args)


def _drain(process: subprocess.Popen) -> None:
    for _ in process.stdout or ():
        pass


def _spawn(args: list[str], timeout_s: float = 60.0) -> tuple[subprocess.Popen, dict[str, str]]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=None, text=True, env=env)
    assert process.stdout is not None
    ready: dict[str, str] = {}

    def read_first_line() -> None:
        line = process.stdout.readline() if process.stdout else ""
        if line.startswith("SANDBOX READY"):
            ready.update(parse_ready_line(line))

    reader = threading.Thread(target=read_first_line, daemon=True)
    reader.start()
    reader.join(timeout_s)
    if not ready:
        process.kill()
        process.wait(timeout=10)
        raise RuntimeError(
            f"the sandbox process did not print its READY line within {timeout_s:.0f} s: {args}"
        )
    # keep draining stdout so the child never blocks on a full pipe
    threading.Thread(target=_drain, args=(process,), daemon=True).start()
    return process, ready


@contextlib.contextmanager
def start_sandbox_process(*, port: int = 0, **options: Any) -> Iterator[ProcessSandbox]:
    """Run `soracom-lake sandbox --port 0 ...` in a child process until the block ends.

    Options are the CLI's: sims, seed, now, coverage (jp|g|both), operator_id, credentials
    and faults (see `_CLI_FLAGS`).
    """
    args = [sys.executable, "-m", "pipelines.cli", "sandbox", "--port", str(port)]
    for name, value in options.items():
        if name not in _CLI_FLAGS:
            raise TypeError(f"unknown option {name!r}; known: {', '.join(sorted(_CLI_FLAGS))}")
        if value is not None:
            args += [_CLI_FLAGS[name], value.isoformat() if isinstance(value, datetime) else str(value)]
    process, info = _spawn(args)
    handle = ProcessSandbox(args, process, info, parse_coverages(options.get("coverage", "jp")))
    try:
        yield handle
    finally:
        handle.stop()
