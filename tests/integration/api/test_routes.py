"""Every route of the management API through API Gateway proxy events, against real
PostgreSQL and moto's SQS: what it answers, what it stores, and its error classes."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta

from tests.support.api_client import NOW, Api
from tests.support.api_scenes import POOL, build_campaign, seed_inbox
from tests.support.factories import unique_number
from tests.support.sqs_records import send_ids
from tether.config import PROJECT_ROOT


def test_provider_accounts_are_created_with_their_secrets_and_listed(api: Api) -> None:
    client = api.tenant()
    made = client.post(
        "/v1/provider-accounts",
        {"provider": "twilio", "name": "Twilio main", "signing_secret": "twilio-auth-token"},
    )
    assert made.status == 201
    assert made.body["webhook_path"] == f"/webhooks/twilio/{made.body['id']}"
    assert (made.body["has_signing_secret"], made.body["has_credentials"]) == (True, False)
    assert "twilio-auth-token" not in json.dumps(made.body)
    listed = client.get("/v1/provider-accounts")
    assert [a["id"] for a in listed.body["items"]] == [made.body["id"]]
    # a reference from the client is not a field any more: values only
    by_ref = client.post(
        "/v1/provider-accounts",
        {"provider": "twilio", "name": "ref", "credentials_ref": "arn:aws:secretsmanager:x"},
    )
    assert by_ref.status == 422
    assert by_ref.body["fields"][0]["field"] == "body.credentials_ref"
    twice = client.post("/v1/provider-accounts", {"provider": "twilio", "name": "Twilio main"})
    assert twice.status == 409
    assert twice.body["error"] == "conflict"
    unknown = client.post("/v1/provider-accounts", {"provider": "carrier-pigeon", "name": "x"})
    assert unknown.status == 422
    assert unknown.body["fields"][0]["field"] == "body.provider"


def test_numbers_register_with_rejected_rows_list_filter_and_retire(api: Api) -> None:
    client = api.tenant()
    scene = build_campaign(api, client, leads=0, stage=False)
    good = unique_number()
    result = client.post(
        "/v1/phone-numbers",
        {
            "provider_account_id": scene.account_id,
            "pool": "Second",
            "ai_worker": "cathy",
            "numbers": [{"number": good}, {"number": "not a number"}, {"number": good}],
        },
    )
    assert result.status == 200
    assert result.body["stored"] == [good]
    assert [(r["row"], r["reason"]) for r in result.body["rejected"]] == [
        (2, "not a phone number"),
        (3, "duplicate of row 1"),
    ]
    second = client.get("/v1/phone-numbers", query={"pool": "Second"})
    assert [(n["e164"], n["ai_worker"]) for n in second.body["items"]] == [(good, "cathy")]
    number_id = second.body["items"][0]["id"]
    retired = client.post(f"/v1/phone-numbers/{number_id}/retire")
    assert retired.status == 200
    assert retired.body == {
        "number": good,
        "released_lease": False,
        "leads_to_rehome": [],
    }
    assert (
        client.get("/v1/phone-numbers", query={"status": "retired"}).body["items"][0]["id"]
        == number_id
    )
    pools = client.get("/v1/pools").body["pools"]
    assert {p["pool"]: p["total"] for p in pools} == {POOL: 1}
    missing = client.post(
        "/v1/phone-numbers",
        {"provider_account_id": str(uuid.uuid4()), "pool": "P", "numbers": [{"number": good}]},
    )
    assert missing.status == 404
    empty = client.post(
        "/v1/phone-numbers", {"provider_account_id": scene.account_id, "pool": "P", "numbers": []}
    )
    assert empty.status == 422
    assert empty.body["fields"][0]["field"] == "body.numbers"


def test_campaign_create_get_stage_and_state_conflicts(api: Api) -> None:
    client = api.tenant()
    scene = build_campaign(api, client, leads=1, numbers=2, stage=False)
    draft = client.get(f"/v1/campaigns/{scene.campaign_id}")
    assert draft.body["status"] == "draft"
    assert draft.body["progress"]["leads"] == 1
    # a draft is staged first
    too_soon = client.post(f"/v1/campaigns/{scene.campaign_id}/launch")
    assert too_soon.status == 409
    assert too_soon.body["error"] == "invalid_state"
    staged = client.post(f"/v1/campaigns/{scene.campaign_id}/stage", {"rotation_numbers": 1})
    assert staged.status == 200
    assert staged.body["campaign"]["status"] == "staged"
    assert sorted(a["phone_number"] for a in staged.body["assignments"]) == sorted(scene.numbers)
    assert sum(a["is_primary"] for a in staged.body["assignments"]) == 1
    again = client.post(f"/v1/campaigns/{scene.campaign_id}/stage", {"rotation_numbers": 1})
    assert again.body["assignments"] == staged.body["assignments"]
    # the pool has no number left for another campaign
    other = client.post("/v1/campaigns", {"name": "Other", "pool": POOL, "template": "Hi"})
    starved = client.post(f"/v1/campaigns/{other.body['id']}/stage")
    assert starved.status == 409
    assert starved.body["error"] == "no_free_number"
    # only an active campaign pauses, only a paused one resumes
    assert client.post(f"/v1/campaigns/{scene.campaign_id}/pause").status == 409
    assert client.post(f"/v1/campaigns/{scene.campaign_id}/resume").status == 409
    duplicate = client.post("/v1/campaigns", {"name": "Other", "pool": POOL})
    assert duplicate.status == 409
    listed = client.get("/v1/campaigns", query={"limit": 1})
    assert len(listed.body["items"]) == 1
    assert listed.body["next_cursor"]
    rest = client.get("/v1/campaigns", query={"limit": 1, "cursor": listed.body["next_cursor"]})
    assert rest.body["items"][0]["id"] != listed.body["items"][0]["id"]
    assert rest.body["next_cursor"] is None
    assert client.get("/v1/campaigns", query={"cursor": "garbage"}).status == 422
    assert client.get("/v1/campaigns", query={"limit": 0}).status == 422


def test_launch_queues_the_first_message_to_every_lead_once(api: Api) -> None:
    client = api.tenant()
    scene = build_campaign(api, client, leads=3)
    api.admin.execute("UPDATE leads SET state = 'suppressed' WHERE id = %s", (scene.lead_ids[2],))
    started = client.post(f"/v1/campaigns/{scene.campaign_id}/launch")
    assert started.status == 202
    assert started.body["status"] == "running"
    assert started.body["queued"] == 0  # the work goes on after the answer
    assert api.queued() == []
    launched = api.launch_done(client, scene.campaign_id, started.body["id"])
    assert launched.body["status"] == "complete"
    assert (launched.body["queued"], launched.body["duplicates"]) == (2, 0)
    assert launched.body["finished_at"] is not None
    campaign = client.get(f"/v1/campaigns/{scene.campaign_id}").body
    assert campaign["status"] == "active"
    progress = campaign["progress"]
    assert (progress["leads"], progress["requested"], progress["waiting"]) == (3, 2, 2)
    queued = send_ids(api.queued())
    assert len(queued) == len(set(queued)) == 2
    rows = api.admin.execute(
        "SELECT lead_id, from_address, body, enqueued_at FROM messages WHERE campaign_id = %s",
        (scene.campaign_id,),
    ).fetchall()
    assert {str(r["lead_id"]) for r in rows} == set(scene.lead_ids[:2])
    assert all(r["from_address"] == scene.numbers[0] and r["enqueued_at"] for r in rows)
    # launching again adds only leads imported since
    late = unique_number()
    client.post(f"/v1/campaigns/{scene.campaign_id}/leads", {"leads": [{"phone": late}]})
    again = api.launch(client, scene.campaign_id)
    assert (again.body["queued"], again.body["duplicates"]) == (1, 2)
    assert client.get(f"/v1/campaigns/{scene.campaign_id}").body["progress"]["requested"] == 3


def test_lead_import_json_and_csv_normalise_merge_and_reject(api: Api) -> None:
    client = api.tenant()
    scene = build_campaign(api, client, leads=0)
    json_import = client.post(
        f"/v1/campaigns/{scene.campaign_id}/leads",
        {
            "leads": [
                {"phone": "(415) 555-0134", "first_name": "Ana"},
                {"phone": "+1 415 555 0134", "email": "ana@example.com"},
                {"phone": "12", "first_name": "Short"},
                {"phone": "+14155550177", "timezone": "Mars/Olympus"},
            ]
        },
    )
    assert json_import.status == 200
    assert json_import.body["imported"] == 1
    assert json_import.body["merged"] == 1
    assert [(r["row"], r["value"]) for r in json_import.body["rejected"]] == [
        (3, "12"),
        (4, "+14155550177"),
    ]
    csv_text = "Phone,first_name,last_name,company\n415-555-0134,Zed,Lopez,Acme\n415.555.0199,Bo,,\nnope,,,\n"
    csv_import = client.post(
        f"/v1/campaigns/{scene.campaign_id}/leads/csv", raw=csv_text, content_type="text/csv"
    )
    assert csv_import.status == 200, csv_import
    assert (csv_import.body["imported"], csv_import.body["merged"]) == (1, 1)
    assert csv_import.body["rejected"] == [
        {"row": 3, "value": "nope", "reason": "not a phone number"}
    ]
    lead = api.admin.execute(
        "SELECT id, first_name, last_name, email, company, attributes FROM leads"
        " WHERE phone = '+14155550134'"
        " AND campaign_id = %s",
        (scene.campaign_id,),
    ).fetchone()
    assert lead is not None
    # a merge fills what was empty and keeps what was there
    assert (lead["first_name"], lead["last_name"], lead["email"]) == (
        "Ana",
        "Lopez",
        "ana@example.com",
    )
    assert (lead["company"], lead["attributes"]) == ("Acme", {})  # company is a lead's own
    fetched = client.get(f"/v1/leads/{lead['id']}")
    assert fetched.status == 200
    assert fetched.body["phone"] == "+14155550134"
    no_phone = client.post(
        f"/v1/campaigns/{scene.campaign_id}/leads/csv", raw="name\nAna\n", content_type="text/csv"
    )
    assert no_phone.status == 422
    assert "phone column" in no_phone.body["message"]
    assert client.post(f"/v1/campaigns/{scene.campaign_id}/leads", {"leads": []}).status == 422


def test_trace_follows_campaign_assignment_messages_and_events(api: Api) -> None:
    client = api.tenant()
    scene = build_campaign(api, client, leads=1)
    api.launch(client, scene.campaign_id)
    message = api.admin.execute(
        "UPDATE messages SET status = 'sent', provider = 'sandbox', external_id = %s, sent_at = now()"
        " WHERE lead_id = %s RETURNING id, tenant_id",
        (f"SM{uuid.uuid4().hex}", scene.lead_ids[0]),
    ).fetchone()
    assert message is not None
    api.admin.execute(
        "INSERT INTO message_status_events (tenant_id, message_id, provider, external_id, status,"
        " occurred_at, applied_at) VALUES (%s, %s, 'sandbox', 'x', 'delivered', now(), now())",
        (message["tenant_id"], message["id"]),
    )
    api.admin.execute(
        "INSERT INTO lead_events (tenant_id, lead_id, event_type, previous_state, new_state)"
        " VALUES (%s, %s, 'FIRST_TOUCH', 'new', 'touched')",
        (message["tenant_id"], scene.lead_ids[0]),
    )
    trace = client.get(f"/v1/leads/{scene.lead_ids[0]}/trace")
    assert trace.status == 200
    (binding,) = trace.body["bindings"]
    assert binding["campaign_id"] == scene.campaign_id
    assert binding["phone_number"] == scene.numbers[0]
    (sent,) = trace.body["messages"]
    assert sent["assignment_id"] == binding["assignment_id"]
    assert sent["from_address"] == scene.numbers[0]
    assert sent["external_id"].startswith("SM")
    assert [h["status"] for h in sent["status_history"]] == ["delivered"]
    assert [e["event_type"] for e in trace.body["events"]] == ["FIRST_TOUCH"]


def test_lease_and_call_outcomes(api: Api) -> None:
    client = api.tenant()
    scene = build_campaign(api, client, leads=2, numbers=1, stage=False)
    lead = scene.lead_ids[0]
    leased = client.post(f"/v1/leads/{lead}/lease", {})
    assert leased.status == 201
    assert leased.body["phone_number"] == scene.numbers[0]
    assert leased.body["already_held"] is False
    assert client.post(f"/v1/leads/{lead}/lease", {}).body["already_held"] is True
    exhausted = client.post(f"/v1/leads/{scene.lead_ids[1]}/lease", {})
    assert exhausted.status == 409
    assert exhausted.body["error"] == "pool_exhausted"
    appointment = (NOW + timedelta(days=2)).isoformat()
    booked = client.post(
        f"/v1/leads/{lead}/call-outcome", {"outcome": "booked", "appointment_at": appointment}
    )
    assert booked.status == 200
    assert booked.body["release_at"].startswith((NOW + timedelta(days=3)).date().isoformat())
    missing_time = client.post(f"/v1/leads/{lead}/call-outcome", {"outcome": "booked"})
    assert missing_time.status == 422
    naive = client.post(
        f"/v1/leads/{lead}/call-outcome",
        {"outcome": "booked", "appointment_at": "2026-11-23T10:00:00"},
    )
    assert naive.status == 422
    assert naive.body["fields"][0]["field"] == "body.appointment_at"
    no_lease = client.post(f"/v1/leads/{scene.lead_ids[1]}/call-outcome", {"outcome": "no_answer"})
    assert no_lease.status == 404
    wrong = client.post(f"/v1/leads/{lead}/call-outcome", {"outcome": "maybe"})
    assert wrong.status == 422
    assert wrong.body["fields"][0]["field"] == "body.outcome"


def test_send_message_stores_once_per_send_key_and_queues(api: Api) -> None:
    client = api.tenant()
    scene = build_campaign(api, client, leads=1)
    request = {
        "campaign_id": scene.campaign_id,
        "lead_id": scene.lead_ids[0],
        "body": "Are you free Tuesday?",
        "send_key": "tuesday-1",
    }
    sent = client.post("/v1/messages", request)
    assert sent.status == 202
    assert sent.body["from_number"] == scene.numbers[0]
    assert sent.body["duplicate"] is False
    again = client.post("/v1/messages", request)
    assert again.body["message_id"] == sent.body["message_id"]
    assert again.body["duplicate"] is True
    assert len(api.queued()) == 1
    unstaged = build_campaign(api, client, leads=1, stage=False)
    refused = client.post(
        "/v1/messages",
        {"campaign_id": unstaged.campaign_id, "lead_id": unstaged.lead_ids[0], "body": "Hi"},
    )
    assert refused.status == 409
    assert refused.body["error"] == "sender_unavailable"
    bad_template = client.post("/v1/messages", {**request, "template": "a b:c"})
    assert bad_template.status == 422


def test_threads_notifications_call_queue_unmatched_and_audit(api: Api) -> None:
    client = api.tenant()
    scene = build_campaign(api, client, leads=1)
    seeded = seed_inbox(api.admin, client.tenant_id, scene)
    threads = client.get("/v1/threads", query={"unread": "true", "label": "interested"})
    assert [t["id"] for t in threads.body["items"]] == [seeded["thread_id"]]
    assert threads.body["items"][0]["workspace_stage"] == "initial_message"
    assert client.get("/v1/threads", query={"workspace_stage": "nudger"}).body["items"] == []
    thread = client.get(f"/v1/threads/{seeded['thread_id']}")
    assert thread.body["thread"]["next_step"] == "human_takeover"
    assert [m["body"] for m in thread.body["messages"]] == ["Yes, call me"]
    # what the console shows of each message beside its text
    (shown,) = thread.body["messages"]
    assert (shown["media_urls"], shown["not_before"], shown["error_reason"]) == ([], None, None)

    counts = client.get("/v1/notifications/unread-counts").body
    assert counts["counts"]["initial_message"] == 1
    assert counts["total"] == 1
    listed = client.get("/v1/notifications", query={"unread": "true"})
    assert [n["id"] for n in listed.body["items"]] == [seeded["notification_id"]]
    read = client.post(f"/v1/notifications/{seeded['notification_id']}/read")
    assert read.status == 200
    assert read.body["read_at"] is not None
    assert client.get("/v1/notifications/unread-counts").body["total"] == 0

    queue = client.get("/v1/call-queue")
    assert [c["id"] for c in queue.body["items"]] == [seeded["call_id"]]
    claimed = client.post("/v1/call-queue/claim", {"claimed_by": "agent-7"})
    assert claimed.body["entry"]["id"] == seeded["call_id"]
    assert claimed.body["entry"]["claimed_by"] == "agent-7"
    assert client.post("/v1/call-queue/claim", {"claimed_by": "agent-8"}).body == {"entry": None}

    unmatched = client.get("/v1/unmatched-inbound")
    assert [u["message_id"] for u in unmatched.body["items"]] == [seeded["unmatched_id"]]
    assigned = client.post(
        f"/v1/unmatched-inbound/{seeded['unmatched_id']}/assign", {"lead_id": scene.lead_ids[0]}
    )
    assert assigned.status == 200
    assert assigned.body["lead_id"] == scene.lead_ids[0]
    assert client.get("/v1/unmatched-inbound").body["items"] == []
    twice = client.post(
        f"/v1/unmatched-inbound/{seeded['unmatched_id']}/assign", {"lead_id": scene.lead_ids[0]}
    )
    assert twice.status == 409
    owner = api.admin.execute(
        "SELECT lead_id FROM messages WHERE id = %s", (seeded["unmatched_id"],)
    ).fetchone()
    assert owner is not None
    assert str(owner["lead_id"]) == scene.lead_ids[0]

    client.get(f"/v1/leads/{uuid.uuid4()}")
    audit = client.get("/v1/audit-log", query={"kind": "access_denied"})
    assert [(a["kind"], a["subject_type"]) for a in audit.body["items"]] == [
        ("access_denied", "lead")
    ]


def test_api_keys_issue_list_and_revoke(api: Api) -> None:
    client = api.tenant()
    issued = client.post("/v1/api-keys", {"name": "CRM sync"})
    assert issued.status == 201
    assert issued.body["key"].startswith("tth_")
    keys = client.get("/v1/api-keys").body["items"]
    assert sorted(k["name"] for k in keys) == ["CRM sync", "first key"]
    assert all("key" not in k for k in keys)
    revoked = client.post(f"/v1/api-keys/{issued.body['id']}/revoke")
    assert revoked.status == 200
    assert revoked.body["revoked_at"] is not None
    crm = type(client)(issued.body["key"])
    assert crm.get("/v1/campaigns").status == 401
    assert client.get("/v1/campaigns").status == 200


def test_unknown_route_is_a_json_404(api: Api) -> None:
    client = api.tenant()
    reply = client.get("/v1/nothing-here")
    assert reply.status == 404
    assert reply.body["error"] == "not_found"


def test_openapi_document_and_swagger_ui_are_served_without_a_key(api: Api) -> None:
    anonymous = type(api.tenant())(None)
    document = anonymous.get("/v1/openapi.json")
    assert document.status == 200
    assert document.body == json.loads((PROJECT_ROOT / "openapi.json").read_text())
    ui = anonymous.get("/v1/docs")
    assert ui.status == 200
    assert ui.headers["Content-Type"].startswith("text/html")
    assert "swagger" in ui.body.lower()
