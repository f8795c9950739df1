"""A customer's webhook receiver over real HTTP (http.server in a thread): it answers
each POST as its script says (a status, or "hang" past the sender's timeout), records
what came, and verifies signatures with the official `standardwebhooks` library."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from standardwebhooks.webhooks import Webhook, WebhookVerificationError


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes

    @property
    def webhook_id(self) -> str:
        return self.headers["webhook-id"]

    def envelope(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receiver:
    """`script` is consumed one answer per request (then `then` for the rest): an
    HTTP status, ("redirect", url), or "hang" (sleeps `hang_seconds` before answering)."""

    script: list[Any] = field(default_factory=list)
    then: Any = 200
    hang_seconds: float = 1.0
    received: list[Received] = field(default_factory=list)
    url: str = ""
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def next_answer(self) -> Any:
        with self._lock:
            return self.script.pop(0) if self.script else self.then

    def verified(self, secret: str) -> list[Any]:
        """Every received body verified by `standardwebhooks` (raises if one is not)."""
        hook = Webhook(secret)
        return [hook.verify(r.body, r.headers) for r in self.received]

    def verifies(self, secret: str) -> bool:
        try:
            self.verified(secret)
        except WebhookVerificationError:
            return False
        return True


@contextmanager
def receiver(**options: Any) -> Iterator[Receiver]:
    state = Receiver(**options)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            with state._lock:
                state.received.append(
                    Received({k.lower(): v for k, v in self.headers.items()}, body)
                )
            answer = state.next_answer()
            if answer == "hang":
                time.sleep(state.hang_seconds)
                answer = 200
            if isinstance(answer, tuple):
                self.send_response(302)
                self.send_header("Location", answer[1])
            else:
                self.send_response(int(answer))
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hooks"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
