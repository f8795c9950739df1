"""A campaign on the local stack, end to end (issue 15): two weighted variants with merge
fields launched (202, fanned out through LaunchQueue) to its leads, each lead's rendered
text in the sandbox's own record exactly once from the lead's bound number, its status
callbacks back only because the send asked for them (the record shows the URL each send
named; Tether's status history has what the sandbox posted there), and the campaign's,
variants' and numbers' results equal a count of that record.

`make test` runs it at 100 leads (its time budget); `TETHER_E2E_CAMPAIGN_LEADS=1000`
runs the issue's size."""

from __future__ import annotations

import os
import time
import uuid
from collections import Counter
from collections.abc import Callable
from typing import Any, TypeVar

from tests.support.dev_stack import DevStack
from tether.db.connection import connect
from tether.domain.templates import Variant, choose_variant
from tether_dev.local.demo import DemoApi, create_tenant

LEADS = int(os.environ.get("TETHER_E2E_CAMPAIGN_LEADS", "100"))
NUMBERS = ["+14155550181", "+14155550182", "+14155550183"]
# two variants, 3:1, with merge fields and fallbacks (README, "Templates")
VARIANTS: list[dict[str, Any]] = [
    {"name": "warm", "weight": 3,
     "template": "Hi {first_name|there}, it's {sender_name} from {company|Acme Homes}."
                 " Still thinking of selling this year?"},
    {"name": "brief", "weight": 1,
     "template": "{first_name|Hello}! Is your place in {custom.city|town} still for sale?"},
]  # fmt: skip


def rendered(variant: str, lead: dict[str, Any]) -> str:
    """What each variant says to a lead, written out here rather than rendered by Tether."""
    first = lead.get("first_name") or None
    if variant == "warm":
        return (
            f"Hi {first or 'there'}, it's Gianna from {lead.get('company') or 'Acme Homes'}."
            " Still thinking of selling this year?"
        )
    city = (lead.get("attributes") or {}).get("city")
    return f"{first or 'Hello'}! Is your place in {city or 'town'} still for sale?"


def lead_rows(phones: list[str]) -> list[dict[str, Any]]:
    """Every third lead has a first name and a city, every third a company, the rest
    nothing: each fallback is taken somewhere."""
    rows: list[dict[str, Any]] = []
    for i, phone in enumerate(phones):
        row: dict[str, Any] = {"phone": phone}
        if i % 3 == 0:
            row |= {"first_name": f"Ana{i}", "attributes": {"city": "Oakland"}}
        elif i % 3 == 1:
            row["company"] = f"Co {i}"
        rows.append(row)
    return rows


REPLIES = 10  # the first leads answer; the first of them opts out
AREAS = ["212", "312", "617", "303"]
WAIT_SECONDS = max(150.0, LEADS * 0.6)  # the local stack sends one text at a time

T = TypeVar("T")


def eventually(probe: Callable[[], T | None], timeout: float = WAIT_SECONDS) -> T:
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not true after {timeout}s: {probe.__doc__ or probe}")
        time.sleep(0.5)


def lead_phones() -> list[str]:
    return [f"+1{AREAS[i % len(AREAS)]}555{100 + i // len(AREAS):04d}" for i in range(LEADS)]


def test_a_launched_campaigns_texts_callbacks_and_results_match_the_sandboxs_record(
    dev_stack: DevStack,
) -> None:
    stack = dev_stack.client
    tenant_id, key = create_tenant(stack, "Results", dev_stack.env)
    api = DemoApi(stack, key)
    api("PATCH", "/v1/settings", {"quiet_hours_start": "00:00", "quiet_hours_end": "23:59:59",
                                  "quiet_hours_wider_attested": True,
                                  "send_segments_per_second": None, "brand_name": "Acme Homes",
                                  "help_contact": "help@acme.example"})  # fmt: skip
    account = api("POST", "/v1/provider-accounts", {
        "provider": "sandbox", "name": "Sandbox",
        "signing_secret": str(stack.state["sandbox_signing_secret"])})  # fmt: skip
    account_id = account["id"]
    api("PUT", f"/v1/provider-accounts/{account_id}/secrets", {"credentials": {
        "account_id": account_id, "api_token": str(stack.state["sandbox_api_token"]),
        "base_url": stack.sandbox_url}})  # fmt: skip
    api("POST", "/v1/phone-numbers", {"provider_account_id": account_id, "pool": "Results",
                                      "numbers": [{"number": n} for n in NUMBERS]})  # fmt: skip
    campaign = api("POST", "/v1/campaigns", {"name": "Spring", "pool": "Results",
                                             "variants": VARIANTS, "sender_name": "Gianna"})  # fmt: skip
    campaign_id = campaign["id"]
    api("POST", f"/v1/campaigns/{campaign_id}/stage", {"rotation_numbers": len(NUMBERS) - 1})
    phones = lead_phones()
    leads = lead_rows(phones)
    by_phone = {lead["phone"]: lead for lead in leads}
    for start in range(0, LEADS, 5000):  # an import takes 5,000 leads at most
        imported = api("POST", f"/v1/campaigns/{campaign_id}/leads",
                       {"leads": leads[start:start + 5000]})  # fmt: skip
        assert imported["imported"] == len(leads[start : start + 5000]), imported
    launch = api("POST", f"/v1/campaigns/{campaign_id}/launch", expect=(202,))

    def all_sent() -> list[dict[str, Any]] | None:
        """every lead's text is stored, sent and in the sandbox's record"""
        texts = stack.texts(account_id)
        return texts if len(texts) >= LEADS else None

    eventually(all_sent)
    with connect(dev_stack.database_url, autocommit=True) as admin:

        def delivered() -> list[dict[str, Any]] | None:
            """every send's status callbacks came back: delivered"""
            rows = admin.execute(
                "SELECT m.id, m.external_id, m.to_address, m.from_address, m.status, m.body,"
                " m.variant, m.lead_id, b.phone_number AS bound"
                " FROM messages m JOIN lead_sender_bindings b"
                "   ON b.lead_id = m.lead_id AND b.campaign_id = m.campaign_id"
                " WHERE m.tenant_id = %s AND m.campaign_id = %s AND m.direction = 'outbound'",
                (tenant_id, campaign_id),
            ).fetchall()
            done = len(rows) == LEADS and all(r["status"] == "delivered" for r in rows)
            return rows if done else None

        messages = eventually(delivered)
        history = admin.execute(
            "SELECT external_id, array_agg(status ORDER BY occurred_at, status) AS statuses"
            " FROM message_status_events WHERE tenant_id = %s GROUP BY external_id",
            (tenant_id,),
        ).fetchall()

    progress = api("GET", f"/v1/campaigns/{campaign_id}/launches/{launch['id']}")
    assert (progress["status"], progress["queued"], progress["skipped"]) == (
        "complete",
        LEADS,
        {},
    ), progress
    texts = stack.texts(account_id)
    # the sandbox's record: each lead's own text exactly once, from its bound number, in
    # the variant its lead is dealt (a stable hash of campaign and lead, 3:1)
    assert sorted(t["to"] for t in texts) == sorted(phones)
    by_sid = {t["sid"]: t for t in texts}
    assert {m["external_id"] for m in messages} == set(by_sid)
    weights = [Variant(v["name"], "", v["weight"]) for v in VARIANTS]
    for message in messages:
        text = by_sid[message["external_id"]]
        assert text["to"] == message["to_address"]
        assert text["from"] == message["from_address"] == message["bound"]
        dealt = choose_variant(uuid.UUID(campaign_id), message["lead_id"], weights).name
        assert message["variant"] == dealt
        assert text["body"] == message["body"] == rendered(dealt, by_phone[text["to"]])
    dealt_counts = Counter(m["variant"] for m in messages)
    assert set(dealt_counts) == {"warm", "brief"}, dealt_counts
    # each send named the account's webhook as its status callback; the statuses Tether
    # recorded are the ones the sandbox posts there, for every send
    callback = f"{dev_stack.gateway}/webhooks/sandbox/{account_id}"
    assert {t["status_callback"] for t in texts} == {callback}
    statuses = {row["external_id"]: set(row["statuses"]) for row in history}
    assert set(statuses) == set(by_sid)
    assert all({"sent", "delivered"} <= s for s in statuses.values()), statuses

    # some leads answer (the first of them with STOP), through the sandbox and the webhook
    answering = sorted(texts, key=lambda t: t["to"])[:REPLIES]
    for index, text in enumerate(answering):
        stack.reply(
            lead=text["to"], to=text["from"], text="STOP" if index == 0 else "Sure, tell me more"
        )

    def answered() -> dict[str, Any] | None:
        """every reply is processed, and counted"""
        stats = api("GET", f"/v1/campaigns/{campaign_id}/stats")
        return stats if stats["overall"]["replies"] == REPLIES else None

    stats = eventually(answered, 60.0)
    overall = stats["overall"]
    record = stack.texts(account_id)
    campaign_texts = [t for t in record if t["sid"] in by_sid]
    assert overall["requested"] == overall["sent"] == len(campaign_texts) == LEADS
    assert overall["delivered"] == len(campaign_texts)
    assert (overall["failed"], overall["waiting"], overall["failed_by_kind"]) == (0, 0, {})
    assert overall["contacts"] == len({t["to"] for t in campaign_texts})
    assert overall["replies"] == REPLIES
    assert overall["reply_rate"] == round(REPLIES / LEADS, 4)
    assert overall["opt_outs"] == 1
    assert overall["median_seconds_to_first_reply"] > 0
    variant_of = {m["external_id"]: m["variant"] for m in messages}
    sent_per_variant = Counter(variant_of[t["sid"]] for t in campaign_texts)
    assert {name: figures["sent"] for name, figures in stats["by_variant"].items()} == dict(
        sent_per_variant
    )
    replied = Counter(variant_of[t["sid"]] for t in answering)
    assert {name: figures["replies"] for name, figures in stats["by_variant"].items()} == {
        name: replied.get(name, 0) for name in sent_per_variant
    }
    # per number: what the sandbox took from each
    from_each = Counter(t["from"] for t in campaign_texts)
    numbers = {n["e164"]: n["id"] for n in api("GET", "/v1/phone-numbers")["items"]}
    for number, count in from_each.items():
        per_number = api("GET", f"/v1/phone-numbers/{numbers[number]}/stats")["overall"]
        assert (per_number["sent"], per_number["delivered"]) == (count, count)
    assert sum(from_each.values()) == LEADS
