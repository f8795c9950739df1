"""The demo scenario over HTTP against a stack started for this module, then what it
left: the database's state, and the sandbox's record of what it was asked to send
(exactly one text per send key, each from the number its lead is bound to in the
message's campaign)."""

from __future__ import annotations

import time
import uuid
from typing import Any

from tests.support.dev_stack import DevStack
from tests.support.factories import unique_number
from tether.db.connection import connect
from tether.domain.templates import Variant, choose_variant
from tether_dev.local.demo import LEADS, NUMBERS, STRANGER, DemoApi, create_tenant, run_demo


def test_the_demo_runs_over_http_and_every_text_went_once_from_its_bound_number(
    dev_stack: DevStack,
) -> None:
    lines: list[str] = []
    run = run_demo(dev_stack.client, say=lines.append, environment=dev_stack.env)
    assert "demo finished" in lines[-1]

    with connect(dev_stack.database_url, autocommit=True) as admin:
        states = {
            row["phone"]: (row["state"], row["campaign_id"])
            for row in admin.execute(
                "SELECT phone, state::text AS state, campaign_id::text AS campaign_id FROM leads"
                " WHERE tenant_id = %s",
                (run.tenant_id,),
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
            " WHERE c.tenant_id = %s",
            (run.tenant_id,),
        ).fetchall()
        leases = admin.execute(
            "SELECT count(*) AS held FROM phone_numbers WHERE tenant_id = %s"
            " AND currently_assigned_to IS NOT NULL",
            (run.tenant_id,),
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


def _count(values: Any) -> dict[Any, int]:
    counts: dict[Any, int] = {}
    for value in values:
        counts[value] = counts.get(value, 0) + 1
    return counts


def test_a_campaign_with_merge_fields_and_two_variants_sends_each_lead_its_own_text(
    dev_stack: DevStack,
) -> None:
    """Issue 15 (templates): launched over HTTP, every lead's text reaches the sandbox
    once, rendered for that lead from its variant, as Tether stored it."""
    stack = dev_stack.client
    _, key = create_tenant(stack, f"Templates {uuid.uuid4().hex[:6]}", dev_stack.env)
    api = DemoApi(stack, key)
    api("PATCH", "/v1/settings", {"quiet_hours_start": "00:00", "quiet_hours_end": "23:59:59",
                                   "quiet_hours_wider_attested": True,
                                   "send_segments_per_second": None})  # fmt: skip
    account = api("POST", "/v1/provider-accounts", {"provider": "sandbox", "name": "Sandbox",
                  "signing_secret": str(stack.state["sandbox_signing_secret"])})  # fmt: skip
    api("PUT", f"/v1/provider-accounts/{account['id']}/secrets", {"credentials": {
        "account_id": account["id"], "api_token": str(stack.state["sandbox_api_token"]),
        "base_url": stack.sandbox_url}})  # fmt: skip
    numbers = [unique_number(), unique_number()]
    api("POST", "/v1/phone-numbers", {"provider_account_id": account["id"], "pool": "Templates",
        "numbers": [{"number": n} for n in numbers]})  # fmt: skip
    variants = [
        {"name": "warm", "template": "Hi {first_name|there}, {sender_name} of {company|Acme}.",
         "weight": 3},
        {"name": "brief", "template": "{first_name|Hello}! {{{custom.city|your town}}}"},
    ]  # fmt: skip
    campaign = api("POST", "/v1/campaigns", {"name": "Spring", "pool": "Templates",
                   "variants": variants, "sender_name": "Sam"})  # fmt: skip
    api("POST", f"/v1/campaigns/{campaign['id']}/stage", {"rotation_numbers": 1})
    leads = [
        {"phone": unique_number(), "first_name": f"Ana{n}", "attributes": {"city": "Oakland"}}
        if n % 2
        else {"phone": unique_number(), "company": "Zed Co"}
        for n in range(24)
    ]
    api("POST", f"/v1/campaigns/{campaign['id']}/leads", {"leads": leads})
    assert api("POST", f"/v1/campaigns/{campaign['id']}/launch")["queued_now"] == len(leads)

    def delivered() -> bool:
        progress = api("GET", f"/v1/campaigns/{campaign['id']}")["progress"]
        return bool(progress["delivered"] == len(leads))

    deadline = time.monotonic() + 60
    while not delivered():
        assert time.monotonic() < deadline, "the launch was not delivered in 60 s"
        time.sleep(0.3)

    with connect(dev_stack.database_url, autocommit=True) as admin:
        messages = admin.execute(
            "SELECT m.id::text AS id, m.body, m.variant, m.from_address, l.id AS lead_id,"
            " l.first_name, l.company, b.phone_number AS bound FROM messages m"
            " JOIN leads l ON l.id = m.lead_id JOIN lead_sender_bindings b"
            "   ON b.lead_id = m.lead_id AND b.campaign_id = m.campaign_id"
            " WHERE m.campaign_id = %s",
            (campaign["id"],),
        ).fetchall()
    weights = [Variant("warm", "", 3), Variant("brief", "", 1)]
    for row in messages:
        variant = choose_variant(uuid.UUID(campaign["id"]), row["lead_id"], weights).name
        assert row["variant"] == variant
        name = row["first_name"]
        assert row["body"] == (
            f"Hi {name or 'there'}, Sam of {row['company'] or 'Acme'}."
            if variant == "warm"
            else f"{name or 'Hello'}! {{{'Oakland' if name else 'your town'}}}"
        )
    assert {row["variant"] for row in messages} == {"warm", "brief"}
    # the sandbox lists every account's texts (its list ignores the account): ours only
    texts = [text for text in stack.texts(account["id"]) if text["account_id"] == account["id"]]
    assert _count(text["idempotency_key"] for text in texts) == {row["id"]: 1 for row in messages}
    seen = {text["idempotency_key"]: (text["body"], text["from"]) for text in texts}
    assert all(seen[row["id"]] == (row["body"], row["bound"]) for row in messages)
