"""Issue 23 on real PostgreSQL and the sandbox provider over real HTTP: a STOP is never
lost for lack of a lead, the phone is suppressed tenant-wide, every attempt passes every
gate (a retry after a crash too), and suppressions cannot be deleted."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from tests.support.events import recorded
from tests.support.factories import MigratedDatabase, make_lead
from tests.support.outbound import NOW, SENDER, Crash, CrashingProvider, Outbound
from tests.support.replies import reply
from tether.db.connection import Connection, FreshConnections, connect
from tether.domain.classification import Classification, Intent
from tether.domain.events import InboundMessage
from tether.domain.lead_state import LeadState
from tether.domain.outbox import EventType
from tether.domain.worker import OPT_OUT_CONFIRMATION
from tether.services.campaigns import pause_campaign
from tether.services.inbox import assign_unmatched
from tether.services.outbound import Outcome
from tether.services.replies import ReplyOutcome, handle_reply
from tether_dev.sandbox import SandboxServer

STRANGER = "+14155550177"  # a phone that is no lead of the tenant


@pytest.fixture
def outbound(
    admin: Connection, app_connections: FreshConnections, sandbox: SandboxServer
) -> Outbound:
    return Outbound(admin, app_connections, sandbox)


def suppressions(admin: Connection, tenant_id: uuid.UUID, phone: str) -> list[dict[str, object]]:
    return admin.execute(
        "SELECT reason, keyword, phone_number_id FROM suppressions"
        " WHERE tenant_id = %s AND phone = %s AND lifted_at IS NULL",
        (tenant_id, phone),
    ).fetchall()


# --- finding 1: a STOP from a phone that matches no lead


def test_a_stop_from_an_unknown_phone_suppresses_it_and_is_confirmed_from_the_number_it_reached(
    outbound: Outbound, admin: Connection
) -> None:
    handled = reply(outbound, "STOP", sender=STRANGER)
    assert handled.outcome is ReplyOutcome.UNMATCHED
    assert handled.classification is not None
    assert handled.classification.intent is Intent.OPT_OUT
    # tenant-wide: no sending number named
    assert suppressions(admin, outbound.tenant_id, STRANGER) == [
        {"reason": "opt_out", "keyword": "stop", "phone_number_id": None}
    ]
    # the one confirmation, lead-less, bound to the receiving number's assignment
    confirmation = admin.execute(
        "SELECT id, lead_id, from_address, to_address, campaign_id, campaign_phone_assignment_id,"
        " purpose, body FROM messages WHERE id = %s",
        (handled.answer_id,),
    ).fetchone()
    assert confirmation is not None
    assert (confirmation["lead_id"], confirmation["from_address"], confirmation["to_address"]) == (
        None,
        SENDER,
        STRANGER,
    )
    assert confirmation["campaign_id"] == outbound.campaign_id
    assert confirmation["campaign_phone_assignment_id"] is not None
    assert (confirmation["purpose"], confirmation["body"]) == (
        "opt_out_confirmation",
        OPT_OUT_CONFIRMATION,
    )
    # it goes out through the one send path, at once (even at 4:00 in Los Angeles)
    assert outbound.process(confirmation["id"], NOW + timedelta(hours=10)).outcome is Outcome.SENT
    [text] = outbound.sandbox.texts()
    assert (text.from_number, text.to_number, text.body) == (SENDER, STRANGER, OPT_OUT_CONFIRMATION)
    # a second STOP: no second confirmation
    again = reply(outbound, "stop", sender=STRANGER)
    assert again.answer_id is None
    # the phone imported as a lead later is never texted
    lead_id = outbound.lead(STRANGER)
    outcome = outbound.process(outbound.request(lead_id))
    assert (outcome.outcome, outcome.reason) == (Outcome.FAILED, "the recipient opted out")
    assert outbound.texts_to(STRANGER) == 1  # only the confirmation


def test_a_stop_to_a_number_that_is_not_the_tenants_is_still_honoured(
    outbound: Outbound, admin: Connection
) -> None:
    handled = reply(outbound, "unsubscribe", sender=STRANGER, to="+12125550100")
    assert handled.outcome is ReplyOutcome.UNMATCHED
    assert handled.answer_id is None  # no bound number to confirm from
    assert suppressions(admin, outbound.tenant_id, STRANGER) != []
    audit = admin.execute(
        "SELECT detail ->> 'to' AS to FROM audit_log WHERE tenant_id = %s"
        " AND kind = 'opt_out_confirmation_unsent'",
        (outbound.tenant_id,),
    ).fetchall()
    assert audit == [{"to": "+12125550100"}]


class _Blind:
    """A classifier that reads nothing: stands for replies stored before this rule."""

    def classify(self, body: str, region: str = "US") -> Classification:
        return Classification(Intent.OTHER)


@pytest.mark.parametrize(
    ("body", "state"),
    [
        ("STOP", LeadState.SUPPRESSED),
        ("no thanks stop", LeadState.SUPPRESSED),
        ("not interested", LeadState.CLOSED),
        ("yes, call me", LeadState.HIGH_INTENT),
    ],
)
def test_a_reply_assigned_later_is_classified_then(
    outbound: Outbound, admin: Connection, body: str, state: LeadState
) -> None:
    handled = reply(outbound, body, sender=STRANGER)
    assert handled.outcome is ReplyOutcome.UNMATCHED
    lead_id = make_lead(admin, outbound.tenant_id, STRANGER)  # imported without a campaign
    assert handled.message_id is not None
    result = assign_unmatched(outbound.uow(), handled.message_id, lead_id, NOW + timedelta(hours=1))
    assert result["lead_state"] == state.value
    row = admin.execute(
        "SELECT state::text AS state FROM leads WHERE id = %s", (lead_id,)
    ).fetchone()
    assert row == {"state": state.value}


def test_an_unmatched_stop_stored_unread_is_suppressed_when_assigned(
    outbound: Outbound, admin: Connection
) -> None:
    event = InboundMessage(
        provider="sandbox",
        external_id=f"SM{uuid.uuid4().hex}",
        from_address=STRANGER,
        to_address=SENDER,
        body="Stop.",
        occurred_at=NOW,
    )
    handled = handle_reply(outbound.uow(), outbound.tenant_id, event, uuid.uuid4(), NOW, _Blind())
    assert suppressions(admin, outbound.tenant_id, STRANGER) == []
    lead_id = outbound.lead(STRANGER)
    assert handled.message_id is not None
    assert recorded(admin, outbound.app, outbound.tenant_id) == []  # no lead, no opt-out yet
    assign_unmatched(outbound.uow(), handled.message_id, lead_id, NOW)
    assert len(suppressions(admin, outbound.tenant_id, STRANGER)) == 1
    assert outbound.process(outbound.request(lead_id)).outcome is Outcome.FAILED
    # given its lead, the reply is told as received, with the opt-out and the move (and
    # the refused send as failed)
    events = recorded(admin, outbound.app, outbound.tenant_id)
    assert sorted(e.type.value for e in events) == [
        "lead.opted_out",
        "lead.state_changed",
        "message.status_changed",
        "reply.received",
    ]
    assert all(e.lead_id == lead_id for e in events)
    [received] = [e.data for e in events if e.type is EventType.REPLY_RECEIVED]
    assert (received["from"], received["to"], received["body"]) == (STRANGER, SENDER, "Stop.")


# --- finding 2: "no thanks stop" suppresses the phone, not one lead


def test_no_thanks_stop_suppresses_the_phone_for_every_lead_row(
    outbound: Outbound, admin: Connection
) -> None:
    phone = "+14155550123"
    lead_id = outbound.lead(phone)
    assert outbound.process(outbound.request(lead_id)).outcome is Outcome.SENT
    handled = reply(outbound, "no thanks stop", sender=phone)
    assert handled.state is LeadState.SUPPRESSED  # not merely closed
    assert suppressions(admin, outbound.tenant_id, phone) == [
        {"reason": "opt_out", "keyword": "stop", "phone_number_id": None}
    ]
    # the same phone as another lead row of the tenant (imported again, no campaign)
    other_lead = make_lead(admin, outbound.tenant_id, phone)
    outcome = outbound.process(outbound.request(other_lead))
    assert (outcome.outcome, outcome.reason) == (Outcome.FAILED, "the recipient opted out")
    assert outbound.texts_to(phone) == 1  # the first text only (the confirmation waits)


# --- finding 6: a retry after a crash passes every gate


@pytest.fixture
def crashed(
    admin: Connection, app_connections: FreshConnections, sandbox: SandboxServer
) -> tuple[Outbound, uuid.UUID]:
    """A send whose attempt was opened and then the process died before the provider
    answered: the attempt is in doubt."""
    outbound = Outbound(admin, app_connections, sandbox, send_validity_hours=24)
    message_id = outbound.request(outbound.lead("+14155550123"))
    with pytest.raises(Crash):
        outbound.process(message_id, provider=CrashingProvider(outbound.provider(), "before_send"))
    assert outbound.message(message_id)["status"] == "sending"
    return outbound, message_id


def test_a_retry_after_a_crash_waits_for_quiet_hours(crashed: tuple[Outbound, uuid.UUID]) -> None:
    outbound, message_id = crashed
    night = datetime(2026, 11, 22, 6, 0, tzinfo=UTC)  # 22:00 in Los Angeles
    outcome = outbound.process(message_id, night)
    assert (outcome.outcome, outcome.reason) == (Outcome.DEFERRED, "quiet hours at the recipient")
    assert outcome.not_before == datetime(2026, 11, 22, 16, 0, tzinfo=UTC)  # 8:00 there
    assert outbound.sandbox.texts() == []
    assert outbound.process(message_id, outcome.not_before).outcome is Outcome.SENT
    assert outbound.texts_to("+14155550123") == 1


def test_a_retry_after_a_crash_fails_past_its_validity(crashed: tuple[Outbound, uuid.UUID]) -> None:
    outbound, message_id = crashed
    outcome = outbound.process(message_id, NOW + timedelta(hours=25))
    assert outcome.outcome is Outcome.FAILED
    assert "validity deadline" in (outcome.reason or "")
    assert outbound.sandbox.texts() == []


def test_a_retry_after_a_crash_waits_while_the_campaign_is_paused(
    crashed: tuple[Outbound, uuid.UUID],
) -> None:
    outbound, message_id = crashed
    outbound.admin.execute(
        "UPDATE campaigns SET status = 'active' WHERE id = %s", (outbound.campaign_id,)
    )
    pause_campaign(outbound.uow(), outbound.campaign_id, NOW)
    outcome = outbound.process(message_id, NOW + timedelta(minutes=1))
    assert (outcome.outcome, outcome.reason) == (Outcome.DEFERRED, "campaign paused")
    assert outbound.sandbox.texts() == []


def test_a_retry_after_a_crash_is_not_sent_to_a_phone_that_opted_out(
    crashed: tuple[Outbound, uuid.UUID], admin: Connection
) -> None:
    outbound, message_id = crashed
    reply(outbound, "STOP", sender="+14155550123")
    outcome = outbound.process(message_id, NOW + timedelta(minutes=10))
    assert outcome.outcome is Outcome.FAILED
    assert outbound.texts_to("+14155550123") == 0


# --- findings 4 and 5 through the send path


@pytest.mark.parametrize(
    ("phone", "now", "opening"),
    [
        # Miami at 20:30 under the defaults
        ("+13055550123", datetime(2026, 11, 24, 1, 30, tzinfo=UTC), datetime(2026, 11, 24, 13, 0, tzinfo=UTC)),
        # Houston on Sunday at 09:30
        ("+17135550123", datetime(2026, 11, 22, 15, 30, tzinfo=UTC), datetime(2026, 11, 22, 18, 0, tzinfo=UTC)),
        # Anchorage at 21:30
        ("+19075550123", datetime(2026, 11, 24, 6, 30, tzinfo=UTC), datetime(2026, 11, 24, 18, 0, tzinfo=UTC)),
        # Central-time North Dakota at 21:30
        ("+17015550123", datetime(2026, 11, 24, 3, 30, tzinfo=UTC), datetime(2026, 11, 24, 15, 0, tzinfo=UTC)),
        # north Idaho at 07:30 Pacific
        ("+12085550123", datetime(2026, 11, 23, 15, 30, tzinfo=UTC), datetime(2026, 11, 23, 16, 0, tzinfo=UTC)),
        # north-west Indiana at 07:30 Central
        ("+12192260123", datetime(2026, 11, 23, 13, 30, tzinfo=UTC), datetime(2026, 11, 23, 14, 0, tzinfo=UTC)),
    ],
)  # fmt: skip
def test_the_findings_are_deferred_by_the_send_path(
    admin: Connection,
    app_connections: FreshConnections,
    sandbox: SandboxServer,
    phone: str,
    now: datetime,
    opening: datetime,
) -> None:
    outbound = Outbound(admin, app_connections, sandbox, send_validity_hours=168)
    message_id = outbound.request(outbound.lead(phone))
    early = outbound.process(message_id, now)
    assert (early.outcome, early.not_before) == (Outcome.DEFERRED, opening)
    assert outbound.process(message_id, opening).outcome is Outcome.SENT


def test_a_tenant_texas_window_cannot_open_sunday_morning(
    admin: Connection, app_connections: FreshConnections, sandbox: SandboxServer
) -> None:
    texas = Outbound(
        admin,
        app_connections,
        sandbox,
        quiet_hours_by_state='{"TX": {"start": "09:00", "end": "21:00"}}',
        send_validity_hours=168,
    )
    sunday = datetime(2026, 11, 22, 15, 30, tzinfo=UTC)  # 09:30 in Houston
    outcome = texas.process(texas.request(texas.lead("+17135550123")), sunday)
    assert outcome.not_before == datetime(2026, 11, 22, 18, 0, tzinfo=UTC)


# --- finding 7: suppressions cannot be deleted


@pytest.mark.parametrize("role", ["tether_app", "tether_jobs"])
def test_the_application_roles_cannot_delete_a_suppression(
    outbound: Outbound, admin: Connection, test_database: MigratedDatabase, role: str
) -> None:
    reply(outbound, "STOP", sender=STRANGER)
    with connect(test_database.role_url(role)) as conn:
        conn.execute("SELECT set_config('app.tenant_id', %s, true)", (str(outbound.tenant_id),))
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("DELETE FROM suppressions WHERE phone = %s", (STRANGER,))
        conn.rollback()
        conn.execute("SELECT set_config('app.tenant_id', %s, true)", (str(outbound.tenant_id),))
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("TRUNCATE suppressions")
        conn.rollback()
        conn.execute("SELECT set_config('app.tenant_id', %s, true)", (str(outbound.tenant_id),))
        # nor rewrite one into something else, nor un-lift one
        with pytest.raises(psycopg.errors.CheckViolation, match="only lifting it once"):
            conn.execute(
                "UPDATE suppressions SET phone = '+14155550999' WHERE phone = %s", (STRANGER,)
            )
        conn.rollback()
    assert len(suppressions(admin, outbound.tenant_id, STRANGER)) == 1


def test_not_even_the_owner_can_delete_or_truncate_suppressions(
    outbound: Outbound, admin: Connection
) -> None:
    reply(outbound, "STOP", sender=STRANGER)
    with pytest.raises(psycopg.errors.CheckViolation, match="cannot be deleted"):
        admin.execute("DELETE FROM suppressions WHERE phone = %s", (STRANGER,))
    with pytest.raises(psycopg.errors.CheckViolation, match="cannot be deleted"):
        admin.execute("TRUNCATE suppressions")
    assert len(suppressions(admin, outbound.tenant_id, STRANGER)) == 1


def test_a_suppression_is_lifted_once_only_by_re_subscribe(
    outbound: Outbound, admin: Connection
) -> None:
    reply(outbound, "STOP", sender=STRANGER)
    reply(outbound, "START", sender=STRANGER)
    row = admin.execute(
        "SELECT id, lifted_reason FROM suppressions WHERE tenant_id = %s AND phone = %s",
        (outbound.tenant_id, STRANGER),
    ).fetchone()
    assert row is not None
    assert row["lifted_reason"] == "re-subscribed: start"
    with pytest.raises(psycopg.errors.CheckViolation, match="only lifting it once"):
        admin.execute(
            "UPDATE suppressions SET lifted_at = NULL, lifted_reason = NULL WHERE id = %s",
            (row["id"],),
        )
