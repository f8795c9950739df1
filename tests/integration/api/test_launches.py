"""Launches at any size and on a schedule (issue 15 points 4 and 5), against real
PostgreSQL and moto's SQS: the launch answers 202 and LaunchQueue's chunks store each
lead's first message exactly once, whatever is delivered twice or dies mid-way; pause
stops the fan-out and resume carries it on; a scheduled launch fires at its time and
not a second before, and a cancelled one never; send_at holds a message, and quiet
hours at the recipient still hold it after."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.support.api_client import NOW, Api, Client
from tests.support.api_scenes import build_campaign
from tests.support.events import recorded
from tests.support.outbound import WEBHOOK_BASE_URL
from tests.support.sqs_records import send_ids
from tether.aws.sqs import SqsQueue
from tether.db.connection import FreshConnections
from tether.db.messages import SendContext
from tether.db.unit_of_work import UnitOfWork
from tether.domain.errors import ConstraintViolation
from tether.domain.launches import LaunchStatus
from tether.domain.message_status import MessageStatus
from tether.domain.outbox import EventType
from tether.providers import SendAccepted, SendCommand, SmsProvider
from tether.services import launches
from tether.services.launches import LaunchChunk, dispatch_launches, run_launch_chunk
from tether.services.outbound import OutboundMessage, Outcome, handle_queued_send, store_sends


class RecordingProvider:
    name = "sandbox"
    supports_idempotency_key = True

    def __init__(self) -> None:
        self.sent: list[SendCommand] = []

    def send(self, command: SendCommand) -> SendAccepted:
        self.sent.append(command)
        return SendAccepted("sandbox", f"sbx_{uuid.uuid4().hex}", MessageStatus.QUEUED, 1)

    def find_sent(self, command: SendCommand, sent_after: datetime) -> SendAccepted | None:
        return None


def take_chunks(api: Api) -> list[LaunchChunk]:
    """Every chunk message on LaunchQueue, taken off it (as a worker would receive them)."""
    taken: list[LaunchChunk] = []
    while True:
        batch = api.sqs.receive_message(QueueUrl=api.launch_queue_url, MaxNumberOfMessages=10).get(
            "Messages", []
        )
        if not batch:
            return taken
        for message in batch:
            api.sqs.delete_message(
                QueueUrl=api.launch_queue_url, ReceiptHandle=message["ReceiptHandle"]
            )
            taken.append(LaunchChunk.model_validate_json(message["Body"]))


def run(
    api: Api, chunk: LaunchChunk, now: datetime = NOW, size: int = 3, launch_queue: Any = None
) -> str:
    assert api.app is not None
    return run_launch_chunk(
        UnitOfWork(api.app, chunk.tenant_id),
        launch_queue or SqsQueue(api.launch_queue_url, api.sqs),
        SqsQueue(api.queue_url, api.sqs),
        chunk,
        now,
        size,
    )


def wake_at(api: Api, launch_id: str) -> Any:
    row = api.admin.execute("SELECT wake_at FROM launches WHERE id = %s", (launch_id,)).fetchone()
    assert row is not None
    return row["wake_at"]


def first_messages(api: Api, campaign_id: str) -> list[str]:
    rows = api.admin.execute(
        "SELECT lead_id FROM messages WHERE campaign_id = %s AND template = 'launch'",
        (campaign_id,),
    ).fetchall()
    return sorted(str(r["lead_id"]) for r in rows)


def assert_each_lead_once(api: Api, scene: Any) -> None:
    assert first_messages(api, scene.campaign_id) == sorted(scene.lead_ids)
    queued = send_ids(api.queued())
    assert len(queued) == len(set(queued)) == len(scene.lead_ids)


def test_chunks_delivered_twice_queue_each_lead_once(api: Api) -> None:
    client = api.tenant()
    scene = build_campaign(api, client, leads=7)
    started = client.post(f"/v1/campaigns/{scene.campaign_id}/launch")
    assert started.status == 202
    outcomes = []
    while chunks := take_chunks(api):
        (chunk,) = chunks  # one chunk of a launch is in flight at a time
        outcomes += [run(api, chunk), run(api, chunk)]  # SQS delivers at least once
    assert outcomes == ["running", "stale", "running", "stale", "complete", "stale"]
    assert_each_lead_once(api, scene)
    # one campaign.launch_progress per chunk stored (issue 16); a stale chunk records none
    assert api.app is not None
    progress = recorded(api.admin, api.app, client.tenant_id, EventType.CAMPAIGN_LAUNCH_PROGRESS)
    assert [(e.data["status"], e.data["queued"]) for e in progress] == [
        ("running", 3),
        ("running", 6),
        ("complete", 7),
    ]
    assert {e.data["launch_id"] for e in progress} == {started.body["id"]}
    launch = client.get(f"/v1/campaigns/{scene.campaign_id}/launches/{started.body['id']}")
    assert launch.body["status"] == "complete"
    assert (launch.body["queued"], launch.body["duplicates"], launch.body["chunks_done"]) == (
        7,
        0,
        3,
    )


def test_a_chunk_killed_mid_way_is_done_again_whole(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = api.tenant()
    scene = build_campaign(api, client, leads=7)
    started = client.post(f"/v1/campaigns/{scene.campaign_id}/launch")
    (first,) = take_chunks(api)
    assert run(api, first) == "running"
    (second,) = take_chunks(api)
    real = store_sends

    def dies_after_storing(*args: Any) -> Any:
        real(*args)
        raise RuntimeError("the container was stopped")

    monkeypatch.setattr(launches, "store_sends", dies_after_storing)
    with pytest.raises(RuntimeError):
        run(api, second)
    monkeypatch.setattr(launches, "store_sends", real)
    assert len(first_messages(api, scene.campaign_id)) == 3  # nothing of the dead chunk

    # dies after the next chunk's message went out, before its commit
    class SendsThenDies:
        def __init__(self) -> None:
            self.queue = SqsQueue(api.launch_queue_url, api.sqs)

        def send(self, body: str, **kwargs: Any) -> str:
            self.queue.send(body, **kwargs)
            raise RuntimeError("the container was stopped")

    with pytest.raises(RuntimeError):
        run(api, second, launch_queue=SendsThenDies())
    (orphan,) = take_chunks(api)
    assert orphan.seq == 2
    assert run(api, orphan) == "stale"  # its chunk's commit never happened
    assert len(first_messages(api, scene.campaign_id)) == 3
    # the redelivered message does the chunk, once
    assert run(api, second) == "running"
    (third,) = take_chunks(api)
    assert run(api, third) == "complete"
    assert run(api, second) == "stale"  # and a late copy changes nothing
    assert_each_lead_once(api, scene)
    launch = client.get(f"/v1/campaigns/{scene.campaign_id}/launches/{started.body['id']}")
    assert (launch.body["status"], launch.body["queued"]) == ("complete", 7)


def test_a_lost_chunk_message_is_redriven_by_the_dispatcher(
    api: Api, jobs_connections: FreshConnections
) -> None:
    client = api.tenant()
    scene = build_campaign(api, client, leads=4)
    started = client.post(f"/v1/campaigns/{scene.campaign_id}/launch")
    (first,) = take_chunks(api)
    assert run(api, first) == "running"
    take_chunks(api)  # the next chunk's message is lost
    queue = SqsQueue(api.launch_queue_url, api.sqs)
    mine = uuid.UUID(started.body["id"])
    dispatch_launches(UnitOfWork(jobs_connections), queue, NOW + timedelta(minutes=4))
    assert [c for c in take_chunks(api) if c.launch_id == mine] == []
    dispatch_launches(UnitOfWork(jobs_connections), queue, NOW + timedelta(minutes=5))
    (again,) = [c for c in take_chunks(api) if c.launch_id == mine]
    assert again.seq == 1
    assert run(api, again) == "complete"
    assert_each_lead_once(api, scene)
    launch = client.get(f"/v1/campaigns/{scene.campaign_id}/launches/{started.body['id']}")
    assert launch.body["status"] == "complete"


def test_pause_stops_the_fan_out_and_resume_carries_it_on(api: Api) -> None:
    client = api.tenant()
    scene = build_campaign(api, client, leads=5)
    started = client.post(f"/v1/campaigns/{scene.campaign_id}/launch")
    launch_path = f"/v1/campaigns/{scene.campaign_id}/launches/{started.body['id']}"
    (first,) = take_chunks(api)
    assert run(api, first) == "running"
    assert client.post(f"/v1/campaigns/{scene.campaign_id}/pause").status == 200
    (second,) = take_chunks(api)
    assert run(api, second) == "paused"
    assert take_chunks(api) == []  # the fan-out stopped
    paused = client.get(launch_path).body
    assert (paused["status"], paused["queued"]) == ("paused", 3)
    assert api.app is not None
    progress = recorded(api.admin, api.app, client.tenant_id, EventType.CAMPAIGN_LAUNCH_PROGRESS)
    assert [(e.data["status"], e.data["queued"]) for e in progress] == [
        ("running", 3),
        ("paused", 3),
    ]
    assert len(first_messages(api, scene.campaign_id)) == 3
    # a second launch waits for this one
    refused = client.post(f"/v1/campaigns/{scene.campaign_id}/launch")
    assert refused.status == 409

    assert client.post(f"/v1/campaigns/{scene.campaign_id}/resume").status == 200
    assert api.run_launches(chunk_size=3) == ["complete"]
    done = client.get(launch_path).body
    assert (done["status"], done["queued"]) == ("complete", 5)
    assert first_messages(api, scene.campaign_id) == sorted(scene.lead_ids)


def test_a_scheduled_launch_fires_at_its_time_and_not_a_second_before(
    api: Api, jobs_connections: FreshConnections
) -> None:
    client = api.tenant()
    scene = build_campaign(api, client, leads=2)
    at = NOW + timedelta(minutes=30)
    started = client.post(
        f"/v1/campaigns/{scene.campaign_id}/launch", {"launch_at": at.isoformat()}
    )
    assert started.status == 202
    assert (started.body["status"], started.body["launch_at"]) == (
        "scheduled",
        at.isoformat().replace("+00:00", "Z"),
    )
    assert client.get(f"/v1/campaigns/{scene.campaign_id}").body["status"] == "staged"
    assert take_chunks(api) == []  # far ahead: the dispatcher's
    queue = SqsQueue(api.launch_queue_url, api.sqs)

    def dispatch(now: datetime) -> bool:
        """Whether the dispatcher handed this launch to the queue (other tests' launches
        share the database)."""
        before = wake_at(api, started.body["id"])
        dispatch_launches(UnitOfWork(jobs_connections), queue, now)
        return bool(wake_at(api, started.body["id"]) != before)

    assert not dispatch(at - timedelta(minutes=2, seconds=1))
    assert dispatch(at - timedelta(minutes=2))
    delayed = api.sqs.get_queue_attributes(
        QueueUrl=api.launch_queue_url, AttributeNames=["ApproximateNumberOfMessagesDelayed"]
    )["Attributes"]["ApproximateNumberOfMessagesDelayed"]
    assert delayed == "1"  # it waits in the queue until its time
    assert not dispatch(at - timedelta(minutes=1))  # handed over once
    chunk = LaunchChunk(tenant_id=client.tenant_id, launch_id=started.body["id"], seq=0)
    # a queue delivering early: the chunk waits again, and nothing is stored
    assert run(api, chunk, now=at - timedelta(seconds=1)) == "early"
    assert first_messages(api, scene.campaign_id) == []
    launch_path = f"/v1/campaigns/{scene.campaign_id}/launches/{started.body['id']}"
    assert client.get(launch_path).body["status"] == "scheduled"
    assert run(api, chunk, now=at) == "complete"
    fired = client.get(launch_path).body
    assert (fired["status"], fired["queued"]) == ("complete", 2)
    assert fired["started_at"] == at.isoformat().replace("+00:00", "Z")
    assert client.get(f"/v1/campaigns/{scene.campaign_id}").body["status"] == "active"
    # fired: too late to cancel
    late = client.post(f"{launch_path}/cancel")
    assert late.status == 409
    assert "fired" in late.body["message"]


def test_a_cancelled_launch_never_fires(api: Api, jobs_connections: FreshConnections) -> None:
    client = api.tenant()
    scene = build_campaign(api, client, leads=2)
    at = NOW + timedelta(minutes=1)  # soon: handed to the queue at once, with a delay
    started = client.post(
        f"/v1/campaigns/{scene.campaign_id}/launch", {"launch_at": at.isoformat()}
    )
    launch_path = f"/v1/campaigns/{scene.campaign_id}/launches/{started.body['id']}"
    cancelled = client.post(f"{launch_path}/cancel")
    assert cancelled.status == 200
    assert cancelled.body["status"] == "cancelled"
    assert client.post(f"{launch_path}/cancel").body["status"] == "cancelled"
    queue = SqsQueue(api.launch_queue_url, api.sqs)
    assert wake_at(api, started.body["id"]) is None
    for later in (at, at + timedelta(hours=1)):
        dispatch_launches(UnitOfWork(jobs_connections), queue, later)
        assert wake_at(api, started.body["id"]) is None
    chunk = LaunchChunk(tenant_id=client.tenant_id, launch_id=started.body["id"], seq=0)
    assert run(api, chunk, now=at) == "stale"  # the message sent before the cancel
    assert first_messages(api, scene.campaign_id) == []
    assert client.get(f"/v1/campaigns/{scene.campaign_id}").body["status"] == "staged"
    # the database keeps it cancelled, whatever Python tries
    with UnitOfWork(jobs_connections) as uow:
        found = uow.launches.get(uuid.UUID(started.body["id"]))
        assert found is not None
        revived = replace(found, status=LaunchStatus.RUNNING, cancelled_at=None)
        with pytest.raises(ConstraintViolation, match="cannot move from cancelled to running"):
            uow.launches.save(revived)
    # a new launch may follow a cancelled one
    assert api.launch(client, scene.campaign_id).body["queued"] == 2


@pytest.mark.parametrize(
    ("launch_at", "words"),
    [
        ("2026-12-01T10:00:00", "timezone"),
        ("2028-01-01T10:00:00Z", "more than a year"),
        ("soon", "launch_at"),
    ],
)
def test_a_bad_launch_at_is_a_422_naming_it(api: Api, launch_at: str, words: str) -> None:
    client = api.tenant()
    scene = build_campaign(api, client, leads=1)
    refused = client.post(f"/v1/campaigns/{scene.campaign_id}/launch", {"launch_at": launch_at})
    assert refused.status == 422, refused
    assert words in str(refused.body)
    assert api.admin.execute(
        "SELECT count(*) AS n FROM launches WHERE campaign_id = %s", (scene.campaign_id,)
    ).fetchone() == {"n": 0}


def send_at(client: Client, scene: Any, at: datetime) -> Any:
    return client.post(
        "/v1/messages",
        {
            "campaign_id": scene.campaign_id,
            "lead_id": scene.lead_ids[0],
            "body": "See you tomorrow",
            "send_at": at.isoformat(),
        },
    )


def test_send_at_holds_a_message_and_quiet_hours_hold_it_after(
    api: Api, app_connections: FreshConnections
) -> None:
    client = api.tenant()
    scene = build_campaign(api, client, leads=1)  # a 650 number: Pacific time
    at = datetime(2026, 11, 22, 5, 0, tzinfo=UTC)  # 21:00 in California: quiet hours
    sent = send_at(client, scene, at)
    assert sent.status == 202
    provider = RecordingProvider()

    def providers(_: SendContext) -> SmsProvider:
        return provider

    queue = SqsQueue(api.queue_url, api.sqs)

    def deliver(now: datetime) -> Any:
        (queued,) = api.queued()
        message = OutboundMessage.model_validate(queued)
        return handle_queued_send(
            UnitOfWork(app_connections, message.tenant_id),
            queue,
            message,
            providers,
            now,
            webhook_base_url=WEBHOOK_BASE_URL,
        )

    early = deliver(NOW)
    assert (early.outcome, early.not_before, early.reason) == (Outcome.DEFERRED, at, "not yet due")
    assert provider.sent == []
    # far ahead: the sweeper's, when due, not a queue delay's
    api.admin.execute(
        "UPDATE messages SET enqueued_at = now() WHERE id = %s", (sent.body["message_id"],)
    )
    held = handle_queued_send(
        UnitOfWork(app_connections, client.tenant_id),
        queue,
        OutboundMessage(tenant_id=client.tenant_id, message_id=sent.body["message_id"]),
        providers,
        at - timedelta(seconds=1),
        webhook_base_url=WEBHOOK_BASE_URL,
    )
    assert held.reason == "not yet due"
    api.queued()  # the re-queued copy
    quiet = handle_queued_send(
        UnitOfWork(app_connections, client.tenant_id),
        queue,
        OutboundMessage(tenant_id=client.tenant_id, message_id=sent.body["message_id"]),
        providers,
        at,
        webhook_base_url=WEBHOOK_BASE_URL,
    )
    assert quiet.outcome is Outcome.DEFERRED
    assert quiet.reason == "quiet hours at the recipient"
    assert quiet.not_before == datetime(2026, 11, 22, 16, 0, tzinfo=UTC)  # 08:00 in California
    assert provider.sent == []
    opened = handle_queued_send(
        UnitOfWork(app_connections, client.tenant_id),
        queue,
        OutboundMessage(tenant_id=client.tenant_id, message_id=sent.body["message_id"]),
        providers,
        quiet.not_before,
        webhook_base_url=WEBHOOK_BASE_URL,
    )
    assert opened.outcome is Outcome.SENT
    assert [c.body for c in provider.sent] == ["See you tomorrow"]
    # sent: too late to cancel
    late = client.post(f"/v1/messages/{sent.body['message_id']}/cancel")
    assert late.status == 409
    assert (
        late.body["message"]
        == "too late to cancel: the message is sent and its provider may have it"
    )


def test_a_cancelled_message_is_never_sent(api: Api, app_connections: FreshConnections) -> None:
    client = api.tenant()
    scene = build_campaign(api, client, leads=1)
    sent = send_at(client, scene, NOW + timedelta(hours=2))
    message_id = sent.body["message_id"]
    cancelled = client.post(f"/v1/messages/{message_id}/cancel")
    assert (cancelled.status, cancelled.body["status"]) == (200, "canceled")
    assert client.post(f"/v1/messages/{message_id}/cancel").status == 200
    provider = RecordingProvider()
    (queued,) = api.queued()
    outcome = handle_queued_send(
        UnitOfWork(app_connections, client.tenant_id),
        SqsQueue(api.queue_url, api.sqs),
        OutboundMessage.model_validate(queued),
        lambda _: provider,
        NOW + timedelta(hours=3),
        webhook_base_url=WEBHOOK_BASE_URL,
    )
    assert outcome.outcome is Outcome.ALREADY_DONE
    assert provider.sent == []
    assert client.post(f"/v1/messages/{uuid.uuid4()}/cancel").status == 404
    bad = client.post(
        "/v1/messages",
        {
            "campaign_id": scene.campaign_id,
            "lead_id": scene.lead_ids[0],
            "body": "Hi",
            "send_at": "2026-12-01T10:00:00",  # no offset
        },
    )
    assert bad.status == 422


def test_one_launch_is_open_per_campaign_in_the_database(
    api: Api, jobs_connections: FreshConnections
) -> None:
    client = api.tenant()
    scene = build_campaign(api, client, leads=1)
    first = client.post(
        f"/v1/campaigns/{scene.campaign_id}/launch",
        {"launch_at": (NOW + timedelta(days=1)).isoformat()},
    )
    assert first.status == 202
    second = client.post(f"/v1/campaigns/{scene.campaign_id}/launch")
    assert second.status == 409
    assert "launch under way" in second.body["message"]
    insert: Callable[[], Any] = lambda: api.admin.execute(  # noqa: E731
        "INSERT INTO launches (tenant_id, campaign_id, status, started_at)"
        " VALUES (%s, %s, 'running', now())",
        (client.tenant_id, scene.campaign_id),
    )
    with pytest.raises(Exception, match="launches_one_open_per_campaign"):
        insert()


def test_a_repeated_launch_request_answers_the_first_launch(api: Api) -> None:
    client = api.tenant()
    scene = build_campaign(api, client, leads=1)
    path = f"/v1/campaigns/{scene.campaign_id}/launch"
    key = {"Idempotency-Key": f"launch-{uuid.uuid4()}"}
    # no body at all: a launch now
    first = client.request("POST", path, None, headers=key)
    assert first.status == 202, first
    again = client.request("POST", path, None, headers=key)
    assert again.status == 202
    assert again.body["id"] == first.body["id"]
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert len(take_chunks(api)) == 1  # one launch, handed to the queue once
    assert api.admin.execute(
        "SELECT count(*) AS n FROM launches WHERE campaign_id = %s", (scene.campaign_id,)
    ).fetchone() == {"n": 1}
