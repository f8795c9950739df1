"""Functions run in process as Lambda runs them: their own variables only, a context
that counts down the template's timeout, errors and overruns reported, not raised.
Integration tier: the runner imports code from disk and its timeouts run on the wall clock."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import pytest

from tether_dev.local.runtime import FunctionRunner
from tether_dev.local.template import Stack, load_template, read_stack

TEMPLATE = """
Resources:
  EchoFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: functions/echo/
      Handler: app.handler
      Timeout: 7
      Environment: {Variables: {ECHO_ONLY: echo}}
  OtherFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: functions/other/
      Handler: main.run
      Timeout: 1
      Environment: {Variables: {OTHER_ONLY: other}}
"""

ECHO = """
import os

def handler(event, context):
    if event.get("fail"):
        raise ValueError("asked to fail")
    return {
        "event": event,
        "echo": os.environ.get("ECHO_ONLY"),
        "other": os.environ.get("OTHER_ONLY"),
        "base": os.environ.get("AWS_ENDPOINT_URL"),
        "remaining": context.get_remaining_time_in_millis(),
        "name": context.function_name,
        "request": context.aws_request_id,
    }
"""

OTHER = """
import os, time

def run(event, context):
    time.sleep(event.get("sleep", 0))
    return {"echo": os.environ.get("ECHO_ONLY"), "other": os.environ.get("OTHER_ONLY")}
"""


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Stack, Path]:
    monkeypatch.setattr(os, "environ", dict(os.environ))  # the runner writes the environment
    (tmp_path / "template.yaml").write_text(textwrap.dedent(TEMPLATE))
    for folder, module, code in (("echo", "app.py", ECHO), ("other", "main.py", OTHER)):
        (tmp_path / "functions" / folder).mkdir(parents=True)
        (tmp_path / "functions" / folder / module).write_text(textwrap.dedent(code))
    stack = read_stack(load_template(tmp_path / "template.yaml"), lambda name: name)
    return stack, tmp_path


def test_a_function_sees_its_variables_the_local_ones_and_its_context(
    project: tuple[Stack, Path],
) -> None:
    stack, root = project
    runner = FunctionRunner(stack, root, {"AWS_ENDPOINT_URL": "http://moto"})
    runner.invoke(stack.function("other"), {})  # leaves its variable behind, if it could

    echo = runner.invoke(stack.function("echo"), {"n": 1}, request_id="req-1")
    assert not echo.failed
    result = echo.result
    assert (result["event"], result["echo"], result["other"]) == ({"n": 1}, "echo", None)
    assert result["base"] == "http://moto"
    assert 6_000 < result["remaining"] <= 7_000
    assert (result["name"], result["request"]) == ("tether-local-EchoFunction", "req-1")

    other = runner.invoke(stack.function("other"), {})
    assert other.result == {"echo": None, "other": "other"}


def test_an_exception_is_the_invocations_error(project: tuple[Stack, Path]) -> None:
    stack, root = project
    invocation = FunctionRunner(stack, root, {}).invoke(stack.function("echo"), {"fail": True})
    assert invocation.failed
    assert isinstance(invocation.error, ValueError)
    payload = invocation.error_payload()
    assert (payload["errorType"], payload["errorMessage"]) == ("ValueError", "asked to fail")


def test_running_past_the_timeout_fails_the_invocation(project: tuple[Stack, Path]) -> None:
    stack, root = project
    invocation = FunctionRunner(stack, root, {}).invoke(stack.function("other"), {"sleep": 1.05})
    assert invocation.timed_out
    assert invocation.failed
    assert invocation.error_payload()["errorMessage"].startswith("Task timed out after 1.")
