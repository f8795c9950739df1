"""A local API Gateway (REST API, proxy integrations) serving exactly the template's
routes at the root, like `sam local start-api`: each request becomes the proxy event
AWS would send, the function's answer becomes the HTTP response. A path or method the
template does not map gets API Gateway's own 403."""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import urlsplit

from tether_dev.local.events import (
    HttpAnswer,
    bad_gateway,
    http_answer,
    json_answer,
    match_route,
    proxy_event,
)
from tether_dev.local.logs import stack_logger
from tether_dev.local.runtime import Invocation
from tether_dev.local.serving import BackgroundServer, FramingError, LocalHttpServer, read_body
from tether_dev.local.template import Route
from tether_dev.wire import WholeResponseHandler

# (function logical id, event, request id) → how the invocation went
Invoke = Callable[[str, dict[str, Any], str], Invocation]

MISSING_TOKEN = {"message": "Missing Authentication Token"}
# A REST API gives up on its integration after 29 s, whatever the function's timeout.
INTEGRATION_TIMEOUT_MS = 29_000


class LocalGateway(BackgroundServer):
    thread_name = "local-gateway"

    def __init__(
        self,
        routes: list[Route],
        stage: str,
        invoke: Invoke,
        host: str = "127.0.0.1",
        port: int = 3000,
    ) -> None:
        self.routes = routes
        self.stage = stage
        self.invoke = invoke
        self._listen(lambda: _GatewayServer((host, port), _GatewayHandler, self), host, port)

    def answer(
        self,
        method: str,
        target: str,
        headers: list[tuple[str, str]],
        body: bytes,
        source_ip: str,
    ) -> tuple[HttpAnswer, str]:
        request_id = str(uuid.uuid4())
        parts = urlsplit(target)
        match = match_route(self.routes, method, parts.path)
        if match is None:
            return json_answer(403, MISSING_TOKEN), request_id
        route = match.route
        if route.function is None:  # a mock integration: API Gateway answers itself
            answer = HttpAnswer(
                route.mock_status, [("Content-Type", "application/json")], route.mock_body.encode()
            )
            return answer, request_id
        event = proxy_event(
            route=match,
            method=method,
            path=parts.path,
            query=parts.query,
            headers=self._forwarded(headers, source_ip),
            body=body,
            stage=self.stage,
            source_ip=source_ip,
            now=datetime.now(UTC),
            request_id=request_id,
        )
        invocation = self.invoke(route.function, event, request_id)
        if invocation.timed_out or invocation.duration_ms > INTEGRATION_TIMEOUT_MS:
            return json_answer(504, {"message": "Endpoint request timed out"}), request_id
        if invocation.failed:
            return bad_gateway(), request_id
        return http_answer(invocation.result), request_id

    def _forwarded(self, headers: list[tuple[str, str]], source_ip: str) -> list[tuple[str, str]]:
        """The headers API Gateway adds, so a function sees the URL it was called at
        (signatures over the URL verify locally too)."""
        present = {name.lower() for name, _ in headers}
        port = str(self._httpd.server_address[1])
        added = [
            ("X-Forwarded-For", source_ip),
            ("X-Forwarded-Port", port),
            ("X-Forwarded-Proto", "http"),
            ("X-Amzn-Trace-Id", f"Root=1-{uuid.uuid4().hex[:8]}-{uuid.uuid4().hex[:24]}"),
        ]
        return headers + [(name, value) for name, value in added if name.lower() not in present]


class _GatewayServer(LocalHttpServer):
    def __init__(
        self,
        address: tuple[str, int],
        handler: type[BaseHTTPRequestHandler],
        gateway: LocalGateway,
    ) -> None:
        super().__init__(address, handler)
        self.gateway = gateway


class _GatewayHandler(WholeResponseHandler):
    server: _GatewayServer
    server_version = "TetherLocalGateway/1"
    protocol_version = "HTTP/1.1"
    timeout = 30  # a client that stops sending mid-request frees its thread

    def _handle(self) -> None:
        started = time.monotonic()
        try:
            body = read_body(self.headers, self.rfile)
        except (FramingError, TimeoutError) as error:
            self._refuse(error)
            return
        headers = [
            (name, value)
            for name, value in self.headers.items()
            if name.lower() != "transfer-encoding"  # the body is whole by now
        ]
        answer, request_id = self.server.gateway.answer(
            self.command, self.path, headers, body, self.client_address[0]
        )
        self.respond(
            answer.status,
            [(name, value) for name, value in answer.headers if name.lower() != "connection"]
            + [("x-amzn-RequestId", request_id)],
            answer.body,
            send_body=self.command != "HEAD",
        )
        stack_logger().info(
            f"{self.command} {urlsplit(self.path).path} {answer.status}",
            extra={
                "ms": round((time.monotonic() - started) * 1000),
                "correlation_id": request_id,
                "function_name": "gateway",
            },
        )

    def _refuse(self, error: FramingError | TimeoutError) -> None:
        """A request that cannot be read: answered (API Gateway's JSON shape) and the
        connection closed, since where the next request would start is unknown."""
        status, message = (
            (error.status, error.message)
            if isinstance(error, FramingError)
            else (408, "the request was not received in time")
        )
        answer = json_answer(status, {"message": message})
        self.close_connection = True
        with contextlib.suppress(OSError):  # the client is gone
            self.respond(answer.status, [*answer.headers, ("Connection", "close")], answer.body)
        stack_logger().info(
            f"{self.command} {urlsplit(self.path).path} {status}",
            extra={"function_name": "gateway", "reason": message},
        )

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _handle

    def log_message(self, format: str, *args: Any) -> None:
        pass  # one line per request is written by _handle
