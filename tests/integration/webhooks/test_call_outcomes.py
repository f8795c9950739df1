"""Call outcomes from the voice side (issue 18, seed 001) through the real handlers: the
webhook function verifies and stores a VAPI end-of-call report or a Twilio/SignalWire
call status callback, the inbound function applies it to the lead's number lease, and
phone_numbers and lead_events show seed 001's release rules, with no API call."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

import functions.inbound.app as inbound_app
from tests.support.calls import (
    VOICE_SECRETS,
    call_status_event,
    call_status_params,
    vapi_event,
    vapi_report,
)
from tests.support.factories import MigratedDatabase, make_lead, make_tenant, unique_number
from tests.support.lambda_context import LambdaContextStub
from tests.support.sqs_records import sqs_record
from tests.support.webhooks import Aws, Deliver
from tether.db.connection import Connection, FreshConnections
from tether.db.unit_of_work import UnitOfWork
from tether.domain.leases import end_of_local_day
from tether.services.leases import lease_number
from tether.services.numbers import NumberRow, register_numbers

POOL = "My Reverse Options"
Apply = Callable[[], list[str]]


@pytest.fixture
def apply_inbound(
    aws: Aws, test_database: MigratedDatabase, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Apply]:
    """Run the inbound function, as Lambda would, on everything the webhook enqueued."""
    from tether.config import database_settings, inbound_settings
    from tether.db.connection import lambda_connection
    from tether.queues import queue_at

    getters: list[Any] = [database_settings, lambda_connection, inbound_settings, queue_at]
    monkeypatch.setenv("DATABASE_URL", test_database.admin_url)
    monkeypatch.setenv("OUTBOUND_QUEUE_URL", aws.queue_url)
    monkeypatch.setattr("tether.aws.clients.aws_client", lambda service: aws.sqs)
    for getter in getters:
        getter.cache_clear()

    def run() -> list[str]:
        bodies = aws.messages()
        if not bodies:
            return []
        records = [sqs_record(json.dumps(body), "inbound") for body in bodies]
        result = inbound_app.handler({"Records": records}, LambdaContextStub())
        assert result == {"batchItemFailures": []}
        return [body["event_type"] for body in bodies]

    yield run
    lambda_connection("app").acquire().close()
    for getter in getters:
        getter.cache_clear()


@dataclass
class Leased:
    """A tenant whose lead holds a lease from its pool, and its voice accounts."""

    admin: Connection
    tenant_id: uuid.UUID
    lead_id: uuid.UUID
    lead_phone: str
    number: str
    number_id: uuid.UUID
    assigned_at: datetime
    accounts: dict[str, str]

    def number_row(self) -> dict[str, Any]:
        row = self.admin.execute(
            "SELECT currently_assigned_to, assigned_at, release_at, last_call_outcome,"
            " appointment_scheduled_at, no_answer_count, assignment_status"
            " FROM phone_numbers WHERE id = %s",
            (self.number_id,),
        ).fetchone()
        assert row is not None
        return row

    def events(self, event_type: str) -> list[dict[str, Any]]:
        return self.admin.execute(
            "SELECT payload FROM lead_events WHERE lead_id = %s AND event_type = %s ORDER BY seq",
            (self.lead_id, event_type),
        ).fetchall()

    def calls(self) -> list[dict[str, Any]]:
        return self.admin.execute(
            "SELECT * FROM call_outcomes WHERE tenant_id = %s ORDER BY created_at",
            (self.tenant_id,),
        ).fetchall()


def add_voice_account(admin: Connection, tenant_id: uuid.UUID, provider: str) -> str:
    row = admin.execute(
        "INSERT INTO provider_accounts (tenant_id, provider, name, signing_secret_ref)"
        " VALUES (%s, %s, %s, %s) RETURNING id",
        (tenant_id, provider, f"{provider}-voice", f"local:{VOICE_SECRETS[provider]}"),
    ).fetchone()
    assert row is not None
    return str(row["id"])


def make_leased(admin: Connection, app_connections: FreshConnections) -> Leased:
    tenant_id, account_id = make_tenant(admin)
    numbers = [unique_number() for _ in range(2)]
    register_numbers(
        UnitOfWork(app_connections, tenant_id),
        tenant_id,
        account_id,
        POOL,
        [NumberRow(n) for n in numbers],
    )
    lead_phone = unique_number()
    lead_id = make_lead(admin, tenant_id, lead_phone)
    assigned_at = datetime.now(UTC) - timedelta(hours=1)
    lease = lease_number(
        UnitOfWork(app_connections, tenant_id), tenant_id, lead_id, POOL, assigned_at
    )
    accounts = {p: add_voice_account(admin, tenant_id, p) for p in VOICE_SECRETS}
    return Leased(
        admin,
        tenant_id,
        lead_id,
        lead_phone,
        lease.phone_number,
        lease.phone_number_id,
        lease.assigned_at,
        accounts,
    )


@pytest.fixture
def leased(admin: Connection, app_connections: FreshConnections) -> Leased:
    return make_leased(admin, app_connections)


def call_id() -> str:
    return f"call-{uuid.uuid4()}"


def ok(response: dict[str, Any]) -> dict[str, Any]:
    assert response["statusCode"] == 200, response["body"]
    return response


def test_a_vapi_booking_holds_the_lease_until_a_day_after_the_appointment_once(
    leased: Leased, deliver: Deliver, apply_inbound: Apply
) -> None:
    appointment = (datetime.now(UTC) + timedelta(days=2)).replace(microsecond=0)
    report = vapi_report(
        call_id(),
        "customer-ended-call",
        customer=leased.lead_phone,
        ours=leased.number,
        structured={"booked": True, "appointmentTime": appointment.isoformat()},
    )
    event = vapi_event(leased.accounts["vapi"], report)
    first = json.loads(ok(deliver(event))["body"])
    assert first["status"] == "accepted"
    assert apply_inbound() == ["call_outcome"]

    row = leased.number_row()
    assert row["currently_assigned_to"] == leased.lead_id
    assert row["last_call_outcome"] == "booked"
    assert row["appointment_scheduled_at"] == appointment
    assert row["release_at"] == appointment + timedelta(hours=24)
    [recorded] = leased.events("CALL_OUTCOME")
    assert recorded["payload"]["call_id"] == report["message"]["call"]["id"]
    assert recorded["payload"]["applied"] is True
    [call] = leased.calls()
    assert (call["state"], call["outcome"], call["provider"]) == ("applied", "booked", "vapi")

    # VAPI's duplicate delivery: answered 200, nothing stored, nothing applied twice
    assert json.loads(ok(deliver(event))["body"])["status"] == "duplicate"
    assert apply_inbound() == []
    assert len(leased.events("CALL_OUTCOME")) == 1
    # the server secret never reaches the stored headers
    secret_mode = vapi_event(leased.accounts["vapi"], {**report}, mode="secret")
    secret_mode["body"] = secret_mode["body"].replace('"cost": 0.12', '"cost": 0.13')
    ok(deliver(secret_mode))
    stored = leased.admin.execute(
        "SELECT headers FROM webhook_receipts WHERE provider = 'vapi' AND tenant_id = %s",
        (leased.tenant_id,),
    ).fetchall()
    assert all("x-vapi-secret" not in r["headers"] for r in stored)


def test_twilio_no_answer_retries_the_same_day_then_busy_releases(
    leased: Leased, deliver: Deliver, apply_inbound: Apply
) -> None:
    account = leased.accounts["twilio"]
    first = call_status_params(
        f"CA{uuid.uuid4().hex}", "no-answer", ours=leased.number, customer=leased.lead_phone
    )
    ok(deliver(call_status_event("twilio", account, first)))
    apply_inbound()
    row = leased.number_row()
    assert row["currently_assigned_to"] == leased.lead_id  # kept for a retry today
    assert row["no_answer_count"] == 1
    assert row["release_at"] <= end_of_local_day(datetime.now(UTC), "America/New_York")
    assert row["release_at"] > datetime.now(UTC)

    retry = call_status_params(
        f"CA{uuid.uuid4().hex}", "busy", ours=leased.number, customer=leased.lead_phone
    )
    ok(deliver(call_status_event("twilio", account, retry)))
    apply_inbound()
    row = leased.number_row()
    assert row["currently_assigned_to"] is None
    assert row["assignment_status"] == "available"
    [released] = leased.events("NUMBER_RELEASED")
    assert released["payload"]["reason"] == "no_answer"
    assert [c["state"] for c in leased.calls()] == ["applied", "applied"]


def test_a_completed_callback_is_no_booking_unless_its_signed_url_says_booked(
    admin: Connection,
    app_connections: FreshConnections,
    leased: Leased,
    deliver: Deliver,
    apply_inbound: Apply,
) -> None:
    completed = call_status_params(
        f"CA{uuid.uuid4().hex}", "completed", ours=leased.number, customer=leased.lead_phone
    )
    ok(deliver(call_status_event("signalwire", leased.accounts["signalwire"], completed)))
    apply_inbound()
    row = leased.number_row()
    assert row["last_call_outcome"] == "no_booking"
    assert row["release_at"] == leased.assigned_at + timedelta(hours=18)

    # another tenant's lead, its call's URL carrying the caller's hints (signed with it)
    other = make_leased(admin, app_connections)
    appointment = (datetime.now(UTC) + timedelta(days=1)).replace(microsecond=0)
    hints = {
        "lead_id": str(other.lead_id),
        "outcome": "booked",
        "appointment_at": appointment.isoformat().replace("+00:00", "Z"),
    }
    booked = call_status_params(
        f"CA{uuid.uuid4().hex}", "completed", ours=other.number, customer="+15005550006"
    )
    ok(deliver(call_status_event("twilio", other.accounts["twilio"], booked, hints)))
    apply_inbound()
    row = other.number_row()
    assert (row["last_call_outcome"], row["release_at"]) == (
        "booked",
        appointment + timedelta(hours=24),
    )
    assert leased.number_row()["last_call_outcome"] == "no_booking"  # untouched


def test_out_of_order_and_late_reports_are_recorded_but_never_undo_or_re_lease(
    leased: Leased, deliver: Deliver, apply_inbound: Apply
) -> None:
    now = datetime.now(UTC)
    appointment = (now + timedelta(days=3)).replace(microsecond=0)
    later = vapi_report(
        call_id(),
        "assistant-ended-call",
        customer=leased.lead_phone,
        ours=leased.number,
        structured={"outcome": "booked", "appointment_at": appointment.isoformat()},
        ended_at=now - timedelta(minutes=5),
    )
    earlier = vapi_report(
        call_id(),
        "customer-did-not-answer",
        customer=leased.lead_phone,
        ours=leased.number,
        ended_at=now - timedelta(minutes=30),
    )
    ok(deliver(vapi_event(leased.accounts["vapi"], later)))
    ok(deliver(vapi_event(leased.accounts["vapi"], earlier)))
    apply_inbound()
    row = leased.number_row()
    assert (row["last_call_outcome"], row["no_answer_count"]) == ("booked", 0)
    assert row["release_at"] == appointment + timedelta(hours=24)
    states = {c["call_id"]: c["state"] for c in leased.calls()}
    assert states == {
        later["message"]["call"]["id"]: "applied",
        earlier["message"]["call"]["id"]: "superseded",
    }

    # the lease ends; a late report about it is recorded on the lead, nothing re-leased
    leased.admin.execute(
        "UPDATE phone_numbers SET assignment_status = 'available', currently_assigned_to = NULL,"
        " assigned_at = NULL, release_at = NULL WHERE id = %s",
        (leased.number_id,),
    )
    late = vapi_report(
        call_id(),
        "customer-ended-call",
        customer=leased.lead_phone,
        ours=leased.number,
        metadata={"lead_id": str(leased.lead_id)},
    )
    ok(deliver(vapi_event(leased.accounts["vapi"], late, mode="bearer")))
    apply_inbound()
    assert leased.number_row()["currently_assigned_to"] is None
    last = leased.events("CALL_OUTCOME")[-1]["payload"]
    assert (last["applied"], last["state"]) == (False, "lease_released")


def test_vapis_report_and_its_carriers_callback_are_one_call_applied_once(
    leased: Leased, deliver: Deliver, apply_inbound: Apply
) -> None:
    sid = f"CA{uuid.uuid4().hex}"
    report = vapi_report(
        call_id(), "customer-did-not-answer", customer=leased.lead_phone, ours=leased.number,
        carrier_call_id=sid,
    )  # fmt: skip
    callback = call_status_params(sid, "no-answer", ours=leased.number, customer=leased.lead_phone)
    ok(deliver(call_status_event("twilio", leased.accounts["twilio"], callback)))
    ok(deliver(vapi_event(leased.accounts["vapi"], report)))
    assert apply_inbound() == ["call_outcome", "call_outcome"]
    assert leased.number_row()["no_answer_count"] == 1  # one unanswered call, not two
    assert len(leased.calls()) == 1
    assert len(leased.events("CALL_OUTCOME")) == 1


def test_an_unmatched_or_other_tenants_call_is_kept_and_touches_no_lease(
    admin: Connection,
    app_connections: FreshConnections,
    leased: Leased,
    deliver: Deliver,
    apply_inbound: Apply,
) -> None:
    other = make_leased(admin, app_connections)
    # the other tenant's lead id and numbers, sent to this tenant's VAPI account
    report = vapi_report(
        call_id(),
        "customer-ended-call",
        customer=other.lead_phone,
        ours=other.number,
        metadata={"lead_id": str(other.lead_id)},
    )
    ok(deliver(vapi_event(leased.accounts["vapi"], report)))
    apply_inbound()
    [kept] = leased.calls()
    assert (kept["state"], kept["lead_id"]) == ("unmatched", None)
    assert other.calls() == []
    assert other.number_row()["last_call_outcome"] is None
    assert leased.number_row()["last_call_outcome"] is None
    # signed with the other tenant's secret, to this tenant's account: refused
    forged = vapi_event(leased.accounts["vapi"], report, secret="not-this-tenants-secret")
    assert deliver(forged)["statusCode"] == 401


def test_statuses_before_the_end_and_other_vapi_messages_are_kept_not_applied(
    leased: Leased, deliver: Deliver, apply_inbound: Apply
) -> None:
    ringing = call_status_params(
        f"CA{uuid.uuid4().hex}", "ringing", ours=leased.number, customer=leased.lead_phone
    )
    ok(deliver(call_status_event("twilio", leased.accounts["twilio"], ringing)))
    update = {"message": {"type": "status-update", "status": "in-progress", "call": {"id": "c1"}}}
    ok(deliver(vapi_event(leased.accounts["vapi"], update)))
    assert apply_inbound() == ["unknown", "unknown"]
    assert leased.calls() == []
    assert leased.number_row()["last_call_outcome"] is None


@pytest.mark.parametrize(
    ("mode", "secret"),
    [
        ("hmac", "wrong-secret"),
        ("secret", "wrong-secret"),
        ("bearer", "wrong-secret"),
        ("none", VOICE_SECRETS["vapi"]),
    ],
    ids=["hmac", "x-vapi-secret", "bearer", "unsigned"],
)
def test_vapi_reports_not_signed_with_the_accounts_secret_are_refused(
    leased: Leased, deliver: Deliver, mode: str, secret: str
) -> None:
    report = vapi_report(call_id(), "customer-busy", customer=leased.lead_phone, ours=None)
    response = deliver(vapi_event(leased.accounts["vapi"], report, secret=secret, mode=mode))
    assert response["statusCode"] == 401
    assert "X-Vapi" in json.loads(response["body"])["message"]


def test_call_callbacks_signed_with_another_token_or_on_the_wrong_route_are_refused(
    leased: Leased, deliver: Deliver
) -> None:
    params = call_status_params("CA1", "completed", ours=leased.number, customer=leased.lead_phone)
    for provider in ("twilio", "signalwire"):
        forged = call_status_event(provider, leased.accounts[provider], params, secret="nope")
        assert deliver(forged)["statusCode"] == 401
    # a VAPI account has no messaging route; Telnyx has no voice route here
    report = vapi_event(
        leased.accounts["vapi"], vapi_report(call_id(), "x", customer=None, ours=None)
    )
    report["resource"] = report["requestContext"]["resourcePath"] = (
        "/webhooks/{provider}/{account_id}"
    )
    assert deliver(report)["statusCode"] == 404
    telnyx = call_status_event("twilio", leased.accounts["twilio"], params)
    telnyx["pathParameters"]["provider"] = "telnyx"
    assert deliver(telnyx)["statusCode"] == 404


@pytest.mark.parametrize(
    ("body", "says"),
    [
        (b"\xff\xfe not json", "not JSON"),
        (b"[1, 2]", "not an object"),
        (b'{"message": {"type": "end-of-call-report", "endedReason": "x"}}', "call"),
        (b'{"message": {"type": "end-of-call-report", "call": {"id": "c"}}}', "endedReason"),
        (b'{"message": {"call": {"id": "c"}}}', "message.type"),
        (b'{"nothing": 1}', "message"),
    ],
    ids=["bytes", "array", "no-call", "no-reason", "no-type", "no-message"],
)
def test_malformed_vapi_reports_are_400s_that_say_what_is_wrong(
    leased: Leased, deliver: Deliver, body: bytes, says: str
) -> None:
    response = deliver(vapi_event(leased.accounts["vapi"], body))
    assert response["statusCode"] == 400, response["body"]
    assert says in json.loads(response["body"])["message"]


def test_malformed_call_callbacks_are_refused_with_a_4xx(leased: Leased, deliver: Deliver) -> None:
    account = leased.accounts["twilio"]
    no_sid = [("CallStatus", "completed"), ("From", leased.number)]
    response = deliver(call_status_event("twilio", account, no_sid))
    assert response["statusCode"] == 400
    assert "CallSid" in json.loads(response["body"])["message"]
    raw = call_status_event("twilio", account, [("CallSid", "CA1")])
    raw["body"] = "CallSid=CA1&CallStatus=\udcff"
    assert deliver(raw)["statusCode"] == 401  # nothing unreadable was signed
    wrong_type = vapi_event(account, b"{}")
    wrong_type["pathParameters"]["provider"] = "twilio"
    assert deliver(wrong_type)["statusCode"] == 415
