"""Every dev HTTP server sends a response in one write, on a socket with Nagle's
algorithm off. http.server's headers-then-body writes made each response wait for the
client's delayed ACK (~40 ms a request on the local stack); this checks the cause (the
server side's sends, counted), not a timing."""

from __future__ import annotations

import http.client
import json
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from tether.config import PROJECT_ROOT
from tether_dev.local.gateway import LocalGateway
from tether_dev.local.lambda_api import LocalLambdaApi
from tether_dev.local.runtime import Invocation
from tether_dev.local.template import Route, load_template, read_stack
from tether_dev.local.websocket import LocalWebSocketApi
from tether_dev.sandbox.server import SandboxConfig, SandboxServer

ROUTES = [
    Route("GET", "/v1/health", None, mock_status=200, mock_body='{"status":"ok"}'),
    Route("ANY", "/v1/{proxy+}", "ApiFunction"),
]


def unauthorized(logical_id: str, event: dict[str, Any], request_id: str) -> Invocation:
    body = json.dumps({"error": {"code": "unauthorized", "message": "a bad key"}})
    result = {"statusCode": 401, "headers": {"Content-Type": "application/json"}, "body": body}
    return Invocation("api", result, None, 1.0, False)


def never(*args: Any) -> Invocation:
    raise AssertionError("no function runs for these requests")


class Sends:
    """socket.sendall wrapped: each call on a server-side socket (local port = the
    server's), with whether TCP_NODELAY was set on it."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.calls: list[tuple[int, bytes]] = []
        self._lock = threading.Lock()

    def record(self, sock: socket.socket, data: bytes) -> None:
        try:
            local_port = sock.getsockname()[1]
        except OSError:
            return
        if local_port == self.port:
            nodelay = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
            with self._lock:
                self.calls.append((nodelay, bytes(data)))


@contextmanager
def counting(monkeypatch: pytest.MonkeyPatch, port: int) -> Iterator[Sends]:
    sends = Sends(port)
    original = socket.socket.sendall

    def sendall(sock: socket.socket, data: Any, *args: Any) -> None:
        sends.record(sock, data)
        original(sock, data, *args)

    monkeypatch.setattr(socket.socket, "sendall", sendall)
    yield sends


def exchange(
    monkeypatch: pytest.MonkeyPatch, url: str, requests: list[tuple[str, str, bytes | None]]
) -> list[tuple[int, bytes]]:
    """The requests on one keep-alive connection; the server's sends, after each
    response was read whole."""
    host, port = url.removeprefix("http://").split(":")
    with counting(monkeypatch, int(port)) as sends:
        connection = http.client.HTTPConnection(host, int(port), timeout=5)
        try:
            for method, path, body in requests:
                connection.request(method, path, body=body)
                response = connection.getresponse()
                response.read()
                if response.will_close:  # HTTP/1.0 (the sandbox): a new connection each
                    connection.close()
        finally:
            connection.close()
    return sends.calls


def assert_one_write_each(calls: list[tuple[int, bytes]], responses: int) -> None:
    assert len(calls) == responses, [data[:60] for _, data in calls]
    for nodelay, data in calls:
        assert nodelay, "TCP_NODELAY is not set on the accepted socket"
        head, _, body = data.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1."), data[:60]
        length = next(
            int(line.split(b":", 1)[1])
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length:")
        )
        assert len(body) == length  # the body went out in the same write


def test_the_gateway_answers_each_request_in_one_write(monkeypatch: pytest.MonkeyPatch) -> None:
    gateway = LocalGateway(ROUTES, "dev", unauthorized, "127.0.0.1", 0).start()
    try:
        calls = exchange(
            monkeypatch,
            gateway.url,
            [
                ("GET", "/v1/health", None),  # a mock integration
                ("GET", "/v1/leads", None),  # the function's 401
                ("POST", "/v1/leads", b'{"phone": "+14155550100"}'),
                ("GET", "/nowhere", None),  # API Gateway's own 403
            ],
        )
    finally:
        gateway.close()
    assert_one_write_each(calls, 4)


def test_the_lambda_api_and_connections_api_answer_in_one_write(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    stack = read_stack(load_template(PROJECT_ROOT / "template.yaml"), lambda name: name)
    lambda_api = LocalLambdaApi(stack, never, "127.0.0.1", 0).start()
    try:
        calls = exchange(
            monkeypatch,
            lambda_api.url,
            [
                ("POST", "/2015-03-31/functions/nosuch/invocations", b"{}"),
                ("POST", "/nowhere", b"{}"),
            ],
        )
    finally:
        lambda_api.close()
    assert_one_write_each(calls, 2)

    assert stack.websocket is not None
    websocket = LocalWebSocketApi(stack.websocket, "dev", never, port=0, management_port=0)
    websocket.start()
    try:
        calls = exchange(
            monkeypatch,
            websocket.management_url,
            [("GET", "/@connections/nosuch", None), ("GET", "/nowhere", None)],
        )
    finally:
        websocket.close()
    assert_one_write_each(calls, 2)


def test_the_sandbox_answers_in_one_write(monkeypatch: pytest.MonkeyPatch) -> None:
    with SandboxServer(SandboxConfig()) as sandbox:
        calls = exchange(
            monkeypatch,
            sandbox.url,
            [("GET", "/v1/accounts/nosuch/messages", None), ("GET", "/nowhere", None)],
        )
    assert_one_write_each(calls, 2)
