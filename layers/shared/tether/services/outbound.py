"""Outbound sends: requested once, sent from the lead's bound number, exactly once.

A send goes through three short transactions:

1. **request** (`request_send`): the message row, keyed by its send key, bound to the
   lead's sticky number, committed; then handed to OutboundQueue.
2. **claim** (`process_send`, first part): the gates that may defer or fail it
   (validity, lead state, quiet hours, pacing, daily cap), then the attempt is
   opened (`sending`, `attempt_started_at`) and committed: from here the provider
   may have the text, whatever crashes.
3. **hand-over** (second part): holding the phone against opt-outs (migration 0009),
   the suppression list and the lead's state are checked once more, the provider is
   called with the message id as its idempotency key, and the SID is stored. If the
   process dies in between, the next delivery finds the attempt open and asks the
   provider again with the same key, or, for a provider without keys, looks the text
   up before it resends.
"""

from __future__ import annotations

import json
import math
import random
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, time, timedelta
from enum import StrEnum
from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from tether.config import stage_settings
from tether.db.connection import ConnectionSource
from tether.db.messages import OutboundDraft, SendContext
from tether.db.unit_of_work import UnitOfWork
from tether.domain.errors import (
    ConfigurationError,
    Conflict,
    InProgress,
    InvalidInput,
    NotFound,
)
from tether.domain.lead_state import LeadState
from tether.domain.model import Lead
from tether.domain.quiet_hours import (
    QuietHours,
    SendWindow,
    next_send_time,
    recipient_state,
    recipient_zones,
)
from tether.domain.segments import count_segments
from tether.domain.send_key import check_send_key, default_send_key
from tether.domain.worker import OPT_OUT_CONFIRMATION
from tether.observability import logger, metrics
from tether.providers import provider_for
from tether.providers.base import (
    ProviderError,
    ProviderErrorKind,
    SendAccepted,
    SendCommand,
    SmsProvider,
)
from tether.queues import MessageQueue
from tether.secrets import resolve_secret
from tether.services.leads import move_lead
from tether.services.numbers import record_number_delivery, resolve_sender
from tether.services.statuses import apply_parked_statuses

# A reconciling lookup searches from a little before the attempt began: clocks differ.
RECONCILE_MARGIN = timedelta(minutes=2)
BACKOFF_BASE_SECONDS = 2.0
BACKOFF_CAP_SECONDS = 600.0
MAX_QUEUE_DELAY_SECONDS = 900  # SQS's DelaySeconds limit
# A paused campaign's sends wait with the sweeper and look again this often; resuming
# the campaign brings them forward at once (services.campaigns.resume_campaign).
PAUSED_RECHECK = timedelta(hours=1)


class SendRequest(BaseModel):
    """What the API and the timers ask for, and what OutboundQueue carries."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    tenant_id: UUID
    campaign_id: UUID
    lead_id: UUID
    template: str = Field(default="message", min_length=1, max_length=100, pattern=r"^[^:\s]+$")
    body: str | None = Field(default=None, max_length=1600)
    media_urls: list[str] = Field(default_factory=list, max_length=10)
    send_key: str | None = Field(default=None, max_length=200)
    # opt_out_confirmation: the one text an opt-out gets back; it passes the gates that
    # would stop any text to a suppressed phone (lead state, suppression, quiet hours)
    purpose: Literal["campaign", "auto_reply", "opt_out_confirmation"] = "campaign"


@dataclass(frozen=True, slots=True)
class SendReceipt:
    message_id: UUID
    send_key: str
    from_number: str
    duplicate: bool


class OutboundMessage(BaseModel):
    """What OutboundQueue carries: it names a stored send, which the worker loads. It
    may arrive more than once; the claim in Postgres makes the send happen once."""

    model_config = ConfigDict(frozen=True)

    tenant_id: UUID
    message_id: UUID


@dataclass(frozen=True, slots=True)
class RedriveReport:
    found: int
    enqueued: int


ProviderSource = Callable[[SendContext], SmsProvider]


class Outcome(StrEnum):
    SENT = "sent"
    ALREADY_DONE = "already_done"
    DEFERRED = "deferred"
    RETRY = "retry"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class SendOutcome:
    outcome: Outcome
    not_before: datetime | None = None
    reason: str | None = None


def request_send(
    uow: UnitOfWork,
    request: SendRequest,
    now: datetime,
    queue: MessageQueue | None,
    *,
    commit: bool = True,
) -> SendReceipt:
    """Store the send once per send key and hand it to the queue. A repeated request
    answers the first one's receipt and sends nothing more. With `commit=False` the row
    is a step of the caller's transaction, and the sweeper enqueues it once committed."""
    lead = uow.leads.get(request.lead_id)
    if lead is None:
        raise NotFound("lead", request.lead_id)
    campaign = uow.campaign_numbers.campaign(request.campaign_id)
    if campaign is None:
        raise NotFound("campaign", request.campaign_id)
    send_key = (
        check_send_key(request.send_key)
        if request.send_key
        else default_send_key(lead.id, request.template, now)
    )
    existing = uow.messages.by_send_key(lead.tenant_id, send_key)
    if existing is not None:
        return _duplicate(existing, request, send_key)
    body = request.body if request.body is not None else (campaign["template"] or "")
    if not body.strip():
        raise InvalidInput("the message has no body: give one, or a campaign template")
    binding = resolve_sender(uow, lead.id, request.campaign_id, now)
    draft = OutboundDraft(
        tenant_id=lead.tenant_id,
        lead_id=lead.id,
        campaign_id=request.campaign_id,
        thread_id=uow.threads.for_addresses(
            lead.tenant_id, binding.phone_number, lead.phone, lead.id, request.campaign_id
        ),
        assignment_id=binding.assignment_id,
        number_id=binding.phone_number_id,
        from_number=binding.phone_number,
        to_number=lead.phone,
        send_key=send_key,
        template=request.template,
        body=body,
        media_urls=list(request.media_urls),
        segments=count_segments(body).segments,
        expires_at=now + timedelta(hours=uow.messages.validity_hours(lead.tenant_id)),
        purpose=request.purpose,
    )
    message_id = uow.messages.insert_outbound(draft)
    if message_id is None:  # a concurrent request with the same key won
        if commit:
            uow.rollback()
        existing = uow.messages.by_send_key(lead.tenant_id, send_key)
        if existing is None:  # the winner's transaction is not visible yet
            raise InProgress("a send with this send key is being stored right now; retry")
        return _duplicate(existing, request, send_key)
    if not commit:
        return SendReceipt(message_id, send_key, binding.phone_number, duplicate=False)
    uow.commit()
    logger.info(
        "send requested",
        extra={
            "tenant_id": str(lead.tenant_id),
            "lead_id": str(lead.id),
            "message_id": str(message_id),
            "send_key": send_key,
        },
    )
    if queue is not None:
        enqueue(uow, queue, lead.tenant_id, message_id, now)
    return SendReceipt(message_id, send_key, binding.phone_number, duplicate=False)


@dataclass(frozen=True, slots=True)
class ReachedNumber:
    """The number an inbound text reached, with the campaign assignment it serves."""

    campaign_id: UUID
    assignment_id: UUID
    number_id: UUID
    phone_number: str


def request_opt_out_confirmation(
    uow: UnitOfWork,
    tenant_id: UUID,
    reached: ReachedNumber,
    lead_id: UUID | None,
    phone: str,
    thread_id: UUID,
    receipt_id: UUID,
    now: datetime,
) -> UUID:
    """The one confirmation an opt-out gets, stored in the caller's transaction: from
    the number the STOP reached, bound to that number's campaign assignment (the hard
    rule), whether or not a lead matched. From here it is a send like any other (claim,
    hand-over); the sweeper enqueues it if the caller does not."""
    send_key = f"opt_out_confirmation:{receipt_id}"
    existing = uow.messages.by_send_key(tenant_id, send_key)
    if existing is not None:
        found: UUID = existing["id"]
        return found
    draft = OutboundDraft(
        tenant_id=tenant_id,
        lead_id=lead_id,
        campaign_id=reached.campaign_id,
        thread_id=thread_id,
        assignment_id=reached.assignment_id,
        number_id=reached.number_id,
        from_number=reached.phone_number,
        to_number=phone,
        send_key=send_key,
        template="opt_out_confirmation",
        body=OPT_OUT_CONFIRMATION,
        media_urls=[],
        segments=count_segments(OPT_OUT_CONFIRMATION).segments,
        expires_at=now + timedelta(hours=uow.messages.validity_hours(tenant_id)),
        purpose="opt_out_confirmation",
    )
    message_id = uow.messages.insert_outbound(draft)
    if message_id is None:  # a concurrent delivery of the same receipt stored it first
        stored = uow.messages.by_send_key(tenant_id, send_key)
        assert stored is not None
        message_id = stored["id"]
    return message_id


def enqueue(
    uow: UnitOfWork,
    queue: MessageQueue,
    tenant_id: UUID,
    message_id: UUID,
    now: datetime,
    delay_seconds: int = 0,
) -> bool:
    """Hand a stored send to OutboundQueue. A failure is logged, not raised: the message
    stays marked as not enqueued and the sweeper re-drives it when it is due."""
    body = OutboundMessage(tenant_id=tenant_id, message_id=message_id).model_dump_json()
    try:
        queue.send(body, delay_seconds=delay_seconds)
    except Exception:
        logger.exception(
            "enqueue failed; the sweeper will re-drive it", extra={"message_id": str(message_id)}
        )
        uow.rollback()
        uow.messages.mark_enqueued(message_id, None)
        uow.commit()
        return False
    uow.messages.mark_enqueued(message_id, now)
    uow.commit()
    return True


def redrive_waiting_sends(
    uow: UnitOfWork, queue: MessageQueue, now: datetime, batch_size: int = 100
) -> RedriveReport:
    """Enqueue the sends that are due and in no queue (jobs role, every tenant): stored
    but never enqueued, or deferred longer than a queue delay can hold. Locked with SKIP
    LOCKED and marked in the same transaction, so overlapping sweeps send each once."""
    rows = uow.messages.waiting_to_enqueue(now, batch_size)
    enqueued = 0
    for row in rows:
        try:
            queue.send(
                OutboundMessage(tenant_id=row["tenant_id"], message_id=row["id"]).model_dump_json()
            )
        except Exception:
            logger.exception("re-drive stopped: outbound queue unavailable")
            break
        uow.messages.mark_enqueued(row["id"], now)
        enqueued += 1
    uow.commit()
    metrics.add_metric(name="SendsRedriven", unit="Count", value=enqueued)
    if rows:
        logger.warning("sends re-driven", extra={"found": len(rows), "enqueued": enqueued})
    return RedriveReport(len(rows), enqueued)


def account_provider(ctx: SendContext) -> SmsProvider:
    """The provider adapter of the message's number, with the account's credentials
    (its `credentials_ref`: a JSON object of the keys tether.providers.factory lists,
    plus `base_url` where the API is not the provider's default)."""
    if not ctx.credentials_ref:
        raise ProviderError(
            ctx.provider,
            ProviderErrorKind.AUTH,
            f"provider account {ctx.provider_account_id} has no credentials_ref",
        )
    try:
        credentials = json.loads(resolve_secret(ctx.credentials_ref, ctx.tenant_id))
    except (ValueError, ConfigurationError) as error:
        raise ProviderError(
            ctx.provider,
            ProviderErrorKind.AUTH,
            f"credentials of account {ctx.provider_account_id}: {error}",
        ) from error
    if not isinstance(credentials, dict):
        raise ProviderError(
            ctx.provider, ProviderErrorKind.AUTH, "credentials must be a JSON object"
        )
    return provider_for(
        ctx.provider,
        credentials,
        credentials.get("base_url"),
        local_stage=stage_settings().is_local,
    )


def process_send(
    uow: UnitOfWork,
    message_id: UUID,
    providers: ProviderSource,
    now: datetime,
    rng: random.Random | None = None,
) -> SendOutcome:
    """Take one queued send as far as it can go now (see the module docstring)."""
    ctx = uow.messages.lock_for_send(message_id)
    if ctx is None:
        raise NotFound("message", message_id)
    if ctx.external_id is not None or ctx.status not in {"queued", "sending"}:
        uow.rollback()
        return SendOutcome(Outcome.ALREADY_DONE)
    # An attempt left open (a crash, or a timeout after which the provider may have the
    # text) asks the provider again with the same key; it passes every gate first, as
    # any attempt does: hours may have passed since (quiet hours, validity, a pause).
    in_doubt = ctx.status == "sending" and ctx.attempt_started_at is not None
    gated = _gate(uow, ctx, now)
    if gated is not None:
        return gated
    uow.messages.start_attempt(ctx.id, now)
    uow.commit()
    jitter = rng or random.Random()  # noqa: S311 - back-off jitter, not a secret
    return _hand_over(uow, ctx, providers, now, in_doubt, jitter)


def _gate(uow: UnitOfWork, ctx: SendContext, now: datetime) -> SendOutcome | None:
    """The gates before an attempt: an outcome when the send fails or waits, else None."""
    if ctx.expires_at is not None and now >= ctx.expires_at:
        return _fail(
            uow, ctx, "expired", f"not sent by its validity deadline {ctx.expires_at.isoformat()}"
        )
    if (
        ctx.lead_state in {LeadState.SUPPRESSED.value, LeadState.CLOSED.value}
        and not ctx.is_opt_out_confirmation
    ):
        return _fail(uow, ctx, f"lead_{ctx.lead_state}", f"the lead is {ctx.lead_state}")
    if ctx.campaign_status == "paused" and ctx.purpose == "campaign":
        return _defer(uow, ctx, now + PAUSED_RECHECK, "campaign paused")
    if ctx.not_before is not None and ctx.not_before > now:
        uow.rollback()  # delivered early: it waits for its time
        return SendOutcome(Outcome.DEFERRED, ctx.not_before, "not yet due")
    if not ctx.is_opt_out_confirmation:  # the confirmation answers the STOP at once (CTIA)
        opening = next_send_time(
            now,
            recipient_zones(ctx.to_number, ctx.lead_timezone),
            _quiet_hours(ctx),
            recipient_state(ctx.to_number),
        )
        if opening is None:
            return _fail(
                uow,
                ctx,
                "quiet_hours",
                "no time is inside the window in every zone of the recipient",
            )
        if opening > now:
            return _defer(uow, ctx, opening, "quiet hours at the recipient")
    if ctx.segments_per_second is not None and ctx.paced_slot is None:
        slot = uow.messages.reserve_pacing_slot(
            ctx.number_id, ctx.segments, ctx.segments_per_second, now
        )
        if slot > now:
            return _defer(uow, ctx, slot, "number pacing", paced_slot=slot)
    # counted once per send: a retry after a failed attempt is the same text
    if (
        ctx.segments_per_day is not None
        and ctx.attempts == 0
        and not uow.messages.count_daily_segments(
            ctx.tenant_id, ctx.number_id, now.date(), ctx.segments, ctx.segments_per_day
        )
    ):
        tomorrow = datetime.combine(
            now.astimezone(UTC).date() + timedelta(days=1), time(0), tzinfo=UTC
        )
        return _defer(uow, ctx, tomorrow, "number's daily limit reached")
    return None


def _hand_over(
    uow: UnitOfWork,
    claimed: SendContext,
    providers: ProviderSource,
    now: datetime,
    in_doubt: bool,
    rng: random.Random,
) -> SendOutcome:
    check = uow.messages.begin_hand_over(claimed.id)
    assert check is not None  # claimed a moment ago
    if check.external_id is not None:  # another delivery of this message finished it
        uow.rollback()
        return SendOutcome(Outcome.ALREADY_DONE)
    lead = check.lead  # None only for an opt-out confirmation to a phone with no lead
    ctx = replace(claimed, attempts=check.attempts, lead_state=lead.state.value if lead else None)
    if not ctx.is_opt_out_confirmation:
        if check.suppressed:
            return _fail(uow, ctx, "suppressed", "the recipient opted out")
        if ctx.lead_state in {LeadState.SUPPRESSED.value, LeadState.CLOSED.value}:
            return _fail(uow, ctx, f"lead_{ctx.lead_state}", f"the lead is {ctx.lead_state}")
    try:
        provider = providers(ctx)
    except ProviderError as error:  # no usable credentials: an operator must act
        return _provider_refused(uow, ctx, error, now, rng)
    command = SendCommand(
        from_number=ctx.from_number,
        to_number=ctx.to_number,
        body=ctx.body,
        media_urls=tuple(ctx.media_urls),
        idempotency_key=str(ctx.id),
    )
    try:
        accepted = _deliver(provider, command, in_doubt, claimed.attempt_started_at)
    except ProviderError as error:
        return _provider_refused(uow, ctx, error, now, rng)
    uow.messages.record_sent(ctx.id, provider.name, accepted.external_id, accepted.segments, now)
    apply_parked_statuses(uow, ctx.id, provider.name, accepted.external_id, now)
    if lead is not None and lead.state is LeadState.NEW:
        _first_touch(uow, ctx, lead, now)
    record_number_delivery(uow, ctx.tenant_id, ctx.number_id, "sent", now)
    uow.commit()
    metrics.add_metric(name="MessagesSent", unit="Count", value=1)
    logger.info(
        "message sent",
        extra={
            "tenant_id": str(ctx.tenant_id),
            "lead_id": str(ctx.lead_id),
            "message_id": str(ctx.id),
            "send_key": ctx.send_key,
            "from": ctx.from_number,
            "provider": provider.name,
            "external_id": accepted.external_id,
            "reconciled": in_doubt,
        },
    )
    return SendOutcome(Outcome.SENT)


def _deliver(
    provider: SmsProvider, command: SendCommand, in_doubt: bool, attempt_started_at: datetime | None
) -> SendAccepted:
    if in_doubt and not provider.supports_idempotency_key and attempt_started_at is not None:
        found = provider.find_sent(command, attempt_started_at - RECONCILE_MARGIN)
        if found is not None:
            logger.warning(
                "attempt in doubt was accepted by the provider; not resending",
                extra={"idempotency_key": command.idempotency_key},
            )
            return found
    return provider.send(command)


def _provider_refused(
    uow: UnitOfWork, ctx: SendContext, error: ProviderError, now: datetime, rng: random.Random
) -> SendOutcome:
    detail = {
        "message_id": str(ctx.id),
        "provider": error.provider,
        "code": error.code,
        "kind": error.kind.value,
        "reason": error.reason,
    }
    if error.retryable and ctx.attempts < ctx.max_attempts:
        retry_at = now + timedelta(seconds=_backoff(ctx.attempts, rng))
        # A refusal closes the attempt; a timeout leaves it open, so the retry asks the
        # provider (same key) or looks the text up (no keys) before sending again.
        uow.messages.retry_later(
            ctx.id, error.code, error.reason, retry_at, attempt_open=error.may_have_sent
        )
        uow.audit.record(
            "send_failure",
            tenant_id=ctx.tenant_id,
            subject_type="message",
            subject_id=str(ctx.id),
            detail={**detail, "retry_at": retry_at.isoformat()},
        )
        uow.commit()
        metrics.add_metric(name="SendRetried", unit="Count", value=1)
        logger.warning(
            "send failed, will retry",
            extra={**detail, "attempt": ctx.attempts, "retry_at": retry_at.isoformat()},
        )
        return SendOutcome(Outcome.RETRY, retry_at, error.reason)
    outcome = _fail(
        uow, ctx, error.code or error.kind.value, error.reason, commit=False, detail=detail
    )
    if error.kind is ProviderErrorKind.FILTERED:
        record_number_delivery(uow, ctx.tenant_id, ctx.number_id, "filtered", now)
    else:
        record_number_delivery(uow, ctx.tenant_id, ctx.number_id, "failed", now)
    uow.commit()
    if error.kind is ProviderErrorKind.UNSUBSCRIBED:
        # A separate transaction: the suppression waits on every send holding this phone.
        uow.suppressions.add(
            ctx.tenant_id,
            ctx.to_number,
            "carrier_block",
            keyword=error.code,
            source_message_id=ctx.id,
        )
        uow.commit()
    return outcome


def _fail(
    uow: UnitOfWork,
    ctx: SendContext,
    code: str,
    reason: str,
    *,
    commit: bool = True,
    detail: dict[str, Any] | None = None,
) -> SendOutcome:
    uow.messages.fail(ctx.id, code, reason)
    uow.audit.record(
        "send_failure",
        tenant_id=ctx.tenant_id,
        subject_type="message",
        subject_id=str(ctx.id),
        detail={"code": code, "reason": reason, **(detail or {})},
    )
    if commit:
        uow.commit()
    metrics.add_metric(name="SendFailed", unit="Count", value=1)
    logger.warning(
        "send failed",
        extra={
            "tenant_id": str(ctx.tenant_id),
            "lead_id": str(ctx.lead_id),
            "message_id": str(ctx.id),
            "send_key": ctx.send_key,
            "code": code,
            "reason": reason,
        },
    )
    return SendOutcome(Outcome.FAILED, reason=reason)


def _defer(
    uow: UnitOfWork,
    ctx: SendContext,
    until: datetime,
    reason: str,
    paced_slot: datetime | None = None,
) -> SendOutcome:
    uow.messages.defer(ctx.id, until, paced_slot=paced_slot)
    uow.commit()
    logger.info(
        "send deferred",
        extra={"message_id": str(ctx.id), "until": until.isoformat(), "reason": reason},
    )
    return SendOutcome(Outcome.DEFERRED, until, reason)


def _first_touch(uow: UnitOfWork, ctx: SendContext, lead: Lead, now: datetime) -> None:
    """NEW → TOUCHED with its event, and the 7-, 14- and 30-day timers (seed 002 parts 3
    and 5)."""
    move_lead(
        uow,
        lead.id,
        LeadState.TOUCHED,
        event_type="FIRST_TOUCH",
        dedupe_key=f"first_touch:{lead.id}",
        payload={"message_id": str(ctx.id)},
    )
    uow.timers.schedule_escalations(ctx.tenant_id, lead.id, now)


def _quiet_hours(ctx: SendContext) -> QuietHours:
    by_state = {
        state: SendWindow(time.fromisoformat(window["start"]), time.fromisoformat(window["end"]))
        for state, window in ctx.quiet_hours_by_state.items()
    }
    return QuietHours(
        SendWindow(ctx.quiet_hours_start, ctx.quiet_hours_end),
        by_state,
        ctx.quiet_hours_wider_attested,
    )


def _backoff(attempt: int, rng: random.Random) -> float:
    """Full jitter: a random wait up to an exponentially growing ceiling."""
    ceiling = min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * 2**attempt)
    return max(1.0, rng.uniform(0, ceiling))


def _duplicate(existing: dict[str, Any], request: SendRequest, send_key: str) -> SendReceipt:
    if existing["lead_id"] != request.lead_id or existing["campaign_id"] != request.campaign_id:
        raise Conflict(
            "messages_tenant_id_send_key_key",
            "this send key was already used for another lead or campaign; choose another key",
        )
    return SendReceipt(existing["id"], send_key, existing["from_address"], duplicate=True)


def handle_queued_send(
    connections: ConnectionSource,
    queue: MessageQueue,
    message: OutboundMessage,
    providers: ProviderSource,
    now: datetime,
) -> SendOutcome:
    """What the outbound worker does with one queue message: take the send as far as it
    goes, and put a send that must wait back on the queue with a delay (or, past what a
    queue delay can hold, leave it to the sweeper)."""
    with UnitOfWork(connections, message.tenant_id) as uow:
        logger.append_keys(tenant_id=str(message.tenant_id), message_id=str(message.message_id))
        try:
            outcome = process_send(uow, message.message_id, providers, now)
        except NotFound:
            # another tenant's id or a deleted row: retrying cannot help
            logger.error("queued send not found; dropped")
            return SendOutcome(Outcome.ALREADY_DONE, reason="not found")
        if outcome.outcome in {Outcome.DEFERRED, Outcome.RETRY} and outcome.not_before is not None:
            wait = (outcome.not_before - now).total_seconds()
            if wait <= MAX_QUEUE_DELAY_SECONDS:
                enqueue(
                    uow,
                    queue,
                    message.tenant_id,
                    message.message_id,
                    now,
                    delay_seconds=max(0, math.ceil(wait)),
                )
            else:
                uow.messages.mark_enqueued(message.message_id, None)  # the sweeper's, when due
                uow.commit()
    return outcome
