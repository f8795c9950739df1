"""Inbound replies: stored once, matched to their number, campaign and lead, and acted
on in the same transaction (seed 000's matching, seed 002's state and timers).

What is here: the thread and the message (deduplicated on the provider's id), the
unmatched queue, classification, the lead's state move with its event (the receipt is
the dedupe key), opt-out (suppression, SUPPRESSED), re-subscribe (START/UNSTOP lift the
opt-out), the captured email, and the cancelling of the lead's pending timers.
Still to come (issue 6): the call queue and lease for high intent, notifications, the
worker decision and auto reply, worker routing, thread insights, and the opt-out
confirmation text.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from uuid import UUID

from tether.db.inbound import InboundDraft
from tether.db.unit_of_work import UnitOfWork
from tether.domain.classification import Classification, Intent, ReplyClassifier, classify_reply
from tether.domain.events import InboundMessage
from tether.domain.lead_state import LeadState, can_transition
from tether.domain.model import Lead
from tether.domain.phone import normalize_or_keep
from tether.observability import logger
from tether.services.leads import move_lead
from tether.services.matching import match_inbound
from tether.services.numbers import tenant_number_settings


class ReplyOutcome(StrEnum):
    MATCHED = "matched"
    UNMATCHED = "unmatched"
    DUPLICATE = "duplicate"


@dataclass(frozen=True, slots=True)
class HandledReply:
    outcome: ReplyOutcome
    message_id: UUID | None = None
    lead_id: UUID | None = None
    classification: Classification | None = None
    state: LeadState | None = None


class _RuleBased:
    def classify(self, body: str, region: str = "US") -> Classification:
        return classify_reply(body, region)


def handle_reply(
    uow: UnitOfWork,
    tenant_id: UUID,
    reply: InboundMessage,
    receipt_id: UUID,
    now: datetime,
    classifier: ReplyClassifier | None = None,
    *,
    commit: bool = True,
) -> HandledReply:
    """Store, match and act on one inbound reply, in one transaction (the caller's, with
    `commit=False`)."""
    region = tenant_number_settings(uow, tenant_id).default_region
    match = match_inbound(uow, tenant_id, reply.to_address, reply.from_address, region)
    ours, theirs = (
        normalize_or_keep(reply.to_address, region),
        normalize_or_keep(reply.from_address, region),
    )
    lead = (
        uow.leads.get(match.lead_id, for_update=True) if match.lead_id else None
    )  # the lead first
    thread_id = uow.messages.thread_for(tenant_id, ours, theirs, match.lead_id, match.campaign_id)
    message_id = uow.replies.insert(
        InboundDraft(
            tenant_id=tenant_id,
            thread_id=thread_id,
            provider=reply.provider,
            external_id=reply.external_id,
            from_address=theirs,
            to_address=ours,
            body=reply.body,
            media_urls=list(reply.media_urls),
            received_at=reply.occurred_at,
            lead_id=match.lead_id,
            campaign_id=match.campaign_id if match.assignment_id else None,
            assignment_id=match.assignment_id,
            number_id=match.number_id if match.assignment_id else None,
        )
    )
    if message_id is None:  # stored before: its effects were applied then
        return HandledReply(ReplyOutcome.DUPLICATE)
    reason = match.unmatched_reason
    if lead is None or reason is not None:
        uow.replies.park_unmatched(tenant_id, message_id, reason or "no lead matched")
        if commit:
            uow.commit()
        logger.warning("reply unmatched", extra={"message_id": str(message_id), "reason": reason})
        return HandledReply(ReplyOutcome.UNMATCHED, message_id)
    classification = (classifier or _RuleBased()).classify(reply.body, region)
    uow.replies.note_reply(thread_id, lead.id, reply.occurred_at)
    cancelled = uow.replies.cancel_timers(lead.id, now)  # any reply stops the follow-ups
    state = _act(uow, lead, classification, theirs, message_id, receipt_id, now)
    if commit:
        uow.commit()
    logger.info(
        "reply handled",
        extra={
            "tenant_id": str(tenant_id),
            "lead_id": str(lead.id),
            "message_id": str(message_id),
            "matched_by": match.matched_by,
            "intent": classification.intent.value,
            "state": state.value,
            "timers_cancelled": cancelled,
        },
    )
    return HandledReply(ReplyOutcome.MATCHED, message_id, lead.id, classification, state)


def _act(
    uow: UnitOfWork,
    lead: Lead,
    classification: Classification,
    phone: str,
    message_id: UUID,
    receipt_id: UUID,
    now: datetime,
) -> LeadState:
    payload = {
        "message_id": str(message_id),
        "intent": classification.intent.value,
        "keyword": classification.keyword,
    }
    if classification.intent is Intent.OPT_OUT:
        # the lead is locked already: an opt-out takes the lead, then the phone
        uow.suppressions.add(
            lead.tenant_id,
            phone,
            "opt_out",
            keyword=classification.keyword,
            source_message_id=message_id,
        )
        target = LeadState.SUPPRESSED
    elif classification.intent is Intent.RESUBSCRIBE:
        uow.replies.lift_suppressions(
            lead.tenant_id, phone, now, f"re-subscribed: {classification.keyword}"
        )
        target = LeadState.RESPONDED
    else:
        if classification.email:
            uow.replies.set_email(lead.id, classification.email)
        target = (
            LeadState.HIGH_INTENT
            if classification.high_intent
            else LeadState.EMAIL_CAPTURED
            if classification.email
            else LeadState.RESPONDED
        )
    if lead.state is target or not can_transition(lead.state, target):
        # e.g. a suppressed lead stays suppressed, a high-intent lead is not demoted
        uow.lead_events.append(lead, "REPLY_RECEIVED", f"receipt:{receipt_id}", payload=payload)
        return lead.state
    move_lead(
        uow,
        lead.id,
        target,
        event_type="REPLY_RECEIVED",
        dedupe_key=f"receipt:{receipt_id}",
        payload=payload,
        commit=False,
        locked=lead,
    )
    return target
