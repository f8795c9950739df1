"""A receipt stored but not enqueued (SQS failed after the commit) is answered 200 and
re-driven by the sweeper; a sweep never sends a receipt that is already on the queue."""

from __future__ import annotations

import json
import threading
from datetime import timedelta
from functools import partial
from typing import Any

import pytest

import functions.sweeper.app as sweeper_app
import functions.webhook.app as webhook_app
from tests.support.webhook_samples import EVENTS_DIR, load_sample
from tests.support.webhooks import (
    AddAccount,
    Aws,
    Deliver,
    FakeLambdaContext,
    make_ports,
    receipts,
    sample_for,
)
from tether.aws.sqs import SqsQueue
from tether.db.connection import Connection, FreshConnections
from tether.db.unit_of_work import UnitOfWork
from tether.services.receipts import redrive_unenqueued_receipts


@pytest.fixture
def queue_down(
    aws: Aws, app_connections: FreshConnections, monkeypatch: pytest.MonkeyPatch
) -> Deliver:
    """The webhook, with an inbound queue that does not exist: every send fails."""
    broken = SqsQueue(aws.queue_url + "-gone", aws.sqs)
    ports = make_ports(aws, app_connections, queue=broken)
    monkeypatch.setattr(webhook_app, "webhook_ports", lambda: ports)
    return lambda event: webhook_app.handler(event, FakeLambdaContext())


def age(admin: Connection, account_id: str, seconds: int) -> None:
    admin.execute(
        "UPDATE webhook_receipts SET received_at = received_at - make_interval(secs => %s)"
        " WHERE provider_account_id = %s",
        (seconds, account_id),
    )


def test_a_failed_enqueue_is_200_and_the_sweeper_re_drives_it(
    queue_down: Deliver,
    add_account: AddAccount,
    admin: Connection,
    aws: Aws,
    test_database: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    event = sample_for(add_account, load_sample("telnyx_status"))
    account_id = event["pathParameters"]["account_id"]

    response = queue_down(event)
    retry = queue_down(event)  # the provider may retry anyway: nothing more happens

    assert (response["statusCode"], retry["statusCode"]) == (200, 200)
    assert json.loads(retry["body"])["status"] == "duplicate"
    [receipt] = receipts(admin, account_id)
    assert receipt["enqueued_at"] is None
    assert aws.messages() == []

    # a minute later, the scheduled sweeper (its own handler, as deployed)
    age(admin, account_id, 60)
    monkeypatch.setenv("DATABASE_URL", test_database.admin_url)
    monkeypatch.setenv("INBOUND_QUEUE_URL", aws.queue_url)
    monkeypatch.setenv("OUTBOUND_QUEUE_URL", aws.sqs.create_queue(QueueName="outbound")["QueueUrl"])
    from tether.config import database_settings, sweeper_settings
    from tether.db.connection import lambda_connection
    from tether.queues import queue_at

    caches = (
        database_settings,
        sweeper_settings,
        lambda_connection,
        queue_at,
    )
    for getter in caches:
        getter.cache_clear()
    # (the idempotency store takes its client from there on its first use)
    monkeypatch.setattr("tether.aws.clients.aws_client", lambda service: getattr(aws, service))
    try:
        scheduled = json.loads((EVENTS_DIR.parent / "sweeper.json").read_text())
        report = sweeper_app.handler(scheduled, FakeLambdaContext())
    finally:
        lambda_connection("jobs").acquire().close()
        for getter in caches:
            getter.cache_clear()

    assert report["receipts"]["enqueued"] >= 1
    assert report["receipts"]["failed"] == 0
    [swept] = receipts(admin, account_id)
    assert swept["enqueued_at"] is not None
    ours = [m for m in aws.messages() if m["receipt_id"] == str(receipt["id"])]
    assert ours == [
        {
            "tenant_id": str(receipt["tenant_id"]),
            "receipt_id": str(receipt["id"]),
            "event_type": "status_update",
        }
    ]


def test_a_sweep_leaves_receipts_younger_than_its_grace(
    queue_down: Deliver,
    add_account: AddAccount,
    admin: Connection,
    aws: Aws,
    jobs_connections: FreshConnections,
) -> None:
    event = sample_for(add_account, load_sample("sandbox_status"))
    queue_down(event)
    [receipt] = receipts(admin, event["pathParameters"]["account_id"])

    redrive_unenqueued_receipts(
        partial(UnitOfWork, jobs_connections),
        SqsQueue(aws.queue_url, aws.sqs),
        grace=timedelta(seconds=30),
    )

    assert receipts(admin, event["pathParameters"]["account_id"])[0]["enqueued_at"] is None
    assert str(receipt["id"]) not in {m["receipt_id"] for m in aws.messages()}


def test_a_receipt_the_webhook_enqueued_is_never_swept(
    deliver: Deliver,
    add_account: AddAccount,
    admin: Connection,
    aws: Aws,
    jobs_connections: FreshConnections,
) -> None:
    event = sample_for(add_account, load_sample("sandbox_inbound"))
    deliver(event)
    age(admin, event["pathParameters"]["account_id"], 3600)
    aws.messages()  # the webhook's own message, taken off

    redrive_unenqueued_receipts(
        partial(UnitOfWork, jobs_connections), SqsQueue(aws.queue_url, aws.sqs), grace=timedelta(0)
    )

    [receipt] = receipts(admin, event["pathParameters"]["account_id"])
    assert str(receipt["id"]) not in {m["receipt_id"] for m in aws.messages()}


def test_overlapping_sweeps_send_each_receipt_once(
    queue_down: Deliver,
    add_account: AddAccount,
    admin: Connection,
    aws: Aws,
    jobs_connections: FreshConnections,
) -> None:
    account_id = add_account("sandbox")
    from tests.support.webhook_samples import signed_event, with_json

    for n in range(12):
        event = with_json(
            load_sample("sandbox_inbound"), lambda b, n=n: b["data"].update(id=f"m{n}")
        )
        event["headers"]["webhook-id"] = f"msg_overlap_{n}"
        assert queue_down(signed_event(event, account_id=account_id))["statusCode"] == 200
    age(admin, account_id, 60)
    queue = SqsQueue(aws.queue_url, aws.sqs)
    start = threading.Barrier(4)

    def sweep() -> None:
        start.wait(10)
        redrive_unenqueued_receipts(
            partial(UnitOfWork, jobs_connections), queue, grace=timedelta(seconds=30), batch_size=3
        )

    sweepers = [threading.Thread(target=sweep) for _ in range(4)]
    for thread in sweepers:
        thread.start()
    for thread in sweepers:
        thread.join(30)

    ids = {str(r["id"]) for r in receipts(admin, account_id)}
    sent = [m["receipt_id"] for m in aws.messages() if m["receipt_id"] in ids]
    assert sorted(sent) == sorted(ids)  # every one, once
    assert all(r["enqueued_at"] is not None for r in receipts(admin, account_id))


def test_a_sweep_stops_at_a_queue_failure_and_keeps_the_rest(
    queue_down: Deliver,
    add_account: AddAccount,
    admin: Connection,
    aws: Aws,
    jobs_connections: FreshConnections,
) -> None:
    event = sample_for(add_account, load_sample("signalhouse_status"))
    queue_down(event)
    age(admin, event["pathParameters"]["account_id"], 60)

    report = redrive_unenqueued_receipts(
        partial(UnitOfWork, jobs_connections),
        SqsQueue(aws.queue_url + "-gone", aws.sqs),
        grace=timedelta(seconds=30),
    )

    assert report.failed >= 1
    assert report.enqueued == 0
    assert receipts(admin, event["pathParameters"]["account_id"])[0]["enqueued_at"] is None
