"""Twilio, and the Twilio-compatible (cXML/LaML) callbacks SignalWire sends.

Messaging webhooks are form-encoded. An inbound message carries `SmsStatus=received`
and no `MessageStatus`; a status callback carries `MessageStatus` (and `ErrorCode` when
it failed). One message has many status callbacks, so a status's identity is the SID
and the status together. JSON callbacks (other Twilio products) are signed over the
URL alone, which carries the body's SHA-256; they are kept as unknown events.
"""

from __future__ import annotations

from datetime import datetime
from urllib.parse import parse_qsl

from tether.domain.events import InboundMessage, Provider, StatusUpdate
from tether.domain.media import declared_type
from tether.domain.message_status import MessageStatus
from tether.webhooks import signatures
from tether.webhooks.errors import InvalidSignature, MalformedPayload
from tether.webhooks.providers.base import (
    FORM,
    JSON,
    ParsedDelivery,
    channel_addresses,
    json_object,
    make_event,
    sha256_hex,
)
from tether.webhooks.request import WebhookRequest

# Twilio announces a shared-key signature's algorithm here (HMAC_SHA1 when absent).
SIGNATURE_SETTINGS_HEADER = "x-twilio-webhooks-signature-settings"
# Twilio allows 10 media per message, as MediaUrl0 to MediaUrl9
MAX_MEDIA = 10

_S = MessageStatus
STATUSES: dict[str, MessageStatus] = {
    "accepted": _S.ACCEPTED,
    "scheduled": _S.QUEUED,
    "queued": _S.QUEUED,
    "initiated": _S.SENDING,  # SignalWire
    "sending": _S.SENDING,
    "sent": _S.SENT,
    "delivered": _S.DELIVERED,
    "undelivered": _S.UNDELIVERED,
    "failed": _S.FAILED,
    "canceled": _S.CANCELED,
    "read": _S.READ,
}


def form_params(body: bytes) -> list[tuple[str, str]]:
    """The POST parameters as sent, repeated names kept (they are all signed)."""
    try:
        return parse_qsl(body.decode("utf-8"), keep_blank_values=True)
    except (UnicodeDecodeError, ValueError) as error:
        raise MalformedPayload("the body is not form-encoded UTF-8 text") from error


def verify_compatible(
    request: WebhookRequest, secrets: list[str], signature_headers: tuple[str, ...]
) -> None:
    """Twilio's scheme, shared by SignalWire's compatibility callbacks."""
    signature = signatures.require_header(
        next((v for h in signature_headers if (v := request.header(h))), None),
        " or ".join(signature_headers),
    )
    urls = request.url.candidates()
    algorithm = signatures.twilio_algorithm(request.header(SIGNATURE_SETTINGS_HEADER))
    if request.media_type == JSON:
        signatures.verify_body_sha256(request.url.query_value("bodySHA256"), request.body)
        signatures.verify_twilio(signature, secrets, urls, [], algorithm)
        return
    try:
        params = form_params(request.body)
    except MalformedPayload as error:
        # nothing that cannot even be read as parameters was signed by the provider
        raise InvalidSignature(error.reason) from error
    signatures.verify_twilio(signature, secrets, urls, params, algorithm)


def parse_compatible(
    provider: Provider, request: WebhookRequest, received_at: datetime
) -> ParsedDelivery:
    if request.media_type == JSON:
        json_object(request.body)  # malformed JSON is still a 400
        token = request.header("i-twilio-idempotency-token")
        return ParsedDelivery(
            identity=token or f"sha256:{sha256_hex(request.body)}",
            event=None,
            provider_event_type="json",
            fingerprint=sha256_hex(request.body),
        )
    pairs = form_params(request.body)
    params = dict(reversed(pairs))  # the first value of a repeated name
    fingerprint = sha256_hex(request.body)
    sid = params.get("MessageSid") or params.get("SmsSid") or params.get("SmsMessageSid")
    status = params.get("MessageStatus")
    if status is not None:
        if not sid:
            raise MalformedPayload("a status callback without MessageSid")
        canonical = STATUSES.get(status.lower())
        channel, (sender, recipient) = channel_addresses(
            params.get("From") or None, params.get("To") or None
        )
        event = (
            make_event(
                StatusUpdate,
                "status callback",
                provider=provider,
                external_id=sid,
                from_address=sender,
                to_address=recipient,
                channel=channel,
                status=canonical,
                error_code=params.get("ErrorCode") or None,
                error_reason=params.get("ErrorMessage") or None,
                occurred_at=received_at,
            )
            if canonical is not None
            else None
        )
        return ParsedDelivery(f"{sid}:{status.lower()}", event, f"status:{status}", fingerprint)
    if params.get("SmsStatus", "received") == "received" and ("Body" in params or sid):
        if not sid:
            raise MalformedPayload("an inbound message without MessageSid")
        missing = [name for name in ("From", "To") if not params.get(name)]
        if missing:
            raise MalformedPayload(f"an inbound message without {' and '.join(missing)}")
        # the MediaUrlN present, not NumMedia: a count that cannot be read ("²",
        # 5,000 digits) must not lose the message
        present = [i for i in range(MAX_MEDIA) if params.get(f"MediaUrl{i}")]
        media = [params[f"MediaUrl{i}"] for i in present]
        types = [declared_type(params.get(f"MediaContentType{i}")) for i in present]
        # a WhatsApp message comes From and To `whatsapp:+E164` (Twilio's WhatsApp docs)
        channel, (sender, recipient) = channel_addresses(params["From"], params["To"])
        event_in = make_event(
            InboundMessage,
            "inbound message",
            provider=provider,
            external_id=sid,
            from_address=sender,
            to_address=recipient,
            channel=channel,
            body=params.get("Body", ""),
            media_urls=tuple(media),
            media_types=tuple(types),
            occurred_at=received_at,
        )
        return ParsedDelivery(sid, event_in, "inbound", fingerprint)
    return ParsedDelivery(
        sid or f"sha256:{fingerprint}", None, params.get("SmsStatus") or "form", fingerprint
    )


class Twilio:
    name: Provider = "twilio"
    media_types = frozenset({FORM, JSON})

    def verify(self, request: WebhookRequest, secrets: list[str], now: datetime) -> None:
        verify_compatible(request, secrets, ("x-twilio-signature",))

    def parse(self, request: WebhookRequest, received_at: datetime) -> ParsedDelivery:
        return parse_compatible(self.name, request, received_at)
