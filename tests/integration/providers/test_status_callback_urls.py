"""Every send asks its provider for status callbacks at Tether's webhook for its
account, in the provider's own parameter: the outbound function as deployed
(WEBHOOK_BASE_URL from its environment), the real adapters, over real HTTP to a loopback
stand-in of each provider's API (or the sandbox server itself)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from functions.outbound import app as outbound_app
from tests.integration.providers.test_telnyx_signalhouse import signalhouse_answer, telnyx_message
from tests.integration.providers.test_twilio_family import (
    ACCOUNT,
    LAML_MESSAGES,
    MESSAGES,
    PROJECT,
    twilio_message,
)
from tests.support.factories import Deploy, make_campaign, make_lead, make_tenant
from tests.support.lambda_context import LambdaContextStub
from tests.support.outbound import WEBHOOK_BASE_URL
from tests.support.providers import FROM, RecordedRequest, StubProvider
from tests.support.sqs_records import sqs_record
from tether.db.connection import Connection, FreshConnections
from tether.db.unit_of_work import UnitOfWork
from tether.services.numbers import NumberRow, register_numbers, stage_campaign
from tether.services.outbound import OutboundMessage, SendRequest, request_send
from tether_dev.sandbox import SandboxServer

LEAD = "+14155550123"


def _twilio_form(request: RecordedRequest) -> str | None:
    values = request.form().get("StatusCallback")
    return values[0] if values else None


# provider: (credentials given the stub's URL, the send's route, its answer, the
# parameter as the provider reads it)
PROVIDERS: dict[str, tuple[Callable[[str], dict[str, str]], str, Any, Callable[..., Any]]] = {
    "twilio": (
        lambda url: {"account_sid": ACCOUNT, "auth_token": "t", "base_url": f"{url}/2010-04-01"},
        MESSAGES,
        twilio_message(),
        _twilio_form,
    ),
    "signalwire": (
        lambda url: {"project_id": PROJECT, "api_token": "t", "base_url": url},
        LAML_MESSAGES,
        twilio_message(),
        _twilio_form,
    ),
    "telnyx": (
        lambda url: {"api_key": "k", "base_url": f"{url}/v2"},
        "/v2/messages",
        {"data": telnyx_message()},
        lambda request: request.json().get("webhook_url"),
    ),
    "signalhouse": (
        lambda url: {"api_key": "k", "base_url": url},
        "/message/sms",
        signalhouse_answer(),
        lambda request: request.json().get("statusCallbackUrl"),
    ),
}


@pytest.fixture
def deployed(deploy: Deploy) -> None:
    from tether.config import outbound_settings
    from tether.queues import queue_at

    deploy(outbound_settings, queue_at)


def _sending_tenant(
    admin: Connection, app: FreshConnections, provider: str, credentials: dict[str, str]
) -> tuple[uuid.UUID, uuid.UUID, uuid.UUID]:
    """A tenant whose one number sends through `provider`: (tenant, account, message)."""
    tenant_id, account_id = make_tenant(
        admin,
        quiet_hours_start="00:00",
        quiet_hours_end="23:59:59",
        quiet_hours_wider_attested=True,
        send_segments_per_second=None,
    )
    admin.execute(
        "UPDATE provider_accounts SET provider = %s, credentials_ref = %s WHERE id = %s",
        (provider, "local:" + json.dumps(credentials), account_id),
    )
    register_numbers(UnitOfWork(app, tenant_id), tenant_id, account_id, "pool", [NumberRow(FROM)])
    campaign_id = make_campaign(admin, tenant_id, "pool")
    stage_campaign(UnitOfWork(app, tenant_id), campaign_id, datetime.now(UTC))
    lead_id = make_lead(admin, tenant_id, LEAD, campaign_id)
    receipt = request_send(
        UnitOfWork(app, tenant_id),
        SendRequest(tenant_id=tenant_id, campaign_id=campaign_id, lead_id=lead_id, body="Hi Ana"),
        datetime.now(UTC),
    )
    return tenant_id, account_id, receipt.message_id


def _send(tenant_id: uuid.UUID, message_id: uuid.UUID) -> None:
    body = OutboundMessage(tenant_id=tenant_id, message_id=message_id).model_dump_json()
    answer = outbound_app.handler({"Records": [sqs_record(body, "outbound")]}, LambdaContextStub())
    assert answer == {"batchItemFailures": []}


@pytest.mark.parametrize("provider", list(PROVIDERS))
def test_each_provider_is_asked_for_callbacks_at_its_accounts_webhook(
    provider: str,
    deployed: None,
    admin: Connection,
    app_connections: FreshConnections,
    stub: StubProvider,
) -> None:
    credentials, route, answer, callback_of = PROVIDERS[provider]
    stub.on("POST", route, 201, answer)
    tenant_id, account_id, message_id = _sending_tenant(
        admin, app_connections, provider, credentials(stub.url)
    )
    _send(tenant_id, message_id)
    (request,) = stub.requests
    assert callback_of(request) == f"{WEBHOOK_BASE_URL}/webhooks/{provider}/{account_id}"
    status = admin.execute("SELECT status FROM messages WHERE id = %s", (message_id,)).fetchone()
    assert status is not None
    assert status["status"] == "sent"


def test_the_sandbox_records_the_callback_the_send_named_and_posts_there(
    deployed: None,
    admin: Connection,
    app_connections: FreshConnections,
    make_sandbox: Callable[..., SandboxServer],
) -> None:
    sandbox = make_sandbox(open_accounts=True, callback_delay_seconds=60)
    credentials = {
        "account_id": "x",
        "api_token": sandbox.config.api_token,
        "base_url": sandbox.url,
    }
    tenant_id, account_id, message_id = _sending_tenant(
        admin, app_connections, "sandbox", credentials
    )
    _send(tenant_id, message_id)
    (text,) = sandbox.texts()
    assert text.status_callback_url == f"{WEBHOOK_BASE_URL}/webhooks/sandbox/{account_id}"
