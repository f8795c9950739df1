"""The local stack's SQS poller against moto's server: partial batch failures go back
to the queue, come back after its visibility timeout, and land in the DLQ after
maxReceiveCount receives, as with Lambda and SQS."""

from __future__ import annotations

import json
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import urllib3

from tether_dev.local.aws import MotoServer, client, provision, queue_url
from tether_dev.local.pollers import QueuePoller
from tether_dev.local.runtime import Invocation
from tether_dev.local.template import Function, Stack, load_template, read_stack

TEMPLATE = """
Resources:
  Dead:
    Type: AWS::SQS::Queue
  Work:
    Type: AWS::SQS::Queue
    Properties:
      VisibilityTimeout: 1
      RedrivePolicy: {deadLetterTargetArn: !GetAtt Dead.Arn, maxReceiveCount: 2}
  Worker:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: functions/worker/
      Handler: app.handler
      Events:
        Queue:
          Type: SQS
          Properties:
            Queue: !GetAtt Work.Arn
            BatchSize: 5
            FunctionResponseTypes: [ReportBatchItemFailures]
"""


@pytest.fixture
def moto() -> Iterator[MotoServer]:
    server = MotoServer("127.0.0.1", 0).start()
    # moto keeps its state per process, not per server: each test starts from none, so
    # no test sees the messages another left in its queues
    urllib3.request("POST", f"{server.url}/moto-api/reset")
    yield server
    server.stop()


@pytest.fixture
def stack(moto: MotoServer, tmp_path: Path) -> Stack:
    path = tmp_path / "template.yaml"
    path.write_text(textwrap.dedent(TEMPLATE))
    stack = read_stack(load_template(path), lambda name: queue_url(moto.url, name))
    provision(stack, moto.url)
    provision(stack, moto.url)  # a second start finds them
    return stack


class Worker:
    """Fails every message whose body says so; remembers each batch it got."""

    def __init__(self) -> None:
        self.batches: list[list[tuple[str, str]]] = []

    def __call__(self, function: Function, event: Any, request_id: str) -> Invocation:
        records = event["Records"]
        self.batches.append(
            [(r["body"], r["attributes"]["ApproximateReceiveCount"]) for r in records]
        )
        failures = [{"itemIdentifier": r["messageId"]} for r in records if "fail" in r["body"]]
        return Invocation(function.name, {"batchItemFailures": failures}, None, 1.0, False)


def test_failed_messages_return_after_the_visibility_timeout_then_go_to_the_dlq(
    moto: MotoServer, stack: Stack
) -> None:
    sqs = client("sqs", moto.url)
    work, dead = (queue_url(moto.url, stack.queue(q).name) for q in ("Work", "Dead"))
    for body in ("ok-1", "fail", "ok-2"):
        sqs.send_message(QueueUrl=work, MessageBody=body)
    worker = Worker()
    function = stack.functions[0]
    poller = QueuePoller(function, function.queue_sources[0], "Work", work, sqs, worker)

    assert poller.poll_once() == 3
    assert sorted(worker.batches[0]) == [("fail", "1"), ("ok-1", "1"), ("ok-2", "1")]
    assert poller.poll_once() == 0  # in flight: invisible until the timeout

    time.sleep(1.2)
    assert poller.poll_once() == 1
    assert worker.batches[-1] == [("fail", "2")]

    time.sleep(1.2)
    assert poller.poll_once() == 0  # a third receive would pass maxReceiveCount 2
    moved = sqs.receive_message(QueueUrl=dead, MaxNumberOfMessages=10)["Messages"]
    assert [m["Body"] for m in moved] == ["fail"]
    attributes = sqs.get_queue_attributes(QueueUrl=work, AttributeNames=["All"])["Attributes"]
    assert attributes["ApproximateNumberOfMessages"] == "0"
    assert json.loads(attributes["RedrivePolicy"])["maxReceiveCount"] == 2


def test_a_failed_invocation_returns_the_whole_batch(moto: MotoServer, stack: Stack) -> None:
    sqs = client("sqs", moto.url)
    work = queue_url(moto.url, stack.queue("Work").name)
    sqs.send_message(QueueUrl=work, MessageBody="ok")
    function = stack.functions[0]

    def crash(function: Function, event: Any, request_id: str) -> Invocation:
        return Invocation(function.name, None, RuntimeError("boom"), 1.0, False)

    poller = QueuePoller(function, function.queue_sources[0], "Work", work, sqs, crash)
    assert poller.poll_once() == 1
    time.sleep(1.2)
    again = sqs.receive_message(QueueUrl=work, AttributeNames=["All"])["Messages"]
    assert [(m["Body"], m["Attributes"]["ApproximateReceiveCount"]) for m in again] == [("ok", "2")]


def test_moto_sends_and_receives_without_counting_the_whole_queue(
    moto: MotoServer, stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A send and a received message each read one queue setting; moto built the whole
    attribute map for it, counting every message queued (O(queue) per message: the
    soak's moto sat at full CPU). GetQueueAttributes still counts."""
    from moto.sqs import models

    counted: list[int] = []
    real = models.Queue.approximate_number_of_messages_delayed

    def counting(queue: Any) -> int:
        counted.append(1)
        return int(real.fget(queue))  # type: ignore[attr-defined]

    monkeypatch.setattr(models.Queue, "approximate_number_of_messages_delayed", property(counting))
    sqs = client("sqs", moto.url)
    url = queue_url(moto.url, stack.queue("Work").name)
    for n in range(20):
        sqs.send_message(QueueUrl=url, MessageBody=f"message {n}")
    received = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    assert len(received) == 10
    assert counted == []
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert counted
    assert attributes["ApproximateNumberOfMessages"] == "10"
    assert attributes["ApproximateNumberOfMessagesNotVisible"] == "10"
    assert attributes["MessageRetentionPeriod"] == "345600"
