"""The one door to SMS providers: the `SmsProvider` protocol, what goes through it, and
the typed error every adapter raises.

Nothing here talks to a network; the adapters beside this module do, each with its own
table that turns the provider's HTTP status and error code into a `ProviderErrorKind`,
the only thing the outbound path decides on.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from tether.domain.errors import InvalidPhoneNumber, TetherError
from tether.domain.message_status import MessageStatus
from tether.domain.redaction import redact

# The shape of E.164; that the number is real is checked where numbers enter Tether.
_E164 = re.compile(r"^\+[1-9]\d{1,14}$")


class ProviderErrorKind(StrEnum):
    """What the caller should do about a failed send."""

    RETRYABLE = "retryable"  # try again later: rate limits, outages, timeouts
    UNSUBSCRIBED = "unsubscribed"  # the recipient opted out (STOP); never text again
    INVALID_NUMBER = "invalid_number"  # not a real or reachable phone number
    NOT_SMS_CAPABLE = "not_sms_capable"  # a real number that cannot take texts
    LANDLINE = "landline"
    FILTERED = "filtered"  # a carrier or the provider filtered the content as spam
    AUTH = "auth"  # our credentials or account/number set-up: an operator must act
    REJECTED = "rejected"  # any other permanent refusal


class ProviderError(TetherError):
    """A provider refused or could not take a message.

    `may_have_sent` is True when the request may have reached the provider before it
    failed (a read timeout, a dropped connection, a 5xx): the text may be out, so a
    retry must use the idempotency key or, without one, `find_sent` first.
    """

    def __init__(
        self,
        provider: str,
        kind: ProviderErrorKind,
        reason: str,
        *,
        code: str | None = None,
        http_status: int | None = None,
        may_have_sent: bool = False,
    ) -> None:
        # A provider's text can hold the recipient's number: redacted here, once, before
        # it reaches a log line, an audit row or the message's error reason.
        reason = redact(reason)
        label = f"{provider} {code}" if code else provider
        super().__init__(f"{label}: {reason} ({kind})")
        self.provider = provider
        self.kind = kind
        self.reason = reason
        self.code = code
        self.http_status = http_status
        self.may_have_sent = may_have_sent

    @property
    def retryable(self) -> bool:
        return self.kind == ProviderErrorKind.RETRYABLE


@dataclass(frozen=True, slots=True)
class TemplateContent:
    """An approved WhatsApp template a send goes as: the provider's id for it (Twilio's
    Content SID), its name and language (Telnyx, Meta) and the values of its variables
    ("1", "2" ...)."""

    provider_template_id: str
    name: str
    language: str
    variables: Mapping[str, str]


@dataclass(frozen=True, slots=True)
class SendCommand:
    """One text to send: from the bound number to the lead, with our stable key for it."""

    from_number: str
    to_number: str
    body: str
    idempotency_key: str
    media_urls: tuple[str, ...] = ()
    status_callback_url: str | None = None
    # the message channel: "sms", "mms" or "whatsapp" (an adapter writes a WhatsApp
    # send's numbers as its API wants them, e.g. `whatsapp:+1...`); numbers stay E.164
    channel: str = "sms"
    template: TemplateContent | None = None  # WhatsApp: the approved template it goes as

    def __post_init__(self) -> None:
        for number in (self.from_number, self.to_number):
            if not _E164.match(number):
                raise InvalidPhoneNumber(number, "not in E.164 form (+ and up to 15 digits)")
        if not self.idempotency_key:
            raise ValueError("a send needs an idempotency key")


@dataclass(frozen=True, slots=True)
class SendAccepted:
    """The provider took the message; `external_id` is its SID for the message."""

    provider: str
    external_id: str
    status: MessageStatus
    segments: int | None = None


class SmsProvider(Protocol):
    """A provider account that can send texts.

    `send` raises ProviderError; network errors and timeouts are RETRYABLE errors.
    Providers without an idempotency key (`supports_idempotency_key` False) may send a
    retried request twice, so after an ambiguous failure the caller asks `find_sent`
    whether a text with this from/to/body was accepted after `sent_after` (the moment
    before the first attempt) before sending again.
    """

    name: str
    supports_idempotency_key: bool

    def send(self, command: SendCommand) -> SendAccepted: ...

    def find_sent(self, command: SendCommand, sent_after: datetime) -> SendAccepted | None: ...


def whatsapp_unsupported(provider: str, display: str) -> ProviderError:
    """The permanent refusal of an adapter whose provider does not carry WhatsApp (the
    API refuses such a send when it is asked for; this is the last line)."""
    return ProviderError(
        provider,
        ProviderErrorKind.REJECTED,
        f"{display} does not carry WhatsApp on its messaging API: send WhatsApp from a"
        " Twilio or Telnyx WhatsApp sender",
        code="whatsapp_unsupported",
    )


def kind_for(
    http_status: int | None,
    code: str | None,
    code_kinds: Mapping[str, ProviderErrorKind],
) -> ProviderErrorKind:
    """The kind of a provider error: its code's entry in the provider's table, else what
    the HTTP status says (401/403 credentials, 408/429/5xx transient, other 4xx final)."""
    if code is not None and code in code_kinds:
        return code_kinds[code]
    if http_status in (401, 403):
        return ProviderErrorKind.AUTH
    if http_status is None or http_status in (408, 429) or http_status >= 500:
        return ProviderErrorKind.RETRYABLE
    return ProviderErrorKind.REJECTED
