"""The timer job against real PostgreSQL, with its clock injected: each timer fires once
at its time, replies cancel, the escalation map moves leads between campaigns (each text
from that campaign's bound number), failures retry and are recorded, and overlapping
runs never fire a timer twice."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import pytest
from psycopg import errors as pg

from tests.support.factories import make_lead
from tests.support.outbound import NOW, SENDER
from tests.support.sqs_records import send_ids
from tests.support.timers import LEAD_PHONE, NUDGE, NURTURE, RETARGET, RecordingQueue, World
from tether.db.connection import Connection, FreshConnections
from tether.db.timers import TimerRepository
from tether.db.unit_of_work import UnitOfWork
from tether.domain.events import InboundMessage
from tether.domain.timers import FOLLOW_UP_TEXT, TimerType
from tether.services.outbound import Outcome
from tether.services.replies import handle_reply
from tether.services.timers import TimerRunReport
from tether_dev.sandbox import SandboxServer


@pytest.fixture
def world(
    admin: Connection,
    app_connections: FreshConnections,
    jobs_connections: FreshConnections,
    sandbox: SandboxServer,
) -> World:
    return World(admin, app_connections, jobs_connections, sandbox)


def test_first_touch_schedules_the_tenants_escalations(
    admin: Connection,
    app_connections: FreshConnections,
    jobs_connections: FreshConnections,
    sandbox: SandboxServer,
) -> None:
    world = World(
        admin, app_connections, jobs_connections, sandbox, timer_7d_days=3, timer_14d_days=10
    )
    timers = world.timers(world.touched())
    assert {kind: row["trigger_at"] for kind, row in timers.items()} == {
        "TIMER_7D": NOW + timedelta(days=3),
        "TIMER_14D": NOW + timedelta(days=10),
        "TIMER_30D": NOW + timedelta(days=30),
    }


@pytest.mark.parametrize("timer_type", list(TimerType))
def test_each_timer_type_fires_once_at_its_time_and_not_before(
    world: World, timer_type: TimerType
) -> None:
    lead_id = world.touched()
    due = NOW + timedelta(days=2)
    with world.uow() as uow:  # only the timer under test
        uow.timers.cancel(lead_id, NOW, "test")
        uow.commit()
    timer_id = world.schedule(lead_id, timer_type, due)

    assert world.run(due - timedelta(seconds=1)).fired == 0
    assert world.timers(lead_id)[timer_type.value]["executed_at"] is None

    queue = RecordingQueue()
    report = world.run(due, queue)
    assert (report.fired, report.remaining) == (1, 0)
    timer = world.timers(lead_id)[timer_type.value]
    assert timer["executed_at"] == due
    assert timer["attempts"] == 1
    assert world.run(due + timedelta(hours=1), queue).fired == 0  # once

    fired = [e for e in world.events(lead_id) if e["dedupe_key"] == f"timer:{timer_id}"]
    assert len(fired) == 1
    if timer_type is TimerType.TIMER_30D:  # no step: the 30-day timer closes
        assert world.lead_row(lead_id)["state"] == "closed"
        assert (fired[0]["previous_state"], fired[0]["new_state"]) == ("touched", "closed")
    elif timer_type is TimerType.CALLBACK:
        entry = world.admin.execute(
            "SELECT status, reason, due_at FROM call_queue WHERE lead_id = %s", (lead_id,)
        ).fetchone()
        assert entry == {"status": "queued", "reason": "callback", "due_at": due}
    else:  # 7D and 14D without a step, and FOLLOW_UP: a follow-up in the same campaign
        message = world.sent(timer["message_id"])
        assert message["campaign_id"] == world.campaign_id
        assert message["from_address"] == message["bound"] == SENDER
        assert (message["body"], message["send_key"]) == (FOLLOW_UP_TEXT, f"timer:{timer_id}")
        assert len(queue.bodies) == 1
        assert str(timer["message_id"]) in queue.bodies[0]


def test_a_reply_at_six_days_cancels_the_seven_day_timer(world: World) -> None:
    lead_id = world.touched()
    at = NOW + timedelta(days=6)
    event = InboundMessage(
        provider="sandbox",
        external_id=f"SM{uuid.uuid4().hex}",
        from_address=LEAD_PHONE,
        to_address=SENDER,
        body="Who is this?",
        occurred_at=at,
    )
    handle_reply(UnitOfWork(world.app, world.tenant_id), world.tenant_id, event, uuid.uuid4(), at)

    report = world.run(NOW + timedelta(days=7))
    assert report.fired == 0
    timer = world.timers(lead_id)["TIMER_7D"]
    assert timer["executed_at"] is None
    assert timer["cancel_reason"] == "lead replied"


def test_a_timer_whose_lead_has_since_replied_is_cancelled_not_fired(world: World) -> None:
    """A lead that answered (however the reply got recorded) is not escalated."""
    lead_id = world.touched()
    world.admin.execute("UPDATE leads SET state = 'responded' WHERE id = %s", (lead_id,))
    report = world.run(NOW + timedelta(days=7))
    assert (report.fired, report.cancelled) == (0, 1)
    assert world.timers(lead_id)["TIMER_7D"]["cancel_reason"] == "lead replied"


def test_an_opt_out_cancels_the_leads_pending_timers_in_its_transaction(world: World) -> None:
    lead_id = world.touched()
    world.admin.execute(
        "INSERT INTO suppressions (tenant_id, phone, reason) VALUES (%s, %s, 'opt_out')",
        (world.tenant_id, LEAD_PHONE),
    )
    timers = world.timers(lead_id)
    assert {row["cancel_reason"] for row in timers.values()} == {"suppressed"}
    assert world.run(NOW + timedelta(days=31)).fired == 0


def test_the_escalation_map_moves_a_lead_through_campaigns(world: World) -> None:
    """7 days: CATHY's nudge campaign; 14: the retarget; 30: content nurture. Each move
    is a lead event and a text from the new campaign's bound number; the earlier texts
    keep theirs."""
    world.step("TIMER_7D", "move", world.nudge)
    world.step("TIMER_14D", "move", world.retarget)
    world.step("TIMER_30D", "move", world.nurture)
    lead_id = world.touched()
    first = world.admin.execute("SELECT id FROM messages WHERE lead_id = %s", (lead_id,)).fetchone()
    assert first is not None

    path = [(7, world.nudge, NUDGE), (14, world.retarget, RETARGET), (30, world.nurture, NURTURE)]
    sent = [first["id"]]
    for days, campaign_id, number in path:
        at = NOW + timedelta(days=days)
        assert world.run(at).fired == 1
        assert world.lead_row(lead_id) == {"state": "touched", "campaign_id": campaign_id}
        message_id = world.timers(lead_id)[f"TIMER_{days}D"]["message_id"]
        message = world.sent(message_id)
        assert (message["campaign_id"], message["from_address"], message["bound"]) == (
            campaign_id,
            number,
            number,
        )
        assert world.process(message_id, at).outcome is Outcome.SENT
        sent.append(message_id)

    # the provider saw each text from its campaign's number, the first one still from GIANNA's
    assert [(t.from_number, t.to_number) for t in world.sandbox.texts()] == [
        (SENDER, LEAD_PHONE),
        (NUDGE, LEAD_PHONE),
        (RETARGET, LEAD_PHONE),
        (NURTURE, LEAD_PHONE),
    ]
    assert [world.sent(m)["from_address"] for m in sent] == [SENDER, NUDGE, RETARGET, NURTURE]
    escalations = [e for e in world.events(lead_id) if e["event_type"] == "ESCALATED"]
    assert [
        (e["payload"]["previous_campaign_id"], e["payload"]["campaign_id"]) for e in escalations
    ] == [
        (str(world.campaign_id), str(world.nudge)),
        (str(world.nudge), str(world.retarget)),
        (str(world.retarget), str(world.nurture)),
    ]


def test_an_escalation_to_closed_ends_the_conversation(world: World) -> None:
    world.step("TIMER_30D", "close")
    lead_id = world.touched()
    world.schedule(lead_id, TimerType.FOLLOW_UP, NOW + timedelta(days=40))
    for days in (7, 14):
        world.run(NOW + timedelta(days=days))
    world.run(NOW + timedelta(days=30))
    assert world.lead_row(lead_id)["state"] == "closed"
    timers = world.timers(lead_id)
    assert timers["FOLLOW_UP"]["cancel_reason"] == "lead closed"  # nothing after closing
    assert world.run(NOW + timedelta(days=41)).fired == 0


def test_a_later_escalation_supersedes_an_earlier_one_due_with_it(world: World) -> None:
    """After downtime, a lead whose 7- and 14-day timers are both due gets one text."""
    world.step("TIMER_7D", "move", world.nudge)
    world.step("TIMER_14D", "move", world.retarget)
    lead_id = world.touched()
    report = world.run(NOW + timedelta(days=15))
    assert (report.fired, report.cancelled) == (1, 1)
    timers = world.timers(lead_id)
    assert timers["TIMER_7D"]["cancel_reason"] == "superseded by a later escalation"
    assert timers["TIMER_14D"]["executed_at"] is not None
    assert world.lead_row(lead_id)["campaign_id"] == world.retarget


def test_a_failing_send_is_retried_on_later_runs_then_recorded(world: World) -> None:
    unstaged = world.campaign("nudger", "cathy", "Cathy here", staged=False)  # no number
    world.step("TIMER_7D", "move", unstaged)
    lead_id = world.touched()
    due = NOW + timedelta(days=7)

    first = world.run(due)
    assert (first.fired, first.failed, first.gave_up) == (0, 1, 0)
    timer = world.timers(lead_id)["TIMER_7D"]
    assert timer["attempts"] == 1
    assert "has no active number" in timer["last_error"]
    assert timer["retry_at"] == due + timedelta(minutes=1)
    assert world.run(due).failed == 0  # not again in the same run: on the next one

    assert world.run(due + timedelta(minutes=1)).failed == 1
    last = world.run(due + timedelta(minutes=3))
    assert (last.failed, last.gave_up) == (1, 1)
    timer = world.timers(lead_id)["TIMER_7D"]
    assert timer["attempts"] == 3
    assert timer["cancel_reason"] == "gave up after max attempts"
    audit = world.admin.execute(
        "SELECT detail FROM audit_log WHERE kind = 'timer_failed' AND subject_id = %s",
        (str(timer["id"]),),
    ).fetchall()
    assert len(audit) == 1
    assert "has no active number" in audit[0]["detail"]["error"]
    assert world.run(due + timedelta(days=1)).failed == 0
    assert world.lead_row(lead_id)["campaign_id"] == world.campaign_id  # not moved


def test_a_batch_that_fails_is_fired_one_timer_at_a_time(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One timer the database refuses costs itself an attempt; the rest of its batch fires."""
    leads = [world.touched(f"+1415555{index:04d}") for index in range(200, 205)]
    poison = leads[2]
    original = TimerRepository.append_events

    def append_events(self: TimerRepository, events: Sequence[Any]) -> None:
        if any(event.lead_id == poison for event in events):
            raise pg.CheckViolation("refused for the test")
        original(self, events)

    monkeypatch.setattr(TimerRepository, "append_events", append_events)
    report = world.run(NOW + timedelta(days=7))
    assert (report.fired, report.failed) == (4, 1)
    assert world.timers(poison)["TIMER_7D"]["attempts"] == 1
    assert "refused for the test" in world.timers(poison)["TIMER_7D"]["last_error"]
    assert all(world.timers(lead)["TIMER_7D"]["executed_at"] for lead in leads if lead != poison)


def test_a_backlog_is_worked_oldest_first_within_the_budget(world: World) -> None:
    leads = [make_lead(world.admin, world.tenant_id, None, world.campaign_id) for _ in range(30)]
    for offset, lead_id in enumerate(leads):
        world.schedule(lead_id, TimerType.CALLBACK, NOW - timedelta(hours=offset))
    budget = iter([10.0, 10.0, 0.0])  # seconds left: time for two batches
    report = world.run(NOW, batch_size=10, time_left=lambda: next(budget), reserve_seconds=1)
    assert (report.fired, report.batches, report.remaining) == (20, 2, 10)
    waiting = {lead for lead in leads if world.timers(lead)["CALLBACK"]["executed_at"] is None}
    assert waiting == set(leads[:10])  # the ten most recent wait for the next run


def test_two_concurrent_runs_over_5000_due_timers_fire_each_exactly_once(world: World) -> None:
    world.admin.execute(
        "INSERT INTO leads (tenant_id, campaign_id, phone, state)"
        " SELECT %s, %s, '+1212' || lpad(n::text, 7, '0'), 'touched' FROM generate_series(1, 5000) n",
        (world.tenant_id, world.campaign_id),
    )
    world.admin.execute(
        "INSERT INTO lead_timers (tenant_id, lead_id, timer_type, trigger_at)"
        " SELECT tenant_id, id, (ARRAY['TIMER_7D', 'FOLLOW_UP', 'CALLBACK'])[1 + (row_number() OVER () %% 3)]::timer_type,"
        " %s - (random() * interval '1 day') FROM leads WHERE tenant_id = %s AND phone LIKE '+1212%%'",
        (NOW, world.tenant_id),
    )
    queue = RecordingQueue()
    start = threading.Barrier(2)
    reports: list[TimerRunReport] = []

    def run() -> None:
        start.wait()
        reports.append(world.run(NOW, queue, batch_size=200))

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sum(r.fired for r in reports) == 5000
    assert all(r.fired for r in reports)
    counts = world.admin.execute(
        "SELECT count(*) FILTER (WHERE executed_at IS NOT NULL) AS fired,"
        " count(*) FILTER (WHERE executed_at IS NULL) AS open, max(attempts) AS attempts"
        " FROM lead_timers t JOIN leads l ON l.id = t.lead_id"
        " WHERE t.tenant_id = %s AND l.phone LIKE '+1212%%'",
        (world.tenant_id,),
    ).fetchone()
    assert counts == {"fired": 5000, "open": 0, "attempts": 1}
    kinds = world.admin.execute(
        "SELECT count(*) FILTER (WHERE timer_type = 'CALLBACK') AS calls,"
        " count(*) FILTER (WHERE timer_type <> 'CALLBACK') AS texts"
        " FROM lead_timers t JOIN leads l ON l.id = t.lead_id"
        " WHERE t.tenant_id = %s AND l.phone LIKE '+1212%%'",
        (world.tenant_id,),
    ).fetchone()
    assert kinds is not None
    sends = world.admin.execute(
        "SELECT count(*) AS n, count(DISTINCT lead_id) AS leads FROM messages"
        " WHERE tenant_id = %s AND send_key LIKE 'timer:%%'",
        (world.tenant_id,),
    ).fetchone()
    assert sends is not None
    assert sends["n"] == sends["leads"] == kinds["texts"]
    sent = send_ids([json.loads(body) for body in queue.bodies])
    assert len(sent) == len(set(sent)) == kinds["texts"]
    events = world.admin.execute(
        "SELECT count(*) AS n FROM lead_events WHERE tenant_id = %s AND dedupe_key LIKE 'timer:%%'",
        (world.tenant_id,),
    ).fetchone()
    assert events == {"n": 5000}
    calls = world.admin.execute(
        "SELECT count(*) AS n FROM call_queue WHERE tenant_id = %s", (world.tenant_id,)
    ).fetchone()
    assert calls == {"n": kinds["calls"]}


def test_a_fired_timer_cannot_be_reopened(world: World, admin: Connection) -> None:
    lead_id = world.touched()
    world.run(NOW + timedelta(days=7))
    with pytest.raises(pg.CheckViolation, match="fired already"):
        admin.execute(
            "UPDATE lead_timers SET executed_at = NULL WHERE lead_id = %s AND timer_type = 'TIMER_7D'",
            (lead_id,),
        )


def test_a_move_needs_a_campaign_and_only_escalations_have_steps(world: World) -> None:
    with pytest.raises(pg.CheckViolation):
        world.step("TIMER_7D", "move")
    with pytest.raises(pg.CheckViolation):
        world.step("FOLLOW_UP", "close")
