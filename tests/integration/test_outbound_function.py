"""The outbound function as deployed: SQS batch events in, partial batch failures out,
moto's SQS for the queue, the sandbox provider over real HTTP, real PostgreSQL."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

from functions.outbound import app as outbound_app
from tests.support.factories import (
    Deploy,
    Queue,
    make_campaign,
    make_lead,
    make_tenant,
)
from tests.support.lambda_context import LambdaContextStub
from tests.support.sqs_records import sqs_record
from tether.aws.sqs import SqsQueue
from tether.db.connection import Connection, FreshConnections
from tether.db.unit_of_work import UnitOfWork
from tether.domain.errors import DependencyUnavailable
from tether.services.numbers import NumberRow, register_numbers, stage_campaign
from tether.services.outbound import (
    OutboundMessage,
    SendRequest,
    account_provider,
    redrive_waiting_sends,
    request_send,
)
from tether_dev.sandbox import SandboxServer

SENDER = "+14155550100"


class BrokenQueue:
    def send(self, body: str, **_: Any) -> str:
        raise DependencyUnavailable("SQS", "test")

    def send_batch(self, bodies: Any) -> list[int]:
        raise DependencyUnavailable("SQS", "test")


@pytest.fixture
def deployed(deploy: Deploy) -> None:
    """The function's environment and container-wide getters, as in Lambda."""
    from tether.config import outbound_settings
    from tether.queues import queue_at

    deploy(outbound_settings, queue_at)


class Tenant:
    def __init__(
        self, admin: Connection, app: FreshConnections, sandbox: SandboxServer, **config: object
    ) -> None:
        self.admin, self.app = admin, app
        credentials = {
            "account_id": "sandbox",
            "api_token": "sandbox-token",
            "base_url": sandbox.url,
        }
        # the whole day is a sending window: these tests run on the real clock
        config = {
            "quiet_hours_start": "00:00",
            "quiet_hours_end": "23:59:59",
            "quiet_hours_wider_attested": True,
            "send_segments_per_second": None,
        } | config
        self.id, account_id = make_tenant(admin, **config)
        admin.execute(
            "UPDATE provider_accounts SET credentials_ref = %s WHERE id = %s",
            ("local:" + json.dumps(credentials), account_id),
        )
        register_numbers(UnitOfWork(app, self.id), self.id, account_id, "pool", [NumberRow(SENDER)])
        self.campaign_id = make_campaign(admin, self.id, "pool")
        stage_campaign(UnitOfWork(app, self.id), self.campaign_id, datetime.now(UTC))

    def request(self, phone: str, queue: Any = None) -> uuid.UUID:
        lead_id = make_lead(self.admin, self.id, phone, self.campaign_id)
        receipt = request_send(
            UnitOfWork(self.app, self.id),
            SendRequest(
                tenant_id=self.id, campaign_id=self.campaign_id, lead_id=lead_id, body="Hello"
            ),
            datetime.now(UTC),
            queue,
        )
        return receipt.message_id

    def record(self, message_id: uuid.UUID) -> dict[str, Any]:
        body = OutboundMessage(tenant_id=self.id, message_id=message_id).model_dump_json()
        return sqs_record(body, "outbound")

    def status(self, message_id: uuid.UUID) -> tuple[str, Any]:
        row = self.admin.execute(
            "SELECT status, enqueued_at FROM messages WHERE id = %s", (message_id,)
        ).fetchone()
        assert row is not None
        return row["status"], row["enqueued_at"]


def test_a_batch_sends_each_record_and_reports_only_the_failed_one(
    deployed: None,
    admin: Connection,
    app_connections: FreshConnections,
    sandbox: SandboxServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    tenant = Tenant(admin, app_connections, sandbox)
    good = [tenant.request(f"+1415555{n:04d}") for n in range(200, 203)]
    broken = tenant.request("+14155550299")
    real_provider = account_provider

    def provider(ctx: Any) -> Any:
        if ctx.to_number == "+14155550299":
            raise RuntimeError("the database went away")  # unexpected: this record only
        return real_provider(ctx)

    monkeypatch.setattr(outbound_app, "account_provider", provider)
    records = [tenant.record(m) for m in [*good, broken]]
    result = outbound_app.handler({"Records": records}, LambdaContextStub())
    assert result == {"batchItemFailures": [{"itemIdentifier": records[-1]["messageId"]}]}
    assert [tenant.status(m)[0] for m in good] == ["sent"] * 3
    assert sorted(t.to_number for t in sandbox.texts()) == [
        "+14155550200",
        "+14155550201",
        "+14155550202",
    ]
    # redelivered, the same batch sends nothing more
    monkeypatch.setattr(outbound_app, "account_provider", real_provider)
    assert outbound_app.handler({"Records": records}, LambdaContextStub()) == {
        "batchItemFailures": []
    }
    assert len(sandbox.texts()) == 4


def test_a_paced_send_goes_back_on_the_queue_with_a_delay(
    deployed: None,
    admin: Connection,
    app_connections: FreshConnections,
    sandbox: SandboxServer,
    queue: Queue,
) -> None:
    tenant = Tenant(admin, app_connections, sandbox, send_segments_per_second=0.1)  # one per 10 s
    first, second = tenant.request("+14155550200"), tenant.request("+14155550201")
    result = outbound_app.handler(
        {"Records": [tenant.record(first), tenant.record(second)]}, LambdaContextStub()
    )
    assert result == {"batchItemFailures": []}
    assert tenant.status(first)[0] == "sent"
    status, enqueued_at = tenant.status(second)
    assert (status, enqueued_at is not None) == ("queued", True)
    assert queue.take() == []  # delayed: not visible yet
    attributes = queue.client.get_queue_attributes(
        QueueUrl=queue.url, AttributeNames=["ApproximateNumberOfMessagesDelayed"]
    )
    assert attributes["Attributes"]["ApproximateNumberOfMessagesDelayed"] == "1"


def test_a_send_stored_but_never_enqueued_is_redriven_once(
    admin: Connection,
    app_connections: FreshConnections,
    jobs_connections: FreshConnections,
    sandbox: SandboxServer,
    queue: Queue,
) -> None:
    tenant = Tenant(admin, app_connections, sandbox)
    message_id = tenant.request("+14155550200", queue=BrokenQueue())
    assert tenant.status(message_id) == ("queued", None)
    sqs = SqsQueue(queue.url, queue.client)
    report = redrive_waiting_sends(UnitOfWork(jobs_connections), sqs, datetime.now(UTC))
    assert report.enqueued >= 1
    redrive_waiting_sends(UnitOfWork(jobs_connections), sqs, datetime.now(UTC))
    ours = [m for m in queue.take() if m["message_id"] == str(message_id)]
    assert ours == [{"tenant_id": str(tenant.id), "message_id": str(message_id)}]
    assert tenant.status(message_id)[1] is not None
