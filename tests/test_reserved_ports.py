"""Ports reserved for servers started in another process (testkit/ports.py): never handed out
twice, skipped by plain binds and `bind(0)`, still open to the SO_REUSEADDR servers we start."""

from __future__ import annotations

import socket
import subprocess
import sys
import time

import httpx

from testkit.ports import HOST, reserve_port


def test_reserved_ports_are_distinct_and_refused_to_plain_binds() -> None:
    ports = [reserve_port() for _ in range(50)]
    assert len(set(ports)) == len(ports)
    for port in ports[:5]:
        with socket.socket() as plain:
            try:
                plain.bind((HOST, port))
            except OSError:
                continue
            raise AssertionError(f"a plain bind took reserved port {port}")


def test_bind_zero_does_not_hand_out_a_reserved_port() -> None:
    reserved = {reserve_port() for _ in range(20)}
    for _ in range(500):
        with socket.socket() as probe:
            probe.bind((HOST, 0))
            assert probe.getsockname()[1] not in reserved


def test_a_server_in_another_process_listens_on_a_reserved_port() -> None:
    port = reserve_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "http.server", "--bind", HOST, str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                assert httpx.get(f"http://{HOST}:{port}/", timeout=2).status_code == 200
                break
            except httpx.TransportError:
                assert server.poll() is None, server.stderr.read().decode() if server.stderr else ""
                time.sleep(0.1)
        else:
            raise AssertionError(f"http.server never answered on reserved port {port}")
    finally:
        server.terminate()
        server.wait(10)
