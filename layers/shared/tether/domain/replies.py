"""What a reply does to its lead and its team, decided without I/O (seed 002 parts 2 and
6 to 8, seed 003 phase 4). The service (tether.services.replies) writes what is decided
here; the phone-wide effects (suppression, re-subscribe) are its own."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tether.domain.classification import Classification, Intent
from tether.domain.lead_state import LeadState, can_transition, leaves_suppression
from tether.domain.phone import is_mobile
from tether.domain.worker import WorkerDecision

REPLY_RECEIVED = "REPLY_RECEIVED"


@dataclass(frozen=True, slots=True)
class ReplyEffect:
    """The lead after one reply: the state it ends in, whether that is a move (else the
    reply is only noted, as an event without states), and an email to keep."""

    state: LeadState
    moves: bool
    email: str | None
    payload: dict[str, Any]


def reply_effect(
    current: LeadState, classification: Classification, message_id: str
) -> ReplyEffect:
    """An opt-out suppresses, "not interested" and a wrong number close, START/UNSTOP
    makes the lead one that responded again (out of SUPPRESSED too: the re-subscribe); otherwise the lead has responded, given an
    email, or asked for a call. A move the state machine forbids, or a move to where
    the lead is, keeps the lead where it is: a suppressed lead stays suppressed, a
    high-intent lead is not demoted."""
    intent, email = classification.intent, None
    if intent is Intent.OPT_OUT:
        target = LeadState.SUPPRESSED
    elif intent in {Intent.NOT_INTERESTED, Intent.WRONG_NUMBER}:
        target = LeadState.CLOSED
    elif intent is Intent.RESUBSCRIBE:
        target = LeadState.RESPONDED
    else:
        email = classification.email
        target = (
            LeadState.HIGH_INTENT
            if classification.high_intent
            else LeadState.EMAIL_CAPTURED
            if email
            else LeadState.RESPONDED
        )
    payload = {"message_id": message_id, "intent": intent.value, "keyword": classification.keyword}
    # only the lead's own START/UNSTOP leads out of SUPPRESSED (its event names the cause)
    guarded = leaves_suppression(current, target) and intent is not Intent.RESUBSCRIBE
    if current is target or guarded or not can_transition(current, target):
        return ReplyEffect(current, False, email, payload)
    return ReplyEffect(target, True, email, payload)


@dataclass(frozen=True, slots=True)
class CallRequest:
    """A call-queue entry: gold when both an email and a mobile number are known."""

    priority: int
    reason: str


@dataclass(frozen=True, slots=True)
class FollowThrough:
    """The bell, the call, the follow-up and the thread's insight after a matched reply."""

    notification_kind: str
    notification_title: str
    notification_body: str
    call: CallRequest | None
    follow_up_at: datetime | None
    insight_label: str
    insight_next_step: str | None
    insight_summary: str


_TITLES = {"opt_out": "Opt-out", "high_intent": "Hot lead", "reply": "Reply"}


def follow_through(
    *,
    phone: str,
    body: str,
    classification: Classification,
    decision: WorkerDecision,
    known_email: str | None,
    gold_label_priority: int,
    call_priority: int,
    now: datetime,
) -> FollowThrough:
    """The team's side of a reply from `phone`: a bell of its kind, a call for high
    intent (gold priority when the email and a mobile number are both known), the
    worker's follow-up time, and the insight the thread shows."""
    opt_out = classification.intent is Intent.OPT_OUT
    kind = "opt_out" if opt_out else "high_intent" if classification.high_intent else "reply"
    call = None
    if classification.high_intent and not opt_out:
        email = classification.email or known_email
        mobile = classification.phone or (phone if is_mobile(phone) else None)
        gold = bool(email and mobile)
        call = CallRequest(
            gold_label_priority if gold else call_priority,
            "gold" if gold else classification.intent.value,
        )
    return FollowThrough(
        notification_kind=kind,
        notification_title=f"{_TITLES[kind]} from {phone}",
        notification_body=body[:280],
        call=call,
        follow_up_at=now + decision.follow_up_after if decision.follow_up_after else None,
        insight_label=classification.intent.value,
        insight_next_step=decision.next_step.value if decision.next_step else None,
        insight_summary=f"{classification.intent.value}: {body[:200]}",
    )
