"""Inbound matching on real PostgreSQL: through the receiving number to its campaign
and lead, exact numbers only."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from tests.support.factories import make_campaign, make_lead, make_tenant
from tether.db.connection import Connection, FreshConnections
from tether.db.leads import InboundMatch
from tether.db.unit_of_work import UnitOfWork
from tether.services.matching import match_inbound
from tether.services.numbers import NumberRow, register_numbers, resolve_sender, stage_campaign

NOW = datetime(2026, 11, 21, 20, 0, tzinfo=UTC)
LEAD_PHONE = "+16505300051"


class Tenant:
    def __init__(self, admin: Connection, app: FreshConnections) -> None:
        self.admin, self.app = admin, app
        self.id, account = make_tenant(admin)
        register_numbers(
            self.uow(),
            self.id,
            account,
            "pool",
            [NumberRow("+14155550100"), NumberRow("+14155550101")],
        )

    def uow(self) -> UnitOfWork:
        return UnitOfWork(self.app, self.id)

    def campaign(self) -> uuid.UUID:
        campaign_id = make_campaign(self.admin, self.id, "pool")
        stage_campaign(self.uow(), campaign_id, NOW)
        return campaign_id

    def bind(self, lead_id: uuid.UUID, campaign_id: uuid.UUID) -> str:
        with self.uow() as uow:
            binding = resolve_sender(uow, lead_id, campaign_id, NOW)
            uow.commit()
        return binding.phone_number

    def match(self, to: str, sender: str) -> InboundMatch:
        with self.uow() as uow:
            return match_inbound(uow, self.id, to, sender)


def test_the_same_lead_in_two_campaigns_is_matched_by_the_receiving_number(
    admin: Connection, app_connections: FreshConnections
) -> None:
    tenant = Tenant(admin, app_connections)
    first, second = tenant.campaign(), tenant.campaign()
    lead_id = make_lead(admin, tenant.id, LEAD_PHONE, first)
    first_number = tenant.bind(lead_id, first)
    admin.execute(
        "UPDATE leads SET campaign_id = %s WHERE id = %s", (second, lead_id)
    )  # moved on (7-day timer)
    second_number = tenant.bind(lead_id, second)
    assert first_number != second_number
    for number, campaign_id in [(first_number, first), (second_number, second)]:
        match = tenant.match(number, "(650) 530-0051")  # as the provider may format it
        assert (match.lead_id, match.campaign_id, match.matched_by) == (
            lead_id,
            campaign_id,
            "binding",
        )
        assert match.unmatched_reason is None


def test_a_lead_of_the_numbers_campaign_not_yet_texted(
    admin: Connection, app_connections: FreshConnections
) -> None:
    tenant = Tenant(admin, app_connections)
    campaign_id = tenant.campaign()
    lead_id = make_lead(admin, tenant.id, LEAD_PHONE, campaign_id)
    match = tenant.match("+14155550100", LEAD_PHONE)
    assert (match.lead_id, match.campaign_id, match.matched_by) == (
        lead_id,
        campaign_id,
        "campaign",
    )


def test_otherwise_the_tenants_lead_most_recently_messaged(
    admin: Connection, app_connections: FreshConnections
) -> None:
    tenant = Tenant(admin, app_connections)
    campaign_id = tenant.campaign()
    elsewhere = make_campaign(admin, tenant.id, "pool")
    older, newer = (
        make_lead(admin, tenant.id, LEAD_PHONE, elsewhere),
        make_lead(admin, tenant.id, LEAD_PHONE, elsewhere),
    )
    admin.execute(
        "UPDATE leads SET last_message_at = %s WHERE id = %s", (NOW - timedelta(days=3), older)
    )
    admin.execute(
        "UPDATE leads SET last_message_at = %s WHERE id = %s", (NOW - timedelta(days=1), newer)
    )
    match = tenant.match("+14155550100", LEAD_PHONE)
    assert (match.lead_id, match.campaign_id, match.matched_by) == (newer, campaign_id, "tenant")


def test_unknown_number_or_sender_is_unmatched_with_a_reason(
    admin: Connection, app_connections: FreshConnections
) -> None:
    tenant = Tenant(admin, app_connections)
    tenant.campaign()
    make_lead(admin, tenant.id, LEAD_PHONE)
    never_ours = tenant.match("+12125550100", LEAD_PHONE)
    assert never_ours.number_id is None
    assert never_ours.unmatched_reason == "the receiving number is not one of the tenant's"
    stranger = tenant.match("+14155550100", "+13125550123")
    assert (stranger.lead_id, stranger.unmatched_reason) == (
        None,
        "no lead has the sender's number",
    )
    short_code = tenant.match("+14155550100", "72345")
    assert short_code.lead_id is None


def test_never_a_partial_match(admin: Connection, app_connections: FreshConnections) -> None:
    """Seed 000's LIKE '%…%' fallback would match these; exact numbers do not."""
    tenant = Tenant(admin, app_connections)
    tenant.campaign()
    make_lead(admin, tenant.id, LEAD_PHONE)
    assert tenant.match("+14155550100", "+1650530005").lead_id is None
    assert tenant.match("+14155550100", "5300051").lead_id is None


def test_another_tenants_lead_is_never_matched(
    admin: Connection, app_connections: FreshConnections
) -> None:
    ours, theirs = Tenant(admin, app_connections), Tenant(admin, app_connections)
    ours.campaign()
    make_lead(admin, theirs.id, LEAD_PHONE)
    assert ours.match("+14155550100", LEAD_PHONE).lead_id is None


def _whatsapp_sender(
    admin: Connection, tenant: Tenant, campaign_id: uuid.UUID, number: str
) -> uuid.UUID:
    """`number` assigned to `campaign_id` as its WhatsApp sender (the SMS one stays)."""
    admin.execute(
        "UPDATE phone_numbers SET whatsapp_enabled = true WHERE tenant_id = %s AND e164 = %s",
        (tenant.id, number),
    )
    row = admin.execute(
        "INSERT INTO campaign_phone_assignments (tenant_id, campaign_id, phone_number_id, phone_number, channel)"
        " SELECT tenant_id, %s, id, e164, 'whatsapp' FROM phone_numbers WHERE tenant_id = %s AND e164 = %s"
        " RETURNING id",
        (campaign_id, tenant.id, number),
    ).fetchone()
    assert row is not None
    assignment_id: uuid.UUID = row["id"]
    return assignment_id


def test_matching_follows_the_messages_channel(
    admin: Connection, app_connections: FreshConnections
) -> None:
    """One number, texting for one campaign and on WhatsApp for another; one person,
    a lead in each. An SMS or an MMS to the number is the SMS campaign's lead's, a
    WhatsApp message the WhatsApp campaign's, bound or not yet bound."""
    tenant = Tenant(admin, app_connections)
    texting = tenant.campaign()
    texting_lead = make_lead(admin, tenant.id, LEAD_PHONE, texting)
    number = tenant.bind(texting_lead, texting)
    chatting = make_campaign(admin, tenant.id, "pool", status="active")
    chatting_lead = make_lead(admin, tenant.id, LEAD_PHONE, chatting)
    assignment = _whatsapp_sender(admin, tenant, chatting, number)
    # the WhatsApp lead, recently messaged, is the tenant-wide fallback's pick: only the
    # channel tells the two apart
    admin.execute("UPDATE leads SET last_message_at = %s WHERE id = %s", (NOW, chatting_lead))

    def matched(channel: str) -> tuple[uuid.UUID | None, uuid.UUID | None, str | None]:
        with tenant.uow() as uow:
            found = match_inbound(uow, tenant.id, number, LEAD_PHONE, channel=channel)
        return found.lead_id, found.campaign_id, found.matched_by

    assert matched("sms") == (texting_lead, texting, "binding")
    assert matched("mms") == (texting_lead, texting, "binding")  # MMS goes through SMS's
    assert matched("whatsapp") == (chatting_lead, chatting, "campaign")  # not bound yet
    admin.execute(
        "INSERT INTO lead_sender_bindings (tenant_id, lead_id, campaign_id, campaign_phone_assignment_id,"
        " phone_number_id, phone_number, channel)"
        " SELECT tenant_id, %s, campaign_id, id, phone_number_id, phone_number, channel"
        " FROM campaign_phone_assignments WHERE id = %s",
        (chatting_lead, assignment),
    )
    assert matched("whatsapp") == (chatting_lead, chatting, "binding")
    assert matched("sms") == (texting_lead, texting, "binding")
