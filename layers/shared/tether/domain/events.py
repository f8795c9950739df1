"""Canonical provider events: what every provider's webhook means, in one shape.

A provider's inbound message becomes an ``InboundMessage`` and its delivery report a
``StatusUpdate``; the webhook stores them beside the raw payload, and the inbound
function applies them. Addresses are kept as the provider sent them: normalising them
to E.164 is matching's job, and a short code or alphanumeric sender must not be lost here.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from tether.domain.message_status import MessageStatus

# "ses": inbound email (SES stores it in S3); no webhook and no provider account
Provider = Literal["signalhouse", "twilio", "signalwire", "telnyx", "sandbox", "ses"]
PROVIDERS: tuple[Provider, ...] = (
    "signalhouse",
    "twilio",
    "signalwire",
    "telnyx",
    "sandbox",
    "ses",
)

EventType = Literal["inbound_message", "status_update", "unknown"]

ExternalId = Annotated[str, Field(min_length=1, max_length=200)]


class _ProviderEvent(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    provider: Provider
    external_id: ExternalId  # the provider's message id (Twilio's SID, Telnyx's message id)
    from_address: str | None = None
    to_address: str | None = None
    body: str | None = None
    media_urls: tuple[str, ...] = ()
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

    model_config = ConfigDict(frozen=True, extra="forbid")

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


CanonicalEvent = Annotated[InboundMessage | StatusUpdate, Field(discriminator="kind")]
