"""Templates through the API: checked on create and PATCH (422 naming the field and
where), rendered per lead on the send path and stored as sent, variants chosen by a
stable hash and recorded on each message, a preview with segments, and leads' details
and custom fields corrected by PATCH."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from psycopg import errors as pg

from tests.support.api_client import Api, Client
from tests.support.api_scenes import POOL, build_campaign
from tests.support.factories import unique_number
from tether.domain.templates import Variant, choose_variant


def _patch(client: Client, path: str, body: Any) -> Any:
    return client.request("PATCH", path, body)


def _import(client: Client, campaign_id: str, leads: list[dict[str, Any]]) -> dict[str, str]:
    imported = client.post(f"/v1/campaigns/{campaign_id}/leads", {"leads": leads})
    assert imported.status == 200, imported
    assert not imported.body["rejected"], imported
    return {lead["phone"]: lead["phone"] for lead in leads}


def _lead_ids(api: Api, campaign_id: str) -> dict[str, str]:
    rows = api.admin.execute(
        "SELECT id, phone FROM leads WHERE campaign_id = %s", (campaign_id,)
    ).fetchall()
    return {r["phone"]: str(r["id"]) for r in rows}


@pytest.mark.parametrize(
    ("template", "words"),
    [
        ("Hi {frist_name}, quick question", "unknown field {frist_name}"),
        ("Hi {first_name, quick question", "a '{' is never closed"),
    ],
)
def test_a_broken_template_is_a_422_naming_it_on_create_and_on_patch(
    api: Api, template: str, words: str
) -> None:
    client = api.tenant()
    created = client.post("/v1/campaigns", {"name": "Spring", "pool": POOL, "template": template})
    assert created.status == 422, created
    assert words in created.body["message"]
    assert "at position 3" in created.body["message"]
    campaign = client.post("/v1/campaigns", {"name": "Spring", "pool": POOL, "template": "Hi"})
    assert campaign.status == 201, campaign
    path = f"/v1/campaigns/{campaign.body['id']}"
    for body, where in [
        ({"template": template}, "template"),
        (
            {"variants": [{"name": "a", "template": "Hi"}, {"name": "b", "template": template}]},
            "variant 'b'",
        ),
        ({"follow_up_template": template}, "follow_up_template"),
    ]:
        patched = _patch(client, path, body)
        assert patched.status == 422, (body, patched)
        assert f"{where}: {words}" in patched.body["message"], patched
    assert client.get(path).body["template"] == "Hi"  # nothing half-written


def test_two_variants_render_each_leads_text_once_and_record_its_variant(api: Api) -> None:
    client = api.tenant()
    scene = build_campaign(api, client, leads=0)
    campaign_id = scene.campaign_id
    variants = [
        {"name": "warm", "template": "Hi {first_name|there}, {sender_name} here.", "weight": 3},
        {"name": "short", "template": "{first_name|Hey}! {{{custom.city|your area}}}", "weight": 1},
    ]
    patched = _patch(
        client, f"/v1/campaigns/{campaign_id}", {"variants": variants, "sender_name": "Sam"}
    )
    assert patched.status == 200, patched
    assert patched.body["template"] is None
    assert [v["name"] for v in patched.body["variants"]] == ["short", "warm"]
    leads: list[dict[str, Any]] = [
        {"phone": unique_number(), "first_name": f"Ana{n}"} for n in range(30)
    ]
    leads += [{"phone": unique_number(), "attributes": {"city": "Oakland"}} for _ in range(10)]
    _import(client, campaign_id, leads)
    launched = api.launch(client, campaign_id)
    assert launched.status == 200, launched
    assert launched.body["queued"] == 40, launched.body
    rows = api.admin.execute(
        "SELECT m.body, m.variant, l.id AS lead_id, l.first_name FROM messages m"
        " JOIN leads l ON l.id = m.lead_id WHERE m.campaign_id = %s",
        (campaign_id,),
    ).fetchall()
    assert len(rows) == 40
    assert len({r["lead_id"] for r in rows}) == 40
    chosen = [Variant("warm", "", 3), Variant("short", "", 1)]
    for row in rows:
        variant = choose_variant(uuid.UUID(campaign_id), row["lead_id"], chosen).name
        assert row["variant"] == variant
        name = row["first_name"]
        expected = (
            f"Hi {name or 'there'}, Sam here."
            if variant == "warm"
            else f"{name or 'Hey'}! {{{'your area' if name else 'Oakland'}}}"
        )
        assert row["body"] == expected
    assert {r["variant"] for r in rows} == {"warm", "short"}
    # once launched, the texts are fixed: the API says so, and so does the database
    again = _patch(client, f"/v1/campaigns/{campaign_id}", {"variants": variants[:1]})
    assert again.status == 409, again
    assert "launched" in again.body["message"], again
    renamed = _patch(client, f"/v1/campaigns/{campaign_id}", {"name": "Spring, renamed"})
    assert renamed.status == 200, renamed
    for statement in (
        "UPDATE campaign_templates SET weight = 9 WHERE campaign_id = %s",
        "UPDATE campaigns SET sender_name = 'Kim' WHERE id = %s",
        "UPDATE campaigns SET follow_up_template = 'Hi again' WHERE id = %s",
    ):
        with pytest.raises(pg.CheckViolation) as refused:
            api.admin.execute(statement, (campaign_id,))
        assert refused.value.diag.constraint_name == "campaigns_templates_fixed"


def test_a_stored_text_does_not_change_when_the_lead_or_campaign_does(api: Api) -> None:
    client = api.tenant()
    scene = build_campaign(api, client, leads=0)
    path = f"/v1/campaigns/{scene.campaign_id}"
    assert (
        _patch(client, path, {"template": "Hi {first_name|there} at {company|home}"}).status == 200
    )
    phone = unique_number()
    _import(client, scene.campaign_id, [{"phone": phone, "first_name": "Ana"}])
    lead_id = _lead_ids(api, scene.campaign_id)[phone]
    sent = client.post(
        "/v1/messages", {"campaign_id": scene.campaign_id, "lead_id": lead_id, "template": "t1"}
    )
    assert sent.status == 202, sent
    message_id = sent.body["message_id"]
    changed = _patch(client, f"/v1/leads/{lead_id}", {"first_name": "Bea", "company": "Acme"})
    assert changed.status == 200, changed
    row = api.admin.execute(
        "SELECT body, variant FROM messages WHERE id = %s", (message_id,)
    ).fetchone()
    assert row == {"body": "Hi Ana at home", "variant": "default"}
    with pytest.raises(pg.CheckViolation):
        api.admin.execute("UPDATE messages SET body = 'Hi Bea' WHERE id = %s", (message_id,))
    # a new send renders the lead as it is now; a body given as such is sent as written
    later = client.post(
        "/v1/messages", {"campaign_id": scene.campaign_id, "lead_id": lead_id, "template": "t2"}
    )
    written = client.post(
        "/v1/messages",
        {
            "campaign_id": scene.campaign_id,
            "lead_id": lead_id,
            "template": "t3",
            "body": "Literal {first_name}",
        },
    )
    bodies = api.admin.execute(
        "SELECT body, variant FROM messages WHERE id = ANY(%s) ORDER BY created_at, body",
        ([later.body["message_id"], written.body["message_id"]],),
    ).fetchall()
    assert {(b["body"], b["variant"]) for b in bodies} == {
        ("Hi Bea at Acme", "default"),
        ("Literal {first_name}", None),
    }


def test_a_lead_lacking_a_field_without_fallback_is_skipped_alone(api: Api) -> None:
    client = api.tenant()
    scene = build_campaign(api, client, leads=0)
    path = f"/v1/campaigns/{scene.campaign_id}"
    assert _patch(client, path, {"template": "Hi {first_name}"}).status == 200
    named, unnamed = unique_number(), unique_number()
    _import(client, scene.campaign_id, [{"phone": named, "first_name": "Ana"}, {"phone": unnamed}])
    launched = api.launch(client, scene.campaign_id)
    assert launched.status == 200, launched
    assert launched.body["queued"] == 1
    assert launched.body["skipped"] == {"MissingMergeValue": 1}
    ids = _lead_ids(api, scene.campaign_id)
    alone = client.post("/v1/messages", {"campaign_id": scene.campaign_id, "lead_id": ids[unnamed]})
    assert alone.status == 422, alone
    assert "no first_name" in alone.body["message"], alone
    # filled in, the next launch sends it
    assert _patch(client, f"/v1/leads/{ids[unnamed]}", {"first_name": "Bo"}).status == 200
    again = api.launch(client, scene.campaign_id)
    assert (again.body["queued"], again.body["duplicates"]) == (1, 1), again.body


def test_preview_renders_counts_segments_and_warns_past_the_tenants_limit(api: Api) -> None:
    client = api.tenant()
    scene = build_campaign(api, client, leads=0, stage=False)
    phone = unique_number()
    _import(client, scene.campaign_id, [{"phone": phone, "first_name": "Zoë"}])
    lead_id = _lead_ids(api, scene.campaign_id)[phone]
    path = f"/v1/campaigns/{scene.campaign_id}/preview"
    plain = client.post(path, {"lead_id": lead_id})
    assert plain.status == 200, plain
    assert plain.body == {
        "text": "Hi, this is Ana",
        "variant": "default",
        "encoding": "GSM-7",
        "segments": 1,
        "units": 15,
        "warnings": [],
    }
    long = client.post(path, {"lead_id": lead_id, "template": "{first_name} 🙂 " + "x" * 300})
    assert long.status == 200, long
    assert long.body["text"].startswith("Zoë 🙂 ")
    assert (long.body["encoding"], long.body["segments"]) == ("UCS-2", 5)
    assert any("over the tenant's preview_max_segments (3)" in w for w in long.body["warnings"])
    settings = client.request("PATCH", "/v1/settings", {"preview_max_segments": 6})
    assert settings.status == 200, settings
    again = client.post(path, {"lead_id": lead_id, "template": "{first_name} 🙂 " + "x" * 300})
    assert again.body["segments"] == 5
    assert not any("preview_max_segments" in w for w in again.body["warnings"]), again
    broken = client.post(path, {"lead_id": lead_id, "template": "Hi {nmae}"})
    assert broken.status == 422
    assert "unknown field {nmae}" in broken.body["message"]
    missing = client.post(path, {"lead_id": lead_id, "template": "Hi {last_name}"})
    assert missing.status == 422
    assert "no last_name" in missing.body["message"]
    other = api.tenant("Other").post(path, {"lead_id": lead_id})
    assert other.status == 404


def test_patch_lead_changes_details_and_custom_fields_audited_by_name(api: Api) -> None:
    client = api.tenant()
    scene = build_campaign(api, client, leads=0, stage=False)
    phone = unique_number()
    _import(
        client,
        scene.campaign_id,
        [{"phone": phone, "first_name": "Ana", "attributes": {"city": "Oakland", "tier": "a"}}],
    )
    lead_id = _lead_ids(api, scene.campaign_id)[phone]
    changed = _patch(
        client,
        f"/v1/leads/{lead_id}",
        {
            "last_name": "Lopez",
            "email": "ana@example.com",
            "attributes": {"city": None, "x.y": "1"},
        },
    )
    assert changed.status == 200, changed
    assert changed.body["first_name"] == "Ana"
    assert changed.body["last_name"] == "Lopez"
    assert changed.body["attributes"] == {"tier": "a", "x.y": "1"}
    assert _patch(client, f"/v1/leads/{lead_id}", {}).status == 200  # nothing: no audit row
    [audit] = api.audit_rows(client.tenant_id, "lead_changed")
    assert audit["detail"] == {"fields": ["email", "last_name"], "custom_fields": ["city", "x.y"]}
    assert "Lopez" not in str(audit)
    for body in (
        {"email": "not an address"},
        {"attributes": {"Home City": "x"}},
        {"timezone": "Mars/Base"},
    ):
        assert _patch(client, f"/v1/leads/{lead_id}", body).status == 422, body
    assert _patch(api.tenant("Other"), f"/v1/leads/{lead_id}", {"first_name": "X"}).status == 404


def test_patch_campaign_is_audited_with_old_and_new_values(api: Api) -> None:
    client = api.tenant()
    created = client.post(
        "/v1/campaigns", {"name": "Spring", "pool": POOL, "template": "From {sender_name|us}"}
    )
    path = f"/v1/campaigns/{created.body['id']}"
    assert _patch(client, path, {"sender_name": "Sam"}).status == 200
    cleared = _patch(client, path, {"template": "From {sender_name}", "sender_name": None})
    assert cleared.status == 422, cleared
    assert "no sender_name" in cleared.body["message"], cleared
    blank = _patch(client, path, {"sender_name": "  "})
    assert blank.status == 422, blank
    assert "sender_name cannot be blank" in blank.body["message"]
    [audit] = api.audit_rows(client.tenant_id, "campaign_changed")
    assert audit["detail"] == {"old": {"sender_name": None}, "new": {"sender_name": "Sam"}}


def test_csv_import_takes_company_and_custom_columns(api: Api) -> None:
    client = api.tenant()
    scene = build_campaign(api, client, leads=0, stage=False)
    phone = unique_number()
    imported = client.request(
        "POST",
        f"/v1/campaigns/{scene.campaign_id}/leads/csv",
        raw=f"phone,first_name,Company,Home City\n{phone},Ana,Acme,Oakland\n",
        content_type="text/csv",
    )
    assert imported.status == 200, imported
    lead_id = _lead_ids(api, scene.campaign_id)[phone]
    shown = client.get(f"/v1/leads/{lead_id}").body
    assert (shown["company"], shown["attributes"]) == ("Acme", {"home_city": "Oakland"})
    preview = client.post(
        f"/v1/campaigns/{scene.campaign_id}/preview",
        {"lead_id": lead_id, "template": "{first_name} of {company} in {custom.home_city}"},
    )
    assert preview.body["text"] == "Ana of Acme in Oakland", preview


def test_the_database_keeps_custom_fields_and_variants_in_shape(api: Api) -> None:
    client = api.tenant()
    scene = build_campaign(api, client, leads=1, stage=False)
    lead_id = scene.lead_ids[0]
    for attributes in ('{"city": 1}', '{"Bad Key": "x"}', '["x"]'):
        with pytest.raises(pg.CheckViolation):
            api.admin.execute(
                "UPDATE leads SET attributes = %s::jsonb WHERE id = %s", (attributes, lead_id)
            )
    tenant = client.tenant_id
    insert = (
        "INSERT INTO campaign_templates (tenant_id, campaign_id, name, template, weight)"
        " VALUES (%s, %s, %s, %s, %s)"
    )
    # the campaign has a plain template: no variants beside it
    with pytest.raises(pg.CheckViolation) as both:
        api.admin.execute(insert, (tenant, scene.campaign_id, "a", "Hi", 1))
    assert both.value.diag.constraint_name == "campaigns_template_or_variants"
    api.admin.execute("UPDATE campaigns SET template = NULL WHERE id = %s", (scene.campaign_id,))
    with pytest.raises(pg.CheckViolation):
        api.admin.execute(insert, (tenant, scene.campaign_id, "a", "Hi", 0))
    with pytest.raises(pg.CheckViolation):
        api.admin.execute(insert, (tenant, scene.campaign_id, "a b", "Hi", 1))
    api.admin.execute(insert, (tenant, scene.campaign_id, "a", "Hi", 1))
    with pytest.raises(pg.UniqueViolation):
        api.admin.execute(insert, (tenant, scene.campaign_id, "a", "Yo", 1))
