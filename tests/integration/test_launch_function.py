"""The launch function as deployed: LaunchQueue records in, partial batch failures out,
moto's SQS for both queues, real PostgreSQL. The chain runs to the end through the
handler, and the timers function dispatches a scheduled launch at its time."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from functions.launch import app as launch_app
from functions.timers import app as timers_app
from tests.support.factories import Deploy, Queue, make_campaign, make_lead, make_tenant
from tests.support.lambda_context import LambdaContextStub
from tests.support.sqs_records import send_ids, sqs_record
from tether.aws.sqs import SqsQueue
from tether.db.connection import Connection, FreshConnections
from tether.db.unit_of_work import UnitOfWork
from tether.services.launches import LaunchChunk, start_launch
from tether.services.numbers import NumberRow, register_numbers, stage_campaign


@pytest.fixture
def launch_queue(deploy: Deploy, queue: Queue, monkeypatch: pytest.MonkeyPatch) -> Queue:
    """LaunchQueue beside OutboundQueue, and the launch and timers functions' settings."""
    from tether.config import launch_settings, timers_settings
    from tether.queues import queue_at

    monkeypatch.setenv("LAUNCH_CHUNK_SIZE", "2")
    deploy(launch_settings, timers_settings, queue_at)
    return Queue(queue.client, queue.client.get_queue_url(QueueName="launch")["QueueUrl"])


def staged_campaign(
    admin: Connection, app: FreshConnections, leads: int
) -> tuple[uuid.UUID, uuid.UUID]:
    tenant_id, account_id = make_tenant(admin)
    number = f"+1415555{uuid.uuid4().int % 10000:04d}"
    register_numbers(UnitOfWork(app, tenant_id), tenant_id, account_id, "pool", [NumberRow(number)])
    campaign_id = make_campaign(admin, tenant_id, "pool")
    admin.execute("UPDATE campaigns SET template = 'Hi' WHERE id = %s", (campaign_id,))
    stage_campaign(UnitOfWork(app, tenant_id), campaign_id, datetime.now(UTC))
    for _ in range(leads):
        make_lead(admin, tenant_id, campaign_id=campaign_id)
    return tenant_id, campaign_id


def handle(*bodies: str) -> list[str]:
    """The handler on one batch; the message ids it reports failed, as their bodies."""
    records = [sqs_record(body, "launch") for body in bodies]
    result = launch_app.handler({"Records": records}, LambdaContextStub())
    failed = {item["itemIdentifier"] for item in result["batchItemFailures"]}
    return [r["body"] for r in records if r["messageId"] in failed]


def test_the_function_runs_the_chain_and_reports_only_a_bad_record(
    launch_queue: Queue, queue: Queue, admin: Connection, app_connections: FreshConnections
) -> None:
    tenant_id, campaign_id = staged_campaign(admin, app_connections, leads=5)
    launch = start_launch(
        UnitOfWork(app_connections, tenant_id),
        tenant_id,
        campaign_id,
        None,
        datetime.now(UTC),
        SqsQueue(launch_queue.url, launch_queue.client),
    )
    (first,) = launch_queue.take()
    unknown = LaunchChunk(tenant_id=tenant_id, launch_id=uuid.uuid4(), seq=0).model_dump_json()
    # a body that is not a chunk is reported; an unknown launch is dropped (retrying cannot help)
    assert handle(json.dumps(first), "not json", unknown) == ["not json"]
    rounds = 0
    while chunks := launch_queue.take():
        assert handle(*(json.dumps(c) for c in chunks)) == []
        rounds += 1
    assert rounds == 2  # 5 leads in chunks of 2: the first above, then two more
    row = admin.execute(
        "SELECT status, queued, chunk_seq FROM launches WHERE id = %s", (launch.id,)
    ).fetchone()
    assert row == {"status": "complete", "queued": 5, "chunk_seq": 3}
    sends = send_ids(queue.take())
    assert len(set(sends)) == len(sends) == 5


def test_the_timers_function_dispatches_a_scheduled_launch_at_its_time(
    launch_queue: Queue, admin: Connection, app_connections: FreshConnections
) -> None:
    tenant_id, campaign_id = staged_campaign(admin, app_connections, leads=1)
    now = datetime.now(UTC).replace(microsecond=0)
    at = now + timedelta(minutes=10)
    launch = start_launch(
        UnitOfWork(app_connections, tenant_id),
        tenant_id,
        campaign_id,
        at,
        now,
        SqsQueue(launch_queue.url, launch_queue.client),
    )
    assert launch_queue.take() == []

    def wake_at() -> datetime:
        row = admin.execute("SELECT wake_at FROM launches WHERE id = %s", (launch.id,)).fetchone()
        assert row is not None
        return row["wake_at"]  # type: ignore[no-any-return]

    def timers_at(moment: datetime) -> None:
        event = {"detail-type": "Scheduled Event", "time": moment.isoformat()}
        timers_app.handler(event, LambdaContextStub(function_name="tether-timers"))

    timers_at(at - timedelta(minutes=3))
    assert wake_at() == at - timedelta(minutes=2)  # not yet handed over
    timers_at(at - timedelta(minutes=2))
    assert wake_at() == at + timedelta(minutes=5)  # handed over, delayed until `at`
