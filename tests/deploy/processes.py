"""Dagster's own processes for the end-to-end test: a code server (`dagster api grpc`), the
webserver and the daemon, each in its own session with its output in a log file, started on
reserved loopback ports (testkit/ports.py) and stopped with SIGTERM (SIGKILL only if they ignore it)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
import psutil

BIN = Path(sys.executable).parent


@dataclass
class Service:
    name: str
    process: subprocess.Popen
    log: Path
    log_from: int = 0  # where this process's output begins in `log` (a restart appends)

    def tail(self, chars: int = 3000) -> str:
        return f"--- {self.name} ({self.log.name}) ---\n" + self.log.read_text(errors="replace")[-chars:]

    def said(self, text: str) -> bool:
        """This process (not an earlier one with the same log) printed `text`."""
        with self.log.open("rb") as f:
            f.seek(self.log_from)
            return text.encode() in f.read()

    def pause(self) -> None:
        os.killpg(self.process.pid, signal.SIGSTOP)

    def resume(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGCONT)

    def kill(self) -> None:
        """SIGKILL to the whole session (the process and any children), then wait until every
        member is dead: a signalled process waiting for a CPU on a loaded machine still runs."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)
        wait_until_group_dead(self.process.pid, timeout=30)

    def stop(self, timeout: float = 60) -> int:
        """SIGTERM, then wait; SIGKILL if still alive after `timeout`. Returns the exit code."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.kill()
        return self.process.returncode


def wait_until_group_dead(pgid: int, timeout: float) -> None:
    """Until no process of group `pgid` runs (zombies count as dead: their reaper may be gone)."""
    deadline = time.monotonic() + timeout
    while alive := [p.pid for p in psutil.process_iter(["status"]) if _in_group(p, pgid)]:
        if time.monotonic() > deadline:
            raise TimeoutError(f"processes {alive} of group {pgid} still run {timeout:g} s after SIGKILL")
        time.sleep(0.05)


def _in_group(process: psutil.Process, pgid: int) -> bool:
    try:
        return os.getpgid(process.pid) == pgid and process.info["status"] != psutil.STATUS_ZOMBIE
    except ProcessLookupError:
        return False


def start(name: str, args: list[str], env: dict[str, str], cwd: Path, logs: Path) -> Service:
    log = logs / f"{name}.log"
    with log.open("ab") as out:
        log_from = out.tell()
        process = subprocess.Popen(
            args, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    return Service(name, process, log, log_from)


def wait_for(what: str, ready: Callable[[], bool], services: list[Service], timeout: float = 240) -> None:
    """Poll `ready` until it is true; fail with the services' logs if one dies or time runs out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        dead = [s for s in services if s.process.poll() is not None]
        if dead:
            raise AssertionError(f"{what}: {dead[0].name} exited\n" + "\n".join(s.tail() for s in services))
        if ready():
            return
        time.sleep(0.5)
    raise AssertionError(f"{what}: not after {timeout:.0f} s\n" + "\n".join(s.tail() for s in services))


def answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=5).status_code == 200
    except httpx.HTTPError:
        return False


def code_server(port: int, env: dict[str, str], cwd: Path, logs: Path) -> Service:
    args = [str(BIN / "dagster"), "api", "grpc", "-m", "pipelines.definitions", "-h", "127.0.0.1"]
    return start("code-server", [*args, "-p", str(port)], env, cwd, logs)


def webserver(port: int, workspace: Path, env: dict[str, str], cwd: Path, logs: Path) -> Service:
    args = [str(BIN / "dagster-webserver"), "-h", "127.0.0.1", "-p", str(port), "-w", str(workspace)]
    return start("webserver", args, env, cwd, logs)


def daemon(workspace: Path, env: dict[str, str], cwd: Path, logs: Path) -> Service:
    return start("daemon", [str(BIN / "dagster-daemon"), "run", "-w", str(workspace)], env, cwd, logs)
