"""WhatsApp through the real handlers (issue 18): the api function (proxy events), the
outbound function (OutboundQueue records in moto) sending to the sandbox provider over
real HTTP, and the sandbox's signed webhooks (a lead's WhatsApp message, status
callbacks) posted over HTTP to the webhook function, whose InboundQueue records the
inbound function applies. Real PostgreSQL throughout; the real clock (the sandbox
keeps the 24-hour window by it too)."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from functools import partial
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

import functions.webhook.app as webhook_app
from functions.inbound import app as inbound_app
from functions.outbound import app as outbound_app
from tests.support.api_client import FIXTURE_ACTOR, Client
from tests.support.aws import aws_session
from tests.support.factories import HELP_IDENTITY, Deploy, Queue, make_campaign, make_lead
from tests.support.lambda_context import LambdaContextStub
from tests.support.sqs_records import sqs_record
from tests.support.webhook_samples import load_sample
from tests.support.webhooks import TABLE, FakeLambdaContext
from tether.api import context
from tether.aws.idempotency import DynamoDbExactlyOnce
from tether.aws.sqs import SqsQueue
from tether.db.connection import Connection, FreshConnections
from tether.db.unit_of_work import UnitOfWork
from tether.secrets import SecretStore, resolve_secret
from tether.services.api_keys import create_tenant
from tether.services.webhooks import WebhookPorts
from tether_dev.sandbox import SandboxServer
from tether_dev.sandbox.server import DEV_SIGNING_SECRET

SMS_NUMBER = "+14155550140"
WHATSAPP_NUMBER = "+14155550141"
POOL = "whatsapp-flow"


class WebhookFront:
    """API Gateway in front of the webhook function, over real HTTP: a POST to
    /webhooks/{provider}/{account_id} becomes the proxy event the function takes."""

    def __init__(self) -> None:
        front = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                _, _, provider, account_id = self.path.split("/", 3)
                answer = front.deliver(provider, account_id, dict(self.headers.items()), body)
                self.send_response(answer["statusCode"])
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}"

    def deliver(
        self, provider: str, account_id: str, headers: dict[str, str], body: bytes
    ) -> dict[str, Any]:
        event = load_sample("sandbox_inbound")
        event["headers"] = headers
        event["path"] = f"/webhooks/{provider}/{account_id}"
        event["pathParameters"] = {"provider": provider, "account_id": account_id}
        event["requestContext"]["path"] = f"/dev{event['path']}"
        event["body"] = body.decode()
        answer: dict[str, Any] = webhook_app.handler(event, FakeLambdaContext())
        return answer

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class Stack:
    def __init__(
        self,
        admin: Connection,
        app: FreshConnections,
        jobs: FreshConnections,
        queue: Queue,
        inbound_url: str,
        sandbox: SandboxServer,
    ) -> None:
        self.admin, self.app, self.queue, self.sandbox = admin, app, queue, sandbox
        self.inbound_url = inbound_url
        tenant_id, issued = create_tenant(UnitOfWork(jobs), "WhatsApp Flow")
        self.client = Client(issued.key, tenant_id)
        self.tenant_id = tenant_id
        with admin.transaction():
            admin.execute("SELECT set_config('app.actor', %s, true)", (FIXTURE_ACTOR,))
            admin.execute(
                "UPDATE tenant_config SET brand_name = %s, help_contact = %s,"
                " quiet_hours_start = '00:00', quiet_hours_end = '23:59:59',"
                " quiet_hours_wider_attested = true, send_segments_per_second = NULL"
                " WHERE tenant_id = %s",
                (*HELP_IDENTITY.values(), tenant_id),
            )
        account = admin.execute(
            "INSERT INTO provider_accounts (tenant_id, provider, name, signing_secret_ref)"
            " VALUES (%s, 'sandbox', 'sandbox', %s) RETURNING id",
            (tenant_id, f"local:{DEV_SIGNING_SECRET}"),
        ).fetchone()
        assert account is not None
        self.account_id = account["id"]
        credentials = {
            "account_id": str(self.account_id),
            "api_token": sandbox.config.api_token,
            "base_url": sandbox.url,
        }
        admin.execute(
            "UPDATE provider_accounts SET credentials_ref = %s WHERE id = %s",
            ("local:" + json.dumps(credentials), self.account_id),
        )

    def outbound(self) -> int:
        """Run the outbound function over what OutboundQueue holds; how many records."""
        records = self._take(self.queue.url, "outbound")
        if records:
            answer = outbound_app.handler({"Records": records}, LambdaContextStub())
            assert answer == {"batchItemFailures": []}
        return len(records)

    def inbound(self) -> int:
        records = self._take(self.inbound_url, "inbound")
        if records:
            answer = inbound_app.handler({"Records": records}, LambdaContextStub())
            assert answer == {"batchItemFailures": []}
        return len(records)

    def _take(self, url: str, name: str) -> list[dict[str, Any]]:
        taken: list[dict[str, Any]] = []
        while batch := self.queue.client.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get(
            "Messages", []
        ):
            for message in batch:
                self.queue.client.delete_message(
                    QueueUrl=url, ReceiptHandle=message["ReceiptHandle"]
                )
                taken.append(sqs_record(message["Body"], name))
        return taken

    def lead_writes(self, lead_phone: str, body: str, sent_at: datetime | None = None) -> None:
        """The lead sends a WhatsApp message to our WhatsApp sender (the sandbox posts it,
        signed, to the webhook function), and the inbound function applies it."""
        request: dict[str, Any] = {
            "from": lead_phone,
            "to": WHATSAPP_NUMBER,
            "body": body,
            "channel": "whatsapp",
            "account_id": str(self.account_id),
        }
        if sent_at is not None:
            request["sent_at"] = sent_at.isoformat()
        status, answer = self.sandbox.answer_reply(json.dumps(request).encode())
        assert (status, answer["webhook_status"]) == (202, 200)
        assert self.inbound() >= 1  # with any status callbacks that came meanwhile

    def message(self, message_id: Any) -> dict[str, Any]:
        row = self.admin.execute(
            "SELECT m.*, t.channel AS thread_channel, a.channel AS assignment_channel"
            " FROM messages m JOIN threads t ON t.id = m.thread_id"
            " LEFT JOIN campaign_phone_assignments a ON a.id = m.campaign_phone_assignment_id"
            " WHERE m.id = %s",
            (message_id,),
        ).fetchone()
        assert row is not None
        return row


@pytest.fixture
def stack(
    deploy: Deploy,
    queue: Queue,
    admin: Connection,
    app_connections: FreshConnections,
    jobs_connections: FreshConnections,
    make_sandbox: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Stack]:
    from tether.config import inbound_settings, outbound_settings
    from tether.queues import queue_at

    deploy(outbound_settings, inbound_settings, queue_at)
    front = WebhookFront()
    # status callbacks come back through the front, as API Gateway would take them
    monkeypatch.setenv("WEBHOOK_BASE_URL", front.url)
    outbound_settings.cache_clear()
    sqs = queue.client
    inbound_url = sqs.create_queue(QueueName="inbound")["QueueUrl"]
    dynamodb = aws_session().client("dynamodb")
    dynamodb.create_table(
        TableName=TABLE,
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    ports = WebhookPorts(
        unit_of_work=partial(UnitOfWork, app_connections),
        queue=SqsQueue(inbound_url, sqs),
        exactly_once=DynamoDbExactlyOnce(
            TABLE, key_prefix="webhook-receipt", expires_after_seconds=3600, client=dynamodb
        ),
        resolve_secret=resolve_secret,
    )
    monkeypatch.setattr(webhook_app, "webhook_ports", lambda: ports)
    monkeypatch.setattr(
        context,
        "api_ports",
        lambda: context.ApiPorts(
            connections=app_connections,
            queue=SqsQueue(queue.url, sqs),
            launch_queue=SqsQueue(queue.url, sqs),
            now=lambda: datetime.now(UTC),
            secrets=SecretStore(aws_session().client("secretsmanager")),
        ),
    )
    sandbox = make_sandbox(
        open_accounts=True,
        webhook_url=f"{front.url}/webhooks/sandbox",
        callback_delay_seconds=0.02,
    )
    try:
        yield Stack(admin, app_connections, jobs_connections, queue, inbound_url, sandbox)
    finally:
        sandbox.stop()  # its callbacks post through the front: stopped first
        front.stop()


def setup_campaign(stack: Stack) -> tuple[uuid.UUID, uuid.UUID, str]:
    """A campaign staged on its SMS number, with a WhatsApp sender assigned over the API,
    and a lead: (campaign, lead, lead phone)."""
    c = stack.client
    for number, whatsapp in ((SMS_NUMBER, False), (WHATSAPP_NUMBER, True)):
        registered = c.post(
            "/v1/phone-numbers",
            {
                "provider_account_id": str(stack.account_id),
                "pool": POOL if not whatsapp else f"{POOL}-wa",
                "numbers": [{"number": number}],
                "whatsapp": whatsapp,
            },
        )
        assert registered.status == 200, registered
    campaign_id = make_campaign(stack.admin, stack.tenant_id, POOL)
    assert c.post(f"/v1/campaigns/{campaign_id}/stage", {}).status == 200
    numbers = {n["e164"]: n for n in c.get("/v1/phone-numbers", query={"limit": 10}).body["items"]}
    assert numbers[WHATSAPP_NUMBER]["whatsapp_enabled"] is True
    assert numbers[SMS_NUMBER]["whatsapp_enabled"] is False
    # the SMS number is no WhatsApp sender: 422, and nothing assigned
    refused = c.post(
        f"/v1/campaigns/{campaign_id}/assignments",
        {"phone_number_id": numbers[SMS_NUMBER]["id"], "channel": "whatsapp"},
    )
    assert refused.status == 422, refused
    assert "not a WhatsApp sender" in refused.body["message"]
    assigned = c.post(
        f"/v1/campaigns/{campaign_id}/assignments",
        {"phone_number_id": numbers[WHATSAPP_NUMBER]["id"], "channel": "whatsapp"},
    )
    assert assigned.status == 201, assigned
    assert assigned.body["channel"] == "whatsapp"
    assert assigned.body["is_primary"] is True
    again = c.post(
        f"/v1/campaigns/{campaign_id}/assignments",
        {"phone_number_id": numbers[WHATSAPP_NUMBER]["id"], "channel": "whatsapp"},
    )
    assert again.status == 409, again
    phone = "+14155550160"
    lead_id = make_lead(stack.admin, stack.tenant_id, phone, campaign_id)
    return campaign_id, lead_id, phone


def test_whatsapp_from_the_campaigns_sender_within_the_window_and_by_template_outside(
    stack: Stack,
) -> None:
    campaign_id, lead_id, phone = setup_campaign(stack)
    c = stack.client
    send = {"campaign_id": str(campaign_id), "lead_id": str(lead_id), "channel": "whatsapp"}
    # the lead never wrote on WhatsApp: free-form text is refused at request time
    refused = c.post("/v1/messages", {**send, "body": "Hi Ana", "send_key": "wa-1"})
    assert refused.status == 422, refused
    assert "window never opened" in refused.body["message"]
    assert "template" in refused.body["message"]
    # an approved template goes at any time, by its Content SID
    registered = c.post(
        "/v1/whatsapp-templates",
        {
            "name": "reminder",
            "language": "en",
            "provider_template_id": "HX0123456789abcdef0123456789abcdef",
            "body": "Hi {{1}}, we have your slot on {{2}}.",
        },
    )
    assert registered.status == 200, registered
    template = {"name": "reminder", "language": "en", "variables": {"1": "Ana", "2": "12/1"}}
    first = c.post("/v1/messages", {**send, "whatsapp_template": template, "send_key": "wa-2"})
    assert first.status == 202, first
    assert first.body["from_number"] == WHATSAPP_NUMBER
    assert stack.outbound() == 1
    [sent] = stack.sandbox.texts()
    assert (sent.channel, sent.from_number, sent.to_number) == ("whatsapp", WHATSAPP_NUMBER, phone)
    assert sent.content_sid == "HX0123456789abcdef0123456789abcdef"
    assert sent.content_variables == {"1": "Ana", "2": "12/1"}
    row = stack.message(first.body["message_id"])
    assert (row["channel"], row["thread_channel"], row["assignment_channel"]) == (
        "whatsapp",
        "whatsapp",
        "whatsapp",
    )
    assert (row["status"], row["body"]) == ("sent", "Hi Ana, we have your slot on 12/1.")
    # the lead answers on WhatsApp: matched through the WhatsApp sender, on its thread
    stack.lead_writes(phone, "Sounds good")
    reply = stack.admin.execute(
        "SELECT m.*, t.channel AS thread_channel FROM messages m JOIN threads t"
        " ON t.id = m.thread_id WHERE m.direction = 'inbound' AND m.lead_id = %s",
        (lead_id,),
    ).fetchone()
    assert reply is not None
    assert (reply["channel"], reply["thread_channel"]) == ("whatsapp", "whatsapp")
    assert (reply["from_address"], reply["to_address"]) == (phone, WHATSAPP_NUMBER)
    assert reply["thread_id"] == row["thread_id"]
    # now free-form text goes, from the same sender
    free = c.post("/v1/messages", {**send, "body": "Great, see you then", "send_key": "wa-3"})
    assert free.status == 202, free
    assert stack.outbound() == 1
    assert stack.sandbox.texts()[-1].content_sid is None
    # an SMS to the same lead goes from the SMS number on its own thread and binding
    sms = c.post(
        "/v1/messages",
        {"campaign_id": str(campaign_id), "lead_id": str(lead_id), "body": "Hi by SMS"},
    )
    assert sms.status == 202, sms
    assert sms.body["from_number"] == SMS_NUMBER
    assert stack.outbound() == 1
    sms_row = stack.message(sms.body["message_id"])
    assert (sms_row["channel"], sms_row["thread_channel"]) == ("sms", "sms")
    bindings = stack.admin.execute(
        "SELECT channel, phone_number FROM lead_sender_bindings WHERE lead_id = %s"
        " ORDER BY channel",
        (lead_id,),
    ).fetchall()
    assert bindings == [
        {"channel": "sms", "phone_number": SMS_NUMBER},
        {"channel": "whatsapp", "phone_number": WHATSAPP_NUMBER},
    ]
    trace = c.get(f"/v1/leads/{lead_id}/trace")
    assert trace.status == 200
    assert {(b["channel"], b["phone_number"]) for b in trace.body["bindings"]} == {
        ("sms", SMS_NUMBER),
        ("whatsapp", WHATSAPP_NUMBER),
    }
    # WhatsApp's read receipts come back through the webhook, monotonic
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        stack.inbound()
        if stack.message(free.body["message_id"])["status"] == "read":
            break
        time.sleep(0.05)
    assert stack.message(free.body["message_id"])["status"] == "read"


def test_a_whatsapp_stop_suppresses_the_phone_on_every_channel(stack: Stack) -> None:
    campaign_id, lead_id, phone = setup_campaign(stack)
    stack.lead_writes(phone, "STOP")
    consent = stack.admin.execute(
        "SELECT channel, kind FROM consents WHERE tenant_id = %s AND phone = %s",
        (stack.tenant_id, phone),
    ).fetchall()
    assert consent == [{"channel": "whatsapp", "kind": "revoked"}]
    suppressed = stack.admin.execute(
        "SELECT count(*) AS n FROM suppressions WHERE tenant_id = %s AND phone = %s"
        " AND lifted_at IS NULL",
        (stack.tenant_id, phone),
    ).fetchone()
    assert suppressed == {"n": 1}
    # the one confirmation goes back on WhatsApp, from the number the STOP reached
    assert stack.outbound() == 1
    [confirmation] = stack.sandbox.texts()
    assert (confirmation.channel, confirmation.from_number) == ("whatsapp", WHATSAPP_NUMBER)
    # and no SMS goes to that phone any more
    sms = stack.client.post(
        "/v1/messages",
        {"campaign_id": str(campaign_id), "lead_id": str(lead_id), "body": "Still there?"},
    )
    assert sms.status == 202, sms
    assert stack.outbound() == 1
    stopped = stack.message(sms.body["message_id"])
    assert (stopped["status"], stopped["error_code"]) == ("failed", "lead_suppressed")
    assert len(stack.sandbox.texts()) == 1


def test_a_send_the_window_closed_on_while_it_waited_is_failed_not_sent(stack: Stack) -> None:
    campaign_id, lead_id, phone = setup_campaign(stack)
    # the lead wrote 24 hours less a second ago: the window is open, barely
    stack.lead_writes(phone, "hello", sent_at=datetime.now(UTC) - timedelta(hours=24, seconds=-1))
    asked = stack.client.post(
        "/v1/messages",
        {
            "campaign_id": str(campaign_id),
            "lead_id": str(lead_id),
            "channel": "whatsapp",
            "body": "Just in time?",
        },
    )
    assert asked.status == 202, asked
    time.sleep(1.1)  # the send waits (a queue, quiet hours) while the window closes
    assert stack.outbound() == 2  # with the worker's auto reply to "hello"
    failed = stack.admin.execute(
        "SELECT status, error_code, error_reason FROM messages"
        " WHERE lead_id = %s AND direction = 'outbound'",
        (lead_id,),
    ).fetchall()
    assert {(r["status"], r["error_code"]) for r in failed} == {("failed", "session_window_closed")}
    assert all("window closed at" in r["error_reason"] for r in failed)
    assert stack.sandbox.texts() == []  # never handed to the provider
