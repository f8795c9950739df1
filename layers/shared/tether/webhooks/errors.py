"""Why a webhook request is refused. Each is a client's fault and maps to a 4xx
(tether.http.ERRORS). The refusals of a request's envelope (method, size, media type)
are the ones the API makes too, so they are shared: tether.domain.errors."""

from __future__ import annotations

from tether.domain.errors import (
    MethodNotAllowed,
    PayloadTooLarge,
    RequestRejected,
    UnsupportedMediaType,
)

__all__ = [
    "EventIdReused",
    "InvalidSignature",
    "MalformedPayload",
    "MethodNotAllowed",
    "PayloadTooLarge",
    "UnknownWebhookTarget",
    "UnsupportedMediaType",
    "WebhookRejected",
]

# Every refusal of a webhook request is a request refusal: the webhook audits each one
# of them (services.webhooks), whichever module defines it.
WebhookRejected = RequestRejected


class UnknownWebhookTarget(WebhookRejected):
    """No such provider, or no such account for it."""

    kind = "not_found"


class InvalidSignature(WebhookRejected):
    """Missing, stale or wrong signature: the request cannot be shown to come from the provider."""

    kind = "invalid_signature"


class MalformedPayload(WebhookRejected):
    """Signed by the provider, but not a payload Tether can read."""

    kind = "malformed_payload"


class EventIdReused(WebhookRejected):
    """An event id already stored came again with different content."""

    kind = "event_id_reused"
