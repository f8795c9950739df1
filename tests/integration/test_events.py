"""Events through the outbox (issue 16) on real PostgreSQL: each effect records its
event once, in its own transaction (a replayed cause records nothing more; a rolled back
effect leaves no event), and every recorded event matches its published schema
(tests.support.events.recorded checks each one)."""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.events import kinds, recorded
from tests.support.factories import Chain, insert_message, outbound_values
from tests.support.outbound import NOW, SENDER, Outbound
from tests.support.replies import LEAD_PHONE, reply
from tests.support.timers import RecordingQueue
from tether.db.connection import Connection, FreshConnections
from tether.db.unit_of_work import UnitOfWork
from tether.domain.events import InboundMessage, StatusUpdate
from tether.domain.message_status import MessageStatus
from tether.domain.outbox import EventType, OutboxEvent
from tether.domain.timers import TimerType
from tether.services.leases import lease_number, release_expired_leases, release_lease
from tether.services.outbound import Outcome
from tether.services.replies import ReplyOutcome, apply_reply
from tether.services.retention import purge_expired
from tether.services.statuses import apply_status_update
from tether.services.timers import fire_due_timers
from tether_dev.sandbox import SandboxServer

E = EventType
M = MessageStatus


def new_events(
    admin: Connection, app: FreshConnections, tenant_id: uuid.UUID, before: list[OutboxEvent]
) -> list[OutboxEvent]:
    seen = {event.id for event in before}
    return [e for e in recorded(admin, app, tenant_id) if e.id not in seen]


def one(events: list[OutboxEvent], type: EventType) -> dict[str, object]:
    [event] = [e for e in events if e.type is type]
    return dict(event.data)


def test_a_high_intent_reply_records_its_events_once(
    texted: tuple[Outbound, uuid.UUID], admin: Connection
) -> None:
    outbound, lead_id = texted
    app, tenant = outbound.app, outbound.tenant_id
    # the first text was taken by the provider and moved the lead new -> touched, in the
    # send's transaction
    sent, touched = recorded(admin, app, tenant)
    assert sent.type is E.MESSAGE_STATUS_CHANGED
    assert (sent.data["previous_status"], sent.data["status"]) == ("sending", "sent")
    assert dict(touched.data) == {
        "lead_id": str(lead_id),
        "from": "new",
        "to": "touched",
        "reason": "FIRST_TOUCH",
    }
    handled = reply(outbound, "yes! call me at 650-530-0051", sid="SMcall")
    events = new_events(admin, app, tenant, [sent, touched])
    assert Counter(kinds(events)) == {
        "lead.state_changed": 1,
        "call.queued": 1,
        "lease.acquired": 1,
        "reply.received": 1,
    }
    assert all(e.lead_id == lead_id for e in events)
    received = one(events, E.REPLY_RECEIVED)
    bell = admin.execute(
        "SELECT id FROM notifications WHERE message_id = %s", (handled.message_id,)
    ).fetchone()
    assert bell is not None
    assert received == {
        "channel": "sms",
        "lead_id": str(lead_id),
        "campaign_id": str(outbound.campaign_id),
        "thread_id": received["thread_id"],
        "message_id": str(handled.message_id),
        "number_id": received["number_id"],
        "stage": "initial_message",
        "notification_id": str(bell["id"]),
        "from": LEAD_PHONE,
        "to": SENDER,
        "body": "yes! call me at 650-530-0051",
        "classification": "interested",
        "received_at": (NOW + timedelta(minutes=5)).isoformat(),
    }
    assert one(events, E.LEAD_STATE_CHANGED)["to"] == "high_intent"
    assert one(events, E.LEASE_ACQUIRED)["number"] == SENDER
    assert one(events, E.CALL_QUEUED)["priority"] == 50
    # the provider delivers the same webhook again: nothing more is recorded
    assert reply(outbound, "yes! call me at 650-530-0051", sid="SMcall").outcome is (
        ReplyOutcome.DUPLICATE
    )
    # a second high-intent reply: the lead is queued and leased already
    reply(outbound, "yes, call me please", sid="SMcall2")
    after = new_events(admin, app, tenant, [sent, touched, *events])
    assert kinds(after) == ["reply.received"]


def test_stop_then_start_record_the_opt_out_and_the_resubscribe(
    texted: tuple[Outbound, uuid.UUID], admin: Connection
) -> None:
    outbound, lead_id = texted
    app, tenant = outbound.app, outbound.tenant_id
    before = recorded(admin, app, tenant)
    reply(outbound, "STOP", sid="SMstop")
    reply(outbound, "STOP", sid="SMstop")  # the same webhook twice
    stopped = new_events(admin, app, tenant, before)
    assert Counter(kinds(stopped)) == {
        "reply.received": 1,
        "lead.opted_out": 1,
        "lead.state_changed": 1,
    }
    assert one(stopped, E.LEAD_OPTED_OUT) == {
        "lead_id": str(lead_id),
        "phone": LEAD_PHONE,
        "number_id": one(stopped, E.REPLY_RECEIVED)["number_id"],
        "number": SENDER,
        "keyword": "stop",
        "source": "reply",
    }
    assert one(stopped, E.LEAD_STATE_CHANGED)["to"] == "suppressed"
    reply(outbound, "STOP", sid="SMstop-again")  # suppressed already: no second opt-out
    again = new_events(admin, app, tenant, before + stopped)
    assert kinds(again) == ["reply.received"]
    reply(outbound, "START", sid="SMstart")
    started = new_events(admin, app, tenant, before + stopped + again)
    assert Counter(kinds(started)) == {
        "reply.received": 1,
        "lead.state_changed": 1,
        "lead.resubscribed": 1,
    }
    resubscribed = one(started, E.LEAD_RESUBSCRIBED)
    assert resubscribed["lead_id"] == str(lead_id)
    assert resubscribed["proof"] == {  # the lead's own START
        "message_id": one(started, E.REPLY_RECEIVED)["message_id"],
        "intent": "resubscribe",
        "keyword": "start",
    }
    assert one(started, E.LEAD_STATE_CHANGED)["from"] == "suppressed"


def test_a_reply_rolled_back_leaves_no_event(
    texted: tuple[Outbound, uuid.UUID], admin: Connection
) -> None:
    outbound, _ = texted
    before = recorded(admin, outbound.app, outbound.tenant_id)
    event = InboundMessage(
        provider="sandbox",
        external_id="SMrolled",
        from_address=LEAD_PHONE,
        to_address=SENDER,
        body="STOP",
        occurred_at=NOW,
    )
    with UnitOfWork(outbound.app, outbound.tenant_id) as uow:
        apply_reply(uow, outbound.tenant_id, event, uuid.uuid4(), NOW)
        assert {e.type for e in uow.outbox.recorded} >= {E.REPLY_RECEIVED, E.LEAD_OPTED_OUT}
        uow.rollback()
        assert uow.outbox.recorded == []  # nothing for a relay to hand on
    assert recorded(admin, outbound.app, outbound.tenant_id) == before


def test_a_send_tells_when_the_provider_took_it_and_when_it_failed(
    admin: Connection, app_connections: FreshConnections, sandbox: SandboxServer
) -> None:
    outbound = Outbound(admin, app_connections, sandbox)
    taken = outbound.request(outbound.lead("+14155550123"))
    refused = outbound.request(outbound.lead("+14155550124"))
    assert outbound.process(taken).outcome is Outcome.SENT
    assert outbound.process(taken).outcome is Outcome.ALREADY_DONE  # told once
    with outbound.uow() as uow:  # the second lead opts out before its send is handed over
        uow.suppressions.add(outbound.tenant_id, "+14155550124", "opt_out", keyword="STOP")
        uow.commit()
    assert outbound.process(refused).outcome is Outcome.FAILED
    told = {
        e.data["message_id"]: (e.data["previous_status"], e.data["status"], e.data["error_code"])
        for e in recorded(admin, app_connections, outbound.tenant_id, E.MESSAGE_STATUS_CHANGED)
    }
    code = outbound.message(refused)["error_code"]
    assert code
    assert told == {
        str(taken): ("sending", "sent", None),
        str(refused): (told[str(refused)][0], "failed", code),
    }
    assert told[str(refused)][0] in ("queued", "sending")


def test_a_status_that_moves_the_message_records_once(
    chain: Chain, admin: Connection, app_connections: FreshConnections
) -> None:
    message_id = insert_message(
        admin, outbound_values(chain, provider="sandbox", external_id="SMstatus", status="sent")
    )

    def apply(status: MessageStatus, code: str | None = None) -> None:
        update = StatusUpdate(
            provider="sandbox",
            external_id="SMstatus",
            status=status,
            error_code=code,
            occurred_at=NOW,
        )
        with UnitOfWork(app_connections, chain.tenant_id) as uow:
            apply_status_update(uow, chain.tenant_id, update, None, NOW)
            uow.commit()

    apply(MessageStatus.DELIVERED)
    apply(MessageStatus.DELIVERED)  # repeated
    apply(MessageStatus.SENT)  # late: behind the message
    events = recorded(admin, app_connections, chain.tenant_id)
    assert [dict(e.data) for e in events] == [
        {
            "message_id": str(message_id),
            "lead_id": str(chain.lead_id),
            "campaign_id": str(chain.campaign_id),
            "status": "delivered",
            "previous_status": "sent",
            "error_code": None,
        }
    ]


REPORTS = [M.QUEUED, M.SENT, M.DELIVERED, M.UNDELIVERED, M.FAILED, M.READ]


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(reports=st.lists(st.sampled_from(REPORTS), min_size=1, max_size=6))
def test_status_events_tell_the_messages_path_without_gaps_or_repeats(
    chain: Chain, admin: Connection, app_connections: FreshConnections, reports: list[M]
) -> None:
    """Whatever reports arrive, in any order and repeated: each event starts where the
    last one ended, no status is told twice, and the last one told is the message's."""
    sid = f"SM{uuid.uuid4().hex}"
    message_id = insert_message(
        admin, outbound_values(chain, provider="sandbox", external_id=sid, status="queued")
    )
    for minute, status in enumerate(reports):
        update = StatusUpdate(
            provider="sandbox",
            external_id=sid,
            status=status,
            error_code="30007" if status in (M.FAILED, M.UNDELIVERED) else None,
            occurred_at=NOW + timedelta(minutes=minute),
        )
        with UnitOfWork(app_connections, chain.tenant_id) as uow:
            apply_status_update(uow, chain.tenant_id, update, None, NOW)
            uow.commit()
    told = [
        e.data
        for e in recorded(admin, app_connections, chain.tenant_id, E.MESSAGE_STATUS_CHANGED)
        if e.data["message_id"] == str(message_id)
    ]
    path = ["queued"] + [data["status"] for data in told]
    assert [data["previous_status"] for data in told] == path[:-1]
    assert len(set(path)) == len(path)
    row = admin.execute("SELECT status FROM messages WHERE id = %s", (message_id,)).fetchone()
    assert row == {"status": path[-1]}


def test_a_lease_records_acquired_and_released_once_each(
    chain: Chain,
    admin: Connection,
    app_connections: FreshConnections,
    jobs_connections: FreshConnections,
) -> None:
    def uow() -> UnitOfWork:
        return UnitOfWork(app_connections, chain.tenant_id)

    lease_number(uow(), chain.tenant_id, chain.lead_id, chain.pool, NOW)
    lease_number(uow(), chain.tenant_id, chain.lead_id, chain.pool, NOW)  # held already
    assert release_lease(uow(), chain.lead_id, chain.pool, NOW)
    assert not release_lease(uow(), chain.lead_id, chain.pool, NOW)  # nothing held
    lease = lease_number(uow(), chain.tenant_id, chain.lead_id, chain.pool, NOW + timedelta(days=1))
    # the pool_release job, past the lease's end (it works across tenants)
    release_expired_leases(UnitOfWork(jobs_connections), lease.release_at + timedelta(minutes=1))
    events = recorded(admin, app_connections, chain.tenant_id)
    assert kinds(events) == ["lease.acquired", "lease.released", "lease.acquired", "lease.released"]
    common = {
        "lead_id": str(chain.lead_id),
        "number_id": str(chain.number_id),
        "number": chain.number,
        "pool": chain.pool,
    }
    assert [dict(e.data) for e in events] == [
        {**common, "release_at": events[0].data["release_at"]},
        {**common, "reason": "manual"},
        {**common, "release_at": lease.release_at.isoformat()},
        {**common, "reason": "expired"},
    ]


def test_the_timer_job_records_its_closes_and_calls(
    texted: tuple[Outbound, uuid.UUID], admin: Connection, jobs_connections: FreshConnections
) -> None:
    outbound, lead_id = texted
    app, tenant = outbound.app, outbound.tenant_id
    # the job works across tenants: other tests' due timers are not ours
    admin.execute(
        "UPDATE lead_timers SET cancelled_at = now(), cancel_reason = 'another test'"
        " WHERE executed_at IS NULL AND cancelled_at IS NULL AND timer_type <> 'TIMER_30D'"
    )
    admin.execute(
        "UPDATE lead_timers SET cancelled_at = now(), cancel_reason = 'another test'"
        " WHERE executed_at IS NULL AND cancelled_at IS NULL AND lead_id <> %s",
        (lead_id,),
    )
    with outbound.uow() as uow:
        uow.timers.schedule(tenant, lead_id, TimerType.CALLBACK.value, NOW + timedelta(days=1))
        uow.commit()
    before = recorded(admin, app, tenant)
    fire_due_timers(UnitOfWork(jobs_connections), RecordingQueue(), NOW + timedelta(days=2))
    called = new_events(admin, app, tenant, before)
    assert kinds(called) == ["call.queued"]
    assert one(called, E.CALL_QUEUED)["reason"] == "callback"
    fire_due_timers(UnitOfWork(jobs_connections), RecordingQueue(), NOW + timedelta(days=31))
    closed = new_events(admin, app, tenant, before + called)
    assert [dict(e.data) for e in closed] == [
        {"lead_id": str(lead_id), "from": "touched", "to": "closed", "reason": "TIMER_CLOSED"}
    ]
    # nothing is due any more: a second run records nothing
    fire_due_timers(UnitOfWork(jobs_connections), RecordingQueue(), NOW + timedelta(days=31))
    assert new_events(admin, app, tenant, before + called + closed) == []


def test_erasure_empties_the_persons_events_and_retention_drops_old_relayed_ones(
    texted: tuple[Outbound, uuid.UUID], admin: Connection, jobs_connections: FreshConnections
) -> None:
    from tether.services.erasure import erase_lead

    outbound, lead_id = texted
    reply(outbound, "STOP", sid="SMerase")
    erase_lead(outbound.uow(), lead_id, "test", datetime.now(UTC))
    rows = admin.execute(
        "SELECT type, data, erased_at FROM outbox_events WHERE tenant_id = %s",
        (outbound.tenant_id,),
    ).fetchall()
    assert rows
    assert all(r["data"] == {} and r["erased_at"] is not None for r in rows)
    # retention: relayed events past 30 days go, a never-relayed one waits for its relay
    admin.execute(
        "UPDATE outbox_events SET relayed_at = now() WHERE tenant_id = %s AND type = %s",
        (outbound.tenant_id, E.REPLY_RECEIVED.value),
    )
    purge_expired(UnitOfWork(jobs_connections), datetime.now(UTC) + timedelta(days=31))
    left = admin.execute(
        "SELECT type FROM outbox_events WHERE tenant_id = %s ORDER BY type", (outbound.tenant_id,)
    ).fetchall()
    assert [r["type"] for r in left] == [
        "lead.opted_out",
        "lead.state_changed",
        "lead.state_changed",
        "message.status_changed",  # the first text, taken by the provider
    ]
