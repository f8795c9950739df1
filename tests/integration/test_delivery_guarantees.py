"""Issue 16's delivery guarantee, tried where it can break: every event reaches a
receiver that dedupes on webhook-id exactly once (each delivery verified with the
official `standardwebhooks` library), when the receiver answers 500 to the first two
attempts of every delivery, and when the function delivering is killed mid-batch and
SQS hands the batch over again. Real PostgreSQL, moto's Secrets Manager, a real HTTP
receiver in a thread."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest

from functions.deliver_events import app as deliver_app
from tests.integration.test_subscriptions import FAST, Hooks, hooks  # noqa: F401
from tests.support.factories import Chain
from tests.support.lambda_context import LambdaContextStub
from tests.support.receivers import receiver
from tests.support.sqs_records import sqs_record
from tether.domain.outbox import EventType
from tether.services.events import EventsMessage
from tether.services.subscriptions import CLAIM_LEASE, WebhookSink, retry_due_deliveries
from tether.webhook_sender import Attempt, WebhookSender

EVENTS = 6


def test_two_500s_per_delivery_then_each_event_once_under_one_webhook_id(
    hooks: Hooks,  # noqa: F811
    chain: Chain,
) -> None:
    with receiver(fail_first=2) as hook:
        subscription_id, secret = hooks.subscribe(chain.tenant_id, hook.url)
        events = [hooks.event(chain, EventType.LEAD_STATE_CHANGED, n=n) for n in range(EVENTS)]
        sender = WebhookSender(local_stage=True, timeout=FAST)
        start = datetime.now(UTC)
        hooks.sink().deliver(events, start)
        assert {r["attempts"] for r in hooks.deliveries(subscription_id)} == {1}

        # before the first backoff step is over nothing is due
        assert retry_due_deliveries(hooks.factory, start + timedelta(seconds=10)).attempted == 0
        # past each step (30 s, then 60 s, at most, whatever the jitter)
        second = retry_due_deliveries(hooks.factory, start + timedelta(seconds=31), sender=sender)
        assert (second.attempted, second.retrying) == (EVENTS, EVENTS)
        third = retry_due_deliveries(hooks.factory, start + timedelta(seconds=92), sender=sender)
        assert (third.attempted, third.delivered) == (EVENTS, EVENTS)
        assert retry_due_deliveries(hooks.factory, start + timedelta(hours=2)).attempted == 0

        assert len(hook.received) == 3 * EVENTS
        kept = hook.once_each(secret)
        assert sorted(kept.values(), key=lambda e: e["id"]) == sorted(
            (e.envelope() for e in events), key=lambda e: e["id"]
        )
        rows = hooks.deliveries(subscription_id)
        for row in rows:  # one webhook-id on all three attempts
            assert [r.webhook_id for r in hook.received].count(row["webhook_id"]) == 3
        assert {(r["status"], r["attempts"], r["last_status_code"]) for r in rows} == {
            ("delivered", 3, 200)
        }


class Killed(BaseException):
    """What a killed process looks like to the code it was running: nothing catches it."""


class DyingSender(WebhookSender):
    """Sends the batch's first `survivors` POSTs, then dies (every POST after them dies
    before sending; those sent never report)."""

    def __init__(self, survivors: int) -> None:
        super().__init__(local_stage=True, timeout=FAST)
        self.survivors = survivors
        self.sent = 0
        self._lock = threading.Lock()

    def post(self, url: str, secret: str, webhook_id: str, body: bytes) -> Attempt:
        with self._lock:
            self.sent += 1
            sends = self.sent <= self.survivors
        if sends:
            super().post(url, secret, webhook_id, body)
        raise Killed


@pytest.mark.parametrize("survivors", [1, 0, EVENTS - 1])
def test_a_function_killed_mid_batch_loses_nothing_and_repeats_nothing(
    hooks: Hooks,  # noqa: F811
    chain: Chain,
    monkeypatch: pytest.MonkeyPatch,
    survivors: int,
) -> None:
    with receiver() as hook:
        subscription_id, secret = hooks.subscribe(chain.tenant_id, hook.url)
        events = [hooks.event(chain, EventType.LEAD_STATE_CHANGED, n=n) for n in range(EVENTS)]
        record = sqs_record(
            EventsMessage(
                tenant_id=chain.tenant_id, event_ids=[e.id for e in events]
            ).model_dump_json(),
            "events",
        )
        monkeypatch.setattr(deliver_app, "unit_of_work", hooks.factory)

        monkeypatch.setattr(
            deliver_app,
            "sinks",
            lambda: [WebhookSink(hooks.factory, sender=DyingSender(survivors))],
        )
        with pytest.raises(Killed):
            deliver_app.handler({"Records": [record]}, LambdaContextStub())
        assert len(hook.received) == survivors
        rows = hooks.deliveries(subscription_id)
        assert len(rows) == EVENTS
        assert {(r["status"], r["attempts"]) for r in rows} == {("pending", 0)}  # claimed

        # SQS hands the message over again: the claims' lease holds the POSTs back
        monkeypatch.setattr(deliver_app, "sinks", lambda: [hooks.sink()])
        result = deliver_app.handler({"Records": [record]}, LambdaContextStub())
        assert result["batchItemFailures"] == []
        assert len(hook.received) == survivors

        # the sweeper, once the lease is over: every delivery, the first one again
        later = datetime.now(UTC) + CLAIM_LEASE + timedelta(seconds=1)
        sender = WebhookSender(local_stage=True, timeout=FAST)
        report = retry_due_deliveries(hooks.factory, later, sender=sender)
        assert (report.attempted, report.delivered) == (EVENTS, EVENTS)
        assert retry_due_deliveries(hooks.factory, later + CLAIM_LEASE).attempted == 0

        assert len(hook.received) == EVENTS + survivors  # the POSTs that never reported, twice
        kept = hook.once_each(secret)
        assert set(kept) == {r["webhook_id"] for r in hooks.deliveries(subscription_id)}
        assert sorted(kept.values(), key=lambda e: e["id"]) == sorted(
            (e.envelope() for e in events), key=lambda e: e["id"]
        )
        assert {(r["status"], r["attempts"]) for r in hooks.deliveries(subscription_id)} == {
            ("delivered", 1)
        }
