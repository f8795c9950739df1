"""The demo scenario over HTTP against a stack started for this module, then what it
left: the database's state, and the sandbox's record of what it was asked to send
(exactly one text per send key, each from the number its lead is bound to in the
message's campaign)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest

from tests.support.dev_stack import DevStack
from tether.db.connection import connect
from tether_dev.local.demo import EMAIL_LEAD, LEADS, NUMBERS, STRANGER, DemoRun, run_demo
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
    lines: list[str] = []
    with EventReceiver() as receiver:
        run = run_demo(
            dev_stack.client, say=lines.append, environment=dev_stack.env, receiver=receiver
        )
        yield Demo(run, lines, receiver, _every_event_received(dev_stack, run.tenant_id, receiver))


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
            " WHERE m.tenant_id = %s AND m.direction = 'outbound'",
            (run.tenant_id,),
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
            " AND currently_assigned_to IS NOT NULL AND currently_assigned_to <> %s",
            (run.tenant_id, run.email_lead),  # the email step's lease is its own test's
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
    assert leases == {"held": 0}  # leased for the call, released after two missed calls

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

    texts = dev_stack.client.texts(run.account_id)
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


def test_a_lead_replies_by_email_with_a_phone_number_and_a_number_is_leased(
    dev_stack: DevStack, demo: Demo
) -> None:
    """The email step (seed 001): the .eml went through the stack's email drop (moto S3,
    the inbound_email function, InboundQueue, the inbound function) to Fay's email
    thread, and a number of the pool is leased to her."""
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
        receipts = admin.execute(
            "SELECT count(*) AS n FROM webhook_receipts WHERE tenant_id = %s AND provider = 'ses'",
            (run.tenant_id,),
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
    assert receipts == {"n": 1}
    # the drop was taken once, and the event went out with its channel
    drop = Path(dev_stack.state["mail_drop"])
    assert [p.name for p in (drop / "done").iterdir()] == [f"{name.lower()}-reply.eml"]
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
