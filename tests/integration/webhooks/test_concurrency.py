"""Fifty deliveries of one event at once, from real threads, each with its own
connection: exactly one receipt and one queue message, whatever the interleaving.

moto's DynamoDB is not atomic across threads the way DynamoDB is (its conditional put
is plain Python), so two threads may both get past the idempotency record; Postgres's
unique key is what makes the second one a duplicate then. Both doors are exercised.
"""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest

from tests.support.webhook_samples import load_sample
from tests.support.webhooks import (
    AddAccount,
    Aws,
    Deliver,
    receipts,
    sample_for,
)
from tether.db.connection import Connection

DELIVERIES = 50


@pytest.mark.parametrize("name", ["signalhouse_inbound", "twilio_status"])
def test_fifty_concurrent_deliveries_store_one_receipt_and_send_one_message(
    name: str,
    deliver: Deliver,
    add_account: AddAccount,
    admin: Connection,
    aws: Aws,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Lambda runs one invocation per process at a time; here 50 threads share one
    # process, and Powertools' module-level Metrics is not made for that: at 100 values
    # it flushes from inside add_metric, and one thread's flush empties the set another
    # is serialising. Metrics are not what this test is about.
    from tether.observability import metrics

    monkeypatch.setattr(metrics, "add_metric", lambda *args, **kwargs: None)
    monkeypatch.setattr(metrics, "flush_metrics", lambda *args, **kwargs: None)
    event = sample_for(add_account, load_sample(name))
    start = threading.Barrier(DELIVERIES)
    responses: list[dict[str, Any]] = []
    errors: list[BaseException] = []

    def one() -> None:
        try:
            start.wait(10)
            responses.append(deliver(event))
        except BaseException as error:  # surfaced below, not lost in the thread
            errors.append(error)

    threads = [threading.Thread(target=one) for _ in range(DELIVERIES)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    assert errors == []
    statuses = sorted(r["statusCode"] for r in responses)
    assert len(statuses) == DELIVERIES
    assert set(statuses) <= {200, 409}, statuses  # 409: still in progress, retry later
    assert 200 in statuses
    [receipt] = receipts(admin, event["pathParameters"]["account_id"])
    assert receipt["enqueued_at"] is not None
    messages = aws.messages()
    assert [m["receipt_id"] for m in messages] == [str(receipt["id"])]
    accepted = [r for r in responses if r["statusCode"] == 200 and r["body"].startswith("{")]
    assert sum(json.loads(r["body"])["status"] == "accepted" for r in accepted) <= 1
