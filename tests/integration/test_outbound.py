"""Outbound sends against real PostgreSQL and the sandbox provider over real HTTP."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from tests.support.outbound import NOW, SENDER, Crash, CrashingProvider, Outbound
from tether.db.connection import Connection, FreshConnections
from tether.db.unit_of_work import UnitOfWork
from tether.domain.errors import Conflict
from tether.providers import ProviderErrorKind, SendAccepted, SendCommand
from tether.services.inbox import get_thread
from tether.services.outbound import Outcome
from tether_dev.sandbox import SandboxServer


@pytest.fixture
def sandbox(make_sandbox: Callable[..., SandboxServer]) -> SandboxServer:
    return make_sandbox(stall_seconds=3.0)


@pytest.fixture
def sandbox_without_keys(make_sandbox: Callable[..., SandboxServer]) -> SandboxServer:
    return make_sandbox(honour_idempotency_keys=False)


@pytest.fixture
def outbound(
    admin: Connection, app_connections: FreshConnections, sandbox: SandboxServer
) -> Outbound:
    return Outbound(admin, app_connections, sandbox)


def test_a_send_goes_out_from_the_bound_number_and_touches_the_lead(
    outbound: Outbound, admin: Connection
) -> None:
    lead_id = outbound.lead()
    message_id = outbound.request(lead_id)
    assert outbound.process(message_id).outcome is Outcome.SENT
    message = outbound.message(message_id)
    [text] = outbound.sandbox.texts()
    assert (message["status"], message["external_id"], message["from_address"]) == (
        "sent",
        text.sid,
        SENDER,
    )
    assert text.idempotency_key == str(message_id)
    lead = admin.execute(
        "SELECT state::text AS state FROM leads WHERE id = %s", (lead_id,)
    ).fetchone()
    assert lead == {"state": "touched"}
    timer = admin.execute(
        "SELECT trigger_at FROM lead_timers WHERE lead_id = %s AND timer_type = 'TIMER_7D' AND cancelled_at IS NULL",
        (lead_id,),
    ).fetchone()
    assert timer == {"trigger_at": NOW + timedelta(days=7)}
    # a second message to the lead leaves the state and the timer alone
    assert outbound.process(outbound.request(lead_id, send_key="second")).outcome is Outcome.SENT
    assert admin.execute(
        "SELECT count(*) AS n FROM lead_events WHERE lead_id = %s", (lead_id,)
    ).fetchone() == {"n": 1}


def test_20_concurrent_duplicate_requests_and_deliveries_send_one_text(
    outbound: Outbound, admin: Connection
) -> None:
    lead_id = outbound.lead()
    receipts: list[uuid.UUID] = []
    outcomes: list[Outcome] = []

    def request_and_process() -> None:
        message_id = outbound.request(lead_id, template="intro", body="One text only")
        receipts.append(message_id)
        outcomes.append(outbound.process(message_id).outcome)

    threads = [threading.Thread(target=request_and_process) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(receipts)) == 1
    assert len(receipts) == 20
    assert outcomes.count(Outcome.SENT) == 1
    assert set(outcomes) <= {Outcome.SENT, Outcome.ALREADY_DONE}
    assert outbound.texts_to("+14155550123") == 1
    rows = admin.execute(
        "SELECT count(*) AS n FROM messages WHERE lead_id = %s", (lead_id,)
    ).fetchone()
    assert rows == {"n": 1}


def test_a_send_key_reused_for_another_lead_is_a_conflict(outbound: Outbound) -> None:
    first, second = outbound.lead(), outbound.lead("+14155550124")
    outbound.request(first, send_key="campaign-1:wave-1")
    with pytest.raises(Conflict, match="another lead"):
        outbound.request(second, send_key="campaign-1:wave-1")


@pytest.mark.parametrize("when", ["before_send", "after_send"])
@pytest.mark.parametrize("keys", [True, False], ids=["idempotency-key", "reconcile"])
def test_a_crash_at_any_step_leaves_exactly_one_text(
    admin: Connection,
    app_connections: FreshConnections,
    sandbox: SandboxServer,
    sandbox_without_keys: SandboxServer,
    when: str,
    keys: bool,
) -> None:
    outbound = Outbound(admin, app_connections, sandbox if keys else sandbox_without_keys)
    message_id = outbound.request(outbound.lead())
    with pytest.raises(Crash):
        outbound.process(message_id, provider=CrashingProvider(outbound.provider(), when))
    assert outbound.message(message_id)["status"] == "sending"  # the attempt was claimed
    assert outbound.process(message_id, NOW + timedelta(seconds=30)).outcome is Outcome.SENT
    assert outbound.process(message_id, NOW + timedelta(seconds=60)).outcome is Outcome.ALREADY_DONE
    assert outbound.texts_to("+14155550123") == 1
    [text] = outbound.sandbox.texts()
    assert outbound.message(message_id)["external_id"] == text.sid


def test_stop_racing_a_send_no_text_after_the_suppression_commits(outbound: Outbound) -> None:
    lead_id = outbound.lead()
    first, second = outbound.request(lead_id, send_key="a"), outbound.request(lead_id, send_key="b")
    inside_send, release_send = threading.Event(), threading.Event()
    order: list[str] = []

    class SlowProvider(CrashingProvider):
        def send(self, command: SendCommand) -> SendAccepted:
            inside_send.set()
            release_send.wait(5)
            accepted = self.inner.send(command)
            order.append("text left")
            return accepted

    def opt_out() -> None:
        with outbound.uow() as uow:
            uow.suppressions.add(outbound.tenant_id, "+14155550123", "opt_out", keyword="STOP")
            uow.commit()
        order.append("suppression committed")

    sender = threading.Thread(
        target=lambda: outbound.process(first, provider=SlowProvider(outbound.provider(), ""))
    )
    sender.start()
    assert inside_send.wait(5)
    stopper = threading.Thread(target=opt_out)
    stopper.start()
    time.sleep(0.3)
    assert order == []  # the opt-out waits for the send in flight
    release_send.set()
    sender.join()
    stopper.join()
    assert order == ["text left", "suppression committed"]
    outcome = outbound.process(second)
    assert (outcome.outcome, outcome.reason) == (Outcome.FAILED, "the recipient opted out")
    assert outbound.texts_to("+14155550123") == 1


@pytest.mark.parametrize(
    ("phone", "opening"),
    [
        ("+12125550123", datetime(2026, 11, 21, 13, 0, tzinfo=UTC)),  # New York 6:00 → 8:00 EST
        ("+13125550123", datetime(2026, 11, 21, 14, 0, tzinfo=UTC)),  # Chicago 5:00 → 8:00 CST
        ("+13035550123", datetime(2026, 11, 21, 15, 0, tzinfo=UTC)),  # Denver 4:00 → 8:00 MST
        ("+14155550123", datetime(2026, 11, 21, 16, 0, tzinfo=UTC)),  # Los Angeles 3:00 → 8:00 PST
        ("+61293744000", datetime(2026, 11, 21, 21, 0, tzinfo=UTC)),  # Sydney 22:00 → 8:00 AEDT
    ],
)
def test_quiet_hours_defer_to_the_local_opening(
    outbound: Outbound, phone: str, opening: datetime
) -> None:
    message_id = outbound.request(outbound.lead(phone))
    early = datetime(2026, 11, 21, 11, 0, tzinfo=UTC)
    outcome = outbound.process(message_id, early)
    assert (outcome.outcome, outcome.not_before) == (Outcome.DEFERRED, opening)
    assert outbound.message(message_id)["not_before"] == opening
    # the thread (the console) shows when the held text will go
    row = outbound.admin.execute(
        "SELECT thread_id FROM messages WHERE id = %s", (message_id,)
    ).fetchone()
    assert row is not None
    thread_id = row["thread_id"]
    view = get_thread(UnitOfWork(outbound.app, outbound.tenant_id), thread_id)
    assert [m["not_before"] for m in view.messages] == [opening]
    assert outbound.texts_to(phone) == 0
    assert outbound.process(message_id, opening - timedelta(seconds=1)).outcome is Outcome.DEFERRED
    assert outbound.process(message_id, opening).outcome is Outcome.SENT
    assert outbound.texts_to(phone) == 1


def test_a_states_stricter_window_applies(
    admin: Connection, app_connections: FreshConnections, sandbox: SandboxServer
) -> None:
    strict = Outbound(
        admin,
        app_connections,
        sandbox,
        quiet_hours_by_state='{"FL": {"start": "09:00", "end": "20:00"}}',
    )
    message_id = strict.request(strict.lead("+13055550123"))  # Miami: 8:30 EST at 13:30 UTC
    outcome = strict.process(message_id, datetime(2026, 11, 21, 13, 30, tzinfo=UTC))
    assert outcome.not_before == datetime(2026, 11, 21, 14, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("phone", "kind", "code"),
    [
        ("+15005550001", ProviderErrorKind.INVALID_NUMBER, "invalid_number"),
        ("+15005550002", ProviderErrorKind.LANDLINE, "landline"),
        ("+15005550003", ProviderErrorKind.NOT_SMS_CAPABLE, "not_sms_capable"),
        ("+15005550008", ProviderErrorKind.REJECTED, "rejected"),
    ],
)
def test_permanent_errors_fail_at_once(
    outbound: Outbound, admin: Connection, phone: str, kind: ProviderErrorKind, code: str
) -> None:
    message_id = outbound.request(outbound.lead(phone))
    outcome = outbound.process(message_id)
    assert outcome.outcome is Outcome.FAILED
    message = outbound.message(message_id)
    assert (message["status"], message["attempts"]) == ("failed", 1)
    assert message["error_code"] == code
    assert outbound.process(message_id, NOW + timedelta(hours=1)).outcome is Outcome.ALREADY_DONE
    audit = admin.execute(
        "SELECT detail ->> 'kind' AS kind FROM audit_log WHERE subject_id = %s AND kind = 'send_failure'",
        (str(message_id),),
    ).fetchall()
    assert audit == [{"kind": kind.value}]


def test_unsubscribed_adds_the_suppression(outbound: Outbound, admin: Connection) -> None:
    lead_id = outbound.lead("+15005550009")
    assert outbound.process(outbound.request(lead_id)).outcome is Outcome.FAILED
    suppression = admin.execute(
        "SELECT reason FROM suppressions WHERE tenant_id = %s AND phone = '+15005550009' AND lifted_at IS NULL",
        (outbound.tenant_id,),
    ).fetchone()
    assert suppression == {"reason": "carrier_block"}
    later = outbound.process(outbound.request(lead_id, send_key="later"))
    assert later.reason == "the recipient opted out"
    assert len(outbound.sandbox.texts()) == 0


def test_filtered_feeds_number_health(outbound: Outbound, admin: Connection) -> None:
    assert (
        outbound.process(outbound.request(outbound.lead("+15005550004"))).outcome is Outcome.FAILED
    )
    row = admin.execute(
        "SELECT filtered_count FROM phone_numbers WHERE e164 = %s AND tenant_id = %s",
        (SENDER, outbound.tenant_id),
    ).fetchone()
    assert row == {"filtered_count": 1}


def test_retryable_errors_back_off_then_fail_with_the_last_reason(
    admin: Connection, app_connections: FreshConnections, sandbox: SandboxServer
) -> None:
    outbound = Outbound(admin, app_connections, sandbox, send_max_attempts=3)
    message_id = outbound.request(outbound.lead("+15005550005"))  # always 429
    now = NOW
    retry_times = []
    for _ in range(2):
        outcome = outbound.process(message_id, now)
        assert outcome.outcome is Outcome.RETRY
        assert outcome.not_before is not None
        assert outcome.not_before > now
        retry_times.append(outcome.not_before - now)
        assert outbound.process(message_id, now).outcome is Outcome.DEFERRED  # not before its time
        now = outcome.not_before
    outcome = outbound.process(message_id, now)
    assert outcome.outcome is Outcome.FAILED
    message = outbound.message(message_id)
    assert (message["status"], message["attempts"], message["error_code"]) == (
        "failed",
        3,
        "rate_limited",
    )


def test_a_timeout_leaves_the_attempt_in_doubt_and_the_retry_does_not_send_twice(
    admin: Connection, app_connections: FreshConnections, sandbox_without_keys: SandboxServer
) -> None:
    sandbox_without_keys.configure(stall_seconds=1.5)
    outbound = Outbound(admin, app_connections, sandbox_without_keys)
    message_id = outbound.request(outbound.lead("+15005550007"))  # accepted, answered too late
    outcome = outbound.process(message_id)
    assert outcome.outcome is Outcome.RETRY
    assert outbound.message(message_id)["attempt_started_at"] is not None
    time.sleep(1.0)  # the sandbox records the stalled text
    assert outbound.process(message_id, outcome.not_before or NOW).outcome is Outcome.SENT
    assert outbound.texts_to("+15005550007") == 1


def test_a_text_the_provider_took_before_an_opt_out_is_sent_not_failed_on_retry(
    admin: Connection, app_connections: FreshConnections, sandbox_without_keys: SandboxServer
) -> None:
    """Found by the soak (issue 21): the attempt timed out after the provider took the
    text, the lead opted out, and the retry's gate marked failed a text the lead had got.
    An attempt left in doubt asks the provider first; what it took is recorded as sent,
    and nothing goes a second time."""
    sandbox_without_keys.configure(stall_seconds=1.5)
    outbound = Outbound(admin, app_connections, sandbox_without_keys)
    lead = outbound.lead("+15005550007")
    message_id = outbound.request(lead)
    outcome = outbound.process(message_id)
    assert outcome.outcome is Outcome.RETRY  # accepted, answered too late
    time.sleep(1.0)  # the sandbox records the stalled text
    admin.execute("UPDATE leads SET state = 'suppressed' WHERE id = %s", (lead,))
    assert outbound.process(message_id, outcome.not_before or NOW).outcome is Outcome.SENT
    message = outbound.message(message_id)
    assert message["status"] == "sent"
    assert message["external_id"] is not None
    assert outbound.texts_to("+15005550007") == 1


def test_suppressed_and_closed_leads_get_nothing(outbound: Outbound, admin: Connection) -> None:
    suppressed, closed = outbound.lead(), outbound.lead("+14155550124")
    admin.execute("UPDATE leads SET state = 'suppressed' WHERE id = %s", (suppressed,))
    admin.execute("UPDATE leads SET state = 'closed' WHERE id = %s", (closed,))
    assert outbound.process(outbound.request(suppressed)).reason == "the lead is suppressed"
    assert outbound.process(outbound.request(closed)).reason == "the lead is closed"
    assert outbound.sandbox.texts() == []


def test_a_send_past_its_validity_fails_with_the_reason(outbound: Outbound) -> None:
    message_id = outbound.request(outbound.lead())
    outcome = outbound.process(message_id, NOW + timedelta(hours=25))
    assert outcome.outcome is Outcome.FAILED
    assert outcome.reason is not None
    assert "validity deadline" in outcome.reason
    assert outbound.sandbox.texts() == []


def test_pacing_delays_the_second_send_from_a_number(
    admin: Connection, app_connections: FreshConnections, sandbox: SandboxServer
) -> None:
    paced = Outbound(admin, app_connections, sandbox, send_segments_per_second=Decimal("0.5"))
    first = paced.request(paced.lead(), body="one segment")
    second = paced.request(paced.lead("+14155550124"), body="one segment")
    assert paced.process(first).outcome is Outcome.SENT
    outcome = paced.process(second)
    assert (outcome.outcome, outcome.not_before) == (Outcome.DEFERRED, NOW + timedelta(seconds=2))
    assert paced.process(second, NOW + timedelta(seconds=2)).outcome is Outcome.SENT


def test_the_daily_limit_defers_to_the_next_day(
    admin: Connection, app_connections: FreshConnections, sandbox: SandboxServer
) -> None:
    capped = Outbound(admin, app_connections, sandbox, send_segments_per_day=2)
    sends = [
        capped.request(capped.lead(f"+1415555{n:04d}"), body="x" * 200) for n in range(2)
    ]  # 2 segments each
    assert capped.process(sends[0]).outcome is Outcome.SENT
    outcome = capped.process(sends[1])
    assert (outcome.outcome, outcome.not_before) == (
        Outcome.DEFERRED,
        datetime(2026, 11, 22, tzinfo=UTC),
    )
    assert (
        capped.process(sends[1], datetime(2026, 11, 22, 16, 0, tzinfo=UTC)).outcome is Outcome.SENT
    )
