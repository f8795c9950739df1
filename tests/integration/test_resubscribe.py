"""Issue 19 on real PostgreSQL and the sandbox provider over real HTTP: a suppressed lead
is freed only by its own START/UNSTOP or a consent newer than its suppression, the
database refuses every other way out (plain updates, forged events, old consents),
suppressions are lifted only with a proof, and require_consent gates the send path."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from psycopg.types.json import Jsonb

from tests.support.factories import make_lead
from tests.support.outbound import Outbound
from tests.support.replies import LEAD_PHONE, reply
from tests.support.timers import RecordingQueue
from tether.db.connection import Connection, FreshConnections
from tether.domain.consent import ConsentEvidence, ConsentKind, SourceType
from tether.domain.errors import ConsentRequired, InvalidInput, InvalidState
from tether.domain.lead_state import LeadState
from tether.services.consent import (
    ConsentRequest,
    record_consent,
    resubscribe_lead,
    resubscribe_phone,
)
from tether.services.launches import LaunchChunk, run_launch_chunk, start_launch
from tether.services.outbound import Outcome
from tether.services.suppressions import add_suppression
from tether_dev.sandbox import SandboxServer


@pytest.fixture
def outbound(
    admin: Connection, app_connections: FreshConnections, sandbox: SandboxServer
) -> Outbound:
    return Outbound(admin, app_connections, sandbox)


def state_of(admin: Connection, lead_id: uuid.UUID) -> str:
    row = admin.execute("SELECT state::text AS s FROM leads WHERE id = %s", (lead_id,)).fetchone()
    assert row is not None
    return str(row["s"])


def active_suppressions(admin: Connection, tenant_id: uuid.UUID, phone: str) -> int:
    row = admin.execute(
        "SELECT count(*) AS n FROM suppressions WHERE tenant_id = %s AND phone = %s"
        " AND lifted_at IS NULL",
        (tenant_id, phone),
    ).fetchone()
    assert row is not None
    return int(row["n"])


def consent(
    outbound: Outbound,
    at: datetime,
    kind: ConsentKind = ConsentKind.GRANTED,
    phone: str = LEAD_PHONE,
) -> uuid.UUID:
    recorded = record_consent(
        outbound.uow(),
        outbound.tenant_id,
        ConsentRequest(
            phone,
            "sms",
            kind,
            ConsentEvidence(
                SourceType.FORM,
                "https://example.com/join",
                at,
                "Reply STOP to end. Msg&data rates may apply.",
                "203.0.113.7",
                "Mozilla/5.0",
                "screenshot-42",
            ),
        ),
        "test",
        datetime.now(UTC),
    )
    return recorded.id


def test_a_re_subscribed_lead_is_texted_again_with_its_history_and_a_second_stop_suppresses(
    texted: tuple[Outbound, uuid.UUID], admin: Connection
) -> None:
    outbound, lead_id = texted
    assert reply(outbound, "STOP").state is LeadState.SUPPRESSED
    refused = outbound.request(lead_id, send_key="while-suppressed")
    assert outbound.process(refused).outcome is Outcome.FAILED

    assert reply(outbound, "START").state is LeadState.RESPONDED
    assert active_suppressions(admin, outbound.tenant_id, LEAD_PHONE) == 0
    again = outbound.request(lead_id, "Welcome back", send_key="after-start")
    assert outbound.process(again).outcome is Outcome.SENT
    assert outbound.texts_to(LEAD_PHONE) == 2  # the first text and this one (the STOP's
    # confirmation waits for its queue here)

    events = admin.execute(
        "SELECT event_type, previous_state::text AS p, new_state::text AS n FROM lead_events"
        " WHERE lead_id = %s AND new_state IS NOT NULL ORDER BY seq",
        (lead_id,),
    ).fetchall()
    assert [(e["p"], e["n"]) for e in events] == [
        ("new", "touched"),
        ("touched", "suppressed"),
        ("suppressed", "responded"),
    ]
    assert events[-1]["event_type"] == "RESUBSCRIBED"
    kept = admin.execute(
        "SELECT count(*) AS n FROM messages WHERE lead_id = %s", (lead_id,)
    ).fetchone()
    assert kept == {"n": 6}  # 2 refused/sent texts, first text, STOP, its confirmation, START
    log = admin.execute(
        "SELECT kind, source_type, source FROM consents WHERE tenant_id = %s ORDER BY seq",
        (outbound.tenant_id,),
    ).fetchall()
    assert [(r["kind"], r["source"]) for r in log] == [("revoked", "STOP"), ("granted", "START")]
    assert {r["source_type"] for r in log} == {"keyword"}

    assert reply(outbound, "stop texting me").state is LeadState.SUPPRESSED
    assert active_suppressions(admin, outbound.tenant_id, LEAD_PHONE) == 1
    later = outbound.request(lead_id, send_key="after-second-stop")
    assert outbound.process(later).outcome is Outcome.FAILED


@pytest.mark.parametrize(
    # a sample on the database; every phrasing is tried in tests/unit/test_reply_effects.py
    "phrasing",
    ["unsubscribe", "No más", "S.T.O.P"],
)
def test_every_opt_out_phrasing_suppresses_a_re_subscribed_lead(
    texted: tuple[Outbound, uuid.UUID], admin: Connection, phrasing: str
) -> None:
    outbound, lead_id = texted
    reply(outbound, "STOP")
    reply(outbound, "UNSTOP")
    assert state_of(admin, lead_id) == "responded"
    assert reply(outbound, phrasing).state is LeadState.SUPPRESSED
    assert active_suppressions(admin, outbound.tenant_id, LEAD_PHONE) == 1


def test_a_reply_other_than_start_leaves_a_suppressed_lead_suppressed(
    texted: tuple[Outbound, uuid.UUID], admin: Connection
) -> None:
    outbound, lead_id = texted
    reply(outbound, "STOP")
    for body in ("yes, call me", "start please", "YES"):
        assert reply(outbound, body).state is LeadState.SUPPRESSED
    assert state_of(admin, lead_id) == "suppressed"
    assert active_suppressions(admin, outbound.tenant_id, LEAD_PHONE) == 1
    # a YES from an opted-out phone answers no opt-in prompt: no consent is recorded
    kinds = admin.execute(
        "SELECT kind FROM consents WHERE tenant_id = %s ORDER BY seq", (outbound.tenant_id,)
    ).fetchall()
    assert [k["kind"] for k in kinds] == ["revoked"]


def test_a_consent_newer_than_the_suppression_re_subscribes_and_lifts_it(
    texted: tuple[Outbound, uuid.UUID], admin: Connection
) -> None:
    outbound, lead_id = texted
    reply(outbound, "STOP")
    consent_id = consent(outbound, datetime.now(UTC))
    view = resubscribe_lead(outbound.uow(), outbound.tenant_id, lead_id, consent_id, "test")
    assert view["state"] == "responded"
    assert active_suppressions(admin, outbound.tenant_id, LEAD_PHONE) == 0
    lifted = admin.execute(
        "SELECT lifted_by, lifted_reason FROM suppressions WHERE tenant_id = %s AND phone = %s",
        (outbound.tenant_id, LEAD_PHONE),
    ).fetchone()
    assert lifted is not None
    assert lifted["lifted_by"] == {"consent_id": str(consent_id)}
    audit = admin.execute(
        "SELECT kind FROM audit_log WHERE tenant_id = %s AND subject_type = 'suppression'"
        " ORDER BY created_at",
        (outbound.tenant_id,),
    ).fetchall()
    assert [a["kind"] for a in audit] == ["suppression_added", "suppression_lifted"]
    sent = outbound.request(lead_id, "Thanks for signing up", send_key="after-consent")
    assert outbound.process(sent).outcome is Outcome.SENT


def test_a_tenant_wide_entry_still_wins_until_it_is_lifted_the_same_way(
    texted: tuple[Outbound, uuid.UUID], admin: Connection
) -> None:
    """The tenant's do-not-contact entry outlives the lead's START (which lifts opt-outs
    only): the lead is back in RESPONDED, yet no text reaches the phone, from this lead
    or another lead row of it, until a consent newer than the entry lifts it."""
    outbound, lead_id = texted
    add_suppression(outbound.uow(), outbound.tenant_id, LEAD_PHONE, "asked the office", "test")
    reply(outbound, "STOP")
    assert reply(outbound, "START").state is LeadState.RESPONDED
    assert active_suppressions(admin, outbound.tenant_id, LEAD_PHONE) == 1
    other = make_lead(admin, outbound.tenant_id, LEAD_PHONE)  # the phone's other lead row
    for lead, key in ((lead_id, "a-blocked"), (other, "b-blocked")):
        outcome = outbound.process(outbound.request(lead, send_key=key))
        assert (outcome.outcome, outcome.reason) == (Outcome.FAILED, "the recipient opted out")
    with pytest.raises(InvalidState):  # a consent older than the entry frees nothing
        resubscribe_phone(
            outbound.uow(),
            outbound.tenant_id,
            LEAD_PHONE,
            consent(outbound, datetime.now(UTC) - timedelta(days=1)),
            "test",
        )
    freed = resubscribe_phone(
        outbound.uow(), outbound.tenant_id, LEAD_PHONE, consent(outbound, datetime.now(UTC)), "test"
    )
    assert (freed.suppressions_lifted, freed.leads) == (1, [])
    for lead, key in ((lead_id, "a-free"), (other, "b-free")):
        assert outbound.process(outbound.request(lead, send_key=key)).outcome is Outcome.SENT


def test_a_consent_older_than_the_suppression_does_not_re_subscribe(
    texted: tuple[Outbound, uuid.UUID], admin: Connection
) -> None:
    outbound, lead_id = texted
    old = consent(outbound, datetime.now(UTC) - timedelta(days=30))
    reply(outbound, "STOP")
    with pytest.raises(InvalidInput, match="older than the lead's suppression"):
        resubscribe_lead(outbound.uow(), outbound.tenant_id, lead_id, old, "test")
    # and the database refuses it whatever Python does: the event, then the move
    admin.execute(
        "INSERT INTO lead_events (tenant_id, lead_id, event_type, previous_state, new_state, payload)"
        " VALUES (%s, %s, 'RESUBSCRIBED', 'suppressed', 'responded', %s)",
        (outbound.tenant_id, lead_id, Jsonb({"consent_id": str(old)})),
    )
    with pytest.raises(psycopg.errors.CheckViolation) as error:
        admin.execute("UPDATE leads SET state = 'responded' WHERE id = %s", (lead_id,))
    assert error.value.diag.constraint_name == "lead_resubscribe"
    with pytest.raises(psycopg.errors.CheckViolation) as lift:
        admin.execute(
            "UPDATE suppressions SET lifted_at = now(), lifted_reason = 'x', lifted_by = %s"
            " WHERE tenant_id = %s AND phone = %s",
            (Jsonb({"consent_id": str(old)}), outbound.tenant_id, LEAD_PHONE),
        )
    assert lift.value.diag.constraint_name == "suppressions_lift_proven"
    assert state_of(admin, lead_id) == "suppressed"


@pytest.mark.parametrize(
    "forged",
    [
        {},  # no cause
        {"message_id": "not-a-uuid"},
        {"message_id": "the STOP"},  # a real message of the lead, but not START
        {"consent_id": "another phone's"},  # a newer consent, of another phone
        {"consent_id": "a revocation"},
    ],
)
def test_forged_re_subscribe_events_do_not_free_a_lead(
    texted: tuple[Outbound, uuid.UUID], admin: Connection, forged: dict[str, str]
) -> None:
    outbound, lead_id = texted
    stop = reply(outbound, "STOP").message_id
    cause = dict(forged)
    if cause.get("message_id") == "the STOP":
        cause["message_id"] = str(stop)
    if cause.get("consent_id") == "another phone's":
        cause["consent_id"] = str(consent(outbound, datetime.now(UTC), phone="+14155550999"))
    if cause.get("consent_id") == "a revocation":
        cause["consent_id"] = str(consent(outbound, datetime.now(UTC), ConsentKind.REVOKED))
    admin.execute(
        "INSERT INTO lead_events (tenant_id, lead_id, event_type, previous_state, new_state, payload)"
        " VALUES (%s, %s, 'RESUBSCRIBED', 'suppressed', 'responded', %s)",
        (outbound.tenant_id, lead_id, Jsonb(cause)),
    )
    with pytest.raises(psycopg.errors.CheckViolation) as error:
        admin.execute("UPDATE leads SET state = 'responded' WHERE id = %s", (lead_id,))
    assert error.value.diag.constraint_name == "lead_resubscribe"


def test_a_suppression_is_never_deleted_nor_lifted_without_a_proof(
    texted: tuple[Outbound, uuid.UUID], admin: Connection
) -> None:
    outbound, _ = texted
    reply(outbound, "STOP")
    with pytest.raises(psycopg.errors.CheckViolation, match="cannot be deleted"):
        admin.execute("DELETE FROM suppressions WHERE tenant_id = %s", (outbound.tenant_id,))
    with pytest.raises(psycopg.errors.CheckViolation) as error:
        admin.execute(
            "UPDATE suppressions SET lifted_at = now(), lifted_reason = 'asked nicely'"
            " WHERE tenant_id = %s",
            (outbound.tenant_id,),
        )
    assert error.value.diag.constraint_name == "suppressions_lift_proven"
    assert active_suppressions(admin, outbound.tenant_id, LEAD_PHONE) == 1


def test_the_consent_log_is_append_only(
    texted: tuple[Outbound, uuid.UUID], admin: Connection
) -> None:
    outbound, _ = texted
    consent_id = consent(outbound, datetime.now(UTC))
    for statement in ("UPDATE consents SET source = 'x'", "DELETE FROM consents"):
        with pytest.raises(psycopg.errors.CheckViolation) as error:
            admin.execute(statement + " WHERE id = %s", (consent_id,))
        assert error.value.diag.constraint_name == "consents_append_only"
    with pytest.raises(psycopg.errors.CheckViolation) as future:
        admin.execute(
            "INSERT INTO consents (tenant_id, phone, kind, source_type, source, consented_at)"
            " VALUES (%s, %s, 'granted', 'form', 'x', now() + interval '1 day')",
            (outbound.tenant_id, LEAD_PHONE),
        )
    assert future.value.diag.constraint_name == "consents_not_in_future"


def test_a_revocation_through_the_api_suppresses_the_phone(
    texted: tuple[Outbound, uuid.UUID], admin: Connection
) -> None:
    outbound, lead_id = texted
    consent(outbound, datetime.now(UTC), ConsentKind.REVOKED)
    assert active_suppressions(admin, outbound.tenant_id, LEAD_PHONE) == 1
    refused = outbound.request(lead_id, send_key="after-revocation")
    assert outbound.process(refused).outcome is Outcome.FAILED


def test_require_consent_refuses_a_campaign_text_without_consent(
    texted: tuple[Outbound, uuid.UUID], admin: Connection
) -> None:
    outbound, lead_id = texted
    admin.execute(
        "UPDATE tenant_config SET require_consent = true WHERE tenant_id = %s",
        (outbound.tenant_id,),
    )
    with pytest.raises(ConsentRequired, match="requires consent"):
        outbound.request(lead_id, send_key="no-consent")
    consent(outbound, datetime.now(UTC))
    allowed = outbound.request(lead_id, send_key="with-consent")
    assert outbound.process(allowed).outcome is Outcome.SENT
    # a YES to a double opt-in prompt records consent with source keyword
    other = outbound.lead("+14155550124")
    with pytest.raises(ConsentRequired):
        outbound.request(other, send_key="other-no-consent")
    admin.execute(
        "UPDATE tenant_config SET require_consent = false WHERE tenant_id = %s",
        (outbound.tenant_id,),
    )
    assert outbound.process(outbound.request(other, "Reply YES to get texts")).outcome is (
        Outcome.SENT
    )
    admin.execute(
        "UPDATE tenant_config SET require_consent = true WHERE tenant_id = %s",
        (outbound.tenant_id,),
    )
    reply(outbound, "YES", sender="+14155550124")
    row = admin.execute(
        "SELECT source_type, source, disclosure_text FROM consents WHERE phone = '+14155550124'"
    ).fetchone()
    assert row == {
        "source_type": "keyword",
        "source": "YES",
        "disclosure_text": "Reply YES to get texts",
    }
    assert outbound.process(outbound.request(other, send_key="after-yes")).outcome is Outcome.SENT


def test_a_launch_skips_the_leads_without_consent_when_it_is_required(
    outbound: Outbound, admin: Connection
) -> None:
    admin.execute(
        "UPDATE campaigns SET template = 'Hi from Acme' WHERE id = %s", (outbound.campaign_id,)
    )
    admin.execute(
        "UPDATE tenant_config SET require_consent = true WHERE tenant_id = %s",
        (outbound.tenant_id,),
    )
    outbound.lead(LEAD_PHONE)
    outbound.lead("+14155550124")
    consent(outbound, datetime.now(UTC))  # LEAD_PHONE's only
    now = datetime.now(UTC)
    launch = start_launch(outbound.uow(), outbound.tenant_id, outbound.campaign_id, None, now, None)
    chunk = LaunchChunk(tenant_id=outbound.tenant_id, launch_id=launch.id, seq=launch.chunk_seq)
    done = run_launch_chunk(outbound.uow(), RecordingQueue(), None, chunk, now)
    with outbound.uow() as uow:
        report = uow.launches.get(launch.id)
    assert report is not None
    assert (done, report.queued, dict(report.skipped)) == ("complete", 1, {"ConsentRequired": 1})
