"""The retention job's statements (tether.services.retention): each clears at most
`limit` rows past their tenant's window, oldest first, skipping rows another writer
holds, so a run's work is bounded and two runs never wait on each other."""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from uuid import UUID

from tether.db.session import Session

_RECEIPTS = """
WITH due AS (
    SELECT r.id
      FROM webhook_receipts r
      JOIN tenant_config c ON c.tenant_id = r.tenant_id
     WHERE r.redacted_at IS NULL
       AND r.received_at < %(now)s - make_interval(days => c.retain_webhook_payload_days)
     ORDER BY r.received_at
     LIMIT %(limit)s
       FOR UPDATE OF r SKIP LOCKED
)
UPDATE webhook_receipts r
   SET raw_body = '', raw_bytes = '', headers = '{}', event = NULL, last_error = NULL,
       redacted_at = %(now)s
  FROM due WHERE r.id = due.id
RETURNING r.tenant_id
"""

_BODIES = """
WITH due AS (
    SELECT m.id
      FROM messages m
      JOIN tenant_config c ON c.tenant_id = m.tenant_id
     WHERE m.erased_at IS NULL
       AND m.created_at < %(now)s - make_interval(days => c.retain_message_body_days)
       AND (m.direction = 'inbound' OR m.sent_at IS NOT NULL
            OR m.status IN (SELECT status FROM message_statuses WHERE terminal))
     ORDER BY m.created_at
     LIMIT %(limit)s
       FOR UPDATE OF m SKIP LOCKED
)
UPDATE messages m SET body = '', media_urls = '{}', erased_at = %(now)s
  FROM due WHERE m.id = due.id
RETURNING m.tenant_id
"""

# The copies of a text kept beside it: a bell's body, a thread's insight summary.
_NOTIFICATION_BODIES = """
WITH due AS (
    SELECT n.id
      FROM notifications n
      JOIN tenant_config c ON c.tenant_id = n.tenant_id
     WHERE n.body IS NOT NULL
       AND n.created_at < %(now)s - make_interval(days => c.retain_message_body_days)
     ORDER BY n.created_at
     LIMIT %(limit)s
       FOR UPDATE OF n SKIP LOCKED
)
UPDATE notifications n SET body = NULL FROM due WHERE n.id = due.id
RETURNING n.tenant_id
"""

_INSIGHT_SUMMARIES = """
WITH due AS (
    SELECT i.thread_id
      FROM thread_insights i
      JOIN tenant_config c ON c.tenant_id = i.tenant_id
     WHERE i.summary IS NOT NULL
       AND i.updated_at < %(now)s - make_interval(days => c.retain_message_body_days)
     ORDER BY i.updated_at
     LIMIT %(limit)s
       FOR UPDATE OF i SKIP LOCKED
)
UPDATE thread_insights i SET summary = NULL FROM due WHERE i.thread_id = due.thread_id
RETURNING i.tenant_id
"""

_IDEMPOTENCY = """
WITH due AS (
    SELECT a.tenant_id, a.idempotency_key
      FROM api_idempotency a
      JOIN tenant_config c ON c.tenant_id = a.tenant_id
     WHERE a.created_at < %(now)s - make_interval(days => c.retain_idempotency_days)
     ORDER BY a.created_at
     LIMIT %(limit)s
       FOR UPDATE OF a SKIP LOCKED
)
DELETE FROM api_idempotency a USING due
 WHERE a.tenant_id = due.tenant_id AND a.idempotency_key = due.idempotency_key
RETURNING a.tenant_id
"""

# Events (issue 16) are kept a fixed 30 days once relayed: long enough for a subscription's
# replay of a time range, and the same for every tenant (no setting to learn). One never
# relayed is kept until the sweeper has handed it over.
OUTBOX_RETENTION_DAYS = 30

_OUTBOX_EVENTS = f"""
WITH due AS (
    SELECT e.id
      FROM outbox_events e
     WHERE e.relayed_at IS NOT NULL
       AND e.occurred_at < %(now)s - make_interval(days => {OUTBOX_RETENTION_DAYS})
     ORDER BY e.occurred_at
     LIMIT %(limit)s
       FOR UPDATE OF e SKIP LOCKED
)
DELETE FROM outbox_events e USING due WHERE e.id = due.id
RETURNING e.tenant_id
"""

PURGES = {
    "webhook_payloads": _RECEIPTS,
    "message_bodies": _BODIES,
    "notification_bodies": _NOTIFICATION_BODIES,
    "insight_summaries": _INSIGHT_SUMMARIES,
    "idempotency_records": _IDEMPOTENCY,
    "outbox_events": _OUTBOX_EVENTS,
}


class RetentionRepository:
    def __init__(self, conn: Session) -> None:
        self._conn = conn

    def purge(self, kind: str, now: datetime, limit: int) -> Counter[UUID]:
        """Clear up to `limit` rows of `kind` (a key of PURGES) past their window: how
        many, by tenant."""
        rows = self._conn.execute(PURGES[kind], {"now": now, "limit": limit}).fetchall()
        return Counter(row["tenant_id"] for row in rows)
