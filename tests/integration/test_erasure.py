"""Erasure on request (issue 19): a person's names, email, custom data, texts and raw
webhook requests leave every column, the binding and the counts stay, and an opt-out
still blocks afterwards. Real PostgreSQL, the real send path and sandbox provider."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from psycopg import errors, sql
from psycopg.types.json import Jsonb

from tests.support.factories import Chain, make_lead, unique_number
from tests.support.outbound import NOW, SENDER, Outbound
from tether.db.connection import Connection, FreshConnections
from tether.db.webhook_repositories import NewReceipt
from tether.domain.erasure import phone_hash
from tether.domain.events import InboundMessage
from tether.services.erasure import erase_lead, erase_phone
from tether.services.outbound import Outcome
from tether.services.replies import handle_reply
from tether_dev.sandbox import SandboxServer

# where the lead's number may stay: the hard-rule binding (README, "Erasure")
BINDING = {
    ("messages", "from_address"),
    ("messages", "to_address"),
    ("threads", "their_address"),
    ("leads", "phone"),
}


@dataclass
class Person:
    outbound: Outbound
    lead_id: uuid.UUID
    phone: str
    first: str
    last: str
    email: str
    words: list[str]  # what the person wrote, and what was written to them

    def needles(self) -> list[str]:
        return [self.phone, self.phone.lstrip("+"), self.first, self.last, self.email, *self.words]


def receive(person: Person, body: str, at_minutes: int) -> uuid.UUID:
    """A reply as the webhook stores it (raw form body naming the number) and the inbound
    function applies it; the receipt's id."""
    o = person.outbound
    sid = f"SM{uuid.uuid4().hex}"
    event = InboundMessage(
        provider="sandbox",
        external_id=sid,
        from_address=person.phone,
        to_address=SENDER,
        body=body,
        occurred_at=NOW + timedelta(minutes=at_minutes),
    )
    raw = urlencode({"From": person.phone, "To": SENDER, "Body": body, "MessageSid": sid})
    with o.uow() as uow:
        receipt_id = uow.webhook_receipts.add(
            NewReceipt(
                o.tenant_id, o.account_id, "sandbox", f"sandbox:{sid}", "inbound_message", sid,
                raw, raw.encode(), {"X-From": person.phone},
                event.model_dump(mode="json"),
            )
        )  # fmt: skip
        uow.commit()
    assert receipt_id is not None
    handle_reply(o.uow(), o.tenant_id, event, receipt_id, NOW + timedelta(minutes=at_minutes))
    return receipt_id


@pytest.fixture
def person(admin: Connection, app_connections: FreshConnections, sandbox: SandboxServer) -> Person:
    """A lead with names, an email and custom data, texted once, who asked for a call
    and then opted out, with the logs, bells and stored responses that leaves."""
    o = Outbound(admin, app_connections, sandbox)
    tag = uuid.uuid4().hex[:10]
    phone = unique_number()
    lead_id = o.lead(phone)
    p = Person(
        o, lead_id, phone, f"Zephyrine{tag}", f"Quillfeather{tag}", f"zq{tag}@example.com",
        [f"offer-{tag}", f"call me about lot {tag}"],
    )  # fmt: skip
    admin.execute(
        "UPDATE leads SET first_name = %s, last_name = %s, email = %s, attributes = %s WHERE id = %s",
        (p.first, p.last, p.email, Jsonb({"note": f"met {p.first} at the fair"}), lead_id),
    )
    sent = o.request(lead_id, body=f"Hi {p.first}, your {p.words[0]}")
    assert o.process(sent).outcome is Outcome.SENT
    receive(p, f"yes please {p.words[1]}, my email is {p.email}", 5)
    receive(p, "STOP", 6)
    # what other paths may have left: an audit entry, an event note, a stored response
    admin.execute(
        "INSERT INTO audit_log (tenant_id, kind, detail) VALUES (%s, 'note', %s)",
        (o.tenant_id, Jsonb({"from": phone, "who": f"{p.first} {p.last}", "kept": "yes"})),
    )
    admin.execute(
        "INSERT INTO lead_events (tenant_id, lead_id, event_type, payload) VALUES (%s, %s, 'NOTE', %s)",
        (o.tenant_id, lead_id, Jsonb({"note": f"wrote to {p.email}", "kept": "yes"})),
    )
    admin.execute(
        "INSERT INTO api_idempotency (tenant_id, idempotency_key, request_hash, status_code,"
        " response, completed_at) VALUES (%s, %s, 'h', 200, %s, now())",
        (o.tenant_id, f"import-{tag}", Jsonb({"leads": [{"phone": phone}]})),
    )
    return p


def _columns(admin: Connection) -> list[tuple[str, str, str, bool]]:
    rows = admin.execute(
        "SELECT c.table_name, c.column_name, c.data_type,"
        " EXISTS (SELECT 1 FROM information_schema.columns t WHERE t.table_schema = 'public'"
        "   AND t.table_name = c.table_name AND t.column_name = 'tenant_id') AS has_tenant"
        " FROM information_schema.columns c WHERE c.table_schema = 'public'"
        " AND c.data_type IN ('text', 'character varying', 'jsonb', 'json', 'ARRAY', 'bytea')"
        " AND c.table_name IN (SELECT table_name FROM information_schema.tables"
        "  WHERE table_schema = 'public' AND table_type = 'BASE TABLE')"
    ).fetchall()
    return [(r["table_name"], r["column_name"], r["data_type"], r["has_tenant"]) for r in rows]


def holding(admin: Connection, tenant_id: uuid.UUID, needle: str) -> set[tuple[str, str]]:
    """Every (table, column) of the tenant's rows (all rows of tables without a tenant)
    whose text, JSON, array or bytes hold `needle`, case-insensitively."""
    found = set()
    for table, column, data_type, has_tenant in _columns(admin):
        as_text = (
            sql.SQL("encode({}, 'escape')") if data_type == "bytea" else sql.SQL("{}::text")
        ).format(sql.Identifier(column))
        query = sql.SQL("SELECT count(*) AS n FROM {} WHERE {} ILIKE %s").format(
            sql.Identifier(table), as_text
        )
        params: list[object] = [f"%{needle}%"]
        if has_tenant:
            query = query + sql.SQL(" AND tenant_id = %s")
            params.append(tenant_id)
        row = admin.execute(query, params).fetchone()
        assert row is not None
        if row["n"]:
            found.add((table, column))
    return found


def test_erasure_leaves_the_person_nowhere_but_the_binding(
    person: Person, admin: Connection
) -> None:
    o = person.outbound
    before = {needle: holding(admin, o.tenant_id, needle) for needle in person.needles()}
    # the scene put the person in the places erasure must reach (else this proves nothing)
    assert {
        ("webhook_receipts", "headers"),
        ("webhook_receipts", "event"),
        ("notifications", "title"),
        ("audit_log", "detail"),
        ("api_idempotency", "response"),
        ("suppressions", "phone"),
    } <= before[person.phone]
    # a form body writes the number URL-encoded ("%2B1650..."): its digits are found
    assert {("webhook_receipts", "raw_body"),
            ("webhook_receipts", "raw_bytes")} <= before[person.phone.lstrip("+")]  # fmt: skip
    assert {("leads", "first_name"), ("messages", "body"), ("audit_log", "detail")} <= before[
        person.first
    ]
    assert {("leads", "email"), ("lead_events", "payload"),
            ("notifications", "body")} <= before[person.email]  # fmt: skip
    counts = admin.execute(
        "SELECT (SELECT count(*) FROM messages WHERE tenant_id = %(t)s) AS messages,"
        " (SELECT sent_count FROM phone_numbers WHERE tenant_id = %(t)s) AS sent,"
        " (SELECT count(*) FROM webhook_receipts WHERE tenant_id = %(t)s) AS receipts,"
        " (SELECT count(*) FROM lead_events WHERE tenant_id = %(t)s) AS events",
        {"t": o.tenant_id},
    ).fetchone()

    report = erase_lead(o.uow(), person.lead_id, "api_key:test", NOW + timedelta(days=1))

    assert report.phone_hash == phone_hash(o.tenant_id, person.phone)
    assert report.counts["messages"] >= 3
    assert report.counts["webhook_receipts"] >= 2
    for needle in person.needles():
        left = holding(admin, o.tenant_id, needle)
        allowed = BINDING if needle in {person.phone, person.phone.lstrip("+")} else set()
        assert left <= allowed, f"{needle!r} is still in {sorted(left - allowed)}"
    # the binding and the counts remain; the receipts keep their keys
    assert (
        admin.execute(
            "SELECT (SELECT count(*) FROM messages WHERE tenant_id = %(t)s) AS messages,"
            " (SELECT sent_count FROM phone_numbers WHERE tenant_id = %(t)s) AS sent,"
            " (SELECT count(*) FROM webhook_receipts WHERE tenant_id = %(t)s) AS receipts,"
            " (SELECT count(*) FROM lead_events WHERE tenant_id = %(t)s) AS events",
            {"t": o.tenant_id},
        ).fetchone()
        == counts
    )
    first = admin.execute(
        "SELECT from_address, to_address, campaign_phone_assignment_id, body, erased_at"
        " FROM messages WHERE lead_id = %s AND direction = 'outbound' ORDER BY created_at LIMIT 1",
        (person.lead_id,),
    ).fetchone()
    assert first is not None
    assert (first["from_address"], first["to_address"], first["body"]) == (SENDER, person.phone, "")
    assert first["campaign_phone_assignment_id"] is not None
    assert first["erased_at"] is not None
    kept = admin.execute(
        "SELECT detail FROM audit_log WHERE tenant_id = %s AND kind = 'note'", (o.tenant_id,)
    ).fetchone()
    assert kept is not None
    assert kept["detail"] == {
        "from": "[erased]",
        "who": "[erased]",
        "kept": "yes",
    }
    # one audit row says what was erased and by which key, without the number
    [audit] = admin.execute(
        "SELECT actor, subject_type, subject_id, detail FROM audit_log"
        " WHERE tenant_id = %s AND kind = 'erasure'",
        (o.tenant_id,),
    ).fetchall()
    assert (audit["actor"], audit["subject_type"], audit["subject_id"]) == (
        "api_key:test",
        "lead",
        str(person.lead_id),
    )
    assert audit["detail"] == {"phone_hash": report.phone_hash, "erased": report.counts}


def test_an_opt_out_still_blocks_after_erasure(person: Person, admin: Connection) -> None:
    o = person.outbound
    erase_lead(o.uow(), person.lead_id, "api_key:test", NOW)
    row = admin.execute(
        "SELECT phone, phone_hash, erased_at, lifted_at FROM suppressions WHERE tenant_id = %s",
        (o.tenant_id,),
    ).fetchone()
    assert row is not None
    assert row["phone"] is None
    assert row["lifted_at"] is None
    assert bytes(row["phone_hash"]).hex() == phone_hash(o.tenant_id, person.phone)
    with o.uow() as uow:
        assert uow.suppressions.blocks(o.tenant_id, person.phone)
    # the revocation stays on the consent log, without the person
    revoked = admin.execute(
        "SELECT phone, phone_hash, kind, source_type, erased_at FROM consents WHERE tenant_id = %s",
        (o.tenant_id,),
    ).fetchall()
    assert [(r["phone"], r["kind"], r["source_type"]) for r in revoked] == [
        (None, "revoked", "keyword")
    ]
    assert bytes(revoked[0]["phone_hash"]).hex() == phone_hash(o.tenant_id, person.phone)
    assert revoked[0]["erased_at"] is not None
    # the number imported again as a new lead: the send gate still refuses it
    texted_before = o.texts_to(person.phone)
    again = o.lead(person.phone)
    late = o.request(again, body="one more?", send_key=f"after-{uuid.uuid4().hex}")
    assert o.process(late).outcome is Outcome.FAILED
    assert o.message(late)["error_code"] == "suppressed"
    assert o.texts_to(person.phone) == texted_before
    # a second STOP from the erased number neither duplicates the opt-out nor re-confirms
    receive(person, "STOP", 30)
    assert admin.execute(
        "SELECT count(*) AS n FROM suppressions WHERE tenant_id = %s", (o.tenant_id,)
    ).fetchone() == {"n": 1}


def test_erasure_is_idempotent_and_a_retried_webhook_is_still_a_duplicate(
    person: Person, admin: Connection
) -> None:
    o = person.outbound
    first = erase_phone(o.uow(), o.tenant_id, person.phone, "api_key:a", NOW)
    again = erase_phone(o.uow(), o.tenant_id, person.phone, "api_key:b", NOW)
    assert first.erased_anything
    assert not again.erased_anything
    assert again.phone_hash == first.phone_hash
    assert admin.execute(
        "SELECT count(*) AS n FROM audit_log WHERE tenant_id = %s AND kind = 'erasure'",
        (o.tenant_id,),
    ).fetchone() == {"n": 1}
    [key] = admin.execute(
        "SELECT idempotency_key FROM webhook_receipts WHERE tenant_id = %s"
        " AND event_type = 'inbound_message' ORDER BY received_at LIMIT 1",
        (o.tenant_id,),
    ).fetchall()
    with o.uow() as uow:
        retry = NewReceipt(
            o.tenant_id, o.account_id, "sandbox", key["idempotency_key"], "inbound_message",
            None, "From=again", b"From=again", {}, None,
        )  # fmt: skip
        assert uow.webhook_receipts.add(retry) is None


def test_erasure_by_an_unknown_number_changes_nothing(person: Person) -> None:
    o = person.outbound
    report = erase_phone(o.uow(), o.tenant_id, unique_number(), "api_key:a", NOW)
    assert not report.erased_anything


# --- the sanctioned paths are the only ones


def _fails(admin: Connection, statement: str, *params: object) -> None:
    with pytest.raises(errors.CheckViolation), admin.transaction():
        admin.execute(statement, params)


def test_the_redaction_paths_allow_nothing_else(person: Person, admin: Connection) -> None:
    o = person.outbound
    receipt = admin.execute(
        "SELECT id FROM webhook_receipts WHERE tenant_id = %s LIMIT 1", (o.tenant_id,)
    ).fetchone()
    assert receipt is not None
    rid = receipt["id"]
    # a receipt's raw request: never rewritten, only cleared whole, once, key kept
    _fails(admin, "UPDATE webhook_receipts SET raw_body = 'forged' WHERE id = %s", rid)
    _fails(
        admin,
        "UPDATE webhook_receipts SET raw_body = '', redacted_at = now() WHERE id = %s",
        rid,
    )
    admin.execute(
        "UPDATE webhook_receipts SET raw_body = '', raw_bytes = '', headers = '{}', event = NULL,"
        " redacted_at = now() WHERE id = %s",
        (rid,),
    )
    _fails(admin, "UPDATE webhook_receipts SET idempotency_key = 'other' WHERE id = %s", rid)
    _fails(admin, "UPDATE webhook_receipts SET redacted_at = NULL WHERE id = %s", rid)
    _fails(admin, "UPDATE webhook_receipts SET event = '{}' WHERE id = %s", rid)
    # the logs: only values replaced by "[erased]", once
    event = admin.execute(
        "SELECT id FROM lead_events WHERE lead_id = %s AND event_type = 'NOTE'", (person.lead_id,)
    ).fetchone()
    assert event is not None
    _fails(admin, "UPDATE lead_events SET payload = '{\"note\": \"x\", \"kept\": \"yes\"}',"
                  " redacted_at = now() WHERE id = %s", event["id"])  # fmt: skip
    _fails(admin, "UPDATE lead_events SET payload = '{\"kept\": \"yes\"}', redacted_at = now()"
                  " WHERE id = %s", event["id"])  # fmt: skip
    _fails(admin, "UPDATE lead_events SET event_type = 'X', redacted_at = now() WHERE id = %s",
           event["id"])  # fmt: skip
    _fails(admin, "DELETE FROM lead_events WHERE id = %s", event["id"])
    admin.execute(
        'UPDATE lead_events SET payload = \'{"note": "[erased]", "kept": "yes"}\','
        " redacted_at = now() WHERE id = %s",
        (event["id"],),
    )
    _fails(admin, "UPDATE lead_events SET payload = '{\"note\": \"[erased]\", \"kept\": \"[erased]\"}'"
                  " WHERE id = %s", event["id"])  # fmt: skip
    _fails(admin, "UPDATE audit_log SET detail = '{}', redacted_at = now() WHERE tenant_id = %s",
           o.tenant_id)  # fmt: skip
    # a suppression: its number cleared with erased_at, nothing else, and the hash fixed
    _fails(admin, "UPDATE suppressions SET phone = NULL WHERE tenant_id = %s", o.tenant_id)
    _fails(admin, "UPDATE suppressions SET phone_hash = '\\x00' WHERE tenant_id = %s", o.tenant_id)
    _fails(admin, "UPDATE suppressions SET phone = NULL, erased_at = now(), reason = 'manual'"
                  " WHERE tenant_id = %s", o.tenant_id)  # fmt: skip
    _fails(admin, "UPDATE suppressions SET erased_at = now() WHERE tenant_id = %s", o.tenant_id)
    # the consent log (the STOP revoked consent): the person cleared, once, nothing else
    consent = admin.execute(
        "SELECT id FROM consents WHERE tenant_id = %s AND phone = %s LIMIT 1",
        (o.tenant_id, person.phone),
    ).fetchone()
    assert consent is not None
    cid = consent["id"]
    _fails(admin, "UPDATE consents SET phone = NULL WHERE id = %s", cid)
    _fails(admin, "UPDATE consents SET erased_at = now() WHERE id = %s", cid)
    _fails(admin, "UPDATE consents SET phone = NULL, ip = NULL, user_agent = NULL,"
                  " disclosure_text = NULL, evidence_ref = NULL, erased_at = now(),"
                  " kind = 'granted' WHERE id = %s", cid)  # fmt: skip
    _fails(admin, "DELETE FROM consents WHERE id = %s", cid)
    admin.execute(
        "UPDATE consents SET phone = NULL, ip = NULL, user_agent = NULL, disclosure_text = NULL,"
        " evidence_ref = NULL, erased_at = now() WHERE id = %s",
        (cid,),
    )
    _fails(admin, "UPDATE consents SET erased_at = now() + interval '1 day' WHERE id = %s", cid)


# --- the opt-out clock


def test_the_opt_out_clock_runs_from_the_receipt_to_the_suppression(
    person: Person, admin: Connection, capsys: pytest.CaptureFixture[str]
) -> None:
    from tether.observability import metrics

    o = person.outbound
    metrics.flush_metrics()  # the fixture's own STOP
    capsys.readouterr()
    other = Person(o, o.lead(unique_number()), "", "", "", "", [])
    other.phone = admin.execute(
        "SELECT phone FROM leads WHERE id = %s", (other.lead_id,)
    ).fetchone()["phone"]  # type: ignore[index]
    receipt_id = receive(other, "stop texting me", 7)
    metrics.flush_metrics()
    row = admin.execute(
        "SELECT s.arrived_at, r.received_at, s.created_at, s.opt_out_clock"
        " FROM suppressions s JOIN webhook_receipts r ON r.id = %s"
        " WHERE s.tenant_id = %s AND s.phone = %s",
        (receipt_id, o.tenant_id, other.phone),
    ).fetchone()
    assert row is not None
    assert row["arrived_at"] == row["received_at"]
    assert row["opt_out_clock"] == row["created_at"] - row["arrived_at"]
    assert timedelta(0) <= row["opt_out_clock"] < timedelta(minutes=1)
    emitted = [
        json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line
    ]
    [clock] = [m["OptOutClock"] for m in emitted if "OptOutClock" in m]
    assert clock == [pytest.approx(row["opt_out_clock"].total_seconds(), abs=1e-3)]


# --- the log redaction, for any payload

# jsonb holds no NUL (\u0000) and no lone surrogate: every other character
words = st.text(st.characters(exclude_characters="\x00", exclude_categories=["Cs"]), max_size=30)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | words,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(words, inner, max_size=3),
    max_leaves=8,
)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    payload=st.dictionaries(words.filter(bool), json_values, min_size=1, max_size=5),
    plant=st.sampled_from(["+16505550123", "16505550123", "Ana.Lopez@Example.com"]),
    where=st.integers(min_value=0, max_value=4),
)
def test_what_erasure_writes_into_a_log_is_what_its_trigger_allows(
    admin: Connection, chain: Chain, payload: dict[str, object], plant: str, where: int
) -> None:
    """redact_values (what erasure writes) against allow_only_redaction (what the
    append-only log accepts): the result holds no needle, keeps every key, and the
    trigger takes it."""
    keys = sorted(payload)
    payload[keys[where % len(keys)]] = {"deep": [f"x {plant} y"]}
    needles = ["+16505550123", "16505550123", "ana.lopez@example.com"]
    with admin.transaction(force_rollback=True):
        lead = make_lead(admin, chain.tenant_id)
        row = admin.execute(
            "INSERT INTO lead_events (tenant_id, lead_id, event_type, payload)"
            " VALUES (%s, %s, 'NOTE', %s) RETURNING id",
            (chain.tenant_id, lead, Jsonb(payload)),
        ).fetchone()
        assert row is not None
        redacted = admin.execute(
            "UPDATE lead_events SET payload = redact_values(payload, %s), redacted_at = now()"
            " WHERE id = %s RETURNING payload",
            (needles, row["id"]),
        ).fetchone()
    assert redacted is not None
    assert sorted(redacted["payload"]) == keys
    assert not any(n in json.dumps(redacted["payload"]).lower() for n in needles)
    assert all(redacted["payload"][k] in (payload[k], "[erased]") for k in keys)
