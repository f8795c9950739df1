"""Every route, called with a second tenant's key on the first tenant's resources:
404 (never 403, which would confirm the id exists), an access_denied audit row in the
caller's tenant, and nothing changed. Lists show the caller nothing of the first."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.api_client import Api, Client
from tests.support.api_scenes import Scene, build_campaign, seed_inbox

# (method, path, body): ids come from the owner's scene
ID_ROUTES: list[tuple[str, str, Any]] = [
    ("GET", "/v1/campaigns/{campaign_id}", None),
    ("GET", "/v1/campaigns/{campaign_id}/stats", None),
    ("GET", "/v1/phone-numbers/{number_id}/stats", None),
    ("POST", "/v1/campaigns/{campaign_id}/stage", {}),
    ("POST", "/v1/campaigns/{campaign_id}/launch", {}),
    ("GET", "/v1/campaigns/{campaign_id}/launches/{launch_id}", None),
    ("POST", "/v1/campaigns/{campaign_id}/launches/{launch_id}/cancel", {}),
    ("POST", "/v1/messages/{message_id}/cancel", {}),
    ("GET", "/v1/messages/{message_id}/attachments", None),
    ("POST", "/v1/campaigns/{campaign_id}/pause", {}),
    ("POST", "/v1/campaigns/{campaign_id}/resume", {}),
    ("POST", "/v1/campaigns/{campaign_id}/leads", {"leads": [{"phone": "+14155550134"}]}),
    ("POST", "/v1/campaigns/{campaign_id}/leads/csv", "phone\n+14155550134\n"),
    ("GET", "/v1/leads/{lead_id}", None),
    ("PATCH", "/v1/campaigns/{campaign_id}", {"name": "Taken"}),
    ("POST", "/v1/campaigns/{campaign_id}/preview", {"lead_id": "{lead_id}"}),
    ("PATCH", "/v1/leads/{lead_id}", {"first_name": "Taken"}),
    ("POST", "/v1/leads/{lead_id}/erase", {}),
    ("POST", "/v1/leads/{lead_id}/resubscribe", {"consent_id": "{message_id}"}),
    ("GET", "/v1/leads/{lead_id}/trace", None),
    ("POST", "/v1/leads/{lead_id}/lease", {"pool": "Outreach"}),
    ("POST", "/v1/leads/{lead_id}/call-outcome", {"outcome": "no_answer", "pool": "Outreach"}),
    (
        "POST",
        "/v1/messages",
        {"campaign_id": "{campaign_id}", "lead_id": "{lead_id}", "body": "Hi"},
    ),
    (
        "POST",
        "/v1/phone-numbers",
        {
            "provider_account_id": "{account_id}",
            "pool": "Outreach",
            "numbers": [{"number": "+14155550188"}],
        },
    ),
    ("POST", "/v1/phone-numbers/{number_id}/retire", {}),
    ("PUT", "/v1/phone-numbers/{number_id}/whatsapp", {"enabled": True}),
    (
        "POST",
        "/v1/campaigns/{campaign_id}/assignments",
        {"phone_number_id": "{number_id}", "channel": "sms"},
    ),
    (
        "POST",
        "/v1/messages",
        {
            "campaign_id": "{campaign_id}",
            "lead_id": "{lead_id}",
            "channel": "whatsapp",
            "whatsapp_template": {"name": "reminder", "variables": {"1": "Ana"}},
        },
    ),
    ("GET", "/v1/threads/{thread_id}", None),
    ("POST", "/v1/notifications/{notification_id}/read", {}),
    ("POST", "/v1/unmatched-inbound/{unmatched_id}/assign", {"lead_id": "{lead_id}"}),
    ("POST", "/v1/api-keys/{key_id}/revoke", {}),
    ("GET", "/v1/leads/{lead_id}/timers", None),
    (
        "POST",
        "/v1/leads/{lead_id}/timers",
        {"timer_type": "CALLBACK", "trigger_at": "2026-12-01T10:00:00Z"},
    ),
    ("DELETE", "/v1/leads/{lead_id}/timers/TIMER_7D", None),
    ("PUT", "/v1/escalations/TIMER_7D", {"action": "move", "campaign_id": "{campaign_id}"}),
    ("GET", "/v1/event-subscriptions/{subscription_id}", None),
    ("PATCH", "/v1/event-subscriptions/{subscription_id}", {"status": "disabled"}),
    ("DELETE", "/v1/event-subscriptions/{subscription_id}", None),
    ("GET", "/v1/event-subscriptions/{subscription_id}/deliveries", None),
    (
        "POST",
        "/v1/event-subscriptions/{subscription_id}/replay",
        {"from": "2026-11-01T00:00:00Z", "to": "2026-11-22T00:00:00Z"},
    ),
]

LIST_ROUTES = [
    "/v1/provider-accounts",
    "/v1/phone-numbers",
    "/v1/campaigns",
    "/v1/threads",
    "/v1/notifications",
    "/v1/call-queue",
    "/v1/unmatched-inbound",
    "/v1/call-outcomes",
    "/v1/audit-log",
    "/v1/api-keys",
    "/v1/leads",
    "/v1/consents",
    "/v1/suppressions",
    "/v1/event-subscriptions",
    "/v1/whatsapp-templates",
]

TEMPLATE = {"name": "reminder", "provider_template_id": "HX1", "body": "Hi {{1}}"}


SUBSCRIPTION = {"url": "https://hooks.example.com/tether", "event_types": ["reply.received"]}


def _owner_ids(api: Api, owner: Client, scene: Scene) -> dict[str, str]:
    ids = seed_inbox(api.admin, owner.tenant_id, scene)
    number = api.admin.execute(
        "SELECT id FROM phone_numbers WHERE tenant_id = %s", (owner.tenant_id,)
    ).fetchone()
    key = api.admin.execute(
        "SELECT id FROM api_keys WHERE tenant_id = %s", (owner.tenant_id,)
    ).fetchone()
    message = api.admin.execute(
        "SELECT id FROM messages WHERE tenant_id = %s AND direction = 'outbound'",
        (owner.tenant_id,),
    ).fetchone()
    assert message is not None
    assert number is not None
    assert key is not None
    subscription = owner.post("/v1/event-subscriptions", SUBSCRIPTION)
    assert subscription.status == 201, subscription
    return {
        "subscription_id": subscription.body["id"],
        **ids,
        "campaign_id": scene.campaign_id,
        "lead_id": scene.lead_ids[0],
        "account_id": scene.account_id,
        "number_id": str(number["id"]),
        "key_id": str(key["id"]),
        "message_id": str(message["id"]),
    }


def _fill(value: Any, ids: dict[str, str]) -> Any:
    if isinstance(value, str):
        return value.format(**ids)
    if isinstance(value, dict):
        return {k: _fill(v, ids) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, ids) for v in value]
    return value


def _state(api: Api, tenant_id: Any) -> list[Any]:
    """What the owner's tenant holds, to show the intruder changed none of it."""
    return (
        [
            api.admin.execute(
                f"SELECT count(*) AS n, max(updated_at) AS at FROM {table} WHERE tenant_id = %s",
                (tenant_id,),
            ).fetchone()
            for table in (
                "campaigns",
                "leads",
                "phone_numbers",
                "call_queue",
                "threads",
                "launches",
                "event_subscriptions",
            )
        ]
        + [
            api.admin.execute(
                f"SELECT count(*) AS n FROM {table} WHERE tenant_id = %s", (tenant_id,)
            ).fetchone()
            for table in ("messages", "lead_events", "api_keys", "event_deliveries")
        ]
        + [
            api.admin.execute(
                "SELECT count(*) FILTER (WHERE status = 'canceled') AS cancelled FROM messages"
                " WHERE tenant_id = %s",
                (tenant_id,),
            ).fetchone()
        ]
        + [
            api.admin.execute(
                "SELECT count(*) FILTER (WHERE read_at IS NULL) AS unread,"
                " (SELECT count(*) FROM unmatched_inbound WHERE tenant_id = %s AND resolved_at IS NULL) AS open,"
                " (SELECT count(*) FROM api_keys WHERE tenant_id = %s AND revoked_at IS NULL) AS live"
                " FROM notifications WHERE tenant_id = %s",
                (tenant_id, tenant_id, tenant_id),
            ).fetchone()
        ]
    )


@pytest.mark.parametrize(
    ("method", "path", "body"), ID_ROUTES, ids=[f"{m} {p}" for m, p, _ in ID_ROUTES]
)
def test_another_tenants_resource_is_404_and_audited(
    api: Api, method: str, path: str, body: Any
) -> None:
    owner = api.tenant("Owner")
    scene = build_campaign(api, owner, leads=1)
    launch = api.launch(owner, scene.campaign_id)
    ids = {**_owner_ids(api, owner, scene), "launch_id": launch.body["id"]}
    intruder = api.tenant("Intruder")
    build_campaign(api, intruder, leads=1)  # the intruder has data of its own, too
    before = _state(api, owner.tenant_id)

    target = path.format(**ids)
    if isinstance(body, str):
        reply = intruder.request(method, target, raw=body, content_type="text/csv")
    else:
        reply = intruder.request(method, target, _fill(body, ids))

    assert reply.status == 404, reply
    assert reply.body["error"] == "not_found"
    audit = api.audit_rows(intruder.tenant_id)
    assert len(audit) == 1
    assert audit[0]["subject_id"] in ids.values()
    assert audit[0]["detail"]["request"].startswith(f"{method} /v1/")
    assert api.audit_rows(owner.tenant_id) == []
    assert _state(api, owner.tenant_id) == before


def test_lists_show_another_tenant_nothing(api: Api) -> None:
    owner = api.tenant("Owner")
    scene = build_campaign(api, owner, leads=1)
    seed_inbox(api.admin, owner.tenant_id, scene)
    owner.get("/v1/leads/00000000-0000-0000-0000-000000000000")  # an audit row of the owner's
    consent = {"phone": "+14155550177", "source": "https://example.com/join",
               "consented_at": "2026-11-01T10:00:00Z"}  # fmt: skip
    assert owner.post("/v1/consents", consent).status in (200, 201)
    assert owner.post("/v1/suppressions", {"phone": "+14155550178", "note": "asked"}).status in (
        200,
        201,
    )
    assert owner.post("/v1/event-subscriptions", SUBSCRIPTION).status == 201
    api.admin.execute(  # a call the voice side reported that matched no lead
        "INSERT INTO call_outcomes (tenant_id, receipt_id, provider, call_id, outcome,"
        " provider_status, occurred_at, state) VALUES (%s, gen_random_uuid(), 'vapi', 'call-1',"
        " 'no_answer', 'voicemail', now(), 'unmatched')",
        (owner.tenant_id,),
    )
    assert owner.post("/v1/whatsapp-templates", TEMPLATE).status == 200
    intruder = api.tenant("Intruder")
    for path in LIST_ROUTES:
        mine = owner.get(path).body["items"]
        theirs = intruder.get(path).body["items"]
        assert mine, path
        assert not {str(row.get("id", row.get("message_id"))) for row in mine} & {
            str(row.get("id", row.get("message_id"))) for row in theirs
        }, path
    assert intruder.get("/v1/pools").body["pools"] == []
    assert intruder.get("/v1/notifications/unread-counts").body["total"] == 0
    assert intruder.post("/v1/call-queue/claim", {"claimed_by": "x"}).body == {"entry": None}
    assert owner.post("/v1/call-queue/claim", {"claimed_by": "x"}).body["entry"] is not None


def test_an_own_reply_cannot_be_given_to_another_tenants_lead(api: Api) -> None:
    owner = api.tenant("Owner")
    scene = build_campaign(api, owner, leads=1)
    ids = seed_inbox(api.admin, owner.tenant_id, scene)
    other = api.tenant("Other")
    their = build_campaign(api, other, leads=1)
    reply = owner.post(
        f"/v1/unmatched-inbound/{ids['unmatched_id']}/assign", {"lead_id": their.lead_ids[0]}
    )
    assert reply.status == 404
    assert [r["subject_id"] for r in api.audit_rows(owner.tenant_id)] == [their.lead_ids[0]]


def test_another_tenants_number_is_no_whatsapp_sender_of_ones_own_campaign(api: Api) -> None:
    owner = api.tenant("Owner")
    build_campaign(api, owner, leads=1)
    number = api.admin.execute(
        "UPDATE phone_numbers SET whatsapp_enabled = true WHERE tenant_id = %s RETURNING id",
        (owner.tenant_id,),
    ).fetchone()
    assert number is not None
    intruder = api.tenant("Intruder")
    theirs = build_campaign(api, intruder, leads=1)
    reply = intruder.post(
        f"/v1/campaigns/{theirs.campaign_id}/assignments",
        {"phone_number_id": str(number["id"]), "channel": "whatsapp"},
    )
    assert reply.status == 404, reply
    assert [r["subject_id"] for r in api.audit_rows(intruder.tenant_id)] == [str(number["id"])]
    assert owner.get("/v1/whatsapp-templates").body["items"] == []
    assert intruder.post("/v1/whatsapp-templates", TEMPLATE).status == 200
    assert owner.get("/v1/whatsapp-templates").body["items"] == []
    # the same name and language is each tenant's own
    assert owner.post("/v1/whatsapp-templates", TEMPLATE).status == 200
