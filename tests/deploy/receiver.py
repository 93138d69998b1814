"""A local HTTP receiver on 127.0.0.1 (a free port chosen by the OS) that records what is
POSTed to it and answers with a status the test sets: the stand-in for a chat webhook."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Receiver:
    url: str
    bodies: list[dict] = field(default_factory=list)
    status: int = 200
    first_statuses: list[int] = field(default_factory=list)  # answered, in order, before `status`


@contextmanager
def webhook_receiver() -> Iterator[Receiver]:
    receiver = Receiver(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("content-length", "0"))
            receiver.bodies.append(json.loads(self.rfile.read(length)))
            status = receiver.first_statuses.pop(0) if receiver.first_statuses else receiver.status
            self.send_response(status)
            self.end_headers()
            self.wfile.write(b"ok" if status < 300 else b"no such hook")

        def log_message(self, *args: object) -> None:  # keep the test output quiet
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}/hooks/T000/secret-token"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
