"""Canonical provider events: what every provider's webhook means, in one shape.

A provider's inbound message becomes an ``InboundMessage``, its delivery report a
``StatusUpdate`` and a voice call's end a ``CallOutcomeReport``; the webhook stores them beside the raw payload, and the inbound
function applies them. Addresses are kept as the provider sent them: normalising them
to E.164 is matching's job, and a short code or alphanumeric sender must not be lost here.
"""

from __future__ import annotations

from typing import Annotated, Literal
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from tether.domain.leases import CallOutcome
from tether.domain.message_status import MessageStatus

# "ses": inbound email (SES stores it in S3); no webhook and no provider account
Provider = Literal["signalhouse", "twilio", "signalwire", "telnyx", "sandbox", "vapi", "ses"]
PROVIDERS: tuple[Provider, ...] = (
    "signalhouse",
    "twilio",
    "signalwire",
    "telnyx",
    "sandbox",
    "vapi",
    "ses",
)

EventType = Literal["inbound_message", "status_update", "call_outcome", "unknown"]

ExternalId = Annotated[str, Field(min_length=1, max_length=200)]


class _ProviderEvent(BaseModel):
    # validators built on first use (a webhook's parse, inbound's receipt): outbound,
    # timers and the API import these names but never validate one (cold starts)
    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    provider: Provider
    external_id: ExternalId  # the provider's message id (Twilio's SID, Telnyx's message id)
    from_address: str | None = None
    to_address: str | None = None
    body: str | None = None
    media_urls: tuple[str, ...] = ()
    # each media URL's Content-Type as the provider declared it ("" when it did not):
    # Twilio's MediaContentTypeN, Telnyx's media[].content_type; the copy records the
    # type the file itself is served with
    media_types: tuple[str, ...] = ()
    # the message channel (tether.domain.channels): a parser that reads a `whatsapp:`
    # address says "whatsapp" and keeps the address without the prefix
    channel: Literal["sms", "mms", "whatsapp", "email"] = "sms"
    status: MessageStatus
    error_code: str | None = None
    error_reason: str | None = None
    # when the provider says it happened; when it says nothing, when the webhook arrived
    occurred_at: AwareDatetime


class EmailDetails(BaseModel):
    """What an inbound email carries besides its text (tether.domain.email): ids are
    without angle brackets; `reply_text` is the reply without its quoted history, the
    part classified (the body keeps the whole text)."""

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    message_id: str | None = None
    subject: str | None = None
    in_reply_to: tuple[str, ...] = ()
    references: tuple[str, ...] = ()
    reply_text: str = ""

    @property
    def thread_ids(self) -> tuple[str, ...]:
        """The mails this one answers, the nearest first (In-Reply-To, then References
        newest first)."""
        return tuple(dict.fromkeys((*self.in_reply_to, *reversed(self.references))))


class InboundMessage(_ProviderEvent):
    """A message a lead sent to one of the tenant's numbers (or, by email, to its
    reply mailbox: then `email` is set and the addresses are mail addresses)."""

    kind: Literal["inbound_message"] = "inbound_message"
    from_address: str
    to_address: str
    body: str = ""
    status: Literal[MessageStatus.RECEIVED] = MessageStatus.RECEIVED
    email: EmailDetails | None = None


class StatusUpdate(_ProviderEvent):
    """A provider's report on a message the tenant sent (queued, sent, delivered, failed...)."""

    kind: Literal["status_update"] = "status_update"


class CallOutcomeReport(BaseModel):
    """How a voice call to (or from) a lead ended, as the voice side reports it: a
    VAPI end-of-call report or a Twilio/SignalWire call status callback, read into
    seed 001's three outcomes (tether.domain.calls says how)."""

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    kind: Literal["call_outcome"] = "call_outcome"
    provider: Provider
    external_id: ExternalId  # the provider's call id (VAPI's call.id, Twilio's CallSid)
    # the carrier's id of the same call, when the report names it (VAPI's
    # call.phoneCallProviderId: the CallSid of its Twilio leg)
    carrier_call_id: Annotated[str, Field(max_length=200)] | None = None
    outcome: CallOutcome
    # the provider's own words for how it ended (endedReason, CallStatus), kept as sent
    provider_status: Annotated[str, Field(max_length=200)]
    customer_address: str | None = None  # the lead's number
    our_address: str | None = None  # the tenant's (leased) number the call used
    lead_id: UUID | None = None  # the lead the caller named in the call's metadata
    appointment_at: AwareDatetime | None = None  # a booked call's appointment
    note: Annotated[str, Field(max_length=500)] | None = None  # how the outcome was read
    occurred_at: AwareDatetime


CanonicalEvent = Annotated[
    InboundMessage | StatusUpdate | CallOutcomeReport, Field(discriminator="kind")
]
ProviderEvent = InboundMessage | StatusUpdate | CallOutcomeReport
