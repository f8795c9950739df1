"""The local gateway over raw sockets: malformed framing gets a 400 (never silence),
and a burst of 200 concurrent connections is answered in full (its listen backlog is a
real server's, not socketserver's 5)."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tether_dev.local.gateway import LocalGateway
from tether_dev.local.runtime import Invocation
from tether_dev.local.serving import LocalHttpServer
from tether_dev.local.template import Route

ROUTES = [
    Route("GET", "/v1/health", None, mock_status=200, mock_body='{"status":"ok"}'),
    Route("ANY", "/v1/{proxy+}", "ApiFunction"),
]


def echo(logical_id: str, event: dict[str, Any], request_id: str) -> Invocation:
    body = json.dumps({"body": event["body"], "base64": event["isBase64Encoded"]})
    return Invocation("api", {"statusCode": 200, "body": body}, None, 1.0, False)


@pytest.fixture
def gateway() -> Iterator[LocalGateway]:
    gateway = LocalGateway(ROUTES, "dev", echo, "127.0.0.1", 0).start()
    yield gateway
    gateway.close()


def exchange(gateway: LocalGateway, raw: bytes, timeout: float = 10.0) -> bytes:
    """Send `raw` on a new connection, half-close, read the whole answer."""
    host, port = gateway.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=timeout) as conn:
        conn.sendall(raw)
        conn.shutdown(socket.SHUT_WR)
        received = b""
        while chunk := conn.recv(65536):
            received += chunk
    return received


def status_of(answer: bytes) -> int:
    assert answer.startswith(b"HTTP/1.1 "), answer[:100]
    return int(answer.split(b" ", 2)[1])


def post(headers: str, body: bytes = b"") -> bytes:
    return (
        "POST /v1/leads HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
        + headers
        + "\r\n"
    ).encode() + body


def test_the_listen_backlog_is_a_real_servers() -> None:
    assert LocalHttpServer.request_queue_size >= 128


def test_well_framed_bodies_reach_the_function(gateway: LocalGateway) -> None:
    plain = exchange(gateway, post("Content-Length: 2\r\n", b"{}"))
    chunked = exchange(
        gateway,
        post("Transfer-Encoding: chunked\r\n", b"1;ext=1\r\n{\r\n1\r\n}\r\n0\r\nX-T: 1\r\n\r\n"),
    )
    same_twice = exchange(gateway, post("Content-Length: 2\r\nContent-Length: 2\r\n", b"{}"))
    for answer in (plain, chunked, same_twice):
        assert status_of(answer) == 200, answer
        assert json.loads(answer.split(b"\r\n\r\n", 1)[1])["body"] == "{}"


MALFORMED = {
    "length not a number": post("Content-Length: abc\r\n", b"{}"),
    "negative length": post("Content-Length: -1\r\n", b"{}"),
    "length with a sign": post("Content-Length: +2\r\n", b"{}"),
    "length as a float": post("Content-Length: 2.0\r\n", b"{}"),
    "length in exponent form": post("Content-Length: 2e0\r\n", b"{}"),
    "length of superscript digits": post(
        "Content-Length: \u00b2\r\n".encode("latin-1").decode("latin-1"), b"{}"
    ),
    "length of 5000 digits": post(f"Content-Length: {'9' * 5000}\r\n", b"{}"),
    "lengths that disagree": post("Content-Length: 2\r\nContent-Length: 3\r\n", b"{}x"),
    "a list of lengths that disagree": post("Content-Length: 2, 3\r\n", b"{}x"),
    "both framings": post("Content-Length: 2\r\nTransfer-Encoding: chunked\r\n", b"0\r\n\r\n"),
    "unknown transfer coding": post("Transfer-Encoding: gzip\r\n", b"{}"),
    "chunk size not hex": post("Transfer-Encoding: chunked\r\n", b"zz\r\n{}\r\n0\r\n\r\n"),
    "negative chunk size": post("Transfer-Encoding: chunked\r\n", b"-2\r\n{}\r\n0\r\n\r\n"),
    "chunk size with a sign": post("Transfer-Encoding: chunked\r\n", b"+2\r\n{}\r\n0\r\n\r\n"),
    "huge chunk size": post("Transfer-Encoding: chunked\r\n", b"f" * 5000 + b"\r\n{}\r\n0\r\n\r\n"),
    "chunk shorter than its size": post("Transfer-Encoding: chunked\r\n", b"9\r\n{}\r\n"),
    "chunk without its CRLF": post("Transfer-Encoding: chunked\r\n", b"2\r\n{}XX0\r\n\r\n"),
    "no last chunk": post("Transfer-Encoding: chunked\r\n", b"2\r\n{}\r\n"),
    "body shorter than its length": post("Content-Length: 10\r\n", b"{}"),
}


@pytest.mark.parametrize("raw", MALFORMED.values(), ids=MALFORMED.keys())
def test_malformed_framing_is_a_400_that_says_what_is_wrong(
    gateway: LocalGateway, raw: bytes
) -> None:
    answer = exchange(gateway, raw)
    assert status_of(answer) == 400, answer
    head, _, body = answer.partition(b"\r\n\r\n")
    assert b"Connection: close" in head
    assert json.loads(body)["message"]


def test_a_body_over_api_gateways_limit_is_413(gateway: LocalGateway) -> None:
    answer = exchange(gateway, post(f"Content-Length: {10 * 1024 * 1024 + 1}\r\n"))
    assert status_of(answer) == 413


def test_a_burst_of_200_concurrent_connections_is_answered_in_full(
    gateway: LocalGateway,
) -> None:
    host, port = gateway.url.removeprefix("http://").split(":")
    request = b"GET /v1/health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    burst = 200
    answers: list[int | str] = [0] * burst
    go = threading.Barrier(burst)

    def talk(index: int) -> None:
        try:
            go.wait()  # every connect at once
            with socket.create_connection((host, int(port)), timeout=30) as conn:
                conn.sendall(request)
                received = b""
                while chunk := conn.recv(4096):
                    received += chunk
            answers[index] = status_of(received)
        except Exception as error:
            answers[index] = repr(error)

    started = time.monotonic()
    threads = [threading.Thread(target=talk, args=(i,)) for i in range(burst)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert answers == [200] * burst
    # no connection waited for a dropped SYN's retransmission (1 s and more)
    assert time.monotonic() - started < 5
