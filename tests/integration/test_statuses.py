"""Delivery statuses applied to their messages on real PostgreSQL: monotonic, kept in
the history, parked until the send's SID exists, counted on the number's health."""

from __future__ import annotations

import itertools
import uuid
from datetime import UTC, datetime

from tests.support.factories import Chain, insert_message, make_chain, outbound_values
from tests.support.outbound import NOW, Outbound
from tether.api.schemas import TraceMessage
from tether.db.connection import Connection, FreshConnections
from tether.db.unit_of_work import UnitOfWork
from tether.domain.events import StatusUpdate
from tether.domain.message_status import MessageStatus
from tether.providers import SendAccepted, SendCommand, SmsProvider
from tether.services.outbound import Outcome
from tether.services.statuses import StatusOutcome, apply_status_update
from tether.services.traces import lead_trace
from tether_dev.sandbox import SandboxServer

M = MessageStatus


def sent_message(admin: Connection, chain: Chain, sid: str) -> uuid.UUID:
    return insert_message(
        admin, outbound_values(chain, provider="sandbox", external_id=sid, status="sent")
    )


def report(
    sid: str, status: MessageStatus, code: str | None = None, minute: int = 0
) -> StatusUpdate:
    return StatusUpdate(
        provider="sandbox",
        external_id=sid,
        status=status,
        error_code=code,
        occurred_at=datetime(2026, 11, 21, 20, minute, tzinfo=UTC),
    )


def receipt(admin: Connection, chain: Chain) -> uuid.UUID:
    row = admin.execute(
        "INSERT INTO webhook_receipts (tenant_id, provider_account_id, provider, idempotency_key, event_type, raw_body)"
        " VALUES (%s, %s, 'sandbox', %s, 'status_update', '{}') RETURNING id",
        (chain.tenant_id, chain.provider_account_id, f"sandbox:{uuid.uuid4()}"),
    ).fetchone()
    assert row is not None
    receipt_id: uuid.UUID = row["id"]
    return receipt_id


def apply(
    app: FreshConnections, chain: Chain, update: StatusUpdate, receipt_id: uuid.UUID | None = None
) -> StatusOutcome:
    with UnitOfWork(app, chain.tenant_id) as uow:
        outcome = apply_status_update(uow, chain.tenant_id, update, receipt_id, NOW).outcome
        uow.commit()  # a step of the inbound use case, which commits it
        return outcome


def message(admin: Connection, message_id: uuid.UUID) -> dict[str, object]:
    row = admin.execute(
        "SELECT status, delivered_at, error_code FROM messages WHERE id = %s", (message_id,)
    ).fetchone()
    assert row is not None
    return dict(row)


SEQUENCE = [M.QUEUED, M.SENT, M.DELIVERED, M.READ]


def test_every_order_of_four_statuses_ends_at_the_highest(
    admin: Connection, app_connections: FreshConnections
) -> None:
    chain = make_chain(admin)
    for n, order in enumerate(itertools.permutations(SEQUENCE)):
        sid = f"SM-perm-{n}"
        message_id = sent_message(admin, chain, sid)
        for minute, status in enumerate(order):
            apply(app_connections, chain, report(sid, status, minute=minute))
        assert message(admin, message_id)["status"] == "read", order
        history = admin.execute(
            "SELECT count(*) AS n FROM message_status_events WHERE message_id = %s", (message_id,)
        )
        assert history.fetchone() == {"n": 4}


def test_terminal_statuses_never_flip(
    admin: Connection, app_connections: FreshConnections, chain: Chain
) -> None:
    message_id = sent_message(admin, chain, "SM-flip")
    assert apply(app_connections, chain, report("SM-flip", M.DELIVERED)) is StatusOutcome.APPLIED
    assert (
        apply(app_connections, chain, report("SM-flip", M.FAILED, "30003"))
        is StatusOutcome.UNCHANGED
    )
    assert apply(app_connections, chain, report("SM-flip", M.SENT)) is StatusOutcome.UNCHANGED
    assert message(admin, message_id)["status"] == "delivered"


def test_a_redelivered_receipt_changes_nothing(
    admin: Connection, app_connections: FreshConnections, chain: Chain
) -> None:
    message_id = sent_message(admin, chain, "SM-dup")
    receipt_id = receipt(admin, chain)
    assert (
        apply(app_connections, chain, report("SM-dup", M.DELIVERED), receipt_id)
        is StatusOutcome.APPLIED
    )
    assert (
        apply(app_connections, chain, report("SM-dup", M.DELIVERED), receipt_id)
        is StatusOutcome.DUPLICATE
    )
    counts = admin.execute(
        "SELECT delivered_count FROM phone_numbers WHERE id = %s", (chain.number_id,)
    ).fetchone()
    assert counts == {"delivered_count": 1}
    assert message(admin, message_id)["delivered_at"] == NOW


def test_delivery_outcomes_count_on_the_number(
    admin: Connection, app_connections: FreshConnections, chain: Chain
) -> None:
    for sid, status, code in [
        ("SM-a", M.DELIVERED, None),
        ("SM-b", M.UNDELIVERED, "filtered"),
        ("SM-c", M.FAILED, "invalid_number"),
    ]:
        sent_message(admin, chain, sid)
        apply(app_connections, chain, report(sid, status, code))
    row = admin.execute(
        "SELECT delivered_count, filtered_count, failed_count FROM phone_numbers WHERE id = %s",
        (chain.number_id,),
    ).fetchone()
    assert row == {"delivered_count": 1, "filtered_count": 1, "failed_count": 1}


def test_an_unsubscribed_failure_suppresses_the_recipient(
    admin: Connection, app_connections: FreshConnections, chain: Chain
) -> None:
    message_id = sent_message(admin, chain, "SM-stop")
    apply(app_connections, chain, report("SM-stop", M.FAILED, "unsubscribed"))
    assert message(admin, message_id)["error_code"] == "unsubscribed"
    suppression = admin.execute(
        "SELECT reason, source_message_id FROM suppressions WHERE tenant_id = %s AND phone = %s",
        (chain.tenant_id, chain.lead_phone),
    ).fetchone()
    assert suppression == {"reason": "carrier_block", "source_message_id": message_id}


def test_an_unknown_sid_is_parked_not_dropped(
    admin: Connection, app_connections: FreshConnections, chain: Chain
) -> None:
    assert apply(app_connections, chain, report("SM-nobody", M.DELIVERED)) is StatusOutcome.PARKED
    parked = admin.execute(
        "SELECT status FROM message_status_events WHERE external_id = 'SM-nobody' AND message_id IS NULL"
    ).fetchall()
    assert parked == [{"status": "delivered"}]


def test_a_status_before_the_sid_is_saved_is_applied_with_it(
    admin: Connection, app_connections: FreshConnections, sandbox: SandboxServer
) -> None:
    outbound = Outbound(admin, app_connections, sandbox)
    message_id = outbound.request(outbound.lead())
    outcomes: list[StatusOutcome] = []

    class CallbackFirst:
        """The provider calls back before our send's answer is recorded."""

        def __init__(self, inner: SmsProvider) -> None:
            self.inner = inner
            self.name = inner.name
            self.supports_idempotency_key = inner.supports_idempotency_key

        def send(self, command: SendCommand) -> SendAccepted:
            accepted = self.inner.send(command)
            with UnitOfWork(app_connections, outbound.tenant_id) as uow:
                update = report(accepted.external_id, M.DELIVERED)
                outcomes.append(
                    apply_status_update(uow, outbound.tenant_id, update, None, NOW).outcome
                )
                uow.commit()
            return accepted

        def find_sent(self, command: SendCommand, sent_after: datetime) -> SendAccepted | None:
            return self.inner.find_sent(command, sent_after)

    result = outbound.process(message_id, provider=CallbackFirst(outbound.provider()))
    assert result.outcome is Outcome.SENT
    assert outcomes == [StatusOutcome.PARKED]
    row = admin.execute(
        "SELECT status, delivered_at FROM messages WHERE id = %s", (message_id,)
    ).fetchone()
    assert row == {"status": "delivered", "delivered_at": NOW}
    leftover = admin.execute(
        "SELECT count(*) AS n FROM message_status_events WHERE message_id IS NULL AND tenant_id = %s",
        (outbound.tenant_id,),
    ).fetchone()
    assert leftover == {"n": 0}


def test_trace_lists_statuses_by_rank_and_time_and_keeps_their_arrival_order(
    admin: Connection, app_connections: FreshConnections
) -> None:
    chain = make_chain(admin)
    sid = f"SM-order-{uuid.uuid4().hex[:8]}"
    message_id = sent_message(admin, chain, sid)
    # the queue hands them over as sent, delivered, queued; they happened queued (20:00),
    # sent (20:01), delivered (20:02)
    arrivals = [(M.SENT, 1), (M.DELIVERED, 2), (M.QUEUED, 0)]
    for status, minute in arrivals:
        apply(app_connections, chain, report(sid, status, minute=minute))
    trace = lead_trace(UnitOfWork(app_connections, chain.tenant_id), chain.tenant_id, chain.lead_id)
    (traced,) = (m for m in trace.messages if m["id"] == message_id)
    history = TraceMessage.model_validate(traced).status_history
    assert [(h.status, h.occurred_at.minute, h.received_order) for h in history] == [
        ("queued", 0, 3),
        ("sent", 1, 1),
        ("delivered", 2, 2),
    ]
    assert history[1].received_at < history[2].received_at < history[0].received_at
    assert message(admin, message_id)["status"] == "delivered"


def test_statuses_of_one_rank_read_in_the_time_they_happened(
    admin: Connection, app_connections: FreshConnections
) -> None:
    chain = make_chain(admin)
    sid = f"SM-rank-{uuid.uuid4().hex[:8]}"
    message_id = sent_message(admin, chain, sid)
    # two terminal reports (rank 4), the later one arriving first
    for status, minute in [(M.FAILED, 5), (M.DELIVERED, 3), (M.READ, 9), (M.SENDING, 7)]:
        apply(app_connections, chain, report(sid, status, minute=minute))
    trace = lead_trace(UnitOfWork(app_connections, chain.tenant_id), chain.tenant_id, chain.lead_id)
    (traced,) = (m for m in trace.messages if m["id"] == message_id)
    assert [(h["status"], h["received_order"]) for h in traced["status_history"]] == [
        ("sending", 4),
        ("delivered", 2),
        ("failed", 1),
        ("read", 3),
    ]
