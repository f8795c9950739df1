"""Every provider Tether receives webhooks from, by the name in the webhook URL: messaging
webhooks, and the voice side's call outcomes."""

from __future__ import annotations

from tether.webhooks.providers.base import ParsedDelivery, WebhookProvider
from tether.webhooks.providers.sandbox import Sandbox
from tether.webhooks.providers.signalhouse import SignalHouse
from tether.webhooks.providers.signalwire import SignalWire
from tether.webhooks.providers.telnyx import Telnyx
from tether.webhooks.providers.twilio import Twilio
from tether.webhooks.providers.voice import SignalWireVoice, TwilioVoice, Vapi

WEBHOOK_PROVIDERS: dict[str, WebhookProvider] = {
    provider.name: provider
    for provider in (SignalHouse(), Twilio(), SignalWire(), Telnyx(), Sandbox())
}

# POST /webhooks/voice/{provider}/{account_id}: how calls ended (issue 18, seed 001)
VOICE_WEBHOOK_PROVIDERS: dict[str, WebhookProvider] = {
    provider.name: provider for provider in (Vapi(), TwilioVoice(), SignalWireVoice())
}

__all__ = ["VOICE_WEBHOOK_PROVIDERS", "WEBHOOK_PROVIDERS", "ParsedDelivery", "WebhookProvider"]
