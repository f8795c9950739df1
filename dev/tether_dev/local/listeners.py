"""What a customer's systems would run beside Tether, for the demo and its test: an HTTP
receiver for the webhook subscription (each delivery verified with the `standardwebhooks`
library, not with Tether's own signing) and a WebSocket client (the `websockets`
package) subscribed to the bell of every workspace stage."""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self

from standardwebhooks.webhooks import Webhook, WebhookVerificationError
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

STAGES = ("initial_message", "retarget", "nudger", "content_nurture", "book_appointment")


class EventReceiver:
    """A receiver on a free local port. Each delivery is verified against the
    subscription's secret (`secret` is set once Tether has shown it); a forged or
    unverifiable one is answered 400 and counted, never kept."""

    def __init__(self) -> None:
        self.secret: str | None = None
        self.events: dict[str, dict[str, Any]] = {}  # webhook-id: the envelope
        self.deliveries = 0  # every verified POST, a redelivery included
        self.refused = 0
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                status = receiver._take(body, {k.lower(): v for k, v in self.headers.items()})
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/tether-events"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def _take(self, body: bytes, headers: dict[str, str]) -> int:
        if self.secret is None:
            return 503  # not ready: Tether retries
        try:
            envelope = Webhook(self.secret).verify(body, headers)
        except WebhookVerificationError:
            with self._lock:
                self.refused += 1
            return 400
        with self._lock:
            self.deliveries += 1
            self.events.setdefault(headers["webhook-id"], envelope)
        return 204

    def event_ids(self) -> set[str]:
        with self._lock:
            return {str(envelope["id"]) for envelope in self.events.values()}

    def by_type(self) -> dict[str, int]:
        with self._lock:
            counts: dict[str, int] = {}
            for envelope in self.events.values():
                counts[envelope["type"]] = counts.get(envelope["type"], 0) + 1
            return counts

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._server.shutdown()
        self._server.server_close()


class BellListener:
    """A WebSocket connection with the tenant's key, subscribed to every stage; it keeps
    every frame it is sent."""

    def __init__(self, url: str, api_key: str, stages: Iterable[str] = STAGES) -> None:
        self.frames: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._open = contextlib.ExitStack()
        self._socket: ClientConnection = self._open.enter_context(
            connect(f"{url}?api_key={api_key}", open_timeout=10)
        )
        self._socket.send(json.dumps({"action": "subscribe", "stages": list(stages)}))
        self.subscribed = json.loads(self._socket.recv(timeout=10))
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        try:
            for frame in self._socket:
                with self._lock:
                    self.frames.append(json.loads(frame))
        except ConnectionClosed:
            pass

    def bells(self) -> list[dict[str, Any]]:
        with self._lock:
            return [frame for frame in self.frames if frame.get("type") == "bell"]

    def close(self) -> None:
        self._open.close()
        self._thread.join(timeout=5)
