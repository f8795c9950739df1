"""Why a webhook request is refused. Each is a client's fault and maps to a 4xx."""

from __future__ import annotations

from uuid import UUID

from tether.domain.errors import InvalidInput


class WebhookRejected(InvalidInput):
    """A webhook request Tether will not accept as it is. `reason` says why, in words
    the sender can act on; `tenant_id` is set once the account named in the URL is known."""

    kind = "rejected"

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.tenant_id: UUID | None = None


class MethodNotAllowed(WebhookRejected):
    kind = "method_not_allowed"


class UnknownWebhookTarget(WebhookRejected):
    """No such provider, or no such account for it."""

    kind = "not_found"


class PayloadTooLarge(WebhookRejected):
    kind = "payload_too_large"


class UnsupportedMediaType(WebhookRejected):
    kind = "unsupported_media_type"


class InvalidSignature(WebhookRejected):
    """Missing, stale or wrong signature: the request cannot be shown to come from the provider."""

    kind = "invalid_signature"


class MalformedPayload(WebhookRejected):
    """Signed by the provider, but not a payload Tether can read."""

    kind = "malformed_payload"


class EventIdReused(WebhookRejected):
    """An event id already stored came again with different content."""

    kind = "event_id_reused"
