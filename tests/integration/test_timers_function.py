"""The timers function as deployed: a scheduled event in, moto's SQS for OutboundQueue,
real PostgreSQL; the sweeper re-drives a send the queue did not take."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest

from functions.timers import app as timers_app
from tests.support.factories import Deploy, Queue
from tests.support.lambda_context import LambdaContextStub
from tests.support.outbound import NOW
from tests.support.sqs_records import send_ids
from tests.support.timers import World
from tether.aws.sqs import SqsQueue
from tether.db.connection import Connection, FreshConnections
from tether.db.unit_of_work import UnitOfWork
from tether.services.outbound import redrive_waiting_sends
from tether_dev.sandbox import SandboxServer


@pytest.fixture
def deployed(deploy: Deploy) -> None:
    from tether.config import timers_settings
    from tether.queues import queue_at

    deploy(timers_settings, queue_at)


@pytest.fixture
def world(
    admin: Connection,
    app_connections: FreshConnections,
    jobs_connections: FreshConnections,
    sandbox: SandboxServer,
) -> World:
    return World(admin, app_connections, jobs_connections, sandbox)


def scheduled(at: str) -> dict[str, Any]:
    with open("events/timers.json") as sample:
        event: dict[str, Any] = json.load(sample)
    return event | {"time": at}


def test_a_scheduled_run_fires_due_timers_and_enqueues_their_sends(
    deployed: None, world: World, queue: Queue
) -> None:
    leads = [world.touched(f"+1415555{n:04d}") for n in range(300, 303)]
    week = (NOW + timedelta(days=7)).isoformat().replace("+00:00", "Z")

    result = timers_app.handler(scheduled(week), LambdaContextStub("tether-timers"))
    # launches_dispatched: other tests' scheduled launches share the database
    assert {k: v for k, v in result.items() if k != "launches_dispatched"} == {
        "fired": 3,
        "cancelled": 0,
        "failed": 0,
        "gave_up": 0,
        "sends": 3,
        "enqueued": 3,
        "remaining": 0,
        "batches": 1,
    }
    sent = {world.timers(lead)["TIMER_7D"]["message_id"] for lead in leads}
    assert set(send_ids(queue.take())) == {str(m) for m in sent}
    # a second delivery of the same schedule finds nothing left to do
    assert timers_app.handler(scheduled(week), LambdaContextStub("tether-timers"))["fired"] == 0


def test_a_send_the_queue_did_not_take_is_re_driven_by_the_sweeper(
    deployed: None, world: World, queue: Queue, monkeypatch: pytest.MonkeyPatch
) -> None:
    lead_id = world.touched()
    week = (NOW + timedelta(days=7)).isoformat().replace("+00:00", "Z")
    with monkeypatch.context() as patch:  # the queue refuses every send of the batch
        patch.setattr(
            "tether.aws.sqs.SqsQueue.send_batch", lambda self, bodies: list(range(len(bodies)))
        )
        result = timers_app.handler(scheduled(week), LambdaContextStub("tether-timers"))
    assert (result["fired"], result["sends"], result["enqueued"]) == (1, 1, 0)
    assert queue.take() == []

    message_id = world.timers(lead_id)["TIMER_7D"]["message_id"]
    report = redrive_waiting_sends(
        UnitOfWork(world.jobs),
        SqsQueue(queue.url, queue.client),
        NOW + timedelta(days=7, minutes=1),
    )
    assert report.enqueued >= 1
    assert str(message_id) in send_ids(queue.take())


def test_send_batch_puts_every_body_on_the_queue_once(queue: Queue) -> None:
    bodies = [json.dumps({"message_id": str(n)}) for n in range(25)]  # three calls at once
    assert SqsQueue(queue.url, queue.client).send_batch(bodies) == []
    assert sorted(int(message["message_id"]) for message in queue.take()) == list(range(25))


def test_send_batch_reports_what_an_unreachable_queue_did_not_take(queue: Queue) -> None:
    missing = SqsQueue(queue.url.replace("outbound", "missing"), queue.client)
    assert missing.send_batch(["a", "b", "c"]) == [0, 1, 2]
