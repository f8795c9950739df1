"""The voice side's webhooks (POST /webhooks/voice/{provider}/{account_id}): how a call
ended, read into a ``CallOutcomeReport`` (tether.domain.calls says which outcome).

- VAPI server messages are JSON: ``{"message": {"type": "end-of-call-report",
  "endedReason", "call": {"id", "metadata", "customer", "phoneNumber"}, "customer":
  {"number"}, "phoneNumber": {"number"}, "assistant": {"metadata"}, "analysis":
  {"structuredData"}, "endedAt"}}``. They are authenticated by the account's secret:
  an HMAC credential (hex HMAC-SHA256 of the raw body in ``X-Vapi-Signature``) proves
  the body; the server secret in ``X-Vapi-Secret`` or a Bearer token prove only the
  sender, so prefer HMAC. Other message types are kept and acknowledged, not applied.
- Twilio and SignalWire (compatibility API) call status callbacks are form posts
  (``CallSid``, ``CallStatus``, ``From``, ``To``, ``Direction``, ``AnsweredBy``,
  ``Timestamp``) signed like their messaging webhooks. The callback URL's query is
  signed with it, so the caller's hints ride there: ``lead_id``, ``outcome``,
  ``appointment_at``. A status that is not the call's end is kept, not applied.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from tether.domain.calls import (
    call_status_answered,
    hinted_lead_id,
    read_outcome,
    vapi_answered,
)
from tether.domain.events import CallOutcomeReport, Provider
from tether.webhooks import signatures
from tether.webhooks.errors import InvalidSignature, MalformedPayload
from tether.webhooks.providers.base import (
    FORM,
    JSON,
    ParsedDelivery,
    event_time,
    json_fingerprint,
    json_object,
    make_event,
    read_model,
    sha256_hex,
)
from tether.webhooks.providers.signalwire import SIGNATURE_HEADERS as SIGNALWIRE_HEADERS
from tether.webhooks.providers.twilio import form_params, verify_compatible
from tether.webhooks.request import WebhookRequest

END_OF_CALL_REPORT = "end-of-call-report"
VAPI_SIGNATURE_HEADER = "x-vapi-signature"
VAPI_SECRET_HEADER = "x-vapi-secret"  # noqa: S105 (a header name)


class _Party(BaseModel):
    model_config = ConfigDict(extra="ignore")

    number: str | None = None


class _Analysis(BaseModel):
    model_config = ConfigDict(extra="ignore")

    structuredData: dict[str, Any] | None = None  # VAPI's names, as sent


class _Holder(BaseModel):
    model_config = ConfigDict(extra="ignore")

    metadata: dict[str, Any] | None = None


class _Call(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: str = Field(min_length=1, max_length=200)
    phoneCallProviderId: str | None = Field(default=None, max_length=200)
    endedReason: str | None = None
    metadata: dict[str, Any] | None = None
    customer: _Party | None = None
    phoneNumber: _Party | None = None
    analysis: _Analysis | None = None
    endedAt: object = None


class _EndOfCallReport(BaseModel):
    model_config = ConfigDict(extra="ignore")

    type: str
    endedReason: str | None = Field(default=None, max_length=200)
    call: _Call
    customer: _Party | None = None
    phoneNumber: _Party | None = None
    assistant: _Holder | None = None
    analysis: _Analysis | None = None
    endedAt: object = None
    timestamp: object = None


class _Envelope(BaseModel):
    model_config = ConfigDict(extra="ignore")

    message: dict[str, Any]


def vapi_signature(secret: str, body: bytes) -> str:
    """Hex HMAC-SHA256 of the raw body: a VAPI HMAC credential's signature."""
    return hmac.new(signatures.utf8(secret), body, hashlib.sha256).hexdigest()


class Vapi:
    name: Provider = "vapi"
    media_types = frozenset({JSON})

    def verify(self, request: WebhookRequest, secrets: list[str], now: datetime) -> None:
        signature = request.header(VAPI_SIGNATURE_HEADER)
        if signature and signature.strip():
            given = signature.strip().lower()
            if any(signatures.same(vapi_signature(s, request.body), given) for s in secrets):
                return
            raise InvalidSignature("the X-Vapi-Signature does not match the body")
        token = request.header(VAPI_SECRET_HEADER) or _bearer(request.header("authorization"))
        if not token or not token.strip():
            raise InvalidSignature("the X-Vapi-Signature (or X-Vapi-Secret) header is missing")
        if not any(signatures.same(s, token.strip()) for s in secrets):
            raise InvalidSignature("the X-Vapi-Secret does not match the account's secret")

    def parse(self, request: WebhookRequest, received_at: datetime) -> ParsedDelivery:
        fingerprint = sha256_hex(request.body)
        envelope = read_model(_Envelope, json_object(request.body), "VAPI server message")
        kind = envelope.message.get("type")
        if not isinstance(kind, str) or not kind:
            raise MalformedPayload("VAPI server message: message.type is missing")
        if kind != END_OF_CALL_REPORT:
            return ParsedDelivery(f"sha256:{fingerprint}", None, kind[:100], fingerprint)
        report = read_model(_EndOfCallReport, envelope.message, "end-of-call-report")
        call = report.call
        ended = report.endedReason or call.endedReason
        if not ended:
            raise MalformedPayload("end-of-call-report: endedReason is missing")
        analysis = report.analysis or call.analysis
        structured = (analysis.structuredData if analysis else None) or {}
        metadata = {
            **((report.assistant.metadata if report.assistant else None) or {}),
            **(call.metadata or {}),
        }
        hints = {**metadata, **structured}
        answered = vapi_answered(ended)
        read = read_outcome(answered, hints)
        customer = _number(report.customer) or _number(call.customer)
        ours = _number(report.phoneNumber) or _number(call.phoneNumber)
        lead_id, note = _lead_id(hints, read.note)
        event = make_event(
            CallOutcomeReport,
            "end-of-call-report",
            provider=self.name,
            external_id=call.id,
            carrier_call_id=call.phoneCallProviderId or None,
            outcome=read.outcome,
            provider_status=ended,
            customer_address=customer,
            our_address=ours,
            lead_id=lead_id,
            appointment_at=read.appointment_at,
            note=note,
            occurred_at=event_time(report.endedAt or call.endedAt, received_at),
        )
        # a retry of the report may differ in delivery details (its timestamp): the
        # fingerprint holds only what the report says about the call
        content = json_fingerprint(
            {
                "call": call.id,
                "ended": ended,
                "structured": structured,
                "metadata": metadata,
                "customer": customer,
                "ours": ours,
            }
        )
        return ParsedDelivery(f"{call.id}:{END_OF_CALL_REPORT}", event, kind, content)


class _CallStatusCallbacks:
    """Twilio's call status callbacks; SignalWire's compatibility API sends the same."""

    name: Provider
    media_types = frozenset({FORM})
    signature_headers: tuple[str, ...]

    def verify(self, request: WebhookRequest, secrets: list[str], now: datetime) -> None:
        verify_compatible(request, secrets, self.signature_headers)

    def parse(self, request: WebhookRequest, received_at: datetime) -> ParsedDelivery:
        params = dict(reversed(form_params(request.body)))  # the first value of a name
        fingerprint = sha256_hex(request.body)
        sid, status = params.get("CallSid"), params.get("CallStatus")
        if not sid:
            raise MalformedPayload("a call status callback without CallSid")
        if not status:
            raise MalformedPayload("a call status callback without CallStatus")
        if len(sid) > 200 or len(status) > 100:
            raise MalformedPayload("CallSid or CallStatus is too long")
        identity = f"{sid}:{status.lower()}"
        answered = call_status_answered(status, params.get("AnsweredBy"))
        if answered is None:  # not the call's end: kept, nothing to apply
            return ParsedDelivery(identity, None, f"call:{status}", fingerprint)
        hints: dict[str, object] = dict(request.url.query)  # signed with the URL
        read = read_outcome(answered, hints)
        lead_id, note = _lead_id(hints, read.note)
        inbound = params.get("Direction", "").lower() == "inbound"
        caller, called = params.get("From") or None, params.get("To") or None
        event = make_event(
            CallOutcomeReport,
            "call status callback",
            provider=self.name,
            external_id=sid,
            outcome=read.outcome,
            provider_status=status,
            # an outbound call (the agent calling the lead, the default) is from our number
            customer_address=caller if inbound else called,
            our_address=called if inbound else caller,
            lead_id=lead_id,
            appointment_at=read.appointment_at,
            note=note,
            occurred_at=_rfc2822_time(params.get("Timestamp"), received_at),
        )
        return ParsedDelivery(identity, event, f"call:{status}", fingerprint)


class TwilioVoice(_CallStatusCallbacks):
    name: Provider = "twilio"
    signature_headers = ("x-twilio-signature",)


class SignalWireVoice(_CallStatusCallbacks):
    name: Provider = "signalwire"
    signature_headers = SIGNALWIRE_HEADERS


def _bearer(value: str | None) -> str | None:
    if value and value[:7].lower() == "bearer ":
        return value[7:]
    return None


def _number(party: _Party | None) -> str | None:
    return party.number.strip() or None if party and party.number else None


def _lead_id(hints: Mapping[str, object], note: str | None) -> tuple[UUID | None, str | None]:
    """The lead the caller named, and the note: a lead id that is no UUID is set aside
    (the numbers still find the lead) and said so."""
    raw = hinted_lead_id(hints)
    if raw is None:
        return None, note
    try:
        return UUID(raw), note
    except ValueError:
        unread = "the lead id in the call's metadata is not a UUID; matched by number"
        return None, f"{note}; {unread}" if note else unread


def _rfc2822_time(value: str | None, received_at: datetime) -> datetime:
    """Twilio's `Timestamp` (RFC 2822), or the time of receipt."""
    if not value:
        return received_at
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return received_at
    return event_time(when.isoformat() if when.tzinfo else None, received_at)
