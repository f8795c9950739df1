"""WhatsApp on the one send path, against real PostgreSQL (issue 18): the campaign's
WhatsApp sender and the database's refusal of any other, sticky senders and matching
per channel, and the 24-hour window at request time and at the hand-over (its edge)."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

import psycopg.errors as pg
import pytest

from tests.support.factories import Chain, as_tenant, make_campaign, outbound_values
from tests.support.outbound import NOW, POOL, Outbound
from tether.db.connection import Connection, FreshConnections
from tether.domain.errors import ConsentRequired, InvalidInput, SenderUnavailable
from tether.domain.events import InboundMessage
from tether.domain.whatsapp import SessionWindowClosed
from tether.services.numbers import (
    NumberRow,
    SenderWanted,
    assign_campaign_sender,
    register_numbers,
    rehome_lead,
    resolve_senders_on,
)
from tether.services.outbound import Outcome, WhatsAppTemplateUse
from tether.services.replies import handle_reply
from tether.services.whatsapp import register_template
from tether_dev.sandbox import SandboxServer

WHATSAPP = "+14155550190"
LEAD_PHONE = "+14155550123"


class WhatsAppOutbound(Outbound):
    """Outbound's tenant (its SMS number staged) with a WhatsApp sender assigned."""

    def __init__(self, admin: Connection, app: FreshConnections, sandbox: SandboxServer) -> None:
        super().__init__(admin, app, sandbox)
        register_numbers(self.uow(), self.tenant_id, self.account_id, "wa", [NumberRow(WHATSAPP)])
        self.whatsapp_number_id = self.number_id(WHATSAPP)
        admin.execute(
            "UPDATE phone_numbers SET whatsapp_enabled = true WHERE id = %s",
            (self.whatsapp_number_id,),
        )
        assign_campaign_sender(self.uow(), self.campaign_id, self.whatsapp_number_id, "whatsapp")

    def number_id(self, e164: str) -> uuid.UUID:
        row = self.admin.execute(
            "SELECT id FROM phone_numbers WHERE tenant_id = %s AND e164 = %s",
            (self.tenant_id, e164),
        ).fetchone()
        assert row is not None
        number_id: uuid.UUID = row["id"]
        return number_id

    def lead_wrote(self, at: datetime, body: str = "ok thanks", phone: str = LEAD_PHONE) -> None:
        handle_reply(
            self.uow(),
            self.tenant_id,
            InboundMessage(
                provider="sandbox",
                external_id=f"SM{uuid.uuid4().hex}",
                from_address=phone,
                to_address=WHATSAPP,
                body=body,
                channel="whatsapp",
                occurred_at=at,
            ),
            uuid.uuid4(),
            at,
        )


@pytest.fixture
def wa(
    admin: Connection, app_connections: FreshConnections, sandbox: SandboxServer
) -> WhatsAppOutbound:
    return WhatsAppOutbound(admin, app_connections, sandbox)


def test_only_a_whatsapp_sender_of_a_whatsapp_provider_is_assigned_for_whatsapp(
    app: Connection, admin: Connection, wa: WhatsAppOutbound
) -> None:
    sms_number = wa.number_id("+14155550100")
    insert = (
        "INSERT INTO campaign_phone_assignments"
        " (tenant_id, campaign_id, phone_number_id, phone_number, channel)"
        " VALUES (%s, %s, %s, %s, 'whatsapp')"
    )
    as_tenant(app, wa.tenant_id)
    with pytest.raises(pg.CheckViolation) as refused:
        app.execute(insert, (wa.tenant_id, wa.campaign_id, sms_number, "+14155550100"))
    assert refused.value.diag.constraint_name == "cpa_whatsapp_sender"
    app.rollback()
    # a WhatsApp sender of SignalWire, which carries no WhatsApp: refused as well
    signalwire = admin.execute(
        "INSERT INTO provider_accounts (tenant_id, provider, name) VALUES (%s, 'signalwire', 'sw')"
        " RETURNING id",
        (wa.tenant_id,),
    ).fetchone()
    assert signalwire is not None
    number = admin.execute(
        "INSERT INTO phone_numbers (tenant_id, provider_account_id, e164, pool, whatsapp_enabled)"
        " VALUES (%s, %s, '+14155550191', %s, true) RETURNING id",
        (wa.tenant_id, signalwire["id"], POOL),
    ).fetchone()
    assert number is not None
    as_tenant(app, wa.tenant_id)
    with pytest.raises(pg.CheckViolation, match="does not carry WhatsApp"):
        app.execute(insert, (wa.tenant_id, wa.campaign_id, number["id"], "+14155550191"))
    app.rollback()
    with pytest.raises(InvalidInput, match="does not carry WhatsApp"):
        assign_campaign_sender(wa.uow(), wa.campaign_id, number["id"], "whatsapp")


def test_a_template_send_is_whatsapp_only(
    app: Connection, admin: Connection, wa: WhatsAppOutbound
) -> None:
    template = register_template(
        wa.uow(), wa.tenant_id, "hello", "en", "HX1", "Hi {{1}}", "approved"
    )
    chain_values = outbound_values(
        _chain(admin, wa), whatsapp_template_id=template.id, template_variables='{"1": "Ana"}'
    )
    as_tenant(app, wa.tenant_id)
    columns = ", ".join(chain_values)
    with pytest.raises(pg.CheckViolation) as refused:
        app.execute(
            f"INSERT INTO messages ({columns}) VALUES ({', '.join(['%s'] * len(chain_values))})",
            tuple(chain_values.values()),
        )
    assert refused.value.diag.constraint_name == "messages_template_is_whatsapp"


def _chain(admin: Connection, wa: WhatsAppOutbound) -> Chain:
    lead_id = wa.lead()
    assignment = admin.execute(
        "SELECT id FROM campaign_phone_assignments WHERE campaign_id = %s AND channel = 'sms'",
        (wa.campaign_id,),
    ).fetchone()
    thread = admin.execute(
        "INSERT INTO threads (tenant_id, channel, our_address, their_address)"
        " VALUES (%s, 'sms', '+14155550100', %s) RETURNING id",
        (wa.tenant_id, LEAD_PHONE),
    ).fetchone()
    assert assignment is not None
    assert thread is not None
    return Chain(
        wa.tenant_id, wa.account_id, wa.number_id("+14155550100"), "+14155550100",
        wa.campaign_id, assignment["id"], lead_id, LEAD_PHONE, POOL,
    )  # fmt: skip


def test_sticky_senders_are_per_channel(wa: WhatsAppOutbound, admin: Connection) -> None:
    lead_id = wa.lead()
    wanted = [
        SenderWanted(wa.tenant_id, lead_id, LEAD_PHONE, wa.campaign_id, channel)
        for channel in ("sms", "whatsapp")
    ]
    with wa.uow() as uow:
        found = resolve_senders_on(uow, wanted, NOW)
        uow.commit()
    sms = found[(lead_id, wa.campaign_id, "sms")]
    whatsapp = found[(lead_id, wa.campaign_id, "whatsapp")]
    assert not isinstance(sms, SenderUnavailable)
    assert not isinstance(whatsapp, SenderUnavailable)
    assert (sms.phone_number, sms.channel) == ("+14155550100", "sms")
    assert (whatsapp.phone_number, whatsapp.channel) == (WHATSAPP, "whatsapp")
    # an SMS send never finds the WhatsApp binding, nor the other way round
    with wa.uow() as uow:
        bound = {
            channel: uow.campaign_numbers.binding(lead_id, wa.campaign_id, channel)
            for channel in ("sms", "whatsapp")
        }
        assert {c: b.phone_number if b else None for c, b in bound.items()} == {
            "sms": "+14155550100",
            "whatsapp": WHATSAPP,
        }
        sms_candidates = uow.campaign_numbers.sender_candidates(wa.campaign_id, NOW)
        assert [c.phone_number for c in sms_candidates] == ["+14155550100"]
    # a re-home stays on its channel: the campaign has no other WhatsApp sender
    with pytest.raises(SenderUnavailable):
        rehome_lead(wa.uow(), lead_id, wa.campaign_id, "retired", NOW, "whatsapp")


def test_a_number_matches_its_campaign_on_each_channel(
    wa: WhatsAppOutbound, admin: Connection
) -> None:
    # the WhatsApp sender also texts SMS for another campaign
    other = make_campaign(admin, wa.tenant_id, "wa", status="active")
    admin.execute(
        "INSERT INTO campaign_phone_assignments (tenant_id, campaign_id, phone_number_id,"
        " phone_number, channel) VALUES (%s, %s, %s, %s, 'sms')",
        (wa.tenant_id, other, wa.whatsapp_number_id, WHATSAPP),
    )
    with wa.uow() as uow:
        by_whatsapp = uow.leads.match(wa.tenant_id, WHATSAPP, LEAD_PHONE, "whatsapp")
        by_sms = uow.leads.match(wa.tenant_id, WHATSAPP, LEAD_PHONE, "sms")
    assert by_whatsapp.campaign_id == wa.campaign_id
    assert by_sms.campaign_id == other


@pytest.mark.parametrize(
    ("after", "goes"),
    [(timedelta(hours=24) - timedelta(microseconds=1), True), (timedelta(hours=24), False)],
    ids=["last microsecond", "closing instant"],
)
def test_the_window_at_request_time_to_the_microsecond(
    wa: WhatsAppOutbound, after: timedelta, goes: bool
) -> None:
    lead_id = wa.lead()
    wrote = NOW - timedelta(days=2)
    wa.lead_wrote(wrote)
    request = {"campaign_id": wa.campaign_id, "lead_id": lead_id, "channel": "whatsapp"}
    from tether.services.outbound import SendRequest, request_send

    send = SendRequest(
        tenant_id=wa.tenant_id, body="Following up", send_key=f"k-{after}", **request
    )
    if goes:
        assert request_send(wa.uow(), send, wrote + after).from_number == WHATSAPP
    else:
        with pytest.raises(SessionWindowClosed, match="window closed at"):
            request_send(wa.uow(), send, wrote + after)


def test_the_window_is_kept_again_at_the_hand_over(wa: WhatsAppOutbound) -> None:
    lead_id = wa.lead()
    wa.lead_wrote(NOW - timedelta(hours=1))
    message_id = wa.request(lead_id, "Thanks for writing", channel="whatsapp")
    # delivered 23 hours later (it waited, still valid): the window closed meanwhile
    outcome = wa.process(message_id, NOW + timedelta(hours=23))
    assert outcome.outcome is Outcome.FAILED
    assert "window closed at" in (outcome.reason or "")
    assert wa.message(message_id)["error_code"] == "session_window_closed"
    assert wa.sandbox.texts() == []


def test_a_template_paused_before_its_send_is_not_sent(
    wa: WhatsAppOutbound, admin: Connection
) -> None:
    lead_id = wa.lead()
    register_template(wa.uow(), wa.tenant_id, "follow_up", "en", "HX2", "Hi {{1}}", "approved")
    message_id = wa.request(
        lead_id,
        None,  # type: ignore[arg-type]
        channel="whatsapp",
        whatsapp_template=WhatsAppTemplateUse(name="follow_up", variables={"1": "Ana"}),
    )
    register_template(wa.uow(), wa.tenant_id, "follow_up", "en", "HX2", "Hi {{1}}", "paused")
    outcome = wa.process(message_id)
    assert outcome.outcome is Outcome.FAILED
    assert wa.message(message_id)["error_code"] == "template_not_approved"
    # and a paused template is refused when asked for
    with pytest.raises(InvalidInput, match="is paused"):
        wa.request(
            lead_id,
            None,  # type: ignore[arg-type]
            channel="whatsapp",
            send_key="again",
            whatsapp_template=WhatsAppTemplateUse(name="follow_up", variables={"1": "Ana"}),
        )


def test_a_whatsapp_campaign_text_needs_consent_on_whatsapp(
    wa: WhatsAppOutbound, admin: Connection
) -> None:
    admin.execute(
        "UPDATE tenant_config SET require_consent = true WHERE tenant_id = %s", (wa.tenant_id,)
    )
    lead_id = wa.lead()
    wa.lead_wrote(NOW - timedelta(hours=1))

    def grant(channel: str) -> None:
        admin.execute(
            "INSERT INTO consents (tenant_id, phone, channel, kind, source_type, source,"
            " consented_at) VALUES (%s, %s, %s, 'granted', 'api', 'signed form', %s)",
            (wa.tenant_id, LEAD_PHONE, channel, NOW - timedelta(days=1)),
        )

    grant("sms")
    assert wa.request(lead_id, "By SMS", send_key="sms")
    with pytest.raises(ConsentRequired, match="none in force on whatsapp"):
        wa.request(lead_id, "On WhatsApp", channel="whatsapp", send_key="wa")
    grant("whatsapp")
    assert wa.request(lead_id, "On WhatsApp", channel="whatsapp", send_key="wa")
