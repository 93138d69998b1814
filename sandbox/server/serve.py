"""Running the app under uvicorn on a socket we bind ourselves (so port 0 works and the
real port is known before the first request)."""

from __future__ import annotations

import socket

import uvicorn
from starlette.applications import Starlette


def bind_socket(host: str = "127.0.0.1", port: int = 0) -> socket.socket:
    """A listening TCP socket; port 0 picks a free port (read it with getsockname)."""
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as error:
        sock.close()
        raise OSError(
            f"cannot listen on {host}:{port} ({error}); pick another --port, or 0 for a free one"
        ) from error
    sock.listen(4096)  # accept into the backlog at once, so "READY" is true before uvicorn runs
    sock.set_inheritable(True)
    return sock


def make_server(app: Starlette, log_level: str = "warning") -> uvicorn.Server:
    """uvicorn with uvloop + httptools, no access log (it would dominate the cost of a call)."""
    config = uvicorn.Config(
        app,
        loop="uvloop",
        http="httptools",
        lifespan="off",
        access_log=False,
        log_level=log_level,
        timeout_keep_alive=30,
        timeout_graceful_shutdown=2,
        backlog=4096,
    )
    return uvicorn.Server(config)
