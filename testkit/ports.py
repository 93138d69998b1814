"""Loopback ports for servers a test starts in another process.

Binding port 0 and closing the probe leaves the port free for anyone: a second probe, another
xdist worker or the OS's next `bind(0)` can get the same number before the server binds it (CI
once saw the webserver and the code server handed one port). A reserved port is parked in
TIME_WAIT instead: the kernel skips it for `bind(0)` and plain binds for a minute, while a server
that sets SO_REUSEADDR (uvicorn, gRPC, werkzeug, http.server) can still bind it."""

from __future__ import annotations

import contextlib
import socket

HOST = "127.0.0.1"


def reserve_port(host: str = HOST) -> int:
    """A port on `host` that only a SO_REUSEADDR listener can take for the next minute."""
    with socket.socket() as listener:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((host, 0))
        listener.listen(1)
        address = listener.getsockname()
        with socket.socket() as client:
            client.connect(address)
            accepted, _ = listener.accept()
            # The accepted side closes first, so it is the one left in TIME_WAIT on the port.
            with contextlib.closing(accepted):
                pass
        return int(address[1])
