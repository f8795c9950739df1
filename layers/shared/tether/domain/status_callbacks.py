"""Where a provider posts a send's delivery statuses: the stack's webhook route for the
sending number's provider account. Each send names it in the provider's own parameter
(Twilio and SignalWire ``StatusCallback``, Telnyx ``webhook_url``, SignalHouse
``statusCallbackUrl``), so statuses arrive whatever the number's console says."""

from __future__ import annotations

from urllib.parse import quote
from uuid import UUID

# The webhook route of template.yaml, under the API's public URL.
WEBHOOK_PATH = "/webhooks/{provider}/{account_id}"


def status_callback_url(webhook_base_url: str, provider: str, account_id: UUID) -> str:
    """The account's webhook URL under `webhook_base_url` (the API's public URL)."""
    path = WEBHOOK_PATH.format(provider=quote(provider, safe=""), account_id=account_id)
    return webhook_base_url.rstrip("/") + path
