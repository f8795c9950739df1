"""Inbound replies: stored once, matched to their number, campaign and lead, and acted
on in the same transaction (seed 000's matching, seed 002's state and timers).

What is here: the thread and the message (deduplicated on the provider's id), the
unmatched queue, classification, the lead's state move with its event (the receipt is
the dedupe key), opt-out (suppression, SUPPRESSED), re-subscribe (START/UNSTOP lift the
opt-out, and the lead out of SUPPRESSED), a keyword opt-in (YES, START) or an
opt-out (STOP) on the consent log, not interested / wrong number (CLOSED), the captured email, the cancelling of
the lead's pending timers, the worker the reply belongs to, the bell of the campaign's
workspace stage, a call-queue entry and a leased number for high intent, the worker's
decision and the thread's insight, and the answer queued from the bound number (the
one opt-out confirmation, or the worker's auto reply).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from uuid import UUID

from tether.db.leads import InboundMatch
from tether.db.messages import InboundDraft
from tether.db.repositories import NewSuppression
from tether.db.unit_of_work import UnitOfWork
from tether.domain.channels import capabilities
from tether.domain.classification import (
    Classification,
    Intent,
    ReplyClassifier,
    RuleBasedClassifier,
)
from tether.domain.consent import ConsentKind
from tether.domain.events import InboundMessage
from tether.domain.lead_state import RESUBSCRIBED, LeadState, leaves_suppression
from tether.domain.media import copyable_media, inbound_channel
from tether.domain.model import Lead
from tether.domain.outbox import (
    EventType,
    call_queued_data,
    opted_out_data,
    reply_received_data,
)
from tether.domain.phone import normalize_or_keep
from tether.domain.replies import REPLY_RECEIVED, follow_through, reply_effect
from tether.domain.timers import TimerType
from tether.domain.worker import (
    NextStep,
    WorkerDecision,
    auto_reply_text,
    decide,
)
from tether.observability import logger, metrics
from tether.services.leads import move_lead
from tether.services.leases import claim_number
from tether.services.matching import match_inbound
from tether.services.numbers import tenant_number_settings
from tether.services.outbound import (
    ReachedNumber,
    SendRequest,
    request_opt_out_confirmation,
    store_send,
)

_E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")


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
    decision: WorkerDecision | None = None
    answer_id: UUID | None = None  # the answer queued (opt-out confirmation or auto reply)
    # the reply's attachments waiting for their copy into the media bucket (MediaQueue's,
    # once the transaction has committed)
    media_ids: tuple[UUID, ...] = ()


_CLASSIFIER = RuleBasedClassifier()


def handle_reply(
    uow: UnitOfWork,
    tenant_id: UUID,
    reply: InboundMessage,
    receipt_id: UUID,
    now: datetime,
    classifier: ReplyClassifier | None = None,
) -> HandledReply:
    """Store, match and act on one inbound reply, in one transaction of its own."""
    with uow:
        handled = apply_reply(uow, tenant_id, reply, receipt_id, now, classifier)
        uow.commit()
    return handled


def apply_reply(
    uow: UnitOfWork,
    tenant_id: UUID,
    reply: InboundMessage,
    receipt_id: UUID,
    now: datetime,
    classifier: ReplyClassifier | None = None,
) -> HandledReply:
    """`handle_reply` as one step of the caller's open transaction (the receipt's)."""
    region = tenant_number_settings(uow, tenant_id).default_region
    sender_channel, thread_channel = _channels(reply)
    match = match_inbound(
        uow, tenant_id, reply.to_address, reply.from_address, region, channel=sender_channel
    )
    ours, theirs = (
        normalize_or_keep(reply.to_address, region),
        normalize_or_keep(reply.from_address, region),
    )
    lead = (
        uow.leads.get(match.lead_id, for_update=True) if match.lead_id else None
    )  # the lead first
    thread_id = uow.threads.for_addresses(
        tenant_id, ours, theirs, match.lead_id, match.campaign_id, thread_channel
    )
    message_id = uow.messages.insert_inbound(
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
            channel=inbound_channel(reply.channel, reply.media_urls),
        )
    )
    if message_id is None:  # stored before: its effects were applied then
        return HandledReply(ReplyOutcome.DUPLICATE)
    media_ids = tuple(
        uow.attachments.link(
            tenant_id,
            [(message_id, copyable_media(reply.media_urls))],
            copy=True,
            receipt_id=receipt_id,
            declared=dict(zip(reply.media_urls, reply.media_types, strict=False)),
        )
    )
    # Every reply is classified, matched or not: an opt-out never waits for a lead.
    classification = (classifier or _CLASSIFIER).classify(reply.body, region)
    answer_id = _honour_phone_wide(
        uow, tenant_id, match, lead, theirs, ours, thread_id, message_id, receipt_id,
        classification, now, sender_channel,
    )  # fmt: skip
    reason = match.unmatched_reason
    if lead is None or reason is not None:
        uow.unmatched.park(tenant_id, message_id, reason or "no lead matched")
        logger.warning(
            "reply unmatched",
            extra={
                "message_id": str(message_id),
                "reason": reason,
                "intent": classification.intent.value,
            },
        )
        return HandledReply(
            ReplyOutcome.UNMATCHED,
            message_id,
            classification=classification,
            answer_id=answer_id,
            media_ids=media_ids,
        )
    uow.threads.note_reply(thread_id, reply.occurred_at)
    uow.leads.note_message(lead.id, reply.occurred_at)
    cancelled = uow.timers.cancel(lead.id, now, "lead replied")  # any reply stops them
    state = _act(uow, lead, classification, message_id, f"receipt:{receipt_id}")
    decision = decide(classification)
    bell: tuple[UUID | None, str | None] = (None, None)
    if (
        match.campaign_id is not None
        and match.number_id is not None
        and match.assignment_id is not None
    ):
        bell = _follow_through(
            uow,
            lead,
            match.campaign_id,
            match.number_id,
            thread_id,
            message_id,
            reply,
            classification,
            decision,
            now,
        )
        if answer_id is None and classification.intent is not Intent.OPT_OUT:
            answer_id = _auto_reply(
                uow, lead, match.campaign_id, receipt_id, classification, decision, now,
                sender_channel,
            )  # fmt: skip
    notification_id, stage = bell
    uow.outbox.record(
        tenant_id,
        EventType.REPLY_RECEIVED,
        reply_received_data(
            lead_id=lead.id,
            campaign_id=match.campaign_id if match.assignment_id else None,
            thread_id=thread_id,
            message_id=message_id,
            number_id=match.number_id if match.assignment_id else None,
            stage=stage,
            notification_id=notification_id,
            sender=theirs,
            recipient=ours,
            body=reply.body,
            classification=classification.intent.value,
            received_at=reply.occurred_at,
        ),
        now,
        lead_id=lead.id,
    )
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
    return HandledReply(
        ReplyOutcome.MATCHED,
        message_id,
        lead.id,
        classification,
        state,
        decision,
        answer_id,
        media_ids,
    )


def _honour_phone_wide(
    uow: UnitOfWork,
    tenant_id: UUID,
    match: InboundMatch,
    lead: Lead | None,
    phone: str,
    ours: str,
    thread_id: UUID,
    message_id: UUID,
    receipt_id: UUID,
    classification: Classification,
    now: datetime,
    channel: str = "sms",
) -> UUID | None:
    """What a reply does to the sender's phone across the tenant, lead or no lead: an
    opt-out suppresses it and queues the one confirmation, from the number the STOP
    reached, on the channel it came on; START/UNSTOP lifts the opt-out. Returns the
    confirmation queued, if any.

    A STOP on WhatsApp suppresses the phone on every channel, as one by SMS does: the
    suppression list is per phone, and a person who said stop on one channel has
    revoked consent "by any reasonable means" (the FCC's 2024 revocation rule), so
    texting on the other would be the costly mistake. The consent log (0027) records
    the revocation (or a keyword opt-in) on the channel it came by."""
    lead_id = lead.id if lead is not None else None
    if _keyword_opt_in(uow, tenant_id, phone, classification):
        assert classification.opt_in is not None
        uow.consents.record_keyword(
            tenant_id, phone, ConsentKind.GRANTED, classification.opt_in, message_id, thread_id,
            lead_id, channel,
        )  # fmt: skip
    if classification.intent is Intent.RESUBSCRIBE:
        uow.suppressions.lift(
            tenant_id,
            phone,
            now,
            f"re-subscribed: {classification.keyword}",
            cause={"message_id": str(message_id)},
        )
        return None
    if classification.intent is not Intent.OPT_OUT:
        return None
    if not _E164.match(phone):  # a short code or an alphanumeric sender: nothing to text
        uow.audit.record(
            "opt_out_unsuppressible",
            tenant_id=tenant_id,
            subject_type="message",
            subject_id=str(message_id),
            detail={"from": phone, "keyword": classification.keyword},
        )
        return None
    # every opt-out is a revocation on the consent log, beside the suppression
    uow.consents.record_keyword(
        tenant_id, phone, ConsentKind.REVOKED, classification.keyword or "stop", message_id,
        thread_id, lead_id, channel,
    )  # fmt: skip
    # the lead (if any) is locked already: an opt-out takes the lead, then the phone
    suppression = uow.suppressions.add(
        tenant_id,
        phone,
        "opt_out",
        keyword=classification.keyword,
        source_message_id=message_id,
        receipt_id=receipt_id,
    )
    if suppression is None:
        return None  # suppressed already: it was confirmed then
    _time_opt_out(tenant_id, message_id, suppression)
    uow.outbox.record(
        tenant_id,
        EventType.LEAD_OPTED_OUT,
        opted_out_data(
            lead_id,
            phone,
            number_id=match.number_id,
            number=ours,
            keyword=classification.keyword,
            source="reply",
        ),
        now,
        lead_id=lead_id,
    )
    if match.assignment_id is None or match.number_id is None or match.campaign_id is None:
        # no campaign assignment on the number it reached: no bound sender to confirm from
        uow.audit.record(
            "opt_out_confirmation_unsent",
            tenant_id=tenant_id,
            subject_type="message",
            subject_id=str(message_id),
            detail={"to": ours, "reason": match.unmatched_reason or "number not assigned"},
        )
        return None
    reached = ReachedNumber(
        match.campaign_id, match.assignment_id, match.number_id, ours, "whatsapp"
        if channel == "whatsapp" else "sms",
    )  # fmt: skip
    return request_opt_out_confirmation(
        uow,
        tenant_id,
        reached,
        lead_id,
        phone,
        thread_id,
        receipt_id,
        now,
    )


def _channels(reply: InboundMessage) -> tuple[str, str]:
    """The reply's sender channel (the assignments and bindings it matches through) and
    its thread channel (the conversation it belongs to)."""
    caps = capabilities(reply.channel)
    return caps.sender_channel or "sms", caps.thread_channel


def _keyword_opt_in(
    uow: UnitOfWork, tenant_id: UUID, phone: str, classification: Classification
) -> bool:
    """A keyword opt-in (YES, START ...) is recorded as consent; from a phone that opted
    out, only START/UNSTOP count (a YES then answers no opt-in prompt of ours)."""
    if not classification.opt_in or not _E164.match(phone):
        return False
    if classification.intent is Intent.RESUBSCRIBE:
        return True
    return not uow.suppressions.active_for(tenant_id, phone)


def _time_opt_out(tenant_id: UUID, message_id: UUID, suppression: NewSuppression) -> None:
    """The opt-out clock: arrival (the receipt) to suppression, as a metric the
    OptOutClockAlarm watches (over a minute is an incident; the law allows 10 business
    days, Tether does it in the receipt's own transaction)."""
    if suppression.opt_out_clock is None:
        return
    seconds = max(suppression.opt_out_clock.total_seconds(), 0.0)
    metrics.add_metric(name="OptOutClock", unit="Seconds", value=seconds)
    logger.info(
        "opt-out suppressed",
        extra={
            "tenant_id": str(tenant_id),
            "message_id": str(message_id),
            "suppression_id": str(suppression.id),
            "opt_out_clock_seconds": seconds,
        },
    )


def apply_to_lead(
    uow: UnitOfWork,
    lead: Lead,
    message_id: UUID,
    body: str,
    dedupe_key: str,
    now: datetime,
    classifier: ReplyClassifier | None = None,
) -> tuple[Classification, LeadState]:
    """A reply given to its lead later (an unmatched reply assigned through the API):
    classified now, and acted on as if it had matched (state, email, timers; the
    phone-wide opt-out was written when it arrived, and is written again here if not)."""
    region = tenant_number_settings(uow, lead.tenant_id).default_region
    classification = (classifier or _CLASSIFIER).classify(body, region)
    if (
        classification.intent is Intent.OPT_OUT
        and _E164.match(lead.phone)
        and uow.suppressions.add(
            lead.tenant_id,
            lead.phone,
            "opt_out",
            keyword=classification.keyword,
            source_message_id=message_id,
        )
    ):
        record_lead_opted_out(uow, lead, classification.keyword, now)
    uow.timers.cancel(lead.id, now, "lead replied")
    state = _act(uow, lead, classification, message_id, dedupe_key)
    return classification, state


def _act(
    uow: UnitOfWork,
    lead: Lead,
    classification: Classification,
    message_id: UUID,
    dedupe_key: str,
) -> LeadState:
    """Write the reply's effect on the lead (tether.domain.replies decides it; the
    phone-wide effects are `_honour_phone_wide`'s)."""
    effect = reply_effect(lead.state, classification, str(message_id))
    if effect.email:
        uow.leads.set_email(lead.id, effect.email)
    event_type = REPLY_RECEIVED
    if effect.moves and leaves_suppression(lead.state, effect.state):
        # the lead's own START: a re-subscribe, if the database finds it proven (a
        # START that reads differently to it frees nothing rather than failing the reply)
        event_type = RESUBSCRIBED
        if not uow.leads.resubscribe_proven(lead, {"message_id": str(message_id)}):
            effect = replace(effect, state=lead.state, moves=False)
            event_type = REPLY_RECEIVED
    if not effect.moves:
        uow.lead_events.append(lead, REPLY_RECEIVED, dedupe_key, payload=effect.payload)
    else:
        move_lead(
            uow,
            lead.id,
            effect.state,
            event_type=event_type,
            dedupe_key=dedupe_key,
            payload=effect.payload,
        )
    return effect.state


def _follow_through(
    uow: UnitOfWork,
    lead: Lead,
    campaign_id: UUID,
    number_id: UUID | None,  # None: an email, which reached no number
    thread_id: UUID,
    message_id: UUID,
    reply: InboundMessage,
    classification: Classification,
    decision: WorkerDecision,
    now: datetime,
) -> tuple[UUID | None, str]:
    """Write the reply's worker, the bell of its workspace stage, a call (and a leased
    number) for high intent, the follow-up timer and the thread's insight, as
    tether.domain.replies.follow_through decides them (seed 002 parts 6 to 8, seed 003
    phase 4). Returns the bell's id and its workspace stage."""
    context = uow.reply_effects.context(campaign_id, number_id, lead.id)
    uow.messages.attribute(message_id, context.ai_worker)
    plan = follow_through(
        phone=lead.phone,
        body=reply.body,
        classification=classification,
        decision=decision,
        known_email=context.lead_email,
        gold_label_priority=context.gold_label_priority,
        call_priority=context.call_priority,
        now=now,
    )
    notification_id = uow.notifications.add(
        lead.tenant_id,
        context.workspace_stage,
        plan.notification_kind,
        campaign_id,
        lead.id,
        thread_id,
        message_id,
        plan.notification_title,
        plan.notification_body,
    )
    if plan.call is not None:
        call_id = uow.call_queue.add(
            lead.tenant_id, lead.id, plan.call.priority, plan.call.reason, now
        )
        if call_id is not None:
            uow.outbox.record(
                lead.tenant_id,
                EventType.CALL_QUEUED,
                call_queued_data(lead.id, call_id, plan.call.priority, plan.call.reason),
                now,
                lead_id=lead.id,
            )
        # seed 001: the reply asks for a call, a number of the pool is leased for it
        # (its event, or the exhaustion's audit row, written by the claim's statement)
        _, lease = claim_number(uow, lead.tenant_id, lead.id, context.pool, now)
        if lease is None:
            logger.warning(
                "no number free for the call",
                extra={"lead_id": str(lead.id), "pool": context.pool},
            )
    if plan.follow_up_at is not None:  # the insight's follow-up is a timer the job fires
        uow.timers.schedule(lead.tenant_id, lead.id, TimerType.FOLLOW_UP.value, plan.follow_up_at)
    uow.threads.record_insight(
        lead.tenant_id,
        thread_id,
        plan.insight_label,
        plan.insight_next_step,
        plan.follow_up_at,
        plan.insight_summary,
    )
    return notification_id, context.workspace_stage


def _auto_reply(
    uow: UnitOfWork,
    lead: Lead,
    campaign_id: UUID,
    receipt_id: UUID,
    classification: Classification,
    decision: WorkerDecision,
    now: datetime,
    channel: str = "sms",
) -> UUID | None:
    """Queue the worker's auto reply from the lead's bound number on the reply's
    channel, in this transaction.
    The send key names the receipt, so a redelivered reply queues nothing more; the
    sweeper enqueues the row once this transaction commits."""
    if decision.next_step is not NextStep.AUTO_REPLY:
        return None
    config = uow.settings.get(lead.tenant_id)
    request = SendRequest(
        tenant_id=lead.tenant_id,
        campaign_id=campaign_id,
        lead_id=lead.id,
        template="auto_reply",
        body=auto_reply_text(
            classification,
            config.brand_name if config else None,
            config.help_contact if config else None,
        ),
        send_key=f"auto_reply:{receipt_id}",
        purpose="auto_reply",
        channel="whatsapp" if channel == "whatsapp" else "sms",
    )
    return store_send(uow, request, now).message_id


def record_lead_opted_out(uow: UnitOfWork, lead: Lead, keyword: str | None, now: datetime) -> None:
    """The lead.opted_out event of an opt-out a reply made phone-wide (no number of ours
    names it: it holds for every one)."""
    uow.outbox.record(
        lead.tenant_id,
        EventType.LEAD_OPTED_OUT,
        opted_out_data(
            lead.id, lead.phone, number_id=None, number=None, keyword=keyword, source="reply"
        ),
        now,
        lead_id=lead.id,
    )
