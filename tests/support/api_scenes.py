"""Scenes the API tests start from: a tenant's campaign built through the API itself,
and rows the inbound side would have written (seeded as the schema owner)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from tests.support.api_client import Api, Client
from tests.support.factories import unique_number
from tether.db.connection import Connection

# what a sandbox account sends with (the tests never send through it from the API tier)
SANDBOX_CREDENTIALS = {
    "account_id": "sandbox",
    "api_token": "token",
    "base_url": "http://127.0.0.1:9",
}
POOL = "Outreach"


@dataclass(frozen=True)
class Scene:
    account_id: str
    numbers: list[str]
    campaign_id: str
    lead_ids: list[str]
    lead_phones: list[str]


def build_campaign(
    api: Api, client: Client, *, leads: int = 2, numbers: int = 1, stage: bool = True
) -> Scene:
    """Through the API: a provider account, numbers in a pool, a campaign (staged on
    them), and leads imported into it."""
    account = client.post(
        "/v1/provider-accounts",
        {
            "provider": "sandbox",
            "name": f"main-{uuid.uuid4().hex[:6]}",
            "credentials": SANDBOX_CREDENTIALS,
        },
    )
    assert account.status == 201, account
    ours = [unique_number() for _ in range(numbers)]
    registered = client.post(
        "/v1/phone-numbers",
        {
            "provider_account_id": account.body["id"],
            "pool": POOL,
            "numbers": [{"number": n} for n in ours],
        },
    )
    assert registered.status == 200, registered
    assert registered.body["stored"] == ours, registered
    campaign = client.post(
        "/v1/campaigns",
        {"name": f"Spring {uuid.uuid4().hex[:6]}", "pool": POOL, "template": "Hi, this is Ana"},
    )
    assert campaign.status == 201, campaign
    campaign_id = campaign.body["id"]
    if stage:
        staged = client.post(
            f"/v1/campaigns/{campaign_id}/stage", {"rotation_numbers": numbers - 1}
        )
        assert staged.status == 200, staged
    phones = [unique_number() for _ in range(leads)]
    if phones:
        imported = client.post(
            f"/v1/campaigns/{campaign_id}/leads", {"leads": [{"phone": p} for p in phones]}
        )
        assert imported.status == 200, imported
        assert imported.body["imported"] == leads, imported
    rows = api.admin.execute(
        "SELECT id, phone FROM leads WHERE campaign_id = %s", (campaign_id,)
    ).fetchall()
    by_phone = {r["phone"]: str(r["id"]) for r in rows}
    return Scene(account.body["id"], ours, campaign_id, [by_phone[p] for p in phones], phones)


def seed_inbox(admin: Connection, tenant_id: Any, scene: Scene) -> dict[str, Any]:
    """A thread with a reply and its insight, a notification, a queued call and an
    unmatched reply, as the inbound side leaves them."""
    lead_id = scene.lead_ids[0]
    thread = admin.execute(
        "INSERT INTO threads (tenant_id, our_address, their_address, lead_id, campaign_id,"
        " last_message_at, last_inbound_at, unread_count) VALUES (%s, %s, %s, %s, %s, now(), now(), 1)"
        " ON CONFLICT (tenant_id, channel, our_address, their_address) DO UPDATE"
        " SET last_inbound_at = now(), unread_count = 1 RETURNING id",
        (tenant_id, scene.numbers[0], scene.lead_phones[0], lead_id, scene.campaign_id),
    ).fetchone()
    assert thread is not None
    message = admin.execute(
        "INSERT INTO messages (tenant_id, direction, thread_id, lead_id, campaign_id, from_address,"
        " to_address, body, status, provider, external_id, received_at)"
        " VALUES (%s, 'inbound', %s, %s, %s, %s, %s, 'Yes, call me', 'received', 'sandbox', %s, now())"
        " RETURNING id",
        (
            tenant_id,
            thread["id"],
            lead_id,
            scene.campaign_id,
            scene.lead_phones[0],
            scene.numbers[0],
            f"sbx_{uuid.uuid4().hex}",
        ),
    ).fetchone()
    assert message is not None
    admin.execute(
        "INSERT INTO thread_insights (thread_id, tenant_id, label, next_step, summary)"
        " VALUES (%s, %s, 'interested', 'human_takeover', 'wants a call')",
        (thread["id"], tenant_id),
    )
    notification = admin.execute(
        "INSERT INTO notifications (tenant_id, workspace_stage, kind, campaign_id, lead_id, thread_id,"
        " message_id, title) VALUES (%s, 'initial_message', 'reply', %s, %s, %s, %s, 'New reply')"
        " RETURNING id",
        (tenant_id, scene.campaign_id, lead_id, thread["id"], message["id"]),
    ).fetchone()
    assert notification is not None
    call = admin.execute(
        "INSERT INTO call_queue (tenant_id, lead_id, priority, reason, due_at)"
        " VALUES (%s, %s, 50, 'high intent', '2026-01-01T00:00Z') RETURNING id",
        (tenant_id, lead_id),
    ).fetchone()
    assert call is not None
    stranger = unique_number()
    unmatched_thread = admin.execute(
        "INSERT INTO threads (tenant_id, our_address, their_address, unread_count)"
        " VALUES (%s, %s, %s, 1) RETURNING id",
        (tenant_id, scene.numbers[0], stranger),
    ).fetchone()
    assert unmatched_thread is not None
    unmatched = admin.execute(
        "INSERT INTO messages (tenant_id, direction, thread_id, from_address, to_address, body,"
        " status, provider, external_id, received_at)"
        " VALUES (%s, 'inbound', %s, %s, %s, 'who is this?', 'received', 'sandbox', %s, now())"
        " RETURNING id",
        (tenant_id, unmatched_thread["id"], stranger, scene.numbers[0], f"sbx_{uuid.uuid4().hex}"),
    ).fetchone()
    assert unmatched is not None
    admin.execute(
        "INSERT INTO unmatched_inbound (message_id, tenant_id, reason) VALUES (%s, %s, 'no lead has the sender''s number')",
        (unmatched["id"], tenant_id),
    )
    return {
        "thread_id": str(thread["id"]),
        "message_id": str(message["id"]),
        "notification_id": str(notification["id"]),
        "call_id": str(call["id"]),
        "unmatched_id": str(unmatched["id"]),
    }
