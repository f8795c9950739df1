"""The handlers are traced: run as in Lambda (its environment, a trace header), a
handler's invocation reaches the X-Ray daemon as Powertools' `## handler` subsegment of
the request's trace, and an AWS call as a subsegment of its own (botocore is patched
when the first client is made, not when the tracer is); with POWERTOOLS_TRACE_DISABLED,
or outside Lambda, nothing is sent and the X-Ray SDK is never loaded. The daemon here is
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
answer = {"status": response["statusCode"]}
if "--then-sqs" in sys.argv:
    # the first AWS call and the first provider request, after the tracer was made: a
    # queue and a provider nothing answers
    answer["botocore_loaded_by_the_tracer"] = "botocore.client" in sys.modules
    # (http.client is never patched: urllib3 2 requests do not pass X-Ray's patch)
    answer["httplib_patched"] = "aws_xray_sdk.ext.httplib" in sys.modules
    from tether.aws.clients import aws_client
    try:
        aws_client("sqs").send_message(QueueUrl="http://127.0.0.1:9/1/q", MessageBody="x")
    except Exception as error:
        answer["sqs"] = type(error).__name__
answer["xray_loaded"] = "aws_xray_sdk" in sys.modules
print(json.dumps(answer))
"""


def invoke_as_in_lambda(
    daemon: socket.socket, *arguments: str, **environment: str
) -> dict[str, Any]:
    host, port = daemon.getsockname()
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": os.environ.get("HOME", str(PROJECT_ROOT)),
        "LAMBDA_TASK_ROOT": str(PROJECT_ROOT),
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_MAX_ATTEMPTS": "1",
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
        [sys.executable, "-c", INVOKE_API, *arguments],
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
    assert invoke_as_in_lambda(daemon) == {"status": 200, "xray_loaded": True}
    documents = received(daemon)
    [handler] = [d for d in documents if d.get("name") == "## handler"]
    assert handler["trace_id"] == TRACE_ROOT
    assert handler["parent_id"] == "53995c3f42cd8ad8"
    assert handler["annotations"] == {"ColdStart": True, "Service": "tether"}
    # neither the response nor an error's text goes into the trace (phone numbers)
    assert "metadata" not in handler


def test_an_aws_call_is_a_subsegment_though_botocore_was_patched_after_the_tracer_was_made(
    daemon: socket.socket,
) -> None:
    answer = invoke_as_in_lambda(daemon, "--then-sqs")
    assert answer == {
        "status": 200,
        "botocore_loaded_by_the_tracer": False,
        "httplib_patched": False,
        "sqs": "EndpointConnectionError",
        "xray_loaded": True,
    }
    [call] = [d for d in received(daemon) if d.get("namespace") == "aws"]
    assert call["name"] == "sqs"
    assert call["aws"]["operation"] == "SendMessage"
    assert call["trace_id"] == TRACE_ROOT
    assert call["parent_id"] == "53995c3f42cd8ad8"  # the request's, as Lambda made it
    assert call["aws"]["queue_url"] == "http://127.0.0.1:9/1/q"


@pytest.mark.parametrize(
    "environment",
    [{"POWERTOOLS_TRACE_DISABLED": "true"}, {"LAMBDA_TASK_ROOT": ""}],
    ids=["disabled", "outside-lambda"],
)
def test_where_nothing_is_traced_nothing_is_sent_and_the_sdk_is_not_loaded(
    daemon: socket.socket, environment: dict[str, str]
) -> None:
    answer = invoke_as_in_lambda(daemon, "--then-sqs", **environment)
    assert answer == {
        "status": 200,
        "botocore_loaded_by_the_tracer": False,
        "httplib_patched": False,
        "sqs": "EndpointConnectionError",
        "xray_loaded": False,
    }
    assert received(daemon) == []
