"""Pausing a campaign stops its sends that no provider has yet (the outbound gate), and
resuming sends them: launch, pause, the worker takes the queued send, resume."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from tests.support.api_client import NOW, Api
from tests.support.api_scenes import build_campaign
from tests.support.outbound import WEBHOOK_BASE_URL
from tether.aws.sqs import SqsQueue
from tether.db.connection import FreshConnections
from tether.db.messages import SendContext
from tether.db.unit_of_work import UnitOfWork
from tether.domain.message_status import MessageStatus
from tether.providers import SendAccepted, SendCommand, SmsProvider
from tether.services.outbound import OutboundMessage, Outcome, handle_queued_send


class RecordingProvider:
    name = "sandbox"
    supports_idempotency_key = True

    def __init__(self) -> None:
        self.sent: list[SendCommand] = []

    def send(self, command: SendCommand) -> SendAccepted:
        self.sent.append(command)
        return SendAccepted("sandbox", f"sbx_{uuid.uuid4().hex}", MessageStatus.QUEUED, 1)

    def find_sent(self, command: SendCommand, sent_after: datetime) -> SendAccepted | None:
        return None


def test_a_paused_campaign_holds_its_sends_until_resumed(
    api: Api, app_connections: FreshConnections
) -> None:
    client = api.tenant()
    scene = build_campaign(api, client, leads=1)
    assert api.launch(client, scene.campaign_id).body["status"] == "complete"
    (queued,) = api.queued()
    paused = client.post(f"/v1/campaigns/{scene.campaign_id}/pause")
    assert paused.status == 200
    assert paused.body["status"] == "paused"
    assert client.post(f"/v1/campaigns/{scene.campaign_id}/pause").body["status"] == "paused"
    assert client.post(f"/v1/campaigns/{scene.campaign_id}/launch").status == 409

    provider = RecordingProvider()

    def providers(_: SendContext) -> SmsProvider:
        return provider

    queue = SqsQueue(api.queue_url, api.sqs)
    message = OutboundMessage.model_validate(queued)
    held = handle_queued_send(
        UnitOfWork(app_connections, message.tenant_id),
        queue,
        message,
        providers,
        NOW,
        webhook_base_url=WEBHOOK_BASE_URL,
    )
    assert held.outcome is Outcome.DEFERRED
    assert held.reason == "campaign paused"
    assert provider.sent == []
    row = api.admin.execute(
        "SELECT status, not_before, enqueued_at FROM messages WHERE id = %s", (message.message_id,)
    ).fetchone()
    assert row is not None
    assert row["status"] == "queued"
    assert row["not_before"] == NOW + timedelta(hours=1)
    assert row["enqueued_at"] is None  # waits with the sweeper, not in the queue
    assert api.queued() == []

    resumed = client.post(f"/v1/campaigns/{scene.campaign_id}/resume")
    assert resumed.status == 200
    assert resumed.body["status"] == "active"
    (again,) = api.queued()
    assert again["message_id"] == str(message.message_id)
    sent = handle_queued_send(
        UnitOfWork(app_connections, message.tenant_id),
        queue,
        OutboundMessage.model_validate(again),
        providers,
        NOW,
        webhook_base_url=WEBHOOK_BASE_URL,
    )
    assert sent.outcome is Outcome.SENT
    assert [c.to_number for c in provider.sent] == scene.lead_phones
    progress = client.get(f"/v1/campaigns/{scene.campaign_id}").body["progress"]
    assert (progress["requested"], progress["sent"], progress["waiting"]) == (1, 1, 0)
