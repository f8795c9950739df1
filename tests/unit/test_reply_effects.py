"""A reply's effect on its lead: decided in tether.domain.replies, written by
tether.services.replies (here through the in-memory unit of work)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.support.fakes import FakeUnitOfWork
from tether.domain.classification import (
    EDGE_OPT_OUT_KEYWORDS,
    OPT_OUT_KEYWORDS,
    OPT_OUT_PHRASES,
    Classification,
    Intent,
    RuleBasedClassifier,
)
from tether.domain.lead_state import LeadState, can_transition
from tether.domain.replies import follow_through, reply_effect
from tether.domain.worker import decide
from tether.services.replies import apply_to_lead

NOW = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
MESSAGE = "5b0c4d8e-0000-4000-8000-000000000001"


@pytest.mark.parametrize(
    ("state", "body", "after", "moves"),
    [
        (LeadState.TOUCHED, "STOP", LeadState.SUPPRESSED, True),
        (LeadState.TOUCHED, "not interested", LeadState.CLOSED, True),
        (LeadState.TOUCHED, "wrong number", LeadState.CLOSED, True),
        (LeadState.TOUCHED, "what is this about", LeadState.RESPONDED, True),
        (LeadState.TOUCHED, "my email is jo@example.com", LeadState.EMAIL_CAPTURED, True),
        (LeadState.TOUCHED, "yes, call me", LeadState.HIGH_INTENT, True),
        (LeadState.RESPONDED, "yes, call me", LeadState.HIGH_INTENT, True),
        # never demoted, and a suppressed lead stays suppressed whatever it says
        (LeadState.HIGH_INTENT, "what is this about", LeadState.HIGH_INTENT, False),
        (LeadState.SUPPRESSED, "yes, call me", LeadState.SUPPRESSED, False),
        (LeadState.SUPPRESSED, "YES", LeadState.SUPPRESSED, False),
        (LeadState.SUPPRESSED, "start please", LeadState.SUPPRESSED, False),
        # only its own START/UNSTOP re-subscribes it (the database checks the cause)
        (LeadState.SUPPRESSED, "START", LeadState.RESPONDED, True),
        (LeadState.SUPPRESSED, "Unstop!", LeadState.RESPONDED, True),
        (LeadState.RESPONDED, "what is this about", LeadState.RESPONDED, False),
        (LeadState.CLOSED, "yes, call me", LeadState.CLOSED, False),
    ],
)
def test_a_reply_moves_its_lead(state: LeadState, body: str, after: LeadState, moves: bool) -> None:
    effect = reply_effect(state, RuleBasedClassifier().classify(body), MESSAGE)
    assert (effect.state, effect.moves) == (after, moves)
    assert effect.payload["message_id"] == MESSAGE


def test_an_email_is_kept_only_from_a_reply_that_is_not_a_refusal() -> None:
    kept = reply_effect(LeadState.TOUCHED, Classification(Intent.OTHER, email="a@b.co"), MESSAGE)
    refused = reply_effect(
        LeadState.TOUCHED, Classification(Intent.NOT_INTERESTED, email="a@b.co"), MESSAGE
    )
    assert (kept.email, refused.email) == ("a@b.co", None)


@given(
    state=st.sampled_from(LeadState),
    intent=st.sampled_from(Intent),
    email=st.none() | st.just("lead@example.com"),
    phone=st.none() | st.just("+14155550123"),
)
def test_every_reply_ends_in_a_state_the_machine_allows(
    state: LeadState, intent: Intent, email: str | None, phone: str | None
) -> None:
    effect = reply_effect(state, Classification(intent, email=email, phone=phone), MESSAGE)
    if effect.moves:
        assert effect.state is not state
        assert can_transition(state, effect.state)
    else:
        assert effect.state is state
    if intent is Intent.OPT_OUT and can_transition(state, LeadState.SUPPRESSED):
        assert effect.state is LeadState.SUPPRESSED  # an opt-out is never lost
    if state is LeadState.SUPPRESSED and intent is not Intent.RESUBSCRIBE:
        assert effect.state is LeadState.SUPPRESSED  # nothing else leads out


_EVERY_OPT_OUT = sorted(set(OPT_OUT_KEYWORDS) | set(EDGE_OPT_OUT_KEYWORDS) | set(OPT_OUT_PHRASES))


@pytest.mark.parametrize("phrasing", _EVERY_OPT_OUT)
def test_every_opt_out_phrasing_suppresses_a_re_subscribed_lead(phrasing: str) -> None:
    """A lead back in RESPONDED after START is suppressed again by every opt-out the
    classifier knows (regex phrasings are tried by tests/unit/test_opt_out_rules.py)."""
    if any(char in phrasing for char in "\\[]()?*+"):
        pytest.skip("a pattern, not a phrasing")
    back = reply_effect(LeadState.SUPPRESSED, RuleBasedClassifier().classify("START"), MESSAGE)
    assert back.state is LeadState.RESPONDED
    again = reply_effect(back.state, RuleBasedClassifier().classify(phrasing), MESSAGE)
    assert (again.state, again.moves) == (LeadState.SUPPRESSED, True)


def test_a_start_from_a_suppressed_lead_is_written_as_a_re_subscribe() -> None:
    fake = FakeUnitOfWork(region="US")
    lead = fake.add_lead(state=LeadState.SUPPRESSED)
    uow = fake.as_uow()
    with uow:
        _, state = apply_to_lead(uow, lead, uuid.uuid4(), "START", "receipt:1", NOW)
    assert state is LeadState.RESPONDED
    assert [(e.event_type, e.new_state) for e in fake.lead_events.events] == [
        ("RESUBSCRIBED", LeadState.RESPONDED)
    ]
    # told to the tenant's systems as the move and the re-subscribe it is
    assert [e.type.value for e in fake.outbox.recorded] == [
        "lead.state_changed",
        "lead.resubscribed",
    ]


@pytest.mark.parametrize(
    ("phone", "email", "known", "priority", "reason"),
    [
        ("+14155550123", "jo@example.com", None, 100, "gold"),  # a mobile and an email
        ("+14155550123", None, "on@file.com", 100, "gold"),  # the email the lead had
        ("+14155550123", None, None, 50, "interested"),
    ],
)
def test_high_intent_queues_a_call_gold_when_email_and_mobile_are_known(
    phone: str, email: str | None, known: str | None, priority: int, reason: str
) -> None:
    classification = Classification(Intent.INTERESTED, email=email)
    plan = follow_through(
        phone=phone,
        body="yes, call me",
        classification=classification,
        decision=decide(classification),
        known_email=known,
        gold_label_priority=100,
        call_priority=50,
        now=NOW,
    )
    assert plan.call is not None
    assert (plan.call.priority, plan.call.reason) == (priority, reason)
    assert (plan.notification_kind, plan.notification_title) == (
        "high_intent",
        f"Hot lead from {phone}",
    )


def test_an_opt_out_rings_its_own_bell_and_asks_for_no_call() -> None:
    classification = RuleBasedClassifier().classify("STOP calling me")
    plan = follow_through(
        phone="+14155550123",
        body="STOP calling me",
        classification=classification,
        decision=decide(classification),
        known_email="jo@example.com",
        gold_label_priority=100,
        call_priority=50,
        now=NOW,
    )
    assert (plan.notification_kind, plan.call, plan.follow_up_at) == ("opt_out", None, None)


def test_a_captured_email_schedules_the_workers_follow_up() -> None:
    classification = Classification(Intent.OTHER, email="jo@example.com")
    plan = follow_through(
        phone="+14155550123",
        body="jo@example.com " + "x" * 400,
        classification=classification,
        decision=decide(classification),
        known_email=None,
        gold_label_priority=100,
        call_priority=50,
        now=NOW,
    )
    assert plan.follow_up_at == NOW + timedelta(days=1)
    assert (plan.insight_label, plan.insight_next_step) == ("other", "follow_up")
    assert len(plan.notification_body) == 280


# The service, through the in-memory unit of work.


def test_a_stop_given_to_its_lead_suppresses_the_phone_and_the_lead() -> None:
    fake = FakeUnitOfWork()
    lead = fake.add_lead()
    message_id = uuid.uuid4()
    with fake:
        classification, state = apply_to_lead(
            fake.as_uow(), lead, message_id, "Stop.", "assigned:1", NOW
        )
    assert (classification.intent, state) == (Intent.OPT_OUT, LeadState.SUPPRESSED)
    assert fake.leads.rows[lead.id].state is LeadState.SUPPRESSED
    assert fake.suppressions.live == {(lead.tenant_id, lead.phone): "stop"}
    assert fake.timers.cancelled == [(lead.id, "lead replied")]
    [event] = fake.lead_events.events
    assert (event.event_type, event.previous_state, event.new_state) == (
        "REPLY_RECEIVED",
        LeadState.TOUCHED,
        LeadState.SUPPRESSED,
    )
    assert fake.committed == 0  # a step: the caller commits


def test_an_email_in_a_reply_is_kept_on_the_lead() -> None:
    fake = FakeUnitOfWork()
    lead = fake.add_lead()
    with fake:
        _, state = apply_to_lead(
            fake.as_uow(), lead, uuid.uuid4(), "reach me at jo@example.com", "assigned:2", NOW
        )
    assert state is LeadState.EMAIL_CAPTURED
    assert fake.leads.rows[lead.id].email == "jo@example.com"
    assert fake.suppressions.live == {}


def test_a_reply_given_twice_is_acted_on_once() -> None:
    fake = FakeUnitOfWork()
    lead = fake.add_lead()
    with fake:
        apply_to_lead(fake.as_uow(), lead, uuid.uuid4(), "yes, call me", "assigned:3", NOW)
        moved = fake.leads.rows[lead.id]
        apply_to_lead(fake.as_uow(), moved, uuid.uuid4(), "yes, call me", "assigned:3", NOW)
    assert fake.leads.rows[lead.id].state is LeadState.HIGH_INTENT
    assert len(fake.lead_events.events) == 1


def test_a_suppressed_lead_that_says_yes_stays_suppressed_and_the_reply_is_noted() -> None:
    fake = FakeUnitOfWork()
    lead = fake.add_lead(state=LeadState.SUPPRESSED)
    with fake:
        _, state = apply_to_lead(fake.as_uow(), lead, uuid.uuid4(), "yes, call me", "a:4", NOW)
    assert state is LeadState.SUPPRESSED
    [event] = fake.lead_events.events
    assert (event.event_type, event.previous_state, event.new_state) == (
        "REPLY_RECEIVED",
        None,
        None,
    )


def test_the_reply_is_read_by_the_classifier_given_in_place_of_the_rule_based_one() -> None:
    """Tether's reply handling asks the classifier it is given, not its own: a model
    that reads every reply as interest makes even a STOP a call request here."""

    class AlwaysInterested:
        def classify(self, body: str, region: str = "US") -> Classification:
            return Classification(intent=Intent.INTERESTED)

    fake = FakeUnitOfWork()
    lead = fake.add_lead()
    with fake:
        classification, state = apply_to_lead(
            fake.as_uow(), lead, uuid.uuid4(), "STOP", "a:5", NOW, AlwaysInterested()
        )
    assert (classification.intent, state) == (Intent.INTERESTED, LeadState.HIGH_INTENT)
    assert fake.suppressions.live == {}


def test_the_tenants_region_reads_the_reply() -> None:
    """The rule-based classifier reads national numbers in the tenant's region."""
    lead_gb = FakeUnitOfWork(region="GB")
    lead = lead_gb.add_lead()
    with lead_gb:
        classification, _ = apply_to_lead(
            lead_gb.as_uow(), lead, uuid.uuid4(), "ring me on 020 7946 0018", "a:6", NOW
        )
    assert classification.phone == "+442079460018"
