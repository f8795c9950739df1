"""Outbound sends: requested once, sent from the lead's bound number, exactly once.

A send goes through three short transactions:

1. **request** (`request_sends`, the one send path: the API, campaign launch, the
   timers, reply answers and opt-out confirmations all store through `store_sends`):
   the message row, keyed by its send key, bound to the lead's sticky number,
   committed; then handed to OutboundQueue.
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
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, time, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, model_validator

from tether.config import stage_settings
from tether.db.messages import OutboundDraft, SendContext
from tether.db.unit_of_work import UnitOfWork
from tether.domain.channels import Channel, capabilities, message_channel
from tether.domain.errors import (
    ConfigurationError,
    Conflict,
    ConsentRequired,
    InProgress,
    InvalidInput,
    InvalidState,
    NotFound,
    SenderUnavailable,
    TetherError,
)
from tether.domain.lead_state import LeadState
from tether.domain.messages import StoredSend
from tether.domain.model import Lead
from tether.domain.outbox import EventType, status_changed_data
from tether.domain.quiet_hours import (
    QuietHours,
    SendWindow,
    next_send_time,
    recipient_state,
    recipient_zones,
)
from tether.domain.segments import count_segments
from tether.domain.send_gates import (
    CONSENT_GATED_PURPOSES,
    Refusal,
    consent_refusal,
    expiry_refusal,
    hand_over_refusal,
    lead_refusal,
    next_day,
    paced_until,
    quiet_hours_refusal,
    session_window_refusal,
)
from tether.domain.send_key import check_send_key, default_send_key
from tether.domain.status_callbacks import status_callback_url
from tether.domain.whatsapp import (
    SessionWindowClosed,
    WhatsAppTemplate,
    carries_whatsapp,
    check_template_use,
)
from tether.domain.worker import OPT_OUT_CONFIRMATION
from tether.observability import logger, metrics
from tether.providers.base import (
    ProviderError,
    ProviderErrorKind,
    SendAccepted,
    SendCommand,
    SmsProvider,
    TemplateContent,
)
from tether.queues import MessageQueue
from tether.secrets import resolve_secret
from tether.services.leads import move_held_lead
from tether.services.numbers import SenderWanted, record_number_delivery, resolve_senders_on
from tether.services.statuses import apply_parked_statuses

if TYPE_CHECKING:
    from tether.domain.campaigns import Campaign, Composed

# A reconciling lookup searches from a little before the attempt began: clocks differ.
RECONCILE_MARGIN = timedelta(minutes=2)
BACKOFF_BASE_SECONDS = 2.0
BACKOFF_CAP_SECONDS = 600.0
MAX_QUEUE_DELAY_SECONDS = 900  # SQS's DelaySeconds limit
# How many stored sends one OutboundQueue message names at most (OutboundBundle): the
# queue carries a tenth of the messages a launch stores. The outbound function takes one
# record at a time (BatchSize 1), so an invocation makes at most this many provider
# calls, as it did with ten one-send records; the ids are far under SQS's 256 KB.
SENDS_PER_MESSAGE = 10
# A paused campaign's sends wait with the sweeper and look again this often; resuming
# the campaign brings them forward at once (services.campaigns.resume_campaign).
PAUSED_RECHECK = timedelta(hours=1)


class WhatsAppTemplateUse(BaseModel):
    """An approved WhatsApp template of the tenant to send, with its variables' values."""

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    name: str = Field(min_length=1, max_length=512, pattern=r"^[a-z0-9_]+$")
    language: str = Field(default="en", pattern=r"^[a-z]{2,3}(_[A-Z]{2})?$")
    variables: dict[str, str] = Field(default_factory=dict, max_length=100)


class SendRequest(BaseModel):
    """What the API and the timers ask for, and what OutboundQueue carries."""

    # its validator is built on first use: the outbound function sends stored sends and
    # never validates a request (a shorter cold start)
    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    tenant_id: UUID
    campaign_id: UUID
    lead_id: UUID
    template: str = Field(default="message", min_length=1, max_length=100, pattern=r"^[^:\s]+$")
    body: str | None = Field(default=None, max_length=1600)
    # how many a channel carries is its capabilities' (tether.domain.media checks it)
    media_urls: list[str] = Field(default_factory=list, max_length=100)
    send_key: str | None = Field(default=None, max_length=200)
    # the body is a template with merge fields, to be rendered for the lead (a
    # campaign's follow-up); with no body, the campaign's template always is
    render: bool = False
    # held until then (messages.not_before: the gate that holds a deferred send holds
    # it, and quiet hours at the recipient still apply after it)
    send_at: datetime | None = None
    # opt_out_confirmation: the one text an opt-out gets back; it passes the gates that
    # would stop any text to a suppressed phone (lead state, suppression, quiet hours)
    purpose: Literal["campaign", "auto_reply", "opt_out_confirmation"] = "campaign"
    # the conversation it goes on: SMS (MMS when it carries media) or WhatsApp, from the
    # campaign's sender on that channel
    channel: Literal["sms", "whatsapp"] = "sms"
    # WhatsApp only: an approved template (outside the 24-hour window, the only way)
    whatsapp_template: WhatsAppTemplateUse | None = None

    @model_validator(mode="after")
    def _template_is_whatsapp(self) -> SendRequest:
        check_template_use(
            self.channel, self.whatsapp_template is not None, self.body, self.media_urls
        )
        return self


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


class OutboundBundle(BaseModel):
    """What OutboundQueue carries for several stored sends of one tenant (a launch's
    chunk, a sweep): each is handled on its own, as if it had come alone, so a bundle
    is only fewer queue messages. Redelivered, the sends it finished find themselves
    done (their rows say so) and only the others go on."""

    model_config = ConfigDict(frozen=True)

    tenant_id: UUID
    message_ids: list[UUID] = Field(min_length=1, max_length=SENDS_PER_MESSAGE)

    def sends(self) -> list[OutboundMessage]:
        return [OutboundMessage(tenant_id=self.tenant_id, message_id=m) for m in self.message_ids]


class SendsUnfinished(Exception):
    """Sends of a bundle that neither finished nor were put back to wait (an unexpected
    error): the bundle's record is reported failed, so SQS brings it back."""

    def __init__(self, message_ids: Sequence[UUID]) -> None:
        super().__init__(f"{len(message_ids)} send(s) of the bundle unfinished")
        self.message_ids = list(message_ids)


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


@dataclass(frozen=True, slots=True)
class SendRefused:
    """A send that was asked for and not stored, with why (the error a lone request
    raises)."""

    request: SendRequest
    error: TetherError


@dataclass(frozen=True, slots=True)
class _Sender:
    assignment_id: UUID
    number_id: UUID
    phone_number: str


@dataclass(frozen=True, slots=True)
class _Ready:
    """A send decided in full, about to be stored."""

    tenant_id: UUID
    lead_id: UUID | None
    campaign_id: UUID
    to_number: str
    sender: _Sender
    send_key: str
    template: str
    body: str
    media_urls: list[str]
    purpose: str
    thread_id: UUID | None = None  # else the thread of its two addresses, made on first use
    variant: str | None = None
    send_at: datetime | None = None
    channel: str = "sms"  # the thread channel: 'sms' (MMS with media) or 'whatsapp'
    whatsapp_template: WhatsAppTemplate | None = None
    template_variables: dict[str, str] | None = None

    @property
    def sends_as(self) -> Channel:
        """The message channel: its conversation's, an SMS with media going as an MMS."""
        return message_channel(self.channel, bool(self.media_urls))


def request_sends(
    uow: UnitOfWork,
    requests: Sequence[SendRequest],
    now: datetime,
    queue: MessageQueue | None = None,
) -> list[SendReceipt]:
    """Store each send once per send key, all in one transaction, and hand the new ones
    to the queue. A repeated request answers the first one's receipt and sends nothing
    more; a refused one (the first, in order) is raised and nothing is stored."""
    with uow:
        receipts: list[SendReceipt] = []
        for result in store_sends(uow, requests, now):
            if isinstance(result, SendRefused):
                raise result.error
            receipts.append(result)
        uow.commit()
        _log_requested(requests, receipts)
        if queue is not None:
            enqueue_sends(uow, queue, _new(requests, receipts), now)
            uow.commit()
    return receipts


def request_send(
    uow: UnitOfWork, request: SendRequest, now: datetime, queue: MessageQueue | None = None
) -> SendReceipt:
    """`request_sends` of one request."""
    [receipt] = request_sends(uow, [request], now, queue)
    return receipt


def store_send(uow: UnitOfWork, request: SendRequest, now: datetime) -> SendReceipt:
    """`store_sends` of one request, as a step of the caller's open transaction; a
    refused send is raised."""
    [result] = store_sends(uow, [request], now)
    if isinstance(result, SendRefused):
        raise result.error
    return result


def store_sends(
    uow: UnitOfWork, requests: Sequence[SendRequest], now: datetime
) -> list[SendReceipt | SendRefused]:
    """The one send path, as a step of the caller's open transaction (it never commits):
    for each request, in order, its receipt, or why it was refused. Each send is bound to
    its lead's sticky number in its campaign (bound now on a first send); the whole
    batch is read, bound and stored with a few set-based statements. A stored send waits
    for its commit; the caller enqueues it then, or the sweeper does."""
    # the storing side's own domain, loaded at its first use: the outbound function only
    # hands stored sends over and never needs it (a cold start's import)
    from tether.domain.campaigns import Composed
    from tether.domain.media import check_outbound_media

    leads = uow.messages.recipients(r.lead_id for r in requests)
    campaigns = uow.campaigns.get_many({r.campaign_id for r in requests})
    results: list[SendReceipt | SendRefused | None] = [None] * len(requests)
    keyed: list[tuple[int, SendRequest, Lead, str]] = []
    for index, request in enumerate(requests):
        lead = leads.get(request.lead_id)
        if lead is None:
            results[index] = SendRefused(request, NotFound("lead", request.lead_id))
            continue
        if request.campaign_id not in campaigns:
            results[index] = SendRefused(request, NotFound("campaign", request.campaign_id))
            continue
        try:
            send_key = (
                check_send_key(request.send_key)
                if request.send_key
                else default_send_key(lead.id, request.template, now)
            )
            check_outbound_media(request.media_urls, send_channel(request))
        except TetherError as error:
            results[index] = SendRefused(request, error)
            continue
        keyed.append((index, request, lead, send_key))
    existing = uow.messages.by_send_keys([(lead.tenant_id, key) for _, _, lead, key in keyed])
    bodies: list[tuple[int, SendRequest, Lead, str, Composed]] = []
    templates: dict[int, WhatsAppTemplate] = {}
    for index, request, lead, send_key in keyed:
        stored = existing.get((lead.tenant_id, send_key))
        if stored is not None:
            results[index] = _repeated(stored, request, send_key)
            continue
        try:
            template = _whatsapp_template(uow, lead.tenant_id, request)
            composed = (
                Composed(template.render(_variables(request)), None)
                if template is not None
                else _compose(request, campaigns[request.campaign_id], lead)
            )
        except TetherError as error:  # a lead lacking a field: refused alone, with why
            results[index] = SendRefused(request, error)
            continue
        bodies.append((index, request, lead, send_key, composed))
        if template is not None:
            templates[index] = template
    bodies = _consented(uow, bodies, results)
    senders = resolve_senders_on(
        uow,
        [
            SenderWanted(lead.tenant_id, lead.id, lead.phone, r.campaign_id, r.channel)
            for _, r, lead, _, _ in bodies
        ],
        now,
    )
    ready: list[tuple[int, SendRequest, _Ready]] = []
    for index, request, lead, send_key, composed in bodies:
        binding = senders[(lead.id, request.campaign_id, request.channel)]
        if isinstance(binding, SenderUnavailable):
            # a campaign without a WhatsApp sender cannot take the request at all (422);
            # an SMS sender that is unavailable now is a state that passes (409)
            unavailable: TetherError = (
                InvalidInput(str(binding)) if request.channel == "whatsapp" else binding
            )
            results[index] = SendRefused(request, unavailable)
            continue
        if request.channel == "whatsapp":
            refused = _whatsapp_refusal(
                uow, request, lead, binding.phone_number, binding.provider,
                index in templates, now,
            )  # fmt: skip
            if refused is not None:
                results[index] = SendRefused(request, refused)
                continue
        sender = _Sender(binding.assignment_id, binding.phone_number_id, binding.phone_number)
        send = _Ready(
            lead.tenant_id,
            lead.id,
            request.campaign_id,
            lead.phone,
            sender,
            send_key,
            request.template,
            composed.body,
            list(request.media_urls),
            request.purpose,
            variant=composed.variant,
            send_at=request.send_at if request.send_at and request.send_at > now else None,
            channel=request.channel,
            whatsapp_template=templates.get(index),
            template_variables=_variables(request) if index in templates else None,
        )
        ready.append((index, request, send))
    stored_now = _store(uow, [send for _, _, send in ready], now)
    for (index, request, send), outcome in zip(ready, stored_now, strict=True):
        if isinstance(outcome, StoredSend):
            results[index] = _repeated(outcome, request, send.send_key)
        elif outcome is None:
            results[index] = SendRefused(
                request,
                InProgress("a send with this send key is being stored right now; retry"),
            )
        else:
            results[index] = SendReceipt(outcome, send.send_key, send.sender.phone_number, False)
    done = [result for result in results if result is not None]
    assert len(done) == len(requests)
    return done


def _whatsapp_template(
    uow: UnitOfWork, tenant_id: UUID, request: SendRequest
) -> WhatsAppTemplate | None:
    """The approved template a WhatsApp request names (None: free-form text)."""
    use = request.whatsapp_template
    if use is None:
        return None
    template = uow.whatsapp_templates.find(tenant_id, use.name, use.language)
    if template is None:
        raise InvalidInput(
            f"no WhatsApp template {use.name!r} in language {use.language!r}: register it"
            " first (POST /v1/whatsapp-templates)"
        )
    if not template.approved:
        raise InvalidInput(
            f"WhatsApp template {use.name!r} ({use.language}) is {template.status}:"
            " only an approved template may go"
        )
    return template


def _variables(request: SendRequest) -> dict[str, str]:
    return dict(request.whatsapp_template.variables) if request.whatsapp_template else {}


def _whatsapp_refusal(
    uow: UnitOfWork,
    request: SendRequest,
    lead: Lead,
    sender: str,
    provider: str,
    templated: bool,
    now: datetime,
) -> TetherError | None:
    """Why a WhatsApp send cannot be asked for now: its sender's provider does not carry
    WhatsApp, or free-form text outside the 24-hour window (as of when it would go)."""
    if not carries_whatsapp(provider):
        return InvalidInput(
            f"the campaign's WhatsApp sender {sender} is a {provider} number, and {provider}"
            " does not carry WhatsApp"
        )
    if len(request.media_urls) > capabilities("whatsapp").max_media:
        return InvalidInput(
            f"a WhatsApp message carries at most {capabilities('whatsapp').max_media} media"
        )
    opened = uow.threads.last_inbound_at(lead.tenant_id, "whatsapp", sender, lead.phone)
    when = request.send_at if request.send_at and request.send_at > now else now
    refusal = session_window_refusal("whatsapp", opened, when, templated=templated)
    return SessionWindowClosed(refusal.reason) if refusal is not None else None


def _consented(
    uow: UnitOfWork,
    bodies: list[tuple[int, SendRequest, Lead, str, Composed]],
    results: list[SendReceipt | SendRefused | None],
) -> list[tuple[int, SendRequest, Lead, str, Composed]]:
    """The sends that pass the consent gate (tether.domain.send_gates.consent_refusal),
    read for the whole batch in one statement per channel (a WhatsApp send needs consent
    on WhatsApp); the others are refused in `results`."""
    missing = {
        (channel, *pair)
        for channel in dict.fromkeys(r.channel for _, r, _, _, _ in bodies)
        for pair in uow.consents.missing(
            [
                (lead.tenant_id, lead.phone)
                for _, r, lead, _, _ in bodies
                if r.purpose in CONSENT_GATED_PURPOSES and r.channel == channel
            ],
            channel,
        )
    }
    passed = []
    for entry in bodies:
        index, request, lead, _, _ = entry
        refusal = consent_refusal(
            request.purpose,
            (request.channel, lead.tenant_id, lead.phone) not in missing,
            request.channel,
        )
        if refusal is not None:
            results[index] = SendRefused(request, ConsentRequired(refusal.reason))
            continue
        passed.append(entry)
    return passed


def _store(
    uow: UnitOfWork, sends: Sequence[_Ready], now: datetime
) -> list[UUID | StoredSend | None]:
    """Store decided sends in their threads: for each, the new row's id, or the send
    its key was stored as meanwhile (None when that one is not visible yet)."""
    if not sends:
        return []
    validity = uow.messages.validity_hours({send.tenant_id for send in sends})
    threads: dict[tuple[str, UUID, str, str], UUID] = {}
    for channel in dict.fromkeys(s.channel for s in sends):
        opened = uow.threads.for_addresses_many(
            [
                (s.tenant_id, s.sender.phone_number, s.to_number, s.lead_id, s.campaign_id)
                for s in sends
                if s.channel == channel
            ],
            channel,
        )
        threads.update({(channel, *key): thread for key, thread in opened.items()})
    drafts = []
    for send in sends:
        if send.tenant_id not in validity:
            raise NotFound("tenant", send.tenant_id)
        drafts.append(
            OutboundDraft(
                tenant_id=send.tenant_id,
                lead_id=send.lead_id,
                campaign_id=send.campaign_id,
                thread_id=send.thread_id
                or threads[
                    (send.channel, send.tenant_id, send.sender.phone_number, send.to_number)
                ],
                assignment_id=send.sender.assignment_id,
                number_id=send.sender.number_id,
                from_number=send.sender.phone_number,
                to_number=send.to_number,
                send_key=send.send_key,
                template=send.template,
                body=send.body,
                media_urls=send.media_urls,
                segments=_segments(send),
                # valid from when it may go
                expires_at=(send.send_at or now) + timedelta(hours=validity[send.tenant_id]),
                purpose=send.purpose,
                variant=send.variant,
                not_before=send.send_at,
                channel=send.sends_as.value,
                whatsapp_template_id=send.whatsapp_template.id if send.whatsapp_template else None,
                template_variables=send.template_variables,
            )
        )
    made = uow.messages.insert_outbound_many(drafts)
    _link_media(uow, sends, made)
    # a key another transaction stored first (its insert waited for that one's commit)
    raced = uow.messages.by_send_keys(
        [(s.tenant_id, s.send_key) for s in sends if s.send_key not in made]
    )
    return [made.get(s.send_key) or raced.get((s.tenant_id, s.send_key)) for s in sends]


def send_channel(request: SendRequest) -> Channel:
    """The channel a send goes as: its conversation's, an SMS with media going as an
    MMS."""
    return message_channel(request.channel, bool(request.media_urls))


def _segments(send: _Ready) -> int:
    """What a send counts for pacing and the daily cap: an MMS is one message whatever
    its text (carriers take it whole, not in 160-character parts); else its segments."""
    if send.sends_as is Channel.MMS:
        return 1
    return count_segments(send.body).segments


def _link_media(uow: UnitOfWork, sends: Sequence[_Ready], made: dict[str, UUID]) -> None:
    """The new sends' media as the tenant's attachments (outbound media is passed on,
    never copied), in the transaction that stores them."""
    by_tenant: dict[UUID, list[tuple[UUID, Sequence[str]]]] = {}
    for send in sends:
        if send.media_urls and send.send_key in made:
            by_tenant.setdefault(send.tenant_id, []).append((made[send.send_key], send.media_urls))
    for tenant_id, media in by_tenant.items():
        uow.attachments.link(tenant_id, media, copy=False)


def _compose(request: SendRequest, campaign: Campaign, lead: Lead) -> Composed:
    """The text a request sends its lead: its own body as written; or, with no body,
    the lead's variant of the campaign's template rendered for it (recorded with the
    variant's name); or, asked to `render`, its body rendered as a template."""
    from tether.domain.campaigns import Composed

    if request.body is not None and not request.render:
        if not request.body.strip():
            raise InvalidInput("the message has no body: give one, or a campaign template")
        return Composed(request.body, None)
    return campaign.compose(lead, request.body)


def _repeated(stored: StoredSend, request: SendRequest, send_key: str) -> SendReceipt | SendRefused:
    if not stored.repeats(request.lead_id, request.campaign_id):
        return SendRefused(
            request,
            Conflict(
                "messages_tenant_id_send_key_key",
                "this send key was already used for another lead or campaign; choose another key",
            ),
        )
    return SendReceipt(stored.id, send_key, stored.from_address, duplicate=True)


def _new(
    requests: Sequence[SendRequest], receipts: Sequence[SendReceipt]
) -> list[tuple[UUID, UUID]]:
    return [
        (request.tenant_id, receipt.message_id)
        for request, receipt in zip(requests, receipts, strict=True)
        if not receipt.duplicate
    ]


def _log_requested(requests: Sequence[SendRequest], receipts: Sequence[SendReceipt]) -> None:
    for request, receipt in zip(requests, receipts, strict=True):
        if not receipt.duplicate:
            logger.info(
                "send requested",
                extra={
                    "tenant_id": str(request.tenant_id),
                    "lead_id": str(request.lead_id),
                    "message_id": str(receipt.message_id),
                    "send_key": receipt.send_key,
                },
            )


@dataclass(frozen=True, slots=True)
class ReachedNumber:
    """The number an inbound text reached, with the campaign assignment it serves."""

    campaign_id: UUID
    assignment_id: UUID
    number_id: UUID
    phone_number: str
    channel: str = "sms"  # the thread channel it reached the number on


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
    """The one confirmation an opt-out gets, stored in the caller's transaction through
    the send path's store: from the number the STOP reached, bound to that number's
    campaign assignment (the hard rule), whether or not a lead matched. From here it is
    a send like any other (claim, hand-over); the sweeper enqueues it if the caller does
    not."""
    send_key = f"opt_out_confirmation:{receipt_id}"
    existing = uow.messages.by_send_key(tenant_id, send_key)
    if existing is not None:
        return existing.id
    send = _Ready(
        tenant_id,
        lead_id,
        reached.campaign_id,
        phone,
        _Sender(reached.assignment_id, reached.number_id, reached.phone_number),
        send_key,
        "opt_out_confirmation",
        OPT_OUT_CONFIRMATION,
        [],
        "opt_out_confirmation",
        thread_id,
        channel=reached.channel,
    )
    [stored] = _store(uow, [send], now)
    assert stored is not None  # a concurrent delivery of the same receipt committed first
    return stored.id if isinstance(stored, StoredSend) else stored


def enqueue_sends(
    uow: UnitOfWork, queue: MessageQueue, sends: Sequence[tuple[UUID, UUID]], now: datetime
) -> int:
    """Hand committed sends (tenant, message) to OutboundQueue and mark the ones it took
    as enqueued in the open transaction (the caller commits). A failure is logged, not
    raised: a send the queue did not take stays not enqueued, and the sweeper re-drives
    it when it is due."""
    taken = send_to_queue(queue, sends)
    if taken:
        uow.messages.mark_enqueued_many(taken, now)
    return len(taken)


def send_to_queue(queue: MessageQueue, sends: Sequence[tuple[UUID, UUID]]) -> list[UUID]:
    """The message ids OutboundQueue took, sent as bundles of up to SENDS_PER_MESSAGE of
    one tenant's sends (a lone send as an OutboundMessage); the ids of a message the queue
    did not take stay not enqueued, for the sweeper."""
    if not sends:
        return []
    messages = queue_messages(sends)
    try:
        failed = set(queue.send_batch([body for body, _ in messages]))
    except Exception:
        logger.exception("sends not enqueued; the sweeper will re-drive them")
        return []
    if failed:
        logger.warning(
            "sends not enqueued; the sweeper will re-drive them",
            extra={"count": sum(len(messages[index][1]) for index in failed)},
        )
    return [
        message_id
        for index, (_, message_ids) in enumerate(messages)
        if index not in failed
        for message_id in message_ids
    ]


def queue_messages(sends: Sequence[tuple[UUID, UUID]]) -> list[tuple[str, list[UUID]]]:
    """The OutboundQueue bodies that carry these sends (tenant, message), in order, each
    with the message ids it names: one tenant's sends in bundles of SENDS_PER_MESSAGE."""
    by_tenant: dict[UUID, list[UUID]] = {}
    for tenant_id, message_id in sends:
        by_tenant.setdefault(tenant_id, []).append(message_id)
    messages: list[tuple[str, list[UUID]]] = []
    for tenant_id, message_ids in by_tenant.items():
        for start in range(0, len(message_ids), SENDS_PER_MESSAGE):
            part = message_ids[start : start + SENDS_PER_MESSAGE]
            body: BaseModel = (
                OutboundMessage(tenant_id=tenant_id, message_id=part[0])
                if len(part) == 1
                else OutboundBundle(tenant_id=tenant_id, message_ids=part)
            )
            messages.append((body.model_dump_json(), part))
    return messages


def _requeue(
    uow: UnitOfWork, queue: MessageQueue, message: OutboundMessage, now: datetime, delay: int
) -> None:
    """Put one send back on OutboundQueue with a delay (open transaction; the caller
    commits the mark)."""
    body = message.model_dump_json()
    try:
        queue.send(body, delay_seconds=delay)
    except Exception:
        logger.exception(
            "enqueue failed; the sweeper will re-drive it",
            extra={"message_id": str(message.message_id)},
        )
        uow.messages.mark_enqueued(message.message_id, None)
        return
    uow.messages.mark_enqueued(message.message_id, now)


def redrive_waiting_sends(
    uow: UnitOfWork, queue: MessageQueue, now: datetime, batch_size: int = 100
) -> RedriveReport:
    """Enqueue the sends that are due and in no queue (jobs role, every tenant): stored
    but never enqueued, or deferred longer than a queue delay can hold. Locked with SKIP
    LOCKED and marked in the same transaction, so overlapping sweeps send each once."""
    with uow:
        rows = uow.messages.waiting_to_enqueue(now, batch_size)
        taken = send_to_queue(queue, rows)
        if taken:
            uow.messages.mark_enqueued_many(taken, now)
        enqueued = len(taken)
        uow.commit()
    metrics.add_metric(name="SendsRedriven", unit="Count", value=enqueued)
    if rows:
        logger.warning("sends re-driven", extra={"found": len(rows), "enqueued": enqueued})
    return RedriveReport(len(rows), enqueued)


def cancel_send(uow: UnitOfWork, message_id: UUID) -> str:
    """Cancel a send no provider has had yet (one held by its send_at, say): it is never
    sent. InvalidState once an attempt has begun; cancelling twice changes nothing."""
    with uow:
        found = uow.messages.unsent_status(message_id)
        if found is None:
            raise NotFound("message", message_id)
        status, attempted = found
        if status == "canceled":
            return status
        if status != "queued" or attempted:
            raise InvalidState(
                f"too late to cancel: the message is {status}"
                + (" and its provider may have it" if attempted else "")
            )
        uow.messages.cancel(message_id, "cancelled before it was sent")
        uow.commit()
    logger.info("send cancelled", extra={"message_id": str(message_id)})
    return "canceled"


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
    from tether.providers import provider_for  # the adapters, on a function's first send

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
    *,
    webhook_base_url: str,
) -> SendOutcome:
    """Take one queued send as far as it can go now (see the module docstring): the
    claim and the hand-over, each a transaction of its own. The send asks its provider
    for status callbacks at the account's webhook under `webhook_base_url`."""
    with uow:
        return _process(uow, message_id, providers, now, rng, webhook_base_url=webhook_base_url)


def _process(
    uow: UnitOfWork,
    message_id: UUID,
    providers: ProviderSource,
    now: datetime,
    rng: random.Random | None = None,
    *,
    webhook_base_url: str,
) -> SendOutcome:
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
    callback_url = status_callback_url(webhook_base_url, ctx.provider, ctx.provider_account_id)
    if in_doubt:
        # But first: did the provider take it before the attempt was left open? Then the
        # lead has the text, and a gate that refuses it now (an opt-out since, its
        # validity passed) must not mark it failed (found by the soak, issue 21).
        taken = _taken_before(ctx, providers, callback_url)
        if taken is not None:
            return _record_taken(uow, ctx, taken, now)
    gated = _gate(uow, ctx, now)
    if gated is not None:
        uow.commit()
        return gated
    uow.messages.start_attempt(ctx.id, now)
    uow.commit()
    jitter = rng or random.Random()  # noqa: S311 - back-off jitter, not a secret
    return _hand_over(uow, ctx, providers, now, in_doubt, jitter, callback_url)


def _taken_before(
    ctx: SendContext, providers: ProviderSource, callback_url: str
) -> tuple[str, SendAccepted] | None:
    """The provider's record of an attempt left in doubt, if it has one: (provider, what
    it accepted). None when it has none or cannot say now (then the gates and the usual
    retry decide, as before)."""
    assert ctx.attempt_started_at is not None
    try:
        provider = providers(ctx)
        found = provider.find_sent(
            _command(ctx, callback_url), ctx.attempt_started_at - RECONCILE_MARGIN
        )
    except ProviderError:
        return None
    return (provider.name, found) if found is not None else None


def _record_taken(
    uow: UnitOfWork, claimed: SendContext, taken: tuple[str, SendAccepted], now: datetime
) -> SendOutcome:
    check = uow.messages.begin_hand_over(claimed.id)
    assert check is not None  # locked a moment ago
    if check.external_id is not None:
        uow.rollback()
        return SendOutcome(Outcome.ALREADY_DONE)
    ctx = replace(
        claimed,
        attempts=check.attempts,
        lead_state=check.lead.state.value if check.lead else None,
    )
    provider_name, accepted = taken
    return _record_sent(uow, ctx, check.lead, provider_name, accepted, now, reconciled=True)


def _gate(uow: UnitOfWork, ctx: SendContext, now: datetime) -> SendOutcome | None:
    """The gates before an attempt: an outcome when the send fails or waits, else None
    (the decisions: tether.domain.send_gates)."""
    refusal = expiry_refusal(ctx.expires_at, now) or lead_refusal(
        ctx.lead_state, opt_out_confirmation=ctx.is_opt_out_confirmation
    )
    if refusal is None:
        refusal = _channel_refusal(ctx, now)
    if refusal is not None:
        return _fail(uow, ctx, refusal.code, refusal.reason)
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
            refusal = quiet_hours_refusal()
            return _fail(uow, ctx, refusal.code, refusal.reason)
        if opening > now:
            return _defer(uow, ctx, opening, "quiet hours at the recipient")
    if ctx.segments_per_second is not None and ctx.paced_slot is None:
        slot = uow.numbers.reserve_pacing_slot(
            ctx.number_id, ctx.segments, ctx.segments_per_second, now
        )
        until = paced_until(slot, now)
        if until is not None:
            return _defer(uow, ctx, until, "number pacing", paced_slot=until)
    # counted once per send: a retry after a failed attempt is the same text
    if (
        ctx.segments_per_day is not None
        and ctx.attempts == 0
        and not uow.messages.count_daily_segments(
            ctx.tenant_id, ctx.number_id, now.date(), ctx.segments, ctx.segments_per_day
        )
    ):
        return _defer(uow, ctx, next_day(now), "number's daily limit reached")
    return None


def _channel_refusal(ctx: SendContext, now: datetime) -> Refusal | None:
    """A WhatsApp send's own gates: its template still approved, and free-form text only
    inside the 24-hour window (it may have closed while the send waited)."""
    if ctx.channel != "whatsapp":
        return None
    if ctx.template is not None and ctx.template.status != "approved":
        return Refusal(
            "template_not_approved",
            f"WhatsApp template {ctx.template.name!r} is {ctx.template.status} now",
        )
    return session_window_refusal(
        ctx.channel, ctx.last_inbound_at, now, templated=ctx.template is not None
    )


def _hand_over(
    uow: UnitOfWork,
    claimed: SendContext,
    providers: ProviderSource,
    now: datetime,
    in_doubt: bool,
    rng: random.Random,
    callback_url: str,
) -> SendOutcome:
    check = uow.messages.begin_hand_over(claimed.id)
    assert check is not None  # claimed a moment ago
    if check.external_id is not None:  # another delivery of this message finished it
        uow.rollback()
        return SendOutcome(Outcome.ALREADY_DONE)
    lead = check.lead  # None only for an opt-out confirmation to a phone with no lead
    ctx = replace(claimed, attempts=check.attempts, lead_state=lead.state.value if lead else None)
    refusal = hand_over_refusal(
        check.suppressed, ctx.lead_state, opt_out_confirmation=ctx.is_opt_out_confirmation
    ) or _channel_refusal(ctx, now)
    if refusal is not None:
        outcome = _fail(uow, ctx, refusal.code, refusal.reason)
        uow.commit()
        return outcome
    try:
        provider = providers(ctx)
    except ProviderError as error:  # no usable credentials: an operator must act
        return _provider_refused(uow, ctx, error, now, rng)
    command = _command(ctx, callback_url)
    try:
        accepted = _deliver(provider, command, in_doubt, claimed.attempt_started_at)
    except ProviderError as error:
        return _provider_refused(uow, ctx, error, now, rng)
    return _record_sent(uow, ctx, lead, provider.name, accepted, now, reconciled=in_doubt)


def _command(ctx: SendContext, callback_url: str) -> SendCommand:
    return SendCommand(
        from_number=ctx.from_number,
        to_number=ctx.to_number,
        body=ctx.body,
        media_urls=tuple(ctx.media_urls),
        idempotency_key=str(ctx.id),
        status_callback_url=callback_url,
        channel=ctx.channel,
        template=TemplateContent(
            ctx.template.provider_template_id,
            ctx.template.name,
            ctx.template.language,
            ctx.template.variables,
        )
        if ctx.template is not None
        else None,
    )


def _record_sent(
    uow: UnitOfWork,
    ctx: SendContext,
    lead: Lead | None,
    provider_name: str,
    accepted: SendAccepted,
    now: datetime,
    *,
    reconciled: bool,
) -> SendOutcome:
    """The provider took the text: record it, its status event, the reports that came
    first, the lead's first touch and the number's count, and commit."""
    before = uow.messages.record_sent(
        ctx.id, provider_name, accepted.external_id, accepted.segments, now
    )
    _status_changed(uow, ctx, "sent", before, None, now)
    apply_parked_statuses(uow, ctx.id, provider_name, accepted.external_id, now)
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
            "provider": provider_name,
            "external_id": accepted.external_id,
            "reconciled": reconciled,
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
    outcome = _fail(uow, ctx, error.code or error.kind.value, error.reason, detail=detail)
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


def _status_changed(
    uow: UnitOfWork,
    ctx: SendContext,
    status: str,
    before: str | None,
    code: str | None,
    now: datetime | None,
) -> None:
    """The customer's systems hear of a send the provider took or that failed, as they
    do of a provider's later reports (services.statuses), in the same transaction."""
    if before is None or before == status:
        return
    uow.outbox.record(
        ctx.tenant_id,
        EventType.MESSAGE_STATUS_CHANGED,
        status_changed_data(ctx.id, ctx.lead_id, ctx.campaign_id, status, before, code),
        now,
        lead_id=ctx.lead_id,
    )


def _fail(
    uow: UnitOfWork,
    ctx: SendContext,
    code: str,
    reason: str,
    *,
    detail: dict[str, Any] | None = None,
) -> SendOutcome:
    """Fail the send in the open transaction (the caller commits)."""
    before = uow.messages.fail(ctx.id, code, reason)
    _status_changed(uow, ctx, "failed", before, code, None)
    uow.audit.record(
        "send_failure",
        tenant_id=ctx.tenant_id,
        subject_type="message",
        subject_id=str(ctx.id),
        detail={"code": code, "reason": reason, **(detail or {})},
    )
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
    logger.info(
        "send deferred",
        extra={"message_id": str(ctx.id), "until": until.isoformat(), "reason": reason},
    )
    return SendOutcome(Outcome.DEFERRED, until, reason)


def _first_touch(uow: UnitOfWork, ctx: SendContext, lead: Lead, now: datetime) -> None:
    """NEW → TOUCHED with its event, and the 7-, 14- and 30-day timers (seed 002 parts 3
    and 5)."""
    move_held_lead(  # begin_hand_over locked the lead
        uow,
        lead,
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
    uow: UnitOfWork,
    queue: MessageQueue,
    message: OutboundMessage,
    providers: ProviderSource,
    now: datetime,
    *,
    webhook_base_url: str,
) -> SendOutcome:
    """What the outbound worker does with one queue message (`uow` of the message's
    tenant): take the send as far as it goes, and put a send that must wait back on the
    queue with a delay (or, past what a queue delay can hold, leave it to the sweeper)."""
    with uow:
        logger.append_keys(tenant_id=str(message.tenant_id), message_id=str(message.message_id))
        try:
            outcome = _process(
                uow, message.message_id, providers, now, webhook_base_url=webhook_base_url
            )
        except NotFound:
            # another tenant's id or a deleted row: retrying cannot help
            logger.error("queued send not found; dropped")
            return SendOutcome(Outcome.ALREADY_DONE, reason="not found")
        if outcome.outcome in {Outcome.DEFERRED, Outcome.RETRY} and outcome.not_before is not None:
            wait = (outcome.not_before - now).total_seconds()
            if wait <= MAX_QUEUE_DELAY_SECONDS:
                _requeue(uow, queue, message, now, max(0, math.ceil(wait)))
            else:
                uow.messages.mark_enqueued(message.message_id, None)  # the sweeper's, when due
            uow.commit()
    return outcome


def handle_queued_sends(
    uow: UnitOfWork,
    queue: MessageQueue,
    sends: Sequence[OutboundMessage],
    providers: ProviderSource,
    clock: Callable[[], datetime],
    *,
    webhook_base_url: str,
) -> list[SendOutcome]:
    """What the outbound worker does with one queue message naming several sends of one
    tenant (an OutboundBundle): each is handled on its own, as `handle_queued_send` does,
    in its own transactions and at its own time. One failing unexpectedly does not stop
    the others; SendsUnfinished then names the unfinished ones and the message comes back
    whole, where the sends already finished find themselves done (sent, failed) and are
    not sent again, and one whose attempt was open asks its provider again with the same
    key (the claim). A process that dies mid-bundle leaves the same state."""
    outcomes: list[SendOutcome] = []
    unfinished: list[UUID] = []
    for message in sends:
        try:
            outcome = handle_queued_send(
                uow, queue, message, providers, clock(), webhook_base_url=webhook_base_url
            )
        except Exception:
            logger.exception(
                "send of a bundle failed; the bundle comes back",
                extra={"message_id": str(message.message_id)},
            )
            unfinished.append(message.message_id)
            continue
        logger.info(
            "send processed", extra={"outcome": outcome.outcome.value, "reason": outcome.reason}
        )
        outcomes.append(outcome)
    if unfinished:
        raise SendsUnfinished(unfinished)
    return outcomes
