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
from tests.support.outbound import CrashingProvider
from tests.support.sqs_records import send_ids, sqs_record
from tether.aws.sqs import SqsQueue
from tether.db.connection import Connection, FreshConnections
from tether.db.unit_of_work import UnitOfWork
from tether.domain.errors import DependencyUnavailable
from tether.services.numbers import NumberRow, register_numbers, stage_campaign
from tether.services.outbound import (
    OutboundMessage,
    SendRequest,
    account_provider,
    queue_messages,
    redrive_waiting_sends,
    request_send,
    request_sends,
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

    def request_many(self, phones: list[str], queue: Any = None) -> list[uuid.UUID]:
        """Sends to new leads stored in one transaction (as a launch's chunk is), in order."""
        requests = [
            SendRequest(
                tenant_id=self.id,
                campaign_id=self.campaign_id,
                lead_id=make_lead(self.admin, self.id, phone, self.campaign_id),
                body="Hello",
            )
            for phone in phones
        ]
        receipts = request_sends(UnitOfWork(self.app, self.id), requests, datetime.now(UTC), queue)
        return [receipt.message_id for receipt in receipts]

    def bundle(self, message_ids: list[uuid.UUID]) -> dict[str, Any]:
        """The one OutboundQueue record that carries these sends."""
        [(body, carried)] = queue_messages([(self.id, m) for m in message_ids])
        assert carried == message_ids
        return sqs_record(body, "outbound")

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
    ours = [m for m in queue.take() if m["tenant_id"] == str(tenant.id)]
    assert ours == [{"tenant_id": str(tenant.id), "message_id": str(message_id)}]
    assert tenant.status(message_id)[1] is not None


class ProcessDied(BaseException):
    """Stands for the function's process dying: nothing of the handler catches it."""


def test_a_bundle_with_a_failing_send_comes_back_and_sends_only_what_it_had_not(
    deployed: None,
    admin: Connection,
    app_connections: FreshConnections,
    sandbox: SandboxServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    tenant = Tenant(admin, app_connections, sandbox)
    phones = [f"+1415555{n:04d}" for n in range(300, 304)]
    sends = tenant.request_many(phones)
    real_provider = account_provider

    def provider(ctx: Any) -> Any:
        if ctx.to_number == phones[1]:
            raise RuntimeError("the database went away")  # unexpected: this send only
        return real_provider(ctx)

    monkeypatch.setattr(outbound_app, "account_provider", provider)
    record = tenant.bundle(sends)
    result = outbound_app.handler({"Records": [record]}, LambdaContextStub())
    # the record comes back for its one unfinished send; the others went on past it
    assert result == {"batchItemFailures": [{"itemIdentifier": record["messageId"]}]}
    assert [tenant.status(m)[0] for m in sends] == ["sent", "sending", "sent", "sent"]
    monkeypatch.setattr(outbound_app, "account_provider", real_provider)
    assert outbound_app.handler({"Records": [record]}, LambdaContextStub()) == {
        "batchItemFailures": []
    }
    assert [tenant.status(m)[0] for m in sends] == ["sent"] * 4
    assert sorted(t.to_number for t in sandbox.texts()) == phones  # each once
    # delivered yet again (SQS delivers at least once), it sends nothing
    outbound_app.handler({"Records": [record]}, LambdaContextStub())
    assert len(sandbox.texts()) == 4


def test_a_process_dying_mid_bundle_leaves_each_text_sent_exactly_once(
    deployed: None,
    admin: Connection,
    app_connections: FreshConnections,
    sandbox: SandboxServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    tenant = Tenant(admin, app_connections, sandbox)
    phones = [f"+1415555{n:04d}" for n in range(310, 313)]
    sends = tenant.request_many(phones)
    real_provider = account_provider

    def dies_after_the_second_is_accepted(ctx: Any) -> Any:
        provider = real_provider(ctx)
        if ctx.to_number == phones[1]:
            return CrashingProvider(provider, "after_send", ProcessDied)
        return provider

    monkeypatch.setattr(outbound_app, "account_provider", dies_after_the_second_is_accepted)
    record = tenant.bundle(sends)
    with pytest.raises(ProcessDied):
        outbound_app.handler({"Records": [record]}, LambdaContextStub())
    # the first finished, the second's provider has the text with its attempt open, the
    # third was never reached; the record was not deleted, so SQS brings it back
    assert [tenant.status(m)[0] for m in sends] == ["sent", "sending", "queued"]
    monkeypatch.setattr(outbound_app, "account_provider", real_provider)
    assert outbound_app.handler({"Records": [record]}, LambdaContextStub()) == {
        "batchItemFailures": []
    }
    assert [tenant.status(m)[0] for m in sends] == ["sent"] * 3
    texts = sandbox.texts()
    assert sorted(t.to_number for t in texts) == phones  # the second asked again with its key
    [second] = sandbox.texts(idempotency_key=str(sends[1]))
    row = admin.execute("SELECT external_id FROM messages WHERE id = %s", (sends[1],)).fetchone()
    assert row == {"external_id": second.sid}


def test_a_send_suppressed_after_it_was_bundled_is_failed_and_the_rest_go(
    deployed: None,
    admin: Connection,
    app_connections: FreshConnections,
    sandbox: SandboxServer,
) -> None:
    tenant = Tenant(admin, app_connections, sandbox)
    phones = [f"+1415555{n:04d}" for n in range(320, 323)]
    sends = tenant.request_many(phones)
    with UnitOfWork(app_connections, tenant.id) as uow:  # STOP between store and send
        uow.suppressions.add(tenant.id, phones[1], "opt_out", keyword="STOP")
        uow.commit()
    assert outbound_app.handler({"Records": [tenant.bundle(sends)]}, LambdaContextStub()) == {
        "batchItemFailures": []
    }
    assert [tenant.status(m)[0] for m in sends] == ["sent", "failed", "sent"]
    assert sorted(t.to_number for t in sandbox.texts()) == [phones[0], phones[2]]


class RefusesSecondMessage:
    """The real queue, except that SendMessageBatch reports its second entry failed."""

    def __init__(self, inner: SqsQueue) -> None:
        self.inner = inner

    def send(self, body: str, **options: Any) -> str:
        return self.inner.send(body, **options)

    def send_batch(self, bodies: Any) -> list[int]:
        assert self.inner.send_batch([b for i, b in enumerate(bodies) if i != 1]) == []
        return [1]


def test_the_sweeper_re_drives_the_sends_of_a_bundle_the_queue_did_not_take(
    admin: Connection,
    app_connections: FreshConnections,
    jobs_connections: FreshConnections,
    sandbox: SandboxServer,
    queue: Queue,
) -> None:
    tenant = Tenant(admin, app_connections, sandbox)
    sqs = SqsQueue(queue.url, queue.client)
    sends = tenant.request_many([f"+1415556{n:04d}" for n in range(25)], RefusesSecondMessage(sqs))
    # 25 sends of one tenant: bundles of 10, 10 and 5; the second was lost
    lost = sends[10:20]
    assert [tenant.status(m)[1] is None for m in sends] == [m in lost for m in sends]
    taken = [b for b in queue.take() if b["tenant_id"] == str(tenant.id)]
    assert [b["message_ids"] for b in taken] == [
        [str(m) for m in sends[:10]],
        [str(m) for m in sends[20:]],
    ]
    for _ in range(2):  # overlapping or repeated sweeps enqueue each once
        redrive_waiting_sends(UnitOfWork(jobs_connections), sqs, datetime.now(UTC), 10_000)
    redriven = [b for b in queue.take() if b["tenant_id"] == str(tenant.id)]
    assert sorted(send_ids(redriven)) == sorted(str(m) for m in lost)
    assert len(redriven) == 1  # in one bundle again
    assert all(tenant.status(m)[1] is not None for m in sends)
