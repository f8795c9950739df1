"""Inbound replies end to end on real PostgreSQL: a text goes out through the sandbox,
the lead answers, and the answer lands on its lead, campaign and thread."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from tests.support.outbound import NOW, SENDER, Outbound
from tests.support.replies import LEAD_PHONE, reply
from tether.db.connection import Connection
from tether.domain.lead_state import LeadState
from tether.services.outbound import Outcome
from tether.services.replies import ReplyOutcome


def lead_row(admin: Connection, lead_id: uuid.UUID) -> dict[str, object]:
    row = admin.execute(
        "SELECT state::text AS state, email FROM leads WHERE id = %s", (lead_id,)
    ).fetchone()
    assert row is not None
    return dict(row)


def active_timers(admin: Connection, lead_id: uuid.UUID) -> int:
    row = admin.execute(
        "SELECT count(*) AS n FROM lead_timers WHERE lead_id = %s AND executed_at IS NULL AND cancelled_at IS NULL",
        (lead_id,),
    ).fetchone()
    assert row is not None
    count: int = row["n"]
    return count


def test_a_reply_lands_on_its_lead_campaign_and_thread(
    texted: tuple[Outbound, uuid.UUID], admin: Connection
) -> None:
    outbound, lead_id = texted
    assert active_timers(admin, lead_id) == 3  # the 7-, 14- and 30-day timers
    handled = reply(outbound, "Thanks for reaching out")
    assert (handled.outcome, handled.lead_id, handled.state) == (
        ReplyOutcome.MATCHED,
        lead_id,
        LeadState.RESPONDED,
    )
    row = admin.execute(
        "SELECT m.lead_id, m.campaign_id, m.from_address, m.to_address, t.unread_count,"
        " (SELECT count(*) FROM messages x WHERE x.thread_id = t.id) AS in_thread"
        " FROM messages m JOIN threads t ON t.id = m.thread_id WHERE m.id = %s",
        (handled.message_id,),
    ).fetchone()
    assert row == {
        "lead_id": lead_id,
        "campaign_id": outbound.campaign_id,
        "from_address": LEAD_PHONE,
        "to_address": SENDER,
        "unread_count": 1,
        "in_thread": 3,  # the text that went out, this reply and the answer queued: one thread
    }
    assert active_timers(admin, lead_id) == 0  # any reply cancels the pending timers


def test_stop_suppresses_and_a_queued_send_then_goes_nowhere(
    texted: tuple[Outbound, uuid.UUID], admin: Connection
) -> None:
    outbound, lead_id = texted
    queued = outbound.request(lead_id, send_key="follow-up")
    handled = reply(outbound, "STOP")
    assert handled.state is LeadState.SUPPRESSED
    suppression = admin.execute(
        "SELECT reason, keyword FROM suppressions WHERE tenant_id = %s AND phone = %s AND lifted_at IS NULL",
        (outbound.tenant_id, LEAD_PHONE),
    ).fetchone()
    assert suppression == {"reason": "opt_out", "keyword": "stop"}
    assert active_timers(admin, lead_id) == 0
    assert outbound.process(queued).outcome is Outcome.FAILED
    assert len(outbound.sandbox.texts()) == 1  # only the first text, before the STOP


def test_an_email_is_captured(texted: tuple[Outbound, uuid.UUID], admin: Connection) -> None:
    outbound, lead_id = texted
    assert reply(outbound, "my email is Ana.Lopez@Example.com").state is LeadState.EMAIL_CAPTURED
    assert lead_row(admin, lead_id) == {"state": "email_captured", "email": "ana.lopez@example.com"}


def test_a_call_request_is_high_intent(
    texted: tuple[Outbound, uuid.UUID], admin: Connection
) -> None:
    outbound, lead_id = texted
    handled = reply(outbound, "yes! call me at 650-530-0051")
    assert handled.classification is not None
    assert handled.classification.phone == "+16505300051"
    assert lead_row(admin, lead_id)["state"] == "high_intent"


def test_a_later_reply_does_not_demote_the_lead(
    texted: tuple[Outbound, uuid.UUID], admin: Connection
) -> None:
    outbound, lead_id = texted
    reply(outbound, "yes, call me")
    assert reply(outbound, "my email is ana@example.com").state is LeadState.HIGH_INTENT
    events = admin.execute(
        "SELECT event_type, new_state::text AS state FROM lead_events"
        " WHERE lead_id = %s AND event_type <> 'NUMBER_LEASED' ORDER BY seq",
        (lead_id,),
    ).fetchall()
    assert events == [
        {"event_type": "FIRST_TOUCH", "state": "touched"},
        {"event_type": "REPLY_RECEIVED", "state": "high_intent"},
        {"event_type": "REPLY_RECEIVED", "state": None},
    ]


def test_a_redelivered_reply_changes_nothing(
    texted: tuple[Outbound, uuid.UUID], admin: Connection
) -> None:
    outbound, lead_id = texted
    sid = f"SM-once-{uuid.uuid4().hex}"
    assert reply(outbound, "Interested", sid=sid).outcome is ReplyOutcome.MATCHED
    assert reply(outbound, "Interested", sid=sid).outcome is ReplyOutcome.DUPLICATE
    count = admin.execute(
        "SELECT count(*) AS n FROM messages WHERE lead_id = %s AND direction = 'inbound'",
        (lead_id,),
    ).fetchone()
    assert count == {"n": 1}


@pytest.mark.parametrize(
    ("sender", "to", "reason"),
    [
        ("+13125550199", SENDER, "no lead has the sender's number"),
        (LEAD_PHONE, "+12125550100", "the receiving number is not one of the tenant's"),
    ],
)
def test_unmatched_replies_are_kept_with_the_reason(
    texted: tuple[Outbound, uuid.UUID], admin: Connection, sender: str, to: str, reason: str
) -> None:
    outbound, _ = texted
    handled = reply(outbound, "hello?", sender=sender, to=to)
    assert handled.outcome is ReplyOutcome.UNMATCHED
    row = admin.execute(
        "SELECT u.reason, m.body FROM unmatched_inbound u JOIN messages m ON m.id = u.message_id"
        " WHERE u.message_id = %s",
        (handled.message_id,),
    ).fetchone()
    assert row == {"reason": reason, "body": "hello?"}


def test_start_lifts_the_opt_out_and_re_subscribes_the_lead(
    texted: tuple[Outbound, uuid.UUID], admin: Connection
) -> None:
    outbound, _ = texted
    reply(outbound, "STOP")
    assert reply(outbound, "START").state is LeadState.RESPONDED
    active = admin.execute(
        "SELECT count(*) AS n FROM suppressions WHERE tenant_id = %s AND phone = %s AND lifted_at IS NULL",
        (outbound.tenant_id, LEAD_PHONE),
    ).fetchone()
    assert active == {"n": 0}


def test_a_reply_rings_its_workspace_bell_and_records_the_insight(
    texted: tuple[Outbound, uuid.UUID], admin: Connection
) -> None:
    outbound, lead_id = texted
    handled = reply(outbound, "What is this about?")
    bell = admin.execute(
        "SELECT workspace_stage::text AS stage, kind, lead_id FROM notifications WHERE message_id = %s",
        (handled.message_id,),
    ).fetchall()
    assert bell == [{"stage": "initial_message", "kind": "reply", "lead_id": lead_id}]
    insight = admin.execute(
        "SELECT i.label, i.next_step FROM thread_insights i JOIN messages m ON m.thread_id = i.thread_id"
        " WHERE m.id = %s",
        (handled.message_id,),
    ).fetchone()
    assert insight == {"label": "other", "next_step": "auto_reply"}


def test_high_intent_queues_a_call_and_leases_a_number(
    texted: tuple[Outbound, uuid.UUID], admin: Connection
) -> None:
    outbound, lead_id = texted
    handled = reply(outbound, "yes! call me at 650-530-0051")
    assert handled.decision is not None
    assert handled.decision.next_step is not None
    assert handled.decision.next_step.value == "human_takeover"
    call = admin.execute(
        "SELECT priority, reason, status FROM call_queue WHERE lead_id = %s", (lead_id,)
    ).fetchall()
    assert call == [
        {"priority": 50, "reason": "interested", "status": "queued"}
    ]  # no email yet: not gold
    lease = admin.execute(
        "SELECT e164 FROM phone_numbers WHERE currently_assigned_to = %s", (lead_id,)
    ).fetchall()
    assert lease == [{"e164": SENDER}]
    # an email and a mobile later: gold, and still one entry
    reply(outbound, "yes, ana@example.com, call me")
    call = admin.execute(
        "SELECT priority, reason FROM call_queue WHERE lead_id = %s", (lead_id,)
    ).fetchall()
    assert call == [{"priority": 100, "reason": "interested"}]


def test_the_reply_belongs_to_its_numbers_worker_first(
    texted: tuple[Outbound, uuid.UUID], admin: Connection
) -> None:
    outbound, _ = texted
    first = reply(outbound, "ok")
    admin.execute(
        "UPDATE phone_numbers SET ai_worker = 'cathy' WHERE tenant_id = %s", (outbound.tenant_id,)
    )
    second = reply(outbound, "ok again")
    workers = admin.execute(
        "SELECT ai_worker::text AS w FROM messages WHERE id = ANY(%s) ORDER BY received_at, created_at",
        ([first.message_id, second.message_id],),
    ).fetchall()
    assert [w["w"] for w in workers] == ["gianna", "cathy"]  # the campaign's, then the number's


@pytest.mark.parametrize("body", ["not interested", "wrong number"])
def test_not_interested_or_wrong_number_closes_the_lead(
    texted: tuple[Outbound, uuid.UUID], admin: Connection, body: str
) -> None:
    outbound, lead_id = texted
    handled = reply(outbound, body)
    assert handled.state is LeadState.CLOSED
    assert handled.decision is not None
    assert handled.decision.next_step is None
    assert admin.execute(
        "SELECT count(*) AS n FROM call_queue WHERE lead_id = %s", (lead_id,)
    ).fetchone() == {"n": 0}


def queued(admin: Connection, lead_id: uuid.UUID, purpose: str) -> list[dict[str, object]]:
    return admin.execute(
        "SELECT id, body, from_address FROM messages WHERE lead_id = %s AND purpose = %s ORDER BY created_at",
        (lead_id, purpose),
    ).fetchall()


def test_stop_gets_exactly_one_confirmation_which_goes_out(
    texted: tuple[Outbound, uuid.UUID], admin: Connection
) -> None:
    outbound, lead_id = texted
    reply(outbound, "STOP")
    reply(outbound, "stop")  # already suppressed: no second confirmation
    [confirmation] = queued(admin, lead_id, "opt_out_confirmation")
    assert confirmation["from_address"] == SENDER
    assert str(confirmation["body"]).startswith("You're unsubscribed")
    late_at_night = NOW + timedelta(hours=10)  # 4:00 in Los Angeles: it still goes now
    assert outbound.process(confirmation["id"], late_at_night).outcome is Outcome.SENT  # type: ignore[arg-type]
    assert [t.body for t in outbound.sandbox.texts()][-1] == confirmation["body"]
    assert queued(admin, lead_id, "auto_reply") == []


@pytest.mark.parametrize(
    ("body", "answer"),
    [
        ("What is this about?", "Thanks for your reply"),
        # CTIA: the brand and a contact (the tenant's settings), and how to stop
        ("HELP", "Acme Outreach: for help, contact help@acme.test. Reply STOP"),
    ],
)
def test_the_worker_answers_from_the_bound_number(
    texted: tuple[Outbound, uuid.UUID], admin: Connection, body: str, answer: str
) -> None:
    outbound, lead_id = texted
    sid = f"SM-ask-{uuid.uuid4().hex}"  # provider ids are unique across tenants
    handled = reply(outbound, body, sid=sid)
    reply(outbound, body, sid=sid)  # redelivered: no second answer
    [auto] = queued(admin, lead_id, "auto_reply")
    assert str(auto["body"]).startswith(answer)
    assert outbound.process(auto["id"]).outcome is Outcome.SENT  # type: ignore[arg-type]
    [_, answered] = outbound.sandbox.texts()
    assert (answered.from_number, answered.to_number) == (SENDER, LEAD_PHONE)
    assert handled.outcome is ReplyOutcome.MATCHED


def test_high_intent_goes_to_a_person_not_an_auto_reply(
    texted: tuple[Outbound, uuid.UUID], admin: Connection
) -> None:
    outbound, lead_id = texted
    reply(outbound, "yes, call me")
    assert queued(admin, lead_id, "auto_reply") == []
