"""Every provider Tether receives webhooks from, by the name in the webhook URL."""

from __future__ import annotations

from tether.webhooks.providers.base import ParsedDelivery, WebhookProvider
from tether.webhooks.providers.sandbox import Sandbox
from tether.webhooks.providers.signalhouse import SignalHouse
from tether.webhooks.providers.signalwire import SignalWire
from tether.webhooks.providers.telnyx import Telnyx
from tether.webhooks.providers.twilio import Twilio

WEBHOOK_PROVIDERS: dict[str, WebhookProvider] = {
    provider.name: provider
    for provider in (SignalHouse(), Twilio(), SignalWire(), Telnyx(), Sandbox())
}

__all__ = ["WEBHOOK_PROVIDERS", "ParsedDelivery", "WebhookProvider"]
