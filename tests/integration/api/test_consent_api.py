"""/v1/consents, /v1/leads/{id}/resubscribe, /v1/suppressions and the import's consent
through API Gateway proxy events on real PostgreSQL: records with their evidence, the
422 an import without consent gets when consent is required, the list paged, added
to by hand and from CSV, exported, and nothing removed but by re-subscribe."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import timedelta
from typing import Any

from tests.support.api_client import NOW, Api, Client
from tests.support.events import recorded
from tests.support.factories import make_campaign, make_lead
from tether.domain.outbox import EventType

PHONE = "+14155550134"


def _campaign(api: Api, client: Client) -> uuid.UUID:
    return make_campaign(api.admin, client.tenant_id, "pool-a")


def _require_consent(client: Client) -> None:
    changed = client.request("PATCH", "/v1/settings", {"require_consent": True})
    assert changed.status == 200, changed
    assert changed.body["require_consent"] is True


def _consent(**extra: Any) -> dict[str, Any]:
    return {
        "phone": "(415) 555-0134",
        "source": "https://example.com/join",
        "consented_at": (NOW - timedelta(hours=1)).isoformat(),
        "disclosure_text": "Reply STOP to end. Msg&data rates may apply.",
        "ip": "203.0.113.7",
        "user_agent": "Mozilla/5.0",
        "evidence_ref": "screenshot-42",
        **extra,
    }


def test_consents_are_recorded_with_their_evidence_and_listed(api: Api) -> None:
    client = api.tenant()
    created = client.post("/v1/consents", _consent())
    assert created.status == 201, created
    assert created.body | {"id": None, "recorded_at": None, "recorded_by": None} == {
        "id": None,
        "phone": PHONE,
        "channel": "sms",
        "kind": "granted",
        "source_type": "form",
        "source": "https://example.com/join",
        "consented_at": (NOW - timedelta(hours=1)).isoformat().replace("+00:00", "Z"),
        "recorded_at": None,
        "disclosure_text": "Reply STOP to end. Msg&data rates may apply.",
        "ip": "203.0.113.7",
        "user_agent": "Mozilla/5.0",
        "evidence_ref": "screenshot-42",
        "lead_id": None,
        "message_id": None,
        "recorded_by": None,
    }
    assert created.body["recorded_by"].startswith("api_key:")
    revoked = client.post("/v1/consents", _consent(kind="revoked", source="call center"))
    assert revoked.status == 201
    listed = client.get("/v1/consents", query={"phone": "415-555-0134", "limit": 1})
    assert [c["kind"] for c in listed.body["items"]] == ["revoked"]  # newest recorded first
    rest = client.get("/v1/consents", query={"cursor": listed.body["next_cursor"]})
    assert [c["kind"] for c in rest.body["items"]] == ["granted"]
    # a revocation is an opt-out: the phone is on the suppression list
    active = client.get("/v1/suppressions", query={"phone": PHONE, "active": "true"})
    assert [s["reason"] for s in active.body["items"]] == ["opt_out"]
    assert api.tenant("Other").get("/v1/consents").body["items"] == []


def test_bad_consents_are_422_and_record_nothing(api: Api) -> None:
    client = api.tenant()
    for change, reason in [
        ({"consented_at": (NOW + timedelta(days=1)).isoformat()}, "in the future"),
        ({"consented_at": "2026-11-20T10:00:00"}, "timezone"),
        ({"ip": "not-an-ip"}, "not an IP address"),
        ({"phone": "12"}, "phone"),
        ({"source": ""}, "source"),
    ]:
        answer = client.post("/v1/consents", _consent(**change))
        assert answer.status == 422, (change, answer)
        assert reason in str(answer.body), (reason, answer.body)
    assert client.get("/v1/consents").body["items"] == []


def test_an_import_without_consent_is_refused_when_consent_is_required(api: Api) -> None:
    client = api.tenant()
    campaign = _campaign(api, client)
    leads = [{"phone": "(415) 555-0134"}, {"phone": "(415) 555-0135"}]
    assert client.post(f"/v1/campaigns/{campaign}/leads", {"leads": leads}).status == 200
    _require_consent(client)
    more = [{"phone": "(415) 555-0136"}]
    refused = client.post(f"/v1/campaigns/{campaign}/leads", {"leads": more})
    assert refused.status == 422
    assert "requires consent" in refused.body["message"]
    csv_refused = client.request(
        "POST", f"/v1/campaigns/{campaign}/leads/csv", raw="phone\n4155550136\n",
        content_type="text/csv",
    )  # fmt: skip
    assert csv_refused.status == 422
    assert client.get("/v1/leads", query={"phone": "+14155550136"}).body["items"] == []

    with_consent = client.post(
        f"/v1/campaigns/{campaign}/leads",
        {
            "leads": [
                {
                    "phone": "(415) 555-0136",
                    "consent_source": "https://example.com/form",
                    "consent_at": (NOW - timedelta(days=2)).isoformat(),
                    "consent_text": "I agree to get texts",
                    "consent_ip": "198.51.100.4",
                }
            ]
        },
    )
    assert with_consent.status == 200, with_consent
    assert with_consent.body["imported"] == 1
    rows = client.request(
        "POST",
        f"/v1/campaigns/{campaign}/leads/csv",
        raw="phone,consent_source,consent_at,consent_text,campaign_note\n"
        "4155550137,signup.csv,2026-11-01T10:00:00Z,Yes text me,vip\n"
        "4155550138,signup.csv,,,\n",
        content_type="text/csv",
    )
    assert rows.status == 200, rows
    assert rows.body["imported"] == 1
    assert [r["reason"] for r in rows.body["rejected"]] == [
        "consent_source given without consent_at (when consent was given)"
    ]
    attested = client.request(
        "POST",
        f"/v1/campaigns/{campaign}/leads/csv",
        raw="phone\n4155550139\n4155550140\n",
        content_type="text/csv",
        query={"consent_attestation": "We collected written consent at our events"},
    )
    assert attested.status == 200, attested
    log = client.get("/v1/consents", query={"limit": 100}).body["items"]
    assert sorted((c["phone"], c["source_type"]) for c in log) == [
        ("+14155550136", "import"),
        ("+14155550137", "import"),
        ("+14155550139", "attestation"),
        ("+14155550140", "attestation"),
    ]
    imported = client.get("/v1/leads", query={"phone": "+14155550137"}).body["items"]
    assert imported[0]["attributes"] == {"campaign_note": "vip"}  # consent columns are not
    assert [
        a["detail"]["phones"] for a in api.audit_rows(client.tenant_id, "consent_attested")
    ] == [2]


def test_resubscribe_with_a_newer_consent_and_not_with_an_older_one(api: Api) -> None:
    client = api.tenant()
    campaign = _campaign(api, client)
    lead_id = make_lead(api.admin, client.tenant_id, PHONE, campaign)
    # suppressed a day before the API's clock (the database stamps its own time)
    api.admin.execute("UPDATE leads SET state = 'suppressed' WHERE id = %s", (lead_id,))
    api.admin.execute(
        "UPDATE leads SET state_changed_at = %s WHERE id = %s", (NOW - timedelta(days=1), lead_id)
    )
    api.admin.execute(
        "INSERT INTO suppressions (tenant_id, phone, reason, keyword, created_at)"
        " VALUES (%s, %s, 'opt_out', 'stop', %s)",
        (client.tenant_id, PHONE, NOW - timedelta(days=1)),
    )
    old = client.post("/v1/consents", _consent(consented_at=(NOW - timedelta(days=3)).isoformat()))
    refused = client.post(f"/v1/leads/{lead_id}/resubscribe", {"consent_id": old.body["id"]})
    assert refused.status == 422
    assert "older than the lead's suppression" in refused.body["message"]

    new = client.post("/v1/consents", _consent())
    freed = client.post(f"/v1/leads/{lead_id}/resubscribe", {"consent_id": new.body["id"]})
    assert freed.status == 200, freed
    assert freed.body["state"] == "responded"
    again = client.post(f"/v1/leads/{lead_id}/resubscribe", {"consent_id": new.body["id"]})
    assert again.status == 409  # not suppressed any more
    listed = client.get("/v1/suppressions", query={"phone": PHONE}).body["items"]
    assert [(s["active"], s["lifted_by"]) for s in listed] == [
        (False, {"consent_id": new.body["id"]})
    ]
    events = client.get(f"/v1/leads/{lead_id}/trace").body["events"]
    assert events[-1]["event_type"] == "RESUBSCRIBED"
    assert events[-1]["payload"]["consent_id"] == new.body["id"]
    other = api.tenant("Other")
    assert (
        other.post(f"/v1/leads/{lead_id}/resubscribe", {"consent_id": new.body["id"]}).status == 404
    )


def test_the_suppression_list_added_to_imported_exported_and_never_deleted(api: Api) -> None:
    client = api.tenant()
    added = client.post("/v1/suppressions", {"phone": "(415) 555-0150", "note": "asked by phone"})
    assert added.status == 201, added
    assert (added.body["reason"], added.body["note"], added.body["active"]) == (
        "manual",
        "asked by phone",
        True,
    )
    assert added.body["added_by"].startswith("api_key:")
    again = client.post("/v1/suppressions", {"phone": "+14155550150", "note": "twice"})
    assert again.status == 409
    assert client.post("/v1/suppressions", {"phone": "nope", "note": "x"}).status == 422
    assert client.post("/v1/suppressions", {"phone": "+14155550151", "note": ""}).status == 422

    imported = client.request(
        "POST",
        "/v1/suppressions/import",
        raw="phone,reason\n4155550150,dnc list\n4155550152,dnc list\n12,bad\n"
        "(415) 555-0152,repeat\n=HYPERLINK(1),x\n",
        content_type="text/csv",
        query={"note": "national DNC import"},
    )
    assert imported.status == 200, imported
    assert (imported.body["added"], imported.body["already"], imported.body["invalid"]) == (1, 2, 2)
    assert [r["outcome"] for r in imported.body["rows"]] == [
        "already",
        "added",
        "invalid",
        "already",
        "invalid",
    ]
    assert (
        client.request(
            "POST", "/v1/suppressions/import", raw="name\nAna\n", content_type="text/csv"
        ).status
        == 422
    )

    # each phone suppressed by hand is one lead.opted_out event (issue 16), no more
    assert api.app is not None
    opted_out = recorded(api.admin, api.app, client.tenant_id, EventType.LEAD_OPTED_OUT)
    assert [(e.data["phone"], e.data["source"]) for e in opted_out] == [
        ("+14155550150", "manual"),
        ("+14155550152", "manual"),
    ]

    page = client.get("/v1/suppressions", query={"limit": 1})
    assert [s["phone"] for s in page.body["items"]] == ["+14155550152"]
    rest = client.get("/v1/suppressions", query={"cursor": page.body["next_cursor"]})
    assert [s["phone"] for s in rest.body["items"]] == ["+14155550150"]

    exported = client.get("/v1/suppressions/export")
    assert exported.status == 200
    assert exported.headers["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(exported.body)))
    assert [(r["phone"], r["reason"], r["note"]) for r in rows] == [
        ("+14155550152", "manual", "dnc list"),
        ("+14155550150", "manual", "asked by phone"),
    ]
    audit = api.audit_rows(client.tenant_id, "suppression_added")
    assert len(audit) == 2
    assert all("phone" not in a["detail"] for a in audit)  # erasure can redact the list
    # no route removes an entry
    for method in ("DELETE", "PUT", "PATCH"):
        answer = client.request(method, f"/v1/suppressions/{added.body['id']}")
        assert answer.status in (404, 405), (method, answer)
    assert len(client.get("/v1/suppressions").body["items"]) == 2
    # a note a spreadsheet would run as a formula is exported as text
    client.post("/v1/suppressions", {"phone": "+14155550153", "note": "=1+2"})
    formula = list(csv.DictReader(io.StringIO(client.get("/v1/suppressions/export").body)))
    assert formula[0]["note"] == "'=1+2"
    assert api.tenant("Other").get("/v1/suppressions").body["items"] == []
