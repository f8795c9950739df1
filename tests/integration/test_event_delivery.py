"""Events from the outbox to their sinks (issue 16), on real PostgreSQL and moto: the
relay after the commit, the sweeper's re-drive of what it missed, and deliver_events
putting them on the Tether event bus (a rule's SQS target shows what arrived)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from moto import mock_aws

from functions.deliver_events import app as deliver_app
from tests.support.events import check
from tests.support.factories import Chain, Deploy, Queue
from tests.support.lambda_context import LambdaContextStub
from tests.support.sqs_records import sqs_record
from tether.aws.eventbridge import EventBridgeSink
from tether.aws.sqs import SqsQueue
from tether.db.connection import Connection, FreshConnections
from tether.db.unit_of_work import UnitOfWork
from tether.domain.errors import DependencyUnavailable
from tether.domain.outbox import EventType, OutboxEvent, opted_out_data, state_changed_data
from tether.services.events import (
    EventsMessage,
    QueueRelay,
    deliver_events,
    redrive_unrelayed_events,
)
from tether.services.leases import lease_number

AT = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
BUS = "tether-test"


@dataclass
class Aws:
    sqs: Any
    events: Any
    events_queue: str  # EventsQueue
    opt_outs: str  # the example rule's target: lead.opted_out only

    def take(self, url: str) -> list[dict[str, Any]]:
        taken: list[dict[str, Any]] = []
        while batch := self.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get(
            "Messages", []
        ):
            for message in batch:
                self.sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
                taken.append(json.loads(message["Body"]))
        return taken


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[Aws]:
    for name, value in {
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
    }.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        session = boto3.session.Session(region_name="us-east-1")
        sqs, events = session.client("sqs"), session.client("events")
        events_queue = sqs.create_queue(QueueName="events")["QueueUrl"]
        opt_outs = sqs.create_queue(QueueName="opt-outs")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=opt_outs, AttributeNames=["QueueArn"])
        events.create_event_bus(Name=BUS)
        # as template.yaml's OptedOutRule
        events.put_rule(
            Name="opted-out",
            EventBusName=BUS,
            EventPattern=json.dumps({"source": ["tether"], "detail-type": ["lead.opted_out"]}),
        )
        events.put_targets(
            Rule="opted-out",
            EventBusName=BUS,
            Targets=[{"Id": "q", "Arn": arn["Attributes"]["QueueArn"]}],
        )
        yield Aws(sqs, events, events_queue, opt_outs)


def record_two(uow: UnitOfWork, chain: Chain) -> list[OutboxEvent]:
    """An opt-out and its state change, as one effect's transaction records them."""
    return [
        uow.outbox.record(
            chain.tenant_id,
            EventType.LEAD_OPTED_OUT,
            opted_out_data(
                chain.lead_id,
                chain.lead_phone,
                number_id=chain.number_id,
                number=chain.number,
                keyword="stop",
                source="reply",
            ),
            AT,
            lead_id=chain.lead_id,
        ),
        uow.outbox.record(
            chain.tenant_id,
            EventType.LEAD_STATE_CHANGED,
            state_changed_data(chain.lead_id, "touched", "suppressed", "REPLY_RECEIVED"),
            AT,
            lead_id=chain.lead_id,
        ),
    ]


def relayed_at(admin: Connection, events: list[OutboxEvent]) -> list[datetime | None]:
    rows = admin.execute(
        "SELECT relayed_at FROM outbox_events WHERE id = ANY(%s) ORDER BY seq",
        ([e.id for e in events],),
    ).fetchall()
    return [row["relayed_at"] for row in rows]


def test_the_commit_hands_its_events_to_the_queue_and_the_sweeper_redrives_a_miss(
    aws: Aws, chain: Chain, admin: Connection, app_connections: FreshConnections,
    jobs_connections: FreshConnections,
) -> None:  # fmt: skip
    # earlier tests in this database left events no relay took: as if swept already
    admin.execute("UPDATE outbox_events SET relayed_at = now() WHERE relayed_at IS NULL")
    admin.commit()
    queue = SqsQueue(aws.events_queue, aws.sqs)
    relay = QueueRelay(queue, lambda: AT)
    with UnitOfWork(app_connections, chain.tenant_id, relay=relay) as uow:
        events = record_two(uow, chain)
        uow.commit()
    assert aws.take(aws.events_queue) == [
        {"tenant_id": str(chain.tenant_id), "event_ids": [str(e.id) for e in events]}
    ]
    assert relayed_at(admin, events) == [AT, AT]
    # the queue is gone when the next commit ends: the use case still succeeds ...
    gone = QueueRelay(SqsQueue(aws.events_queue + "-deleted", aws.sqs), lambda: AT)
    with UnitOfWork(app_connections, chain.tenant_id, relay=gone) as uow:
        missed = record_two(uow, chain)
        uow.commit()
    assert relayed_at(admin, missed) == [None, None]
    # ... and the sweeper relays what it missed, once its grace has passed since they
    # were written (on the database's clock, whatever time the effect gave them)
    sweep_at = datetime.now(UTC) + timedelta(seconds=11)
    assert (
        redrive_unrelayed_events(
            UnitOfWork(jobs_connections), queue, sweep_at, grace=timedelta(seconds=10)
        )
        >= 2
    )
    sent = [
        m for m in aws.take(aws.events_queue) if m["tenant_id"] == str(chain.tenant_id)
    ]  # the job works across tenants: other tests' rows may go with ours
    assert sent == [{"tenant_id": str(chain.tenant_id), "event_ids": [str(e.id) for e in missed]}]
    assert relayed_at(admin, missed) == [sweep_at, sweep_at]
    # a second sweep relays nothing of ours again (the database is shared with other
    # tests' tenants, which may leave events unrelayed: only ours are counted)
    redrive_unrelayed_events(
        UnitOfWork(jobs_connections), queue, sweep_at, grace=timedelta(seconds=10)
    )
    assert [m for m in aws.take(aws.events_queue) if m["tenant_id"] == str(chain.tenant_id)] == []


def test_an_event_a_job_dated_ahead_is_redriven_once_the_grace_has_passed(
    aws: Aws, chain: Chain, admin: Connection, app_connections: FreshConnections,
    jobs_connections: FreshConnections,
) -> None:  # fmt: skip
    """The timers run at a clock days ahead (the soak's; a skewed host's): an event of
    theirs whose hand-over failed was re-driven only once that time came. The grace
    counts from when it was written (found by the short soak, seed 664471)."""
    ahead = datetime.now(UTC) + timedelta(days=30)
    gone = QueueRelay(SqsQueue(aws.events_queue + "-deleted", aws.sqs), lambda: ahead)
    with UnitOfWork(app_connections, chain.tenant_id, relay=gone) as uow:
        missed = uow.outbox.record(chain.tenant_id, EventType.CALL_QUEUED, {}, ahead)
        uow.commit()
    assert relayed_at(admin, [missed]) == [None]
    queue = SqsQueue(aws.events_queue, aws.sqs)
    sweep_at = datetime.now(UTC) + timedelta(seconds=11)
    redrive_unrelayed_events(
        UnitOfWork(jobs_connections), queue, sweep_at, grace=timedelta(seconds=10)
    )
    sent = [m for m in aws.take(aws.events_queue) if m["tenant_id"] == str(chain.tenant_id)]
    assert sent == [{"tenant_id": str(chain.tenant_id), "event_ids": [str(missed.id)]}]
    assert relayed_at(admin, [missed]) == [sweep_at]


def test_an_event_recorded_within_the_grace_waits_for_its_own_relay(
    aws: Aws, chain: Chain, app_connections: FreshConnections, jobs_connections: FreshConnections
) -> None:
    with UnitOfWork(app_connections, chain.tenant_id) as uow:
        uow.outbox.record(chain.tenant_id, EventType.CALL_QUEUED, {}, None)
        uow.commit()
    queue = SqsQueue(aws.events_queue, aws.sqs)
    redrive_unrelayed_events(
        UnitOfWork(jobs_connections), queue, datetime.now(UTC), grace=timedelta(minutes=5)
    )
    assert [m for m in aws.take(aws.events_queue) if m["tenant_id"] == str(chain.tenant_id)] == []


def test_deliver_events_puts_each_event_on_the_bus_as_its_envelope(
    aws: Aws, chain: Chain, app_connections: FreshConnections
) -> None:
    with UnitOfWork(app_connections, chain.tenant_id) as uow:
        events = record_two(uow, chain)
        uow.commit()
    message = EventsMessage(tenant_id=chain.tenant_id, event_ids=[e.id for e in events])
    sink = EventBridgeSink(BUS, aws.events)

    def tenant_uow(tenant_id: uuid.UUID | None) -> UnitOfWork:
        return UnitOfWork(app_connections, tenant_id)

    assert deliver_events(tenant_uow, [sink], message, AT) == 2
    # the example rule takes lead.opted_out only
    [arrived] = aws.take(aws.opt_outs)
    assert (arrived["source"], arrived["detail-type"]) == ("tether", "lead.opted_out")
    assert arrived["detail"] == check(events[0])
    # another tenant's message names ids its scope cannot see: nothing is delivered
    foreign = EventsMessage(tenant_id=uuid.uuid4(), event_ids=[e.id for e in events])
    assert deliver_events(tenant_uow, [sink], foreign, AT) == 0
    assert aws.take(aws.opt_outs) == []


class RefusingSink(EventBridgeSink):
    """The bus refusing one entry of a batch (moto answers FailedEntryCount 1 for a
    malformed detail): the sink must raise so the queue retries the record."""

    def __init__(self, bus: str, client: Any, refused: uuid.UUID) -> None:
        super().__init__(bus, client)
        self.refused = refused

    def _entry(self, event: OutboxEvent) -> dict[str, Any]:
        entry = super()._entry(event)
        if event.id == self.refused:
            entry["Detail"] = "not json"
        return entry


def test_deliver_events_reports_only_the_record_the_bus_refused(
    aws: Aws,
    chain: Chain,
    app_connections: FreshConnections,
    deploy: Deploy,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("EVENT_BUS_NAME", BUS)
    deploy()
    with UnitOfWork(app_connections, chain.tenant_id) as uow:
        good, bad = record_two(uow, chain)
        uow.commit()
    sink = RefusingSink(BUS, aws.events, bad.id)
    with pytest.raises(DependencyUnavailable, match="1 of 1 events refused"):
        sink.deliver([bad], AT)
    monkeypatch.setattr(deliver_app, "sinks", lambda: [sink])
    records = [
        sqs_record(
            EventsMessage(tenant_id=chain.tenant_id, event_ids=[event.id]).model_dump_json(),
            "events",
        )
        for event in (good, bad)
    ]
    records.append(sqs_record('{"tenant_id": "x"}', "events"))  # not an events message
    result = deliver_app.handler({"Records": records}, LambdaContextStub())
    assert result["batchItemFailures"] == [
        {"itemIdentifier": record["messageId"]} for record in records[1:]
    ]


def test_a_function_relays_what_its_commit_recorded(
    chain: Chain,
    admin: Connection,
    app_connections: FreshConnections,
    deploy: Deploy,
    queue: Queue,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """pool_release as deployed (EVENTS_QUEUE_URL from the template's Globals): the
    leases it releases reach EventsQueue right after its commit."""
    from functions.pool_release import app as pool_release_app
    from tether.config import events_queue_settings
    from tether.services.events import event_relay

    events_url = queue.client.create_queue(QueueName="events")["QueueUrl"]
    monkeypatch.setenv("EVENTS_QUEUE_URL", events_url)
    deploy(events_queue_settings, event_relay)
    lease = lease_number(
        UnitOfWork(app_connections, chain.tenant_id), chain.tenant_id, chain.lead_id, chain.pool, AT
    )
    admin.execute(
        "UPDATE phone_numbers SET release_at = now() - interval '1 minute' WHERE id = %s",
        (lease.phone_number_id,),
    )
    pool_release_app.handler({}, LambdaContextStub())
    [released] = admin.execute(
        "SELECT id, relayed_at FROM outbox_events WHERE tenant_id = %s AND type = 'lease.released'",
        (chain.tenant_id,),
    ).fetchall()
    assert released["relayed_at"] is not None
    # pool_release releases every tenant's expired leases, and this worker's database
    # holds other tests' too: read the whole queue, not its first ten messages
    bodies: list[dict[str, object]] = []
    while batch := queue.client.receive_message(
        QueueUrl=events_url, MaxNumberOfMessages=10, VisibilityTimeout=60
    ).get("Messages", []):
        bodies += [json.loads(m["Body"]) for m in batch]
    mine = [b for b in bodies if b["tenant_id"] == str(chain.tenant_id)]
    assert mine == [{"tenant_id": str(chain.tenant_id), "event_ids": [str(released["id"])]}]
