"""An inbound email applied to its lead (issue 18, seed 001), in the receipt's
transaction: the inbound function's counterpart of `services.replies.apply_reply` for
the email channel.

Matching: the lead's own reply address (<mailbox local part>+<reply token>@<domain>),
else a stored mail it answers (In-Reply-To, References), else the sender's address
among the tenant's leads (exact, lower-cased, the most recently messaged; a tie is
ambiguous and parked, as an unmatched SMS is). The message goes on the lead's email
thread (our address: the mailbox it reached; theirs: the sender).

Then the same classification as a text (of the reply alone, its quoted history cut
off) and the same effects: state and its event, timers cancelled, the bell of the
campaign's stage, a call and a leased number when it asks for one (a phone number in
the mail is high intent: seed 001's "call me at 6505300051"), reply.received.

What differs, and why:
- An opt-out in a mail ("unsubscribe", "stop texting me") suppresses the lead's phone
  tenant-wide and the lead: the person asked to hear no more, and the FCC lets consent
  be revoked by any reasonable means. No confirmation text is sent: the request did not
  come from the phone, and Tether sends no email.
- A START or YES in a mail changes no consent: a keyword re-subscribes or opts in the
  phone that sends it, and a mail proves no control of the phone.
- No auto reply: Tether sends no email, and a text in answer to a mail is not one the
  lead asked for.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from uuid import UUID

from tether.db.email import EmailMatch
from tether.db.messages import InboundDraft
from tether.db.unit_of_work import UnitOfWork
from tether.domain.classification import Classification, Intent, RuleBasedClassifier
from tether.domain.consent import ConsentKind
from tether.domain.email import mailbox_parts
from tether.domain.events import InboundMessage
from tether.domain.model import Lead
from tether.domain.outbox import EventType, reply_received_data
from tether.domain.worker import decide
from tether.observability import logger
from tether.services.numbers import tenant_number_settings
from tether.services.replies import HandledReply, ReplyOutcome, record_lead_opted_out
from tether.services.replies import _act as act_on_lead
from tether.services.replies import _follow_through as follow_through_reply

_CLASSIFIER = RuleBasedClassifier()


def apply_email_reply(
    uow: UnitOfWork, tenant_id: UUID, mail: InboundMessage, receipt_id: UUID, now: datetime
) -> HandledReply:
    """Store, match and act on one inbound email, as one step of the receipt's open
    transaction."""
    details = mail.email
    assert details is not None, "an email carries its details"
    parts = mailbox_parts(mail.to_address)
    mailbox, token = parts if parts else (mail.to_address, None)
    sender = mail.from_address.lower()
    match = uow.mailboxes.match(tenant_id, token, details.thread_ids, sender)
    lead = uow.leads.get(match.lead_id, for_update=True) if match.lead_id else None
    thread_id = uow.threads.for_addresses(
        tenant_id, mailbox, sender, match.lead_id, match.campaign_id, channel="email"
    )
    message_id = uow.messages.insert_inbound(
        InboundDraft(
            tenant_id=tenant_id,
            thread_id=thread_id,
            provider=mail.provider,
            external_id=mail.external_id,
            from_address=sender,
            to_address=mailbox,
            body=mail.body,
            media_urls=[],
            received_at=mail.occurred_at,
            lead_id=match.lead_id,
            campaign_id=match.campaign_id,
            assignment_id=None,
            number_id=None,
            channel="email",
            email_message_id=details.message_id,
            subject=details.subject,
        )
    )
    if message_id is None:  # stored before: its effects were applied then
        return HandledReply(ReplyOutcome.DUPLICATE)
    region = tenant_number_settings(uow, tenant_id).default_region
    classification = _as_email(_CLASSIFIER.classify(details.reply_text, region))
    if lead is None:
        return _park(uow, tenant_id, message_id, match, classification)
    uow.threads.note_reply(thread_id, mail.occurred_at)
    uow.leads.note_message(lead.id, mail.occurred_at)
    cancelled = uow.timers.cancel(lead.id, now, "lead replied")
    if classification.intent is Intent.OPT_OUT:
        _suppress_phone(uow, lead, message_id, thread_id, receipt_id, classification, now)
    state = act_on_lead(uow, lead, classification, message_id, f"receipt:{receipt_id}")
    decision = decide(classification)
    notification_id, stage = None, None
    if lead.campaign_id is not None:
        notification_id, stage = follow_through_reply(
            uow, lead, lead.campaign_id, None, thread_id, message_id, mail, classification,
            decision, now,
        )  # fmt: skip
    uow.outbox.record(
        tenant_id,
        EventType.REPLY_RECEIVED,
        reply_received_data(
            lead_id=lead.id,
            campaign_id=lead.campaign_id,
            thread_id=thread_id,
            message_id=message_id,
            number_id=None,
            stage=stage,
            notification_id=notification_id,
            sender=sender,
            recipient=mailbox,
            body=mail.body,
            classification=classification.intent.value,
            received_at=mail.occurred_at,
            channel="email",
        ),
        now,
        lead_id=lead.id,
    )
    logger.info(
        "email reply handled",
        extra={
            "tenant_id": str(tenant_id),
            "lead_id": str(lead.id),
            "message_id": str(message_id),
            "matched_by": match.matched_by,
            "intent": classification.intent.value,
            "phone_captured": classification.phone is not None,
            "state": state.value,
            "timers_cancelled": cancelled,
        },
    )
    return HandledReply(ReplyOutcome.MATCHED, message_id, lead.id, classification, state, decision)


def _as_email(classification: Classification) -> Classification:
    """A keyword re-subscribe or opt-in by mail is only a reply (see the module)."""
    if classification.intent is Intent.RESUBSCRIBE:
        return replace(classification, intent=Intent.OTHER, keyword=None, opt_in=None)
    return replace(classification, opt_in=None) if classification.opt_in else classification


def _park(
    uow: UnitOfWork,
    tenant_id: UUID,
    message_id: UUID,
    match: EmailMatch,
    classification: Classification,
) -> HandledReply:
    reason = match.unmatched_reason or "no lead matched"
    uow.unmatched.park(tenant_id, message_id, reason)
    logger.warning(
        "email reply unmatched",
        extra={
            "message_id": str(message_id),
            "reason": reason,
            "intent": classification.intent.value,
        },
    )
    return HandledReply(ReplyOutcome.UNMATCHED, message_id, classification=classification)


def _suppress_phone(
    uow: UnitOfWork,
    lead: Lead,
    message_id: UUID,
    thread_id: UUID,
    receipt_id: UUID,
    classification: Classification,
    now: datetime,
) -> None:
    """The lead's phone suppressed tenant-wide and its consent revoked, as a texted
    STOP does; no confirmation is texted (see the module)."""
    keyword = classification.keyword or "unsubscribe"
    uow.consents.record_keyword(
        lead.tenant_id, lead.phone, ConsentKind.REVOKED, keyword, message_id, thread_id, lead.id
    )
    suppression = uow.suppressions.add(
        lead.tenant_id,
        lead.phone,
        "opt_out",
        keyword=classification.keyword,
        source_message_id=message_id,
        receipt_id=receipt_id,
    )
    if suppression is not None:  # else suppressed already
        record_lead_opted_out(uow, lead, classification.keyword, now)
