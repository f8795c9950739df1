"""What the soak checks at the end, from the database (as its owner: every tenant's rows)
and from the sandbox's own record of what it accepted."""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable
from datetime import datetime
from typing import Any

import psycopg
from psycopg.rows import dict_row

from tether_dev.local.aws import client

UUID_PATTERN = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
FINAL = ("sent", "delivered", "undelivered", "failed", "canceled", "read")


def check_all(
    database_url: str,
    texts: list[dict[str, Any]],
    timer_clock: datetime | None,
    receivers: dict[str, set[str]],
    aws_endpoint: str,
    queues: dict[str, str],
) -> dict[str, Any]:
    """Every count the soak reports besides the faults; the ones that must be 0 are
    lost, doubled, stuck and each *_violations one."""
    with psycopg.connect(database_url, row_factory=dict_row) as conn:
        found: dict[str, Any] = {}
        found.update(sends(conn, texts))
        found["opt_out_violations"] = after_opt_out(conn, texts)
        found.update(webhooks(conn))
        found["timer_violations"] = timers(conn, timer_clock)
        found["lease_violations"] = leases(conn)
        found.update(events(conn, receivers))
        found["event_violations"] += bus_opt_outs(conn, aws_endpoint, queues)
        found.update(dead_letters(conn, aws_endpoint, queues))
    return found


def sends(conn: psycopg.Connection[Any], texts: list[dict[str, Any]]) -> dict[str, int]:
    """Each outbound message reached the provider exactly once (the sandbox's texts
    carry the message's id as their idempotency key), or failed with a reason."""
    by_key = Counter(str(t.get("idempotency_key")) for t in texts)
    rows = conn.execute(
        "SELECT id::text, status, external_id, error_reason,"
        " coalesce(not_before > now(), false) AS held FROM messages WHERE direction = 'outbound'"
    ).fetchall()
    ids = {row["id"] for row in rows}
    lost = doubled = stuck = waiting = unexplained = failed_but_accepted = 0
    for row in rows:
        accepted = by_key.get(row["id"], 0)
        doubled += max(0, accepted - 1)
        if row["status"] in ("pending", "queued", "sending") and row["held"]:
            waiting += 1  # held for later (a paused campaign, a retry's back-off)
        elif row["status"] == "sending":
            stuck += 1
        elif row["external_id"] is not None and accepted == 0:
            lost += 1  # Tether says sent; the provider never had it
        elif row["status"] in ("failed", "canceled") and not row["error_reason"]:
            unexplained += 1
        elif row["status"] in ("failed", "canceled") and accepted:
            # the provider had it after all (a timeout, then no attempt left): told apart
            failed_but_accepted += 1
        elif row["status"] in ("pending", "queued"):
            lost += 1  # due, and nothing at the end will send it
    doubled += sum(n for key, n in by_key.items() if key not in ids)  # texts of no message
    return {
        "messages": len(rows),
        "texts_at_provider": len(texts),
        "lost": lost + unexplained,
        "doubled": doubled,
        "stuck": stuck,
        "held_for_later": waiting,
        "failed_but_accepted": failed_but_accepted,
    }


def after_opt_out(conn: psycopg.Connection[Any], texts: list[dict[str, Any]]) -> int:
    """Texts the provider accepted after the phone's opt-out committed (its commit time,
    track_commit_timestamp): campaign texts and auto-replies, not the confirmation of the
    opt-out itself."""
    suppressed = conn.execute(
        "SELECT s.tenant_id::text, s.phone, s.lifted_at,"
        " coalesce(pg_xact_commit_timestamp(s.xmin), s.created_at) AS committed"
        " FROM suppressions s WHERE s.phone IS NOT NULL"
    ).fetchall()
    messages = {
        row["id"]: row
        for row in conn.execute(
            "SELECT id::text, tenant_id::text, purpose FROM messages WHERE direction = 'outbound'"
        ).fetchall()
    }
    windows: dict[tuple[str, str], list[tuple[datetime, datetime | None]]] = {}
    for row in suppressed:
        windows.setdefault((row["tenant_id"], row["phone"]), []).append(
            (row["committed"], row["lifted_at"])
        )
    violations = 0
    for text in texts:
        message = messages.get(str(text.get("idempotency_key")))
        if message is None or message["purpose"] == "opt_out_confirmation":
            continue
        sent = datetime.fromisoformat(text["date_created"])
        for committed, lifted in windows.get((message["tenant_id"], text["to"]), []):
            if sent > committed and (lifted is None or sent < lifted):
                violations += 1
    return violations


def webhooks(conn: psycopg.Connection[Any]) -> dict[str, int]:
    """Stored once (one receipt per delivered body, whatever the retries and duplicates)
    and processed once (every receipt processed; one inbound message per provider id)."""
    stored_twice = conn.execute(
        "SELECT coalesce(sum(n - 1), 0) AS n FROM"
        " (SELECT count(*) AS n FROM webhook_receipts GROUP BY provider_account_id, raw_bytes"
        "  HAVING count(*) > 1) d"
    ).fetchone()
    unprocessed = conn.execute(
        "SELECT count(*) AS n FROM webhook_receipts WHERE processed_at IS NULL"
    ).fetchone()
    inbound_twice = conn.execute(
        "SELECT coalesce(sum(n - 1), 0) AS n FROM (SELECT count(*) AS n FROM messages"
        " WHERE direction = 'inbound' GROUP BY provider, external_id HAVING count(*) > 1) d"
    ).fetchone()
    receipts = conn.execute("SELECT count(*) AS n FROM webhook_receipts").fetchone()
    parts = {
        "webhooks_stored_twice": int(stored_twice["n"] if stored_twice else 0),
        "webhooks_unprocessed": int(unprocessed["n"] if unprocessed else 0),
        "inbound_applied_twice": int(inbound_twice["n"] if inbound_twice else 0),
    }
    if any(parts.values()):
        for row in conn.execute(
            "SELECT id, event_type, received_at, enqueued_at, attempts, last_error"
            " FROM webhook_receipts WHERE processed_at IS NULL LIMIT 10"
        ).fetchall():
            print(f"unprocessed receipt: {row}", flush=True)
    return {
        "webhooks": int(receipts["n"]) if receipts else 0,
        "webhook_violations": sum(parts.values()),
        **parts,
    }


def timers(conn: psycopg.Connection[Any], clock: datetime | None) -> int:
    """Due by the last clock the timers ran at: fired (or cancelled, or given up with
    an error after its attempts), and no timer's message sent twice."""
    if clock is None:
        return 0
    unfired = conn.execute(
        "SELECT count(*) AS n FROM lead_timers WHERE trigger_at <= %s AND executed_at IS NULL"
        " AND cancelled_at IS NULL AND attempts < max_attempts",
        (clock,),
    ).fetchone()
    twice = conn.execute(
        "SELECT coalesce(sum(n - 1), 0) AS n FROM (SELECT count(*) AS n FROM lead_timers"
        " WHERE executed_at IS NOT NULL GROUP BY lead_id, timer_type HAVING count(*) > 1) d"
    ).fetchone()
    return int(unfired["n"] if unfired else 0) + int(twice["n"] if twice else 0)


def leases(conn: psycopg.Connection[Any]) -> int:
    """A number leased again before its release: two leads at once."""
    rows = conn.execute(
        "SELECT event_type, lead_id::text, payload->>'phone_number' AS number FROM lead_events"
        " WHERE event_type IN ('NUMBER_LEASED', 'NUMBER_RELEASED') ORDER BY seq"
    ).fetchall()
    holder: dict[str, str | None] = {}
    violations = 0
    for row in rows:
        number = row["number"]
        if row["event_type"] == "NUMBER_LEASED":
            current = holder.get(number)
            if current is not None and current != row["lead_id"]:
                violations += 1
            holder[number] = row["lead_id"]
        elif holder.get(number) == row["lead_id"]:
            holder[number] = None
    return violations


def events(conn: psycopg.Connection[Any], receivers: dict[str, set[str]]) -> dict[str, int]:
    """Every outbox event relayed; every delivery to a subscription delivered, and at
    its receiver."""
    unrelayed = conn.execute(
        "SELECT count(*) AS n FROM outbox_events WHERE relayed_at IS NULL"
    ).fetchone()
    total = conn.execute("SELECT count(*) AS n FROM outbox_events").fetchone()
    deliveries = conn.execute(
        "SELECT subscription_id::text, event_id::text, status FROM event_deliveries"
    ).fetchall()
    undelivered = 0
    for row in deliveries:
        received = receivers.get(row["subscription_id"])
        if received is None:
            continue
        if row["status"] != "delivered" or row["event_id"] not in received:
            undelivered += 1
    return {
        "events": int(total["n"]) if total else 0,
        "event_violations": int(unrelayed["n"] if unrelayed else 0) + undelivered,
    }


def bus_opt_outs(conn: psycopg.Connection[Any], endpoint: str, queues: dict[str, str]) -> int:
    """The example rule's target: every lead.opted_out event on the bus reached it (at
    least once, as EventBridge delivers). The number of those missing."""
    url = queues.get("OptOutEventsQueue")
    if url is None:
        return 0
    expected = {
        row["id"]
        for row in conn.execute(
            "SELECT id::text FROM outbox_events WHERE type = 'lead.opted_out'"
        ).fetchall()
    }
    seen: set[str] = set()
    for body in drain(client("sqs", endpoint), url):
        seen.update(UUID_PATTERN.findall(body))
    return len(expected - seen)


def drain(sqs: Any, url: str) -> list[str]:
    """Every message body on the queue (received and deleted)."""
    bodies: list[str] = []
    while True:
        batch = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get(
            "Messages", []
        )
        if not batch:
            return bodies
        bodies += [message["Body"] for message in batch]
        sqs.delete_message_batch(
            QueueUrl=url,
            Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(batch)
            ],
        )


def dead_letters(
    conn: psycopg.Connection[Any], endpoint: str, queues: dict[str, str]
) -> dict[str, int]:
    """What the dead-letter queues hold; a message is explained when every message or
    receipt it names ended (sent or failed, processed)."""
    sqs = client("sqs", endpoint)
    held = unexplained = 0
    for name, url in queues.items():
        if "DeadLetter" not in name:
            continue
        while True:
            answer = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0)
            batch = answer.get("Messages", [])
            if not batch:
                break
            for message in batch:
                held += 1
                if not explained(conn, UUID_PATTERN.findall(message["Body"])):
                    unexplained += 1
                    print(f"dead letter in {name}: {message['Body'][:300]}", flush=True)
            sqs.delete_message_batch(
                QueueUrl=url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(batch)
                ],
            )
    return {"dead_letters": held, "dead_letter_violations": unexplained}


def explained(conn: psycopg.Connection[Any], ids: Iterable[str]) -> bool:
    ids = list(ids)
    if not ids:
        return False
    open_messages = conn.execute(
        "SELECT count(*) AS n FROM messages WHERE id = ANY(%s::uuid[]) AND status <> ALL(%s)",
        (ids, list(FINAL)),
    ).fetchone()
    open_receipts = conn.execute(
        "SELECT count(*) AS n FROM webhook_receipts WHERE id = ANY(%s::uuid[])"
        " AND processed_at IS NULL",
        (ids,),
    ).fetchone()
    return not (open_messages and open_messages["n"]) and not (open_receipts and open_receipts["n"])


def as_line(result: dict[str, Any]) -> str:
    return json.dumps(result, sort_keys=True)
