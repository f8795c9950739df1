"""Webhook subscriptions and their deliveries (issue 16, migration 0033) against real
PostgreSQL, moto's Secrets Manager and real HTTP receivers: signatures verified by the
official `standardwebhooks` library, retries on the clock, 24 h of failure, and the
database's own rules, each tried."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
import urllib3
from moto import mock_aws
from psycopg import errors

from tests.support.factories import Chain, make_chain
from tests.support.receivers import receiver, self_signed
from tether.db.connection import Connection, FreshConnections
from tether.db.unit_of_work import UnitOfWork
from tether.domain.outbox import EventType, OutboxEvent
from tether.domain.subscriptions import SubscriptionStatus
from tether.observability import metrics
from tether.secrets import SecretStore, clear_secret_cache
from tether.services import subscriptions
from tether.services.subscriptions import WebhookSink, retry_due_deliveries
from tether.webhook_sender import WebhookSender

FAST = urllib3.Timeout(connect=0.5, read=0.3, total=1.0)


@dataclass
class Hooks:
    app: FreshConnections
    jobs: FreshConnections
    admin: Connection
    store: SecretStore

    def subscribe(self, tenant_id: uuid.UUID, url: str, *types: EventType) -> tuple[uuid.UUID, str]:
        created = subscriptions.create_subscription(
            UnitOfWork(self.app, tenant_id),
            self.store,
            tenant_id,
            url,
            [t.value for t in (types or tuple(EventType))],
            datetime.now(UTC),
        )
        return created.subscription.id, created.secret

    def event(
        self, chain: Chain, type: EventType = EventType.LEAD_STATE_CHANGED, **data: Any
    ) -> OutboxEvent:
        with UnitOfWork(self.app, chain.tenant_id) as uow:
            event = uow.outbox.record(
                chain.tenant_id,
                type,
                {"lead_id": str(chain.lead_id), "from": "new", "to": "touched", **data},
                datetime.now(UTC),
                lead_id=chain.lead_id,
            )
            uow.commit()
        return event

    def sink(self, **options: Any) -> WebhookSink:
        return WebhookSink(
            self.factory, sender=WebhookSender(local_stage=True, timeout=FAST), **options
        )

    def factory(self, tenant_id: uuid.UUID | None) -> UnitOfWork:
        return UnitOfWork(self.jobs, tenant_id)

    def deliveries(self, subscription_id: uuid.UUID) -> list[dict[str, Any]]:
        return self.admin.execute(
            "SELECT * FROM event_deliveries WHERE subscription_id = %s ORDER BY created_at",
            (subscription_id,),
        ).fetchall()

    def subscription(self, subscription_id: uuid.UUID) -> dict[str, Any]:
        row = self.admin.execute(
            "SELECT * FROM event_subscriptions WHERE id = %s", (subscription_id,)
        ).fetchone()
        assert row is not None
        return row


@pytest.fixture
def hooks(
    monkeypatch: pytest.MonkeyPatch,
    app_connections: FreshConnections,
    jobs_connections: FreshConnections,
    admin: Connection,
) -> Iterator[Hooks]:
    for name, value in {
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
    }.items():
        monkeypatch.setenv(name, value)
    # earlier tests' subscriptions (their secrets in a moto long gone) are not this
    # test's: the sweeper's step here works across tenants, as in AWS
    admin.execute(
        "UPDATE event_subscriptions SET status = 'disabled', failing_since = NULL"
        " WHERE status <> 'disabled'"
    )
    with mock_aws():
        client = boto3.session.Session(region_name="us-east-1").client("secretsmanager")
        monkeypatch.setattr("tether.aws.clients.aws_client", lambda service: client)
        clear_secret_cache()
        yield Hooks(app_connections, jobs_connections, admin, SecretStore(client))
        clear_secret_cache()


def test_an_event_is_posted_signed_once_per_subscription(hooks: Hooks, chain: Chain) -> None:
    with receiver() as one, receiver() as two:
        first, first_secret = hooks.subscribe(chain.tenant_id, one.url)
        second, second_secret = hooks.subscribe(chain.tenant_id, two.url, EventType.CALL_QUEUED)
        event = hooks.event(chain)
        sink = hooks.sink()
        sink.deliver([event], datetime.now(UTC))
        sink.deliver([event], datetime.now(UTC))  # SQS handing the batch over again

        assert two.received == []  # another type
        (got,) = one.received
        assert one.verified(first_secret) == [event.envelope()]
        assert not one.verifies(second_secret)
        assert got.envelope()["id"] == str(event.id)
        (row,) = hooks.deliveries(first)
        assert row["status"] == "delivered"
        assert row["attempts"] == 1
        assert row["last_status_code"] == 200
        assert got.webhook_id == row["webhook_id"]
        assert hooks.deliveries(second) == []


def test_a_500_is_retried_later_under_the_same_webhook_id(hooks: Hooks, chain: Chain) -> None:
    with receiver(script=[500]) as hook:
        subscription_id, secret = hooks.subscribe(chain.tenant_id, hook.url)
        event = hooks.event(chain)
        now = datetime.now(UTC)
        hooks.sink(jitter=lambda: 0.0).deliver([event], now)
        (row,) = hooks.deliveries(subscription_id)
        assert row["status"] == "pending"
        assert row["last_status_code"] == 500
        assert row["last_error"] == "HTTP 500"
        assert row["next_attempt_at"] == now + timedelta(seconds=15)  # 30 s, lower half of jitter

        # not due yet: nothing sent
        assert retry_due_deliveries(hooks.factory, now + timedelta(seconds=10)).attempted == 0
        report = hooks.sink().retry_due(now + timedelta(seconds=30))
        assert (report.attempted, report.delivered) == (1, 1)

        assert [r.webhook_id for r in hook.received] == [row["webhook_id"]] * 2
        assert hook.verified(secret) == [event.envelope()] * 2
        (row,) = hooks.deliveries(subscription_id)
        assert (row["status"], row["attempts"], row["last_error"]) == ("delivered", 2, None)


def test_a_receiver_that_hangs_times_out_and_is_tried_again(hooks: Hooks, chain: Chain) -> None:
    with receiver(script=["hang"], hang_seconds=1.0) as hook:
        subscription_id, _ = hooks.subscribe(chain.tenant_id, hook.url)
        started = datetime.now(UTC)
        hooks.sink().deliver([hooks.event(chain)], started)
        (row,) = hooks.deliveries(subscription_id)
        assert (row["status"], row["last_error"]) == ("pending", "timed out")
        assert row["last_status_code"] is None


def test_refused_and_redirected_deliveries_are_failures_never_followed(
    hooks: Hooks, chain: Chain
) -> None:
    with receiver() as elsewhere, receiver(then=("redirect", "")) as redirecting:
        redirecting.then = ("redirect", elsewhere.url)
        moved, _ = hooks.subscribe(chain.tenant_id, redirecting.url)
        closed, _ = hooks.subscribe(chain.tenant_id, "http://127.0.0.1:9/hooks")
        hooks.sink().deliver([hooks.event(chain)], datetime.now(UTC))
        assert elsewhere.received == []
        assert hooks.deliveries(moved)[0]["last_error"] == "HTTP 302: redirects are not followed"
        assert hooks.deliveries(closed)[0]["last_error"] == "connection refused or unreachable"
        assert {r["status"] for r in hooks.deliveries(moved) + hooks.deliveries(closed)} == {
            "pending"
        }


def test_24_hours_of_failure_fail_the_delivery_and_the_subscription_until_a_success(
    hooks: Hooks, chain: Chain
) -> None:
    metrics.clear_metrics()
    with receiver(then=500) as hook:
        subscription_id, secret = hooks.subscribe(chain.tenant_id, hook.url)
        event = hooks.event(chain)
        start = datetime.now(UTC)
        sink = hooks.sink()
        sink.deliver([event], start)
        assert sink.retry_due(start + timedelta(hours=23)).retrying == 1
        report = sink.retry_due(start + timedelta(hours=24))
        assert (report.attempted, report.failed) == (1, 1)
        (row,) = hooks.deliveries(subscription_id)
        assert (row["status"], row["attempts"], row["next_attempt_at"]) == ("failed", 3, None)
        assert row["failed_at"] == start + timedelta(hours=24)
        assert sink.retry_due(start + timedelta(hours=48)).attempted == 0  # given up for good
        subscription = hooks.subscription(subscription_id)
        assert subscription["status"] == SubscriptionStatus.FAILING
        assert subscription["failing_since"] == start + timedelta(hours=24)
        assert metrics.metric_set["WebhookDeliveryFailed"]["Value"] == [1.0]

        # a failing subscription still gets new events; the first success ends it
        hook.then = 200
        later = hooks.event(chain)
        sink.deliver([later], start + timedelta(hours=25))
        assert hooks.subscription(subscription_id)["status"] == SubscriptionStatus.ACTIVE
        assert hooks.subscription(subscription_id)["failing_since"] is None
        assert hook.verified(secret)[-1] == later.envelope()
    metrics.clear_metrics()


def test_another_tenants_subscriptions_never_see_the_event(
    hooks: Hooks, chain: Chain, admin: Connection
) -> None:
    other = make_chain(admin)
    with receiver() as mine, receiver() as theirs:
        hooks.subscribe(chain.tenant_id, mine.url)
        their_subscription, _ = hooks.subscribe(other.tenant_id, theirs.url)
        hooks.sink().deliver([hooks.event(chain)], datetime.now(UTC))
        assert len(mine.received) == 1
        assert theirs.received == []
        assert hooks.deliveries(their_subscription) == []


def test_a_disabled_subscription_gets_nothing(hooks: Hooks, chain: Chain) -> None:
    with receiver() as hook:
        subscription_id, _ = hooks.subscribe(chain.tenant_id, hook.url)
        subscriptions.set_subscription_status(
            UnitOfWork(hooks.app, chain.tenant_id),
            subscription_id,
            SubscriptionStatus.DISABLED,
            datetime.now(UTC),
        )
        hooks.sink().deliver([hooks.event(chain)], datetime.now(UTC))
        assert hook.received == []


def _resolving_to(address: str) -> Callable[[str, int], list[str]]:
    return lambda host, port: [address]


def test_deployed_stages_never_post_to_private_addresses(hooks: Hooks, chain: Chain) -> None:
    """Outside the local stage every address a host resolves to must be public: the
    metadata service, loopback and private networks are refused before any connection."""
    with receiver() as hook:
        subscription_id, _ = hooks.subscribe(chain.tenant_id, hook.url)
        hooks.admin.execute(
            "UPDATE event_subscriptions SET url = 'https://hooks.example.com/in' WHERE id = %s",
            (subscription_id,),
        )
        for address in ("169.254.169.254", "10.0.0.7", "127.0.0.1", "::1", "100.64.0.1"):
            sender = WebhookSender(local_stage=False, resolver=_resolving_to(address))
            WebhookSink(hooks.factory, sender=sender).deliver(
                [hooks.event(chain)], datetime.now(UTC)
            )
        assert hook.received == []
        errors_seen = {row["last_error"] for row in hooks.deliveries(subscription_id)}
        assert errors_seen == {
            "refused: hooks.example.com resolves to a private or reserved address"
        }


def test_deployed_stages_post_to_the_address_they_checked_over_verified_tls(
    hooks: Hooks, chain: Chain, tmp_path: Path
) -> None:
    """The deployed path end to end: the name resolved once, the connection made to that
    address, TLS verified against the name (SNI and certificate), the Host header the
    name's. A certificate for another name is refused. (127.0.0.1 stands in for a public
    address here: the address rule is the one thing given.)"""
    right = self_signed("hooks.example.com", tmp_path)
    wrong = self_signed("other.example.com", tmp_path)
    lookups: list[str] = []

    def resolver(host: str, port: int) -> list[str]:
        lookups.append(host)
        return ["127.0.0.1"]

    with receiver(tls=right.server) as good, receiver(tls=wrong.server) as bad:
        good_sub, secret = hooks.subscribe(chain.tenant_id, "https://hooks.example.com/in")
        bad_sub, _ = hooks.subscribe(chain.tenant_id, "https://hooks.example.com/in")
        for subscription_id, server in ((good_sub, good), (bad_sub, bad)):
            port = server.url.split(":")[2].split("/")[0]
            hooks.admin.execute(
                "UPDATE event_subscriptions SET url = %s WHERE id = %s",
                (f"https://hooks.example.com:{port}/in?x=1", subscription_id),
            )
        for cert, subscription_id in ((right, good_sub), (wrong, bad_sub)):
            sender = WebhookSender(
                local_stage=False,
                resolver=resolver,
                address_allowed=lambda address: True,
                ca_certs=cert.pem_path,
                timeout=FAST,
            )
            event = hooks.event(chain)
            hooks.admin.execute(
                "UPDATE event_subscriptions SET status = CASE WHEN id = %s THEN 'active'"
                " ELSE 'disabled' END WHERE tenant_id = %s",
                (subscription_id, chain.tenant_id),
            )
            WebhookSink(hooks.factory, sender=sender).deliver([event], datetime.now(UTC))
        (got,) = good.received
        assert got.headers["host"] == f"hooks.example.com:{good.url.split(':')[2].split('/')[0]}"
        assert good.verified(secret) == [got.envelope()]
        assert hooks.deliveries(good_sub)[0]["status"] == "delivered"
        assert bad.received == []
        assert hooks.deliveries(bad_sub)[0]["last_error"] == "TLS handshake or certificate failed"
        assert lookups == ["hooks.example.com", "hooks.example.com"]


def test_deliveries_hold_no_personal_data(hooks: Hooks, chain: Chain) -> None:
    """A delivery refers to its event; erasing the event's data leaves nothing of the
    lead in the subscription tables."""
    with receiver() as hook:
        subscription_id, _ = hooks.subscribe(chain.tenant_id, hook.url)
        event = hooks.event(
            chain,
            EventType.REPLY_RECEIVED,
            body="call me at 555 0101",
            **{"from": chain.lead_phone},
        )
        hooks.sink().deliver([event], datetime.now(UTC))
        assert chain.lead_phone in hook.received[0].body.decode()
        for table in ("event_deliveries", "event_subscriptions"):
            text = hooks.admin.execute(
                f"SELECT string_agg(t::text, ' ') AS all FROM {table} t WHERE tenant_id = %s",
                (chain.tenant_id,),
            ).fetchone()
            assert text is not None
            assert chain.lead_phone not in text["all"]
            assert "555 0101" not in text["all"]
        assert hooks.deliveries(subscription_id)[0]["event_id"] == event.id


# --- the database's rules, each tried ---------------------------------------------------


def _a_delivery(hooks: Hooks, chain: Chain) -> tuple[uuid.UUID, uuid.UUID]:
    subscription_id, _ = hooks.subscribe(chain.tenant_id, "https://hooks.example.com/in")
    event = hooks.event(chain)
    with UnitOfWork(hooks.jobs) as uow:
        uow.deliveries.create_for([event.id], datetime.now(UTC))
        uow.commit()
    return subscription_id, event.id


def test_one_delivery_per_subscription_and_event(
    hooks: Hooks, chain: Chain, admin: Connection
) -> None:
    subscription_id, event_id = _a_delivery(hooks, chain)
    with pytest.raises(errors.UniqueViolation):
        admin.execute(
            "INSERT INTO event_deliveries (tenant_id, subscription_id, event_id, started_at,"
            " next_attempt_at) VALUES (%s, %s, %s, now(), now())",
            (chain.tenant_id, subscription_id, event_id),
        )


DELIVERY_BREAKS: list[tuple[str, type[Exception]]] = [
    ("webhook_id = 'msg_mine'", errors.GeneratedAlways),
    ("event_id = gen_random_uuid()", errors.CheckViolation),  # the pair is for good
    ("created_at = now() - interval '1 day'", errors.CheckViolation),
    ("status = 'delivered', attempts = 1", errors.CheckViolation),  # no delivered_at
    ("status = 'failed', attempts = 1, next_attempt_at = NULL", errors.CheckViolation),
    ("status = 'pending', next_attempt_at = NULL", errors.CheckViolation),
    ("status = 'lost'", errors.CheckViolation),
    ("last_error = repeat('x', 301)", errors.CheckViolation),
]


def test_a_delivery_keeps_its_rules(hooks: Hooks, chain: Chain, admin: Connection) -> None:
    subscription_id, _ = _a_delivery(hooks, chain)
    for change, refusal in DELIVERY_BREAKS:
        with pytest.raises(refusal), admin.transaction():
            admin.execute(
                f"UPDATE event_deliveries SET {change} WHERE subscription_id = %s",
                (subscription_id,),
            )
    (row,) = hooks.deliveries(subscription_id)
    assert (row["status"], row["attempts"]) == ("pending", 0)


def test_a_delivery_cannot_pair_a_subscription_with_another_tenants_event(
    hooks: Hooks, chain: Chain, admin: Connection
) -> None:
    subscription_id, _ = hooks.subscribe(chain.tenant_id, "https://hooks.example.com/in")
    other = make_chain(admin)
    theirs = hooks.event(other)
    for tenant in (chain.tenant_id, other.tenant_id):
        with pytest.raises(errors.ForeignKeyViolation):
            admin.execute(
                "INSERT INTO event_deliveries (tenant_id, subscription_id, event_id, started_at,"
                " next_attempt_at) VALUES (%s, %s, %s, now(), now())",
                (tenant, subscription_id, theirs.id),
            )


SUBSCRIPTION_BREAKS = [
    "secret_ref = 'whsec_c2VjcmV0'",  # a value in clear
    "secret_ref = replace(secret_ref, tenant_id::text, gen_random_uuid()::text)",
    "status = 'failing'",  # without since when
    "failing_since = now()",  # while active
    "event_types = ARRAY['lead.exploded']",
    "event_types = ARRAY[]::text[]",
    "url = 'ftp://example.com/in'",
    "url = 'HTTPS://example.com/in'",
]


def test_a_subscription_keeps_its_rules(hooks: Hooks, chain: Chain, admin: Connection) -> None:
    subscription_id, _ = hooks.subscribe(chain.tenant_id, "https://hooks.example.com/in")
    for change in SUBSCRIPTION_BREAKS:
        with pytest.raises(errors.CheckViolation), admin.transaction():
            admin.execute(
                f"UPDATE event_subscriptions SET {change} WHERE id = %s", (subscription_id,)
            )
    assert hooks.subscription(subscription_id)["status"] == "active"


def test_row_level_security_hides_another_tenants_subscriptions(
    hooks: Hooks, chain: Chain, admin: Connection
) -> None:
    subscription_id, _ = _a_delivery(hooks, chain)
    other = make_chain(admin)
    with UnitOfWork(hooks.app, other.tenant_id) as uow:
        assert uow.subscriptions.get(subscription_id) is None
        assert uow.deliveries.log(subscription_id, None, 10) == []
        assert uow.subscriptions.delete(subscription_id) is None
    with UnitOfWork(hooks.app, chain.tenant_id) as uow:
        assert uow.subscriptions.get(subscription_id) is not None
        assert len(uow.deliveries.log(subscription_id, None, 10)) == 1


def test_the_secret_is_in_secrets_manager_under_the_tenants_path(
    hooks: Hooks, chain: Chain
) -> None:
    subscription_id, secret = hooks.subscribe(chain.tenant_id, "https://hooks.example.com/in")
    ref = hooks.subscription(subscription_id)["secret_ref"]
    assert ref == (
        f"tether/local/tenants/{chain.tenant_id}/event-subscriptions/{subscription_id}/signing-secret"
    )
    assert hooks.store.client.get_secret_value(SecretId=ref)["SecretString"] == secret
    assert secret.startswith("whsec_")


def test_retention_deleting_an_event_takes_its_deliveries(
    hooks: Hooks, chain: Chain, jobs_connections: FreshConnections
) -> None:
    subscription_id, event_id = _a_delivery(hooks, chain)
    with UnitOfWork(jobs_connections) as uow:  # the jobs role, as retention runs
        uow.connection.execute("DELETE FROM outbox_events WHERE id = %s", (event_id,))
        uow.commit()
    assert hooks.deliveries(subscription_id) == []
