"""A webhook receiver for the tests: a real HTTP server on loopback, in a thread, that
checks every delivery with the `standardwebhooks` package (not our code) and records it.
It can be taken down (its port closed) and brought back on the same port."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from standardwebhooks.webhooks import Webhook, WebhookVerificationError


class Received:
    """One request: its headers, raw body, and what the library said of it."""

    def __init__(self, path: str, headers: dict[str, str], body: bytes,
                 payload: Any, error: str | None) -> None:
        self.path = path
        self.headers = headers
        self.body = body
        self.payload = payload
        self.error = error

    @property
    def id(self) -> str:
        return self.headers["webhook-id"]


class Receiver:
    """`secrets[path]` is the secret deliveries to `path` must be signed with;
    `status[path]` what it answers (default 200)."""

    def __init__(self) -> None:
        self.secrets: dict[str, str] = {}
        self.status: dict[str, int] = {}
        self.received: list[Received] = []
        self.lock = threading.Lock()
        self.port = 0
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def start(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                headers = {k.lower(): v for k, v in self.headers.items()}
                secret = receiver.secrets.get(self.path)
                payload, error = None, None
                try:
                    if secret is None:
                        raise WebhookVerificationError("no secret for this path")
                    payload = Webhook(secret).verify(body, headers)
                except WebhookVerificationError as e:
                    error = str(e)
                with receiver.lock:
                    receiver.received.append(Received(self.path, headers, body, payload, error))
                status = receiver.status.get(self.path, 200)
                self.send_response(status)
                self.send_header("content-length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def at(self, path: str) -> list[Received]:
        with self.lock:
            return [r for r in self.received if r.path == path]

    def wait(self, what: Callable[[], bool], timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while not what():
            if time.monotonic() > deadline:
                raise AssertionError(f"not in {timeout} s; received {len(self.received)}")
            time.sleep(0.05)
