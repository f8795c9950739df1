"""The demo scenario over HTTP against a stack started for this module, then what it
left: the database's state, and the sandbox's record of what it was asked to send
(exactly one text per send key, each from the number its lead is bound to in the
message's campaign)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest

from tests.support.dev_stack import DevStack
from tether.db.connection import connect
from tether_dev.local.demo import (
    EMAIL_LEAD,
    LEADS,
    MMS_LEAD,
    MMS_OUT_URL,
    MMS_PHOTO,
    NUMBERS,
    ONE_LEAD,
    POOL,
    STRANGER,
    WHATSAPP_LEAD,
    WHATSAPP_NUMBER,
    DemoApi,
    DemoRun,
    _call_step,
    create_tenant,
    run_demo,
)
from tether_dev.local.listeners import EventReceiver


@dataclass
class Demo:
    """One run of the demo for the module: each channel's test checks its own part."""

    run: DemoRun
    lines: list[str]
    receiver: EventReceiver
    recorded: set[str]  # the tenant's recorded events, once the receiver holds them


@pytest.fixture(scope="module")
def demo(dev_stack: DevStack) -> Iterator[Demo]:
    """The demo, run once for the module's checks (each channel's in its own test)."""
    lines: list[str] = []
    with EventReceiver() as receiver:
        run = run_demo(
            dev_stack.client, say=lines.append, environment=dev_stack.env, receiver=receiver
        )
        recorded = _every_event_received(dev_stack, run.tenant_id, receiver)
        yield Demo(run, lines, receiver, recorded)


def test_the_demo_runs_over_http_and_every_text_went_once_from_its_bound_number(
    dev_stack: DevStack, demo: Demo
) -> None:
    run, lines, receiver, recorded = demo.run, demo.lines, demo.receiver, demo.recorded
    assert "demo finished" in lines[-1]
    sms_leads = [number for number, _ in LEADS.values()]

    with connect(dev_stack.database_url, autocommit=True) as admin:
        states = {
            row["phone"]: (row["state"], row["campaign_id"])
            for row in admin.execute(
                "SELECT phone, state::text AS state, campaign_id::text AS campaign_id FROM leads"
                " WHERE tenant_id = %s AND phone = ANY(%s)",
                (run.tenant_id, sms_leads),
            )
        }
        messages = admin.execute(
            "SELECT m.id::text AS id, m.send_key, m.from_address, m.to_address, m.status,"
            " m.external_id, b.phone_number AS bound"
            " FROM messages m JOIN lead_sender_bindings b"
            "   ON b.lead_id = m.lead_id AND b.campaign_id = m.campaign_id"
            "   AND b.channel = m.sender_channel"
            " WHERE m.tenant_id = %s AND m.direction = 'outbound' AND m.channel <> 'whatsapp'"
            " AND m.to_address <> %s",
            (run.tenant_id, MMS_LEAD[1]),
        ).fetchall()
        unmatched = admin.execute(
            "SELECT m.from_address FROM unmatched_inbound u JOIN messages m ON m.id = u.message_id"
            " WHERE u.tenant_id = %s",
            (run.tenant_id,),
        ).fetchall()
        calls = admin.execute(
            "SELECT l.phone, c.status FROM call_queue c JOIN leads l ON l.id = c.lead_id"
            " WHERE c.tenant_id = %s AND l.phone = ANY(%s)",
            (run.tenant_id, sms_leads),
        ).fetchall()
        leases = admin.execute(
            "SELECT count(*) AS held FROM phone_numbers WHERE tenant_id = %s"
            " AND currently_assigned_to = %s",
            (run.tenant_id, run.leads["Ana"]),
        ).fetchone()

    phone = {name: number for name, (number, _) in LEADS.items()}
    assert states == {
        phone["Ana"]: ("high_intent", run.gianna),
        phone["Ben"]: ("email_captured", run.gianna),
        phone["Cleo"]: ("suppressed", run.gianna),
        phone["Dan"]: ("touched", run.cathy),  # escalated at 7 days to CATHY's campaign
        phone["Eve"]: ("touched", run.cathy),
    }
    assert [row["from_address"] for row in unmatched] == [STRANGER]
    assert [(row["phone"], row["status"]) for row in calls] == [(phone["Ana"], "queued")]
    assert leases == {"held": 0}  # Ana's: leased for the call, released after two missed calls

    # 5 first texts, Cleo's one opt-out confirmation, Dan's and Eve's nudges, Ben's follow-up
    texts_by_lead = _count(row["to_address"] for row in messages)
    assert texts_by_lead == {
        phone["Ana"]: 1,
        phone["Ben"]: 2,
        phone["Cleo"]: 2,
        phone["Dan"]: 2,
        phone["Eve"]: 2,
    }
    assert all(row["status"] == "delivered" for row in messages), messages
    assert all(row["from_address"] == row["bound"] for row in messages)
    assert {row["from_address"] for row in messages} <= set(NUMBERS)

    texts = [
        t
        for t in dev_stack.client.texts(run.account_id)
        if t["channel"] != "whatsapp" and t["to"] != MMS_LEAD[1]
    ]
    by_key = _count(text["idempotency_key"] for text in texts)
    assert by_key == {row["id"]: 1 for row in messages}  # one text per send, none twice
    sent_from = {text["idempotency_key"]: (text["from"], text["sid"]) for text in texts}
    assert all(
        sent_from[row["id"]] == (row["bound"], row["external_id"]) for row in messages
    )  # the provider saw each from its bound number, under the SID Tether stored
    assert len({row["send_key"] for row in messages}) == len(messages)

    # Cleo's STOP went out as lead.opted_out: EventsQueue, deliver_events, the event bus
    # (moto), and the template's example rule onto OptOutEventsQueue
    opted_out = _opt_outs(dev_stack, run.tenant_id)
    assert [event["detail"]["data"]["phone"] for event in opted_out] == [phone["Cleo"]]
    assert opted_out[0]["detail-type"] == "lead.opted_out"

    # every event of the day reached the subscribed receiver, each under one webhook-id
    # and verified there by the standardwebhooks library; every type the day makes is in
    assert {envelope["id"] for envelope in receiver.events.values()} == recorded
    assert receiver.refused == 0
    assert set(receiver.by_type()) == {
        "campaign.launch_progress", "message.status_changed", "reply.received",
        "lead.state_changed", "lead.opted_out", "call.queued", "lease.acquired",
        "lease.released",
    }  # fmt: skip
    # and the bell went up over the WebSocket after the replies, for the reply's stage
    bells = [bell for bell in run.bells if bell["stage"] == "initial_message"]
    assert bells
    assert bells[-1]["counts"]["initial_message"] >= 1
    assert bells[-1]["event"]["type"] == "reply.received"


def test_call_outcomes_reported_by_webhook_move_the_leases_with_no_api_call(
    dev_stack: DevStack,
) -> None:
    """The demo's call step on a tenant of its own: the sandbox posts a signed VAPI
    end-of-call report (Ben booked) and two Twilio-style status callbacks (Eve: no
    answer, busy); the webhook and inbound functions move the leases."""
    stack, lines = dev_stack.client, list[str]()
    tenant_id, key = create_tenant(stack, f"Calls {time.time_ns()}", dev_stack.env)
    api, run = DemoApi(stack, key), DemoRun(tenant_id, key)
    account = api("POST", "/v1/provider-accounts", {"provider": "sandbox", "name": "Sandbox"})
    api("POST", "/v1/phone-numbers", {"provider_account_id": account["id"], "pool": POOL,
        "numbers": [{"number": n} for n in NUMBERS[:2]]})  # fmt: skip
    campaign = api("POST", "/v1/campaigns", {"name": "Calls", "workspace_stage": "book_appointment",
        "ai_worker": "sabrina", "pool": POOL, "template": "Hi"})  # fmt: skip
    api("POST", f"/v1/campaigns/{campaign['id']}/leads", {"leads": [
        {"phone": LEADS[name][0], "first_name": name} for name in ("Ben", "Eve")]})  # fmt: skip
    listed = api("GET", f"/v1/leads?campaign_id={campaign['id']}")["items"]
    run.leads = {lead["first_name"]: lead["id"] for lead in listed}

    _call_step(stack, api, run, lines.append, lines.append, 30.0)

    with connect(dev_stack.database_url, autocommit=True) as admin:
        numbers = {
            row["lead"]: row
            for row in admin.execute(
                "SELECT coalesce(l.first_name, '') AS lead, p.currently_assigned_to,"
                " p.release_at, p.last_call_outcome, p.appointment_scheduled_at"
                " FROM phone_numbers p LEFT JOIN leads l ON l.id = p.currently_assigned_to"
                " WHERE p.tenant_id = %s",
                (tenant_id,),
            )
        }
        calls = admin.execute(
            "SELECT provider, outcome, state FROM call_outcomes WHERE tenant_id = %s"
            " ORDER BY provider, outcome",
            (tenant_id,),
        ).fetchall()
        released = admin.execute(
            "SELECT payload->>'reason' AS reason FROM lead_events WHERE tenant_id = %s"
            " AND lead_id = %s AND event_type = 'NUMBER_RELEASED'",
            (tenant_id, run.leads["Eve"]),
        ).fetchall()
    ben = numbers["Ben"]
    assert ben["last_call_outcome"] == "booked"
    assert ben["release_at"] - ben["appointment_scheduled_at"] == timedelta(hours=24)
    assert "Eve" not in numbers  # her number went back to the pool
    assert [r["reason"] for r in released] == ["no_answer"]
    assert [tuple(c.values()) for c in calls] == [
        ("twilio", "no_answer", "applied"),
        ("twilio", "no_answer", "applied"),
        ("vapi", "booked", "applied"),
    ]
    assert any("leases after the calls" in line for line in lines)


def test_the_demo_writes_to_ben_on_whatsapp_within_its_window(
    dev_stack: DevStack, demo: Demo
) -> None:
    run = demo.run
    assert "template" in run.whatsapp["refused"]
    with connect(dev_stack.database_url, autocommit=True) as admin:
        rows = admin.execute(
            "SELECT m.id::text AS id, m.direction, m.channel, m.status, m.from_address,"
            " m.to_address, m.whatsapp_template_id IS NOT NULL AS templated,"
            " t.channel AS thread_channel, b.phone_number AS bound"
            " FROM messages m JOIN threads t ON t.id = m.thread_id"
            " LEFT JOIN lead_sender_bindings b ON b.lead_id = m.lead_id"
            "   AND b.campaign_id = m.campaign_id AND b.channel = m.sender_channel"
            " WHERE m.tenant_id = %s AND m.channel = 'whatsapp' ORDER BY m.created_at",
            (run.tenant_id,),
        ).fetchall()
    phone = LEADS[WHATSAPP_LEAD][0]
    outbound = [r for r in rows if r["direction"] == "outbound"]
    inbound = [r for r in rows if r["direction"] == "inbound"]
    assert [r["id"] for r in outbound[:1]] == run.whatsapp["messages"][:1]
    assert run.whatsapp["messages"][1] in {r["id"] for r in outbound}
    assert outbound[0]["templated"]  # outside the window: the approved template
    assert all(r["thread_channel"] == "whatsapp" for r in rows)
    assert all(
        (r["from_address"], r["to_address"], r["bound"])
        == (WHATSAPP_NUMBER, phone, WHATSAPP_NUMBER)
        for r in outbound
    )
    assert all(r["status"] == "read" for r in outbound if r["id"] in run.whatsapp["messages"])
    assert [(r["from_address"], r["to_address"]) for r in inbound] == [(phone, WHATSAPP_NUMBER)]
    # the sandbox was asked for each once, as WhatsApp, the first by its Content SID
    texts = {
        t["idempotency_key"]: t
        for t in dev_stack.client.texts(run.account_id)
        if t["channel"] == "whatsapp"
    }
    assert set(texts) == {r["id"] for r in outbound}
    assert texts[outbound[0]["id"]]["content_sid"] == "HX00000000000000000000000000000001"


def test_the_demo_sends_an_mms_and_reads_back_the_copy_of_one_it_received(
    dev_stack: DevStack, demo: Demo
) -> None:
    run = demo.run
    # the photo came back through the presigned URL byte for byte
    assert run.mms_fetched == MMS_PHOTO
    [attachment] = run.mms_message["attachments"]
    assert (attachment["content_type"], attachment["size_bytes"]) == ("image/png", len(MMS_PHOTO))
    with connect(dev_stack.database_url, autocommit=True) as admin:
        rows = admin.execute(
            "SELECT m.direction, m.channel, m.our_address, m.from_address, m.to_address,"
            " m.segments, m.status, b.phone_number AS bound, t.channel AS thread_channel,"
            " array_agg(a.url ORDER BY ma.position) FILTER (WHERE a.id IS NOT NULL) AS urls,"
            " array_agg(a.copy_state ORDER BY ma.position) FILTER (WHERE a.id IS NOT NULL) AS copies"
            " FROM messages m JOIN threads t ON t.id = m.thread_id"
            " JOIN lead_sender_bindings b ON b.lead_id = m.lead_id AND b.campaign_id = m.campaign_id"
            " LEFT JOIN message_attachments ma ON ma.message_id = m.id"
            " LEFT JOIN attachments a ON a.id = ma.attachment_id"
            " WHERE m.lead_id = %s GROUP BY m.id, b.phone_number, t.channel ORDER BY m.created_at",
            (run.mms_lead,),
        ).fetchall()
    mms = [r for r in rows if r["channel"] == "mms"]
    assert [(r["direction"], r["copies"]) for r in mms] == [
        ("outbound", ["none"]),  # passed on to the provider, not copied
        ("inbound", ["stored"]),
    ]
    out, back = mms
    assert out["urls"] == [MMS_OUT_URL]
    assert (out["segments"], out["status"]) == (1, "delivered")
    # both bound to the lead's number, on one SMS thread
    assert out["from_address"] == out["bound"] == out["our_address"] == back["our_address"]
    assert {r["thread_channel"] for r in rows} == {"sms"}
    sent = [t for t in dev_stack.client.texts(run.account_id) if t["to"] == MMS_LEAD[1]]
    assert [t["media_urls"] for t in sent if t["media_urls"]] == [[MMS_OUT_URL]]


def test_a_lead_replies_by_email_with_a_phone_number_and_a_number_is_leased(
    dev_stack: DevStack, demo: Demo
) -> None:
    """The email step (seed 001): the .eml went through the stack's email drop (moto S3,
    the inbound_email function, InboundQueue, the inbound function) to Gus's email
    thread, and a number of the pool is leased to him."""
    run = demo.run
    name, phone, address, _ = EMAIL_LEAD
    with connect(dev_stack.database_url, autocommit=True) as admin:
        lead = admin.execute(
            "SELECT id::text AS id, state::text AS state, assigned_phone_number_id::text AS leased"
            " FROM leads WHERE tenant_id = %s AND phone = %s",
            (run.tenant_id, phone),
        ).fetchone()
        messages = admin.execute(
            "SELECT m.channel, m.provider, m.from_address, m.to_address, m.subject,"
            " t.channel AS thread_channel, t.our_address, t.their_address"
            " FROM messages m JOIN threads t ON t.id = m.thread_id"
            " WHERE m.tenant_id = %s AND m.lead_id = %s",
            (run.tenant_id, run.email_lead),
        ).fetchall()
        held = admin.execute(
            "SELECT id::text AS id FROM phone_numbers WHERE currently_assigned_to = %s",
            (run.email_lead,),
        ).fetchall()
        # every mail the demo dropped (Gus's, and Ben's on his page) stored once
        receipts = admin.execute(
            "SELECT count(*) AS n, (SELECT count(*) FROM messages WHERE tenant_id = %(t)s"
            " AND channel = 'email') AS mails FROM webhook_receipts"
            " WHERE tenant_id = %(t)s AND provider = 'ses'",
            {"t": run.tenant_id},
        ).fetchone()
    assert lead == {"id": run.email_lead, "state": "high_intent", "leased": run.email_lease}
    assert [row["id"] for row in held] == [run.email_lease]
    assert messages == [
        {
            "channel": "email",
            "provider": "ses",
            "from_address": address,
            "to_address": run.reply_mailbox,
            "subject": "Re: Cathy from Acme",
            "thread_channel": "email",
            "our_address": run.reply_mailbox,
            "their_address": address,
        }
    ]
    assert receipts == {"n": 2, "mails": 2}
    # the drop was taken once, and the event went out with its channel
    drop = Path(dev_stack.state["mail_drop"])
    assert f"{name.lower()}-reply.eml" in [p.name for p in (drop / "done").iterdir()]
    assert not list(drop.glob("*.eml"))
    replies = [
        e["data"]
        for e in demo.receiver.events.values()
        if e["type"] == "reply.received" and e["data"].get("lead_id") == run.email_lead
    ]
    assert [(r["channel"], r["from"]) for r in replies] == [("email", address)]
    assert any(f"{name} is high_intent" in line for line in demo.lines)


def _every_event_received(
    stack: DevStack, tenant_id: str, receiver: EventReceiver, wait_seconds: float = 30.0
) -> set[str]:
    """The tenant's recorded events, once the receiver holds them all (or the wait ends)."""
    deadline = time.monotonic() + wait_seconds
    with connect(stack.database_url, autocommit=True) as admin:
        while True:
            recorded = {
                str(row["id"])
                for row in admin.execute(
                    "SELECT id FROM outbox_events WHERE tenant_id = %s", (tenant_id,)
                )
            }
            if recorded <= receiver.event_ids() or time.monotonic() > deadline:
                return recorded
            time.sleep(0.25)


def _opt_outs(stack: DevStack, tenant_id: str, wait_seconds: float = 10.0) -> list[dict[str, Any]]:
    """What the example rule put on OptOutEventsQueue for the tenant's leads."""
    sqs = boto3.session.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1"
    ).client("sqs", endpoint_url=stack.state["aws_endpoint_url"])
    url = stack.state["queues"]["OptOutEventsQueue"]
    with connect(stack.database_url, autocommit=True) as admin:
        leads = {
            str(row["id"])
            for row in admin.execute("SELECT id FROM leads WHERE tenant_id = %s", (tenant_id,))
        }
    found: list[dict[str, Any]] = []
    deadline = time.monotonic() + wait_seconds
    while not found and time.monotonic() < deadline:
        for message in sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1
        ).get("Messages", []):
            event = json.loads(message["Body"])
            if event["detail"]["data"].get("lead_id") in leads:
                found.append(event)
    return found


def _count(values: Any) -> dict[Any, int]:
    counts: dict[Any, int] = {}
    for value in values:
        counts[value] = counts.get(value, 0) + 1
    return counts


def test_one_lead_page_lists_every_channel_with_its_bound_address(
    dev_stack: DevStack, demo: Demo
) -> None:
    """Issue 18's lead page: Ben's trace holds his SMS, WhatsApp and email messages, each
    bound to one address of ours: the SMS sender he is bound to, the WhatsApp sender,
    the tenant's reply mailbox."""
    run = demo.run
    with connect(dev_stack.database_url, autocommit=True) as admin:
        sms_sender = admin.execute(
            "SELECT phone_number FROM lead_sender_bindings WHERE lead_id = %s"
            " AND campaign_id = %s AND channel = 'sms'",
            (run.leads[ONE_LEAD[0]], run.gianna),
        ).fetchone()
    assert sms_sender is not None
    bound = {(channel, direction): ours for channel, direction, ours in run.one_lead}
    assert {channel for channel, _ in bound} == {"sms", "whatsapp", "email"}
    assert bound[("sms", "outbound")] == sms_sender["phone_number"]
    assert bound[("whatsapp", "outbound")] == bound[("whatsapp", "inbound")] == WHATSAPP_NUMBER
    assert bound[("email", "inbound")] == run.reply_mailbox
    assert ("email", "outbound") not in bound  # Tether sends no email
