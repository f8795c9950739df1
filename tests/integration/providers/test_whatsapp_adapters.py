"""WhatsApp through each adapter over real HTTP (issue 18): Twilio writes `whatsapp:+E164`
on its Messages API and sends an approved template by ContentSid/ContentVariables;
Telnyx posts to /v2/messages/whatsapp; SignalWire and SignalHouse refuse for good; the
sandbox refuses free-form text outside the 24-hour window with Twilio's 63016."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from standardwebhooks.webhooks import Webhook

from tests.integration.providers.test_telnyx_signalhouse import MESSAGE_ID, telnyx_message
from tests.integration.providers.test_twilio_family import ACCOUNT, MESSAGES, twilio_message
from tests.support.providers import FROM, TO, StubProvider
from tests.support.receivers import receiver
from tether.domain.message_status import MessageStatus
from tether.providers import ProviderError, ProviderErrorKind, SendCommand
from tether.providers.base import TemplateContent
from tether.providers.sandbox import SandboxProvider
from tether.providers.signalhouse import SignalHouseProvider
from tether.providers.signalwire import SignalWireProvider
from tether.providers.telnyx import TelnyxProvider
from tether.providers.twilio import TwilioProvider
from tether_dev.sandbox import SandboxServer

TEMPLATE = TemplateContent(
    provider_template_id="HXb5b62575e6e4ff6129ad7c8efe1f983e",
    name="appointment_reminder",
    language="en_US",
    variables={"2": "3pm", "1": "12/1"},
)


def whatsapp(**overrides: Any) -> SendCommand:
    fields: dict[str, Any] = {
        "from_number": FROM,
        "to_number": TO,
        "body": "Your appointment is on 12/1 at 3pm",
        "idempotency_key": "msg-1",
        "channel": "whatsapp",
        "status_callback_url": "https://hooks.test/status",
    }
    return SendCommand(**(fields | overrides))


def test_twilio_writes_whatsapp_addresses_and_free_form_body(stub: StubProvider) -> None:
    stub.on("POST", MESSAGES, 201, twilio_message(**{"from": f"whatsapp:{FROM}"}))
    twilio = TwilioProvider(ACCOUNT, "token", api_url=f"{stub.url}/2010-04-01", read_timeout=1)
    accepted = twilio.send(whatsapp())
    assert accepted.status is MessageStatus.QUEUED
    assert stub.only_request().form() == {
        "To": [f"whatsapp:{TO}"],
        "From": [f"whatsapp:{FROM}"],
        "Body": ["Your appointment is on 12/1 at 3pm"],
        "StatusCallback": ["https://hooks.test/status"],
    }


def test_twilio_sends_a_template_by_content_sid_without_body(stub: StubProvider) -> None:
    stub.on("POST", MESSAGES, 201, twilio_message())
    twilio = TwilioProvider(ACCOUNT, "token", api_url=f"{stub.url}/2010-04-01", read_timeout=1)
    twilio.send(whatsapp(template=TEMPLATE))
    form = stub.only_request().form()
    assert form["ContentSid"] == [TEMPLATE.provider_template_id]
    assert json.loads(form["ContentVariables"][0]) == {"1": "12/1", "2": "3pm"}
    assert "Body" not in form
    assert "MediaUrl" not in form
    assert form["To"] == [f"whatsapp:{TO}"]


def test_twilio_63016_outside_the_window_is_permanent(stub: StubProvider) -> None:
    stub.on(
        "POST",
        MESSAGES,
        400,
        {"code": 63016, "message": "outside the allowed window", "status": 400},
    )
    twilio = TwilioProvider(ACCOUNT, "token", api_url=f"{stub.url}/2010-04-01", read_timeout=1)
    with pytest.raises(ProviderError) as refused:
        twilio.send(whatsapp())
    assert (refused.value.code, refused.value.kind) == ("63016", ProviderErrorKind.REJECTED)
    assert not refused.value.retryable


def test_an_sms_send_stays_plain_e164(stub: StubProvider) -> None:
    stub.on("POST", MESSAGES, 201, twilio_message())
    twilio = TwilioProvider(ACCOUNT, "token", api_url=f"{stub.url}/2010-04-01", read_timeout=1)
    twilio.send(whatsapp(channel="sms"))
    assert stub.only_request().form()["To"] == [TO]


def test_telnyx_posts_text_and_templates_to_its_whatsapp_endpoint(stub: StubProvider) -> None:
    stub.on("POST", "/v2/messages/whatsapp", 200, {"data": telnyx_message(type="WHATSAPP")})
    telnyx = TelnyxProvider("KEY", api_url=f"{stub.url}/v2", read_timeout=1)
    assert telnyx.send(whatsapp()).external_id == MESSAGE_ID
    assert telnyx.send(whatsapp(template=TEMPLATE)).external_id == MESSAGE_ID
    text, template = stub.requests
    assert text.headers["authorization"] == "Bearer KEY"
    assert text.json() == {
        "from": FROM,
        "to": TO,
        "whatsapp_message": {
            "type": "text",
            "text": {"body": "Your appointment is on 12/1 at 3pm"},
        },
        "webhook_url": "https://hooks.test/status",
    }
    assert template.json()["whatsapp_message"] == {
        "type": "template",
        "template": {
            "name": "appointment_reminder",
            "language": {"code": "en_US"},
            "components": [
                {
                    "type": "body",
                    "parameters": [
                        {"type": "text", "text": "12/1"},
                        {"type": "text", "text": "3pm"},
                    ],
                }
            ],
        },
    }


def test_telnyx_window_error_is_permanent(stub: StubProvider) -> None:
    stub.on(
        "POST",
        "/v2/messages/whatsapp",
        422,
        {"errors": [{"code": "131047", "title": "Re-engagement message"}]},
    )
    telnyx = TelnyxProvider("KEY", api_url=f"{stub.url}/v2", read_timeout=1)
    with pytest.raises(ProviderError) as refused:
        telnyx.send(whatsapp())
    assert (refused.value.code, refused.value.kind) == ("131047", ProviderErrorKind.REJECTED)


@pytest.mark.parametrize("provider", ["signalwire", "signalhouse"])
def test_providers_without_whatsapp_refuse_it_for_good(stub: StubProvider, provider: str) -> None:
    adapter: SignalWireProvider | SignalHouseProvider = (
        SignalWireProvider("project", "token", stub.url, read_timeout=1)
        if provider == "signalwire"
        else SignalHouseProvider("jwt", api_url=stub.url, read_timeout=1)
    )
    with pytest.raises(ProviderError) as refused:
        adapter.send(whatsapp())
    assert refused.value.kind is ProviderErrorKind.REJECTED
    assert refused.value.code == "whatsapp_unsupported"
    assert "does not carry WhatsApp" in refused.value.reason
    assert stub.requests == []  # nothing reached the provider


def test_the_sandbox_keeps_the_window_as_twilio_does(
    sandbox: SandboxServer, sandbox_provider: SandboxProvider
) -> None:
    with pytest.raises(ProviderError) as refused:
        sandbox_provider.send(whatsapp(to_number="+14155550177"))
    assert (refused.value.code, refused.value.kind) == ("63016", ProviderErrorKind.REJECTED)
    assert sandbox.texts() == []
    # a template goes at any time, and is recorded as one
    sandbox_provider.send(whatsapp(to_number="+14155550177", template=TEMPLATE))
    [text] = sandbox.texts()
    assert (text.channel, text.content_sid) == ("whatsapp", TEMPLATE.provider_template_id)
    assert sandbox.whatsapp_window(FROM, "+14155550177") is None


def test_the_sandbox_window_opens_with_the_persons_message(
    sandbox: SandboxServer, sandbox_provider: SandboxProvider
) -> None:
    lead = "+14155550178"
    sent_at = datetime.now(UTC) - timedelta(hours=23, minutes=59)
    with receiver() as hooks:
        sandbox.configure(webhook_url=hooks.url)
        status, _ = sandbox.answer_reply(
            json.dumps(
                {
                    "from": lead,
                    "to": FROM,
                    "body": "hi",
                    "channel": "whatsapp",
                    "account_id": "sandbox",
                    "sent_at": sent_at.isoformat(),
                }
            ).encode()
        )
        assert status == 202
        [posted] = hooks.received
    # signed like every sandbox webhook, addressed as Twilio addresses WhatsApp, at its time
    event = posted.envelope()
    assert event["timestamp"] == sent_at.isoformat()
    assert (event["data"]["from"], event["data"]["channel"]) == (f"whatsapp:{lead}", "whatsapp")
    assert Webhook(sandbox.config.signing_secret).verify(posted.body, posted.headers)
    assert sandbox.whatsapp_window(FROM, lead) == sent_at + timedelta(hours=24)
    sandbox_provider.send(whatsapp(to_number=lead))
    [text] = sandbox.texts()
    assert (text.channel, text.content_sid) == ("whatsapp", None)
