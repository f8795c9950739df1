"""A stand-in for a provider's API on 127.0.0.1: it records every request and answers
with canned, provider-shaped JSON, so an adapter's real HTTP can be checked offline."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

# the numbers the provider adapter tests send from and to
FROM = "+14155550100"
TO = "+14155550123"


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # names in lower case
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    def form(self) -> dict[str, list[str]]:
        return parse_qs(self.body.decode(), keep_blank_values=True)

    def multipart(self) -> dict[str, str]:
        head = f"Content-Type: {self.headers['content-type']}\r\n\r\n".encode()
        message = BytesParser(policy=HTTP).parsebytes(head + self.body)
        fields: dict[str, str] = {}
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            fields[str(name)] = part.get_content()
        return fields


@dataclass
class _Route:
    method: str
    path: str
    status: int
    payload: Any
    when: Callable[[RecordedRequest], bool] | None = None
    delay_seconds: float = 0.0


@dataclass
class StubProvider:
    requests: list[RecordedRequest] = field(default_factory=list)
    _routes: list[_Route] = field(default_factory=list)
    _httpd: ThreadingHTTPServer | None = None

    def on(
        self,
        method: str,
        path: str,
        status: int,
        payload: Any,
        *,
        when: Callable[[RecordedRequest], bool] | None = None,
        delay_seconds: float = 0.0,
    ) -> None:
        """Answer `method path` (the first matching route wins) with `payload` as JSON, or
        as raw bytes when it is bytes."""
        self._routes.append(_Route(method, path, status, payload, when, delay_seconds))

    def start(self) -> StubProvider:
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self._handle("GET")

            def do_POST(self) -> None:
                self._handle("POST")

            def _handle(self, method: str) -> None:
                parts = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                request = RecordedRequest(
                    method,
                    parts.path,
                    parse_qs(parts.query),
                    {k.lower(): v for k, v in self.headers.items()},
                    self.rfile.read(length),
                )
                stub.requests.append(request)
                route = next(
                    (
                        r
                        for r in stub._routes
                        if r.method == method
                        and r.path == parts.path
                        and (r.when is None or r.when(request))
                    ),
                    None,
                )
                if route is None:
                    status, data = 404, b'{"message": "no stub route"}'
                else:
                    time.sleep(route.delay_seconds)
                    status = route.status
                    data = (
                        route.payload
                        if isinstance(route.payload, bytes)
                        else json.dumps(route.payload).encode()
                    )
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def log_message(self, format: str, *args: Any) -> None:
                pass

        httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        httpd.daemon_threads = True
        httpd.block_on_close = False
        self._httpd = httpd
        threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    @property
    def url(self) -> str:
        assert self._httpd is not None
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def only_request(self) -> RecordedRequest:
        assert len(self.requests) == 1, self.requests
        return self.requests[0]
