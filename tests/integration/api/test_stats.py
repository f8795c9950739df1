"""Results (issue 15): GET /v1/campaigns/{id}/stats and /v1/phone-numbers/{id}/stats
count the stored facts. Whole classes of campaigns (hypothesis) are seeded as the send
path and the inbound side leave them, and the figures are checked against a count made
here from the seed plan; another tenant sees none of it."""

from __future__ import annotations

import statistics
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.api_client import NOW, Api, Client
from tests.support.api_scenes import build_campaign
from tests.support.factories import unique_number
from tether.db.connection import Connection

# outcome: (status, accepted by the provider, error code, its failure kind)
OUTCOMES: dict[str, tuple[str, bool, str | None, str | None]] = {
    "delivered": ("delivered", True, None, None),
    "sent": ("sent", True, None, None),
    "queued": ("queued", False, None, None),
    "filtered": ("undelivered", True, "filtered", "carrier_filtered"),
    "bad_number": ("failed", False, "invalid_number", "invalid_number"),
    "carrier_stop": ("failed", False, "unsubscribed", "opt_out"),
    "suppressed": ("failed", False, "suppressed", "opt_out"),
    "expired": ("failed", False, "expired", "not_sent"),
    "lead_closed": ("failed", False, "lead_closed", "not_sent"),
    "server_error": ("failed", False, "server_error", "temporary"),
    "no_code": ("undelivered", True, None, "unknown"),
}


@dataclass(frozen=True)
class LeadPlan:
    variant: str | None
    number: int  # which of the campaign's numbers sent it
    outcome: str
    reply_after: int | None  # seconds after the first text; None: no reply
    opted_out: bool
    second_text: bool  # a later follow-up text (same lead: still one contact)


leads = st.builds(
    LeadPlan,
    variant=st.sampled_from([None, "A", "B"]),
    number=st.integers(0, 1),
    outcome=st.sampled_from(list(OUTCOMES)),
    reply_after=st.none() | st.integers(1, 86_400),
    opted_out=st.booleans(),
    second_text=st.booleans(),
)


def _assignments(admin: Connection, campaign_id: str) -> list[dict[str, Any]]:
    return admin.execute(
        "SELECT id, phone_number, phone_number_id FROM campaign_phone_assignments"
        " WHERE campaign_id = %s ORDER BY is_primary DESC, phone_number",
        (campaign_id,),
    ).fetchall()


def seed(admin: Connection, tenant_id: Any, campaign_id: str, plans: list[LeadPlan]) -> None:
    """The rows the send path, the status callbacks and the inbound side write, as the
    schema owner: a first text per lead (and a follow-up), replies, opt-outs."""
    numbers = _assignments(admin, campaign_id)
    for plan in plans:
        phone = unique_number()
        lead = admin.execute(
            "INSERT INTO leads (tenant_id, phone, campaign_id) VALUES (%s, %s, %s) RETURNING id",
            (tenant_id, phone, campaign_id),
        ).fetchone()
        assert lead is not None
        sender = numbers[plan.number]
        status, accepted, code, _ = OUTCOMES[plan.outcome]
        texts = [(NOW, status, accepted, code)]
        if plan.second_text and accepted:
            texts.append((NOW + timedelta(days=3), "delivered", True, None))
        for at, text_status, text_accepted, text_code in texts:
            admin.execute(
                "INSERT INTO messages (tenant_id, direction, lead_id, campaign_id, from_address,"
                " to_address, outbound_number_id, campaign_phone_assignment_id, send_key,"
                " template, body, status, error_code, external_id, provider, sent_at, variant,"
                " created_at)"
                " VALUES (%s, 'outbound', %s, %s, %s, %s, %s, %s, %s, 'launch', 'Hi', %s, %s,"
                " %s, %s, %s, %s, %s)",
                (
                    tenant_id,
                    lead["id"],
                    campaign_id,
                    sender["phone_number"],
                    phone,
                    sender["phone_number_id"],
                    sender["id"],
                    f"k-{uuid.uuid4().hex}",
                    text_status,
                    text_code,
                    f"SM{uuid.uuid4().hex}" if text_accepted else None,
                    "sandbox" if text_accepted else None,
                    at if text_accepted else None,
                    plan.variant,
                    at,
                ),
            )
        if plan.reply_after is None or not accepted:
            continue
        reply = admin.execute(
            "INSERT INTO messages (tenant_id, direction, lead_id, campaign_id, from_address,"
            " to_address, outbound_number_id, campaign_phone_assignment_id, body, status,"
            " external_id, provider, received_at, created_at)"
            " VALUES (%s, 'inbound', %s, %s, %s, %s, %s, %s, 'STOP', 'received', %s,"
            " 'sandbox', %s, %s) RETURNING id",
            (
                tenant_id,
                lead["id"],
                campaign_id,
                phone,
                sender["phone_number"],
                sender["phone_number_id"],
                sender["id"],
                f"SM{uuid.uuid4().hex}",
                NOW + timedelta(seconds=plan.reply_after),
                NOW + timedelta(seconds=plan.reply_after),
            ),
        ).fetchone()
        assert reply is not None
        if plan.opted_out:
            admin.execute(
                "INSERT INTO suppressions (tenant_id, phone, reason, keyword, source_message_id)"
                " VALUES (%s, %s, 'opt_out', 'STOP', %s)",
                (tenant_id, phone, reply["id"]),
            )


def expected(plans: list[LeadPlan]) -> dict[str, Any]:
    """The figures, counted from the plan (not from the database)."""
    requested = sent = delivered = failed = waiting = 0
    kinds: Counter[str] = Counter()
    contacts = replies = opt_outs = 0
    waits: list[float] = []
    for plan in plans:
        status, accepted, _, kind = OUTCOMES[plan.outcome]
        texts = [(status, accepted, kind)]
        if plan.second_text and accepted:
            texts.append(("delivered", True, None))
        for text_status, text_accepted, text_kind in texts:
            requested += 1
            sent += text_accepted
            delivered += text_status == "delivered"
            if text_kind is not None:
                failed += 1
                kinds[text_kind] += 1
            waiting += not text_accepted and text_kind is None
        if accepted:
            contacts += 1
            if plan.reply_after is not None:
                replies += 1
                waits.append(float(plan.reply_after))
                opt_outs += plan.opted_out
    return {
        "requested": requested,
        "sent": sent,
        "delivered": delivered,
        "failed": failed,
        "waiting": waiting,
        "failed_by_kind": dict(kinds),
        "contacts": contacts,
        "replies": replies,
        "reply_rate": round(replies / contacts, 4) if contacts else None,
        "opt_outs": opt_outs,
        "opt_out_rate": round(opt_outs / contacts, 4) if contacts else None,
        "median_seconds_to_first_reply": statistics.median(waits) if waits else None,
        "mms": 0,  # the plans send text only (tests/integration/test_media.py counts MMS)
    }


def check(answer: dict[str, Any], plans: list[LeadPlan]) -> None:
    assert answer["overall"] == expected(plans)
    groups = {p.variant or "default" for p in plans}
    assert set(answer["by_variant"]) == groups
    for name in groups:
        chosen = [p for p in plans if (p.variant or "default") == name]
        assert answer["by_variant"][name] == expected(chosen), name


class Scene2:
    def __init__(self, api: Api) -> None:
        self.api = api
        self.client: Client = api.tenant()
        self.scene = build_campaign(api, self.client, leads=0, numbers=2)
        self.numbers = _assignments(api.admin, self.scene.campaign_id)


@settings(
    max_examples=6,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(plans=st.lists(leads, max_size=20))
def test_campaign_and_number_stats_equal_a_count_of_the_stored_facts(
    api: Api, plans: list[LeadPlan]
) -> None:
    scene = Scene2(api)
    seed(api.admin, scene.client.tenant_id, scene.scene.campaign_id, plans)
    campaign = scene.client.get(f"/v1/campaigns/{scene.scene.campaign_id}/stats")
    assert campaign.status == 200, campaign
    check(campaign.body, plans)
    for index, number in enumerate(scene.numbers):
        answer = scene.client.get(f"/v1/phone-numbers/{number['phone_number_id']}/stats")
        assert answer.status == 200, answer
        check(answer.body, [p for p in plans if p.number == index])


def test_a_campaign_without_sends_has_zeroes_and_no_rates(api: Api) -> None:
    scene = Scene2(api)
    answer = scene.client.get(f"/v1/campaigns/{scene.scene.campaign_id}/stats")
    assert answer.status == 200
    assert answer.body["by_variant"] == {}
    assert answer.body["overall"]["requested"] == 0
    assert answer.body["overall"]["reply_rate"] is None
    assert answer.body["overall"]["median_seconds_to_first_reply"] is None


def test_stats_count_only_the_callers_tenant(api: Api) -> None:
    owner = Scene2(api)
    seed(
        api.admin,
        owner.client.tenant_id,
        owner.scene.campaign_id,
        [LeadPlan("A", 0, "delivered", 5, True, False)],
    )
    intruder = Scene2(api)
    seed(
        api.admin,
        intruder.client.tenant_id,
        intruder.scene.campaign_id,
        [LeadPlan(None, 0, "sent", None, False, False)],
    )
    # the intruder's own campaign shows its own send only; the owner's is not found
    mine = intruder.client.get(f"/v1/campaigns/{intruder.scene.campaign_id}/stats").body
    assert (mine["overall"]["requested"], mine["overall"]["opt_outs"]) == (1, 0)
    assert intruder.client.get(f"/v1/campaigns/{owner.scene.campaign_id}/stats").status == 404
    number = owner.numbers[0]["phone_number_id"]
    assert intruder.client.get(f"/v1/phone-numbers/{number}/stats").status == 404
    assert owner.client.get(f"/v1/phone-numbers/{number}/stats").body["overall"]["opt_outs"] == 1
