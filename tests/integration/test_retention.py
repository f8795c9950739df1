"""Retention (issue 19): the purge clears raw webhook requests, message texts (and their
bell and insight copies) and stored idempotent responses older than the tenant's
window, in bounded batches, and touches nothing newer. Real PostgreSQL, jobs role."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from psycopg.types.json import Jsonb

from tests.support.factories import make_tenant, unique_number
from tether.db.connection import Connection, FreshConnections
from tether.db.unit_of_work import UnitOfWork
from tether.services.retention import purge_expired

NOW = datetime.now(UTC)
WINDOWS = {
    "retain_webhook_payload_days": 10,
    "retain_message_body_days": 20,
    "retain_idempotency_days": 3,
}
# ages in days around each window: well inside, just inside, just past, far past
AGES = [1, 2.9, 3.1, 9.9, 10.1, 19.9, 20.1, 400]


def _seed(admin: Connection, tenant_id: uuid.UUID, account_id: uuid.UUID) -> None:
    phone = unique_number()
    thread = admin.execute(
        "INSERT INTO threads (tenant_id, our_address, their_address) VALUES (%s, %s, %s)"
        " RETURNING id",
        (tenant_id, unique_number(), phone),
    ).fetchone()
    assert thread is not None
    for age in AGES:
        at = NOW - timedelta(days=age)
        tag = f"age {age} {uuid.uuid4().hex}"
        admin.execute(
            "INSERT INTO webhook_receipts (tenant_id, provider_account_id, provider,"
            " idempotency_key, event_type, raw_body, headers, event, received_at)"
            " VALUES (%s, %s, 'sandbox', %s, 'inbound_message', %s, %s, %s, %s)",
            (tenant_id, account_id, f"sandbox:{tag}", f"Body={tag}", Jsonb({"h": tag}),
             Jsonb({"body": tag}), at),
        )  # fmt: skip
        message = admin.execute(
            "INSERT INTO messages (tenant_id, direction, thread_id, from_address, to_address,"
            " body, media_urls, status, received_at, created_at)"
            " VALUES (%s, 'inbound', %s, %s, %s, %s, %s, 'received', %s, %s) RETURNING id",
            (tenant_id, thread["id"], phone, unique_number(), tag, [f"https://m/{tag}"], at, at),
        ).fetchone()
        assert message is not None
        admin.execute(
            "INSERT INTO notifications (tenant_id, workspace_stage, kind, message_id, title, body,"
            " created_at) VALUES (%s, 'initial_message', 'reply', %s, 'Reply', %s, %s)",
            (tenant_id, message["id"], tag, at),
        )
        admin.execute(
            "INSERT INTO api_idempotency (tenant_id, idempotency_key, request_hash, status_code,"
            " response, created_at, completed_at) VALUES (%s, %s, 'h', 200, %s, %s, %s)",
            (tenant_id, tag, Jsonb({"tag": tag}), at, at),
        )
    old = NOW - timedelta(days=30)
    admin.execute(
        "INSERT INTO thread_insights (thread_id, tenant_id, label, summary, updated_at)"
        " VALUES (%s, %s, 'reply', 'reply: the old words', %s)",
        (thread["id"], tenant_id, old),
    )


def _left(admin: Connection, tenant_id: uuid.UUID) -> dict[str, list[float]]:
    """The ages (days) of what still holds its words, by kind."""

    def ages(query: str) -> list[float]:
        rows = admin.execute(query, {"t": tenant_id, "now": NOW}).fetchall()
        return sorted(round(float(r["age"]), 1) for r in rows)

    return {
        "receipts": ages(
            "SELECT extract(epoch FROM %(now)s - received_at) / 86400 AS age FROM webhook_receipts"
            " WHERE tenant_id = %(t)s AND (raw_body <> '' OR raw_bytes <> '' OR event IS NOT NULL"
            " OR headers <> '{}')"
        ),
        "messages": ages(
            "SELECT extract(epoch FROM %(now)s - created_at) / 86400 AS age FROM messages"
            " WHERE tenant_id = %(t)s AND (body <> '' OR media_urls <> '{}')"
        ),
        "notifications": ages(
            "SELECT extract(epoch FROM %(now)s - created_at) / 86400 AS age FROM notifications"
            " WHERE tenant_id = %(t)s AND body IS NOT NULL"
        ),
        "idempotency": ages(
            "SELECT extract(epoch FROM %(now)s - created_at) / 86400 AS age FROM api_idempotency"
            " WHERE tenant_id = %(t)s"
        ),
        "insights": ages(
            "SELECT extract(epoch FROM %(now)s - updated_at) / 86400 AS age FROM thread_insights"
            " WHERE tenant_id = %(t)s AND summary IS NOT NULL"
        ),
    }


def test_a_purge_leaves_nothing_older_than_the_window_and_touches_nothing_newer(
    admin: Connection, jobs_connections: FreshConnections
) -> None:
    tenant_id, account_id = make_tenant(admin, **WINDOWS)
    _seed(admin, tenant_id, account_id)
    newer = admin.execute(
        "SELECT id, raw_body, raw_bytes, headers, event FROM webhook_receipts"
        " WHERE tenant_id = %s AND received_at > %s ORDER BY id",
        (tenant_id, NOW - timedelta(days=10)),
    ).fetchall()
    assert _left(admin, tenant_id)["receipts"] == AGES

    # small batches, run until a run finds nothing (other tests' rows may be due too)
    runs = 0
    while sum(purge_expired(UnitOfWork(jobs_connections), NOW, 50, 4).purged.values()):
        runs += 1
        assert runs < 100

    assert _left(admin, tenant_id) == {
        "receipts": [1.0, 2.9, 3.1, 9.9],
        "messages": [1.0, 2.9, 3.1, 9.9, 10.1, 19.9],
        "notifications": [1.0, 2.9, 3.1, 9.9, 10.1, 19.9],
        "idempotency": [1.0, 2.9],
        "insights": [],
    }
    # what is newer is exactly as it was; what was cleared keeps its key and is marked
    assert (
        admin.execute(
            "SELECT id, raw_body, raw_bytes, headers, event FROM webhook_receipts"
            " WHERE tenant_id = %s AND received_at > %s ORDER BY id",
            (tenant_id, NOW - timedelta(days=10)),
        ).fetchall()
        == newer
    )
    cleared = admin.execute(
        "SELECT count(*) AS n, count(*) FILTER (WHERE redacted_at IS NOT NULL"
        " AND idempotency_key LIKE 'sandbox:age %%') AS marked FROM webhook_receipts"
        " WHERE tenant_id = %s AND raw_body = ''",
        (tenant_id,),
    ).fetchone()
    assert cleared == {"n": 4, "marked": 4}
    audits = admin.execute(
        "SELECT detail ->> 'kind' AS kind, sum((detail ->> 'rows')::int) AS rows FROM audit_log"
        " WHERE tenant_id = %s AND kind = 'retention_purge' GROUP BY 1 ORDER BY 1",
        (tenant_id,),
    ).fetchall()
    assert {a["kind"]: a["rows"] for a in audits} == {
        "webhook_payloads": 4,
        "message_bodies": 2,
        "notification_bodies": 2,
        "insight_summaries": 1,
        "idempotency_records": 6,
    }


def test_one_run_does_bounded_work(admin: Connection, jobs_connections: FreshConnections) -> None:
    tenant_id, account_id = make_tenant(admin, **WINDOWS)
    _seed(admin, tenant_id, account_id)
    report = purge_expired(UnitOfWork(jobs_connections), NOW, batch_size=1, max_batches=2)
    assert report.purged
    assert all(count <= 2 for count in report.purged.values())
    assert report.rows_per_second > 0
