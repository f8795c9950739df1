"""The handlers are traced: run as in Lambda (its environment, a trace header), a
handler's invocation reaches the X-Ray daemon as Powertools' `## handler` subsegment of
the request's trace; with POWERTOOLS_TRACE_DISABLED nothing is sent. The daemon here is
a UDP socket of the test's; each run is a fresh process, as a Lambda container is (the
X-Ray SDK's configuration is process-wide)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from typing import Any

import pytest

from tether.config import PROJECT_ROOT

TRACE_ROOT = "1-5759e988-bd862e3fe1be46a994272793"
INVOKE_API = """
import json, sys
from functions.api import app
from tests.support.lambda_context import LambdaContextStub
from tests.support.api_client import proxy_event

event = proxy_event("GET", "/v1/openapi.json", {}, None)
response = app.handler(event, LambdaContextStub(function_name="tether-api"))
print(json.dumps({"status": response["statusCode"]}))
"""


def invoke_as_in_lambda(daemon: socket.socket, **environment: str) -> dict[str, Any]:
    host, port = daemon.getsockname()
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": os.environ.get("HOME", str(PROJECT_ROOT)),
        "LAMBDA_TASK_ROOT": str(PROJECT_ROOT),
        "AWS_LAMBDA_FUNCTION_NAME": "tether-api",
        "_X_AMZN_TRACE_ID": f"Root={TRACE_ROOT};Parent=53995c3f42cd8ad8;Sampled=1",
        "AWS_XRAY_DAEMON_ADDRESS": f"{host}:{port}",
        "AWS_XRAY_CONTEXT_MISSING": "LOG_ERROR",
        "AWS_DEFAULT_REGION": "us-east-1",
        "POWERTOOLS_METRICS_NAMESPACE": "Tether",
        "OUTBOUND_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/outbound",
        "LAUNCH_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/launch",
        **environment,
    }
    ran = subprocess.run(
        [sys.executable, "-c", INVOKE_API],
        env=env,
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    answer: dict[str, Any] = json.loads(ran.stdout.strip().splitlines()[-1])
    return answer


def received(daemon: socket.socket) -> list[dict[str, Any]]:
    """The segment documents the daemon got: a header line, then the document."""
    documents: list[dict[str, Any]] = []
    daemon.settimeout(0.5)
    while True:
        try:
            datagram = daemon.recv(65536)
        except TimeoutError:
            return documents
        header, _, body = datagram.decode().partition("\n")
        assert json.loads(header) == {"format": "json", "version": 1}
        documents.append(json.loads(body))


@pytest.fixture
def daemon() -> Any:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        udp.bind(("127.0.0.1", 0))
        yield udp


def test_a_handler_invocation_is_a_subsegment_of_the_requests_trace(
    daemon: socket.socket,
) -> None:
    assert invoke_as_in_lambda(daemon) == {"status": 200}
    documents = received(daemon)
    [handler] = [d for d in documents if d.get("name") == "## handler"]
    assert handler["trace_id"] == TRACE_ROOT
    assert handler["parent_id"] == "53995c3f42cd8ad8"
    assert handler["annotations"] == {"ColdStart": True, "Service": "tether"}
    # neither the response nor an error's text goes into the trace (phone numbers)
    assert "metadata" not in handler


def test_a_disabled_tracer_sends_nothing(daemon: socket.socket) -> None:
    assert invoke_as_in_lambda(daemon, POWERTOOLS_TRACE_DISABLED="true") == {"status": 200}
    assert received(daemon) == []
