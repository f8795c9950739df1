"""Issue 19 through proxy events: the HELP identity and retention windows in
/v1/settings, a launch refused without a brand or contact, and erasure by lead and by
number (admin keys only)."""

from __future__ import annotations

from tests.integration.api.test_key_scopes import issue
from tests.support.api_client import Api
from tests.support.api_scenes import build_campaign


def test_settings_show_and_set_the_help_identity_and_the_retention_windows(api: Api) -> None:
    client = api.tenant()
    shown = client.get("/v1/settings").body
    assert shown["retain_webhook_payload_days"] == 30
    assert shown["retain_message_body_days"] == 365
    assert shown["retain_idempotency_days"] == 7
    changed = client.request(
        "PATCH",
        "/v1/settings",
        {
            "brand_name": "Bright Homes",
            "help_contact": "+1 650 555 0100",
            "retain_idempotency_days": 2,
        },
    )
    assert changed.status == 200, changed
    assert (changed.body["brand_name"], changed.body["help_contact"]) == (
        "Bright Homes",
        "+1 650 555 0100",
    )
    assert changed.body["retain_idempotency_days"] == 2
    for refused in ({"brand_name": None}, {"help_contact": "  "}, {"retain_message_body_days": 0}):
        reply = client.request("PATCH", "/v1/settings", refused)
        assert reply.status == 422, (refused, reply)
    assert client.get("/v1/settings").body == changed.body


def test_a_launch_without_a_brand_or_a_contact_is_refused(api: Api) -> None:
    """(Which of the two is named, for each combination: tests/unit/test_privacy_rules.py.)"""
    client = api.tenant()
    scene = build_campaign(api, client, leads=1)
    api.admin.execute(
        "UPDATE tenant_config SET help_contact = NULL WHERE tenant_id = %s", (client.tenant_id,)
    )
    refused = client.post(f"/v1/campaigns/{scene.campaign_id}/launch")
    assert refused.status == 422, refused
    assert "set help_contact in /v1/settings" in str(refused.body)
    campaign = client.get(f"/v1/campaigns/{scene.campaign_id}").body
    assert campaign["status"] == "staged"  # nothing was written
    assert api.queued() == []
    client.request(
        "PATCH", "/v1/settings", {"brand_name": "Bright Homes", "help_contact": "help@bright.test"}
    )
    launched = client.post(f"/v1/campaigns/{scene.campaign_id}/launch")
    assert launched.status < 300, launched


def test_erasure_routes_take_an_admin_key_and_say_what_they_cleared(api: Api) -> None:
    client = api.tenant()
    scene = build_campaign(api, client, leads=2)
    writer = issue(client, "write")
    lead_id, other_phone = scene.lead_ids[0], scene.lead_phones[1]
    assert writer.post(f"/v1/leads/{lead_id}/erase").status == 403
    assert writer.post("/v1/erasures", {"phone": other_phone}).status == 403

    erased = client.post(f"/v1/leads/{lead_id}/erase")
    assert erased.status == 200, erased
    assert erased.body["erased"]["leads"] == 1
    assert len(erased.body["phone_hash"]) == 64
    by_phone = client.post("/v1/erasures", {"phone": other_phone})
    assert by_phone.status == 200, by_phone
    assert by_phone.body["erased"]["leads"] == 1
    assert client.post("/v1/erasures", {"phone": other_phone}).body["erased"]["leads"] == 0

    bad = client.post("/v1/erasures", {"phone": "not a number"})
    assert bad.status == 422, bad
    assert client.post("/v1/erasures", {}).status == 422
    missing = client.post("/v1/leads/00000000-0000-4000-8000-000000000000/erase")
    assert missing.status == 404
    audit = api.admin.execute(
        "SELECT actor FROM audit_log WHERE tenant_id = %s AND kind = 'erasure'",
        (client.tenant_id,),
    ).fetchall()
    assert len(audit) == 2
    assert all(row["actor"].startswith("api_key:") for row in audit)
