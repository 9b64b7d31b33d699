"""A JSON server on 127.0.0.1 for the fakes of OpenAI-compatible servers the tests talk to
(embeddings in tests/backends_fixtures.py, chat in tests/test_naming.py)."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

#: ``handle(headers, body) -> (status, headers, payload)`` for one POST.
Handle = Callable[[dict[str, str], dict], tuple[int, dict[str, str], Any]]


class JsonServer:
    """Serves POSTs of JSON bodies with ``handle`` on a free port of 127.0.0.1, in a thread;
    ``url`` is its ``/v1`` base. A client gone before the answer is ignored."""

    def __init__(self, handle: Handle, poll_interval: float = 0.5) -> None:
        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:  # quiet
                pass

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("content-length", 0))) or b"{}")
                status, headers, payload = handle({k.lower(): v for k, v in self.headers.items()}, body)
                data = json.dumps(payload).encode()
                try:
                    self.send_response(status)
                    for key, value in headers.items():
                        self.send_header(key, value)
                    self.send_header("content-type", "application/json")
                    self.send_header("content-length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, args=(poll_interval,), daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)
