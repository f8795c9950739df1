"""SQL of webhook subscriptions and their deliveries (migration 0033): the one writer of
event_subscriptions and event_deliveries."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from tether.db.pages import after_position, newest_first
from tether.db.session import Session
from tether.domain.outbox import EventType
from tether.domain.pagination import Position
from tether.domain.subscriptions import (
    Delivery,
    DeliveryJob,
    DeliveryStatus,
    Subscription,
    SubscriptionStatus,
)

SUBSCRIPTION_COLUMNS = (
    "id, tenant_id, url, event_types, secret_ref, status, failing_since, created_at, updated_at"
)
DELIVERY_COLUMNS = (
    "id, tenant_id, subscription_id, event_id, webhook_id, status, attempts, started_at,"
    " next_attempt_at, last_attempt_at, last_status_code, last_error, delivered_at, failed_at,"
    " created_at"
)


def _subscription(row: Mapping[str, Any]) -> Subscription:
    return Subscription(
        row["id"],
        row["tenant_id"],
        row["url"],
        tuple(EventType(t) for t in row["event_types"]),
        row["secret_ref"],
        SubscriptionStatus(row["status"]),
        row["failing_since"],
        row["created_at"],
        row["updated_at"],
    )


def _delivery(row: Mapping[str, Any]) -> Delivery:
    return Delivery(
        row["id"],
        row["tenant_id"],
        row["subscription_id"],
        row["event_id"],
        row["webhook_id"],
        DeliveryStatus(row["status"]),
        row["attempts"],
        row["started_at"],
        row["next_attempt_at"],
        row["last_attempt_at"],
        row["last_status_code"],
        row["last_error"],
        row["delivered_at"],
        row["failed_at"],
        row["created_at"],
    )


class SubscriptionRepository:
    def __init__(self, conn: Session) -> None:
        self._conn = conn

    def add(
        self,
        subscription_id: UUID,
        tenant_id: UUID,
        url: str,
        event_types: Sequence[EventType],
        secret_ref: str,
        now: datetime,
    ) -> Subscription:
        row = self._conn.execute(
            "INSERT INTO event_subscriptions"
            " (id, tenant_id, url, event_types, secret_ref, created_at, updated_at)"
            f" VALUES (%s, %s, %s, %s, %s, %s, %s) RETURNING {SUBSCRIPTION_COLUMNS}",
            (
                subscription_id,
                tenant_id,
                url,
                [t.value for t in event_types],
                secret_ref,
                now,
                now,
            ),
        ).fetchone()
        assert row is not None
        return _subscription(row)

    def get(self, subscription_id: UUID) -> Subscription | None:
        row = self._conn.execute(
            f"SELECT {SUBSCRIPTION_COLUMNS} FROM event_subscriptions WHERE id = %s",
            (subscription_id,),
        ).fetchone()
        return _subscription(row) if row is not None else None

    def page(self, after: Position | None, limit: int) -> list[Subscription]:
        condition, order = newest_first()
        rows = self._conn.execute(
            f"SELECT {SUBSCRIPTION_COLUMNS} FROM event_subscriptions WHERE {condition} {order}",
            after_position(after, limit),
        ).fetchall()
        return [_subscription(row) for row in rows]

    def set_status(
        self, subscription_id: UUID, status: SubscriptionStatus, now: datetime
    ) -> Subscription | None:
        """Enable (active, whatever failed before) or disable a subscription."""
        row = self._conn.execute(
            "UPDATE event_subscriptions SET status = %s, failing_since = NULL, updated_at = %s"
            f" WHERE id = %s RETURNING {SUBSCRIPTION_COLUMNS}",
            (status.value, now, subscription_id),
        ).fetchone()
        return _subscription(row) if row is not None else None

    def delete(self, subscription_id: UUID) -> Subscription | None:
        row = self._conn.execute(
            f"DELETE FROM event_subscriptions WHERE id = %s RETURNING {SUBSCRIPTION_COLUMNS}",
            (subscription_id,),
        ).fetchone()
        return _subscription(row) if row is not None else None

    def mark_failing(self, subscription_ids: Sequence[UUID], now: datetime) -> list[UUID]:
        """Active subscriptions among these become failing (since now); which did."""
        rows = self._conn.execute(
            "UPDATE event_subscriptions SET status = 'failing', failing_since = %s,"
            " updated_at = %s WHERE id = ANY(%s) AND status = 'active' RETURNING id",
            (now, now, list(subscription_ids)),
        ).fetchall()
        return [row["id"] for row in rows]

    def mark_recovered(self, subscription_ids: Sequence[UUID], now: datetime) -> list[UUID]:
        """Failing subscriptions among these are active again; which were."""
        rows = self._conn.execute(
            "UPDATE event_subscriptions SET status = 'active', failing_since = NULL,"
            " updated_at = %s WHERE id = ANY(%s) AND status = 'failing' RETURNING id",
            (now, list(subscription_ids)),
        ).fetchall()
        return [row["id"] for row in rows]


# Claims due deliveries of subscriptions still delivering: each is pushed `lease` ahead
# first, so a second claimer skips it while its attempt runs, and one whose attempt
# never reports (a killed function) is due again once the lease is over.
_CLAIM = """
WITH due AS (
    SELECT d.id FROM event_deliveries d
    JOIN event_subscriptions s ON s.id = d.subscription_id
    WHERE d.status = 'pending' AND d.next_attempt_at <= %(now)s AND s.status <> 'disabled'
      AND (%(event_ids)s::uuid[] IS NULL OR d.event_id = ANY(%(event_ids)s::uuid[]))
    ORDER BY d.next_attempt_at, d.id
    LIMIT %(limit)s
    FOR UPDATE OF d SKIP LOCKED
)
UPDATE event_deliveries d SET next_attempt_at = %(lease_until)s
FROM due, event_subscriptions s
WHERE d.id = due.id AND s.id = d.subscription_id
RETURNING d.id, d.tenant_id, d.subscription_id, d.event_id, d.webhook_id, d.attempts,
          d.started_at, s.url, s.secret_ref
"""

# The range's events of the subscription's types, oldest first, one more than asked
# (to say where the next replay starts); each gets a delivery, a new round of it for a
# pair that had one.
_REPLAY = """
WITH sub AS (
    SELECT id, tenant_id, event_types FROM event_subscriptions
    WHERE id = %(subscription_id)s AND status <> 'disabled'
), chosen AS (
    SELECT e.id, e.tenant_id, e.occurred_at, sub.id AS subscription_id
    FROM outbox_events e JOIN sub ON e.tenant_id = sub.tenant_id AND e.type = ANY(sub.event_types)
    WHERE e.occurred_at >= %(from)s AND e.occurred_at < %(to)s
    ORDER BY e.occurred_at, e.id
    LIMIT %(limit)s + 1
), numbered AS (
    SELECT *, row_number() OVER (ORDER BY occurred_at, id) AS n FROM chosen
), replayed AS (
    INSERT INTO event_deliveries
        (tenant_id, subscription_id, event_id, started_at, next_attempt_at)
    SELECT tenant_id, subscription_id, id, %(now)s, %(now)s FROM numbered
    WHERE n <= %(limit)s
    ON CONFLICT (subscription_id, event_id) DO UPDATE SET
        status = 'pending', attempts = 0, started_at = EXCLUDED.started_at,
        next_attempt_at = EXCLUDED.next_attempt_at, failed_at = NULL
    RETURNING 1
)
SELECT (SELECT count(*) FROM replayed) AS replayed,
       (SELECT occurred_at FROM numbered WHERE n = %(limit)s + 1) AS next_from
"""


class DeliveryRepository:
    def __init__(self, conn: Session) -> None:
        self._conn = conn

    def create_for(self, event_ids: Sequence[UUID], now: datetime) -> int:
        """A delivery, due now, for each of these events and each subscription of its
        tenant that wants its type (and is not disabled); pairs that have one keep it."""
        cursor = self._conn.execute(
            "INSERT INTO event_deliveries"
            " (tenant_id, subscription_id, event_id, started_at, next_attempt_at)"
            " SELECT e.tenant_id, s.id, e.id, %(now)s, %(now)s"
            " FROM outbox_events e JOIN event_subscriptions s"
            "   ON s.tenant_id = e.tenant_id AND e.type = ANY(s.event_types)"
            " WHERE e.id = ANY(%(ids)s) AND s.status <> 'disabled'"
            " ON CONFLICT (subscription_id, event_id) DO NOTHING",
            {"now": now, "ids": list(event_ids)},
        )
        return cursor.rowcount

    def claim_due(
        self,
        now: datetime,
        lease_until: datetime,
        limit: int,
        event_ids: Sequence[UUID] | None = None,
    ) -> list[DeliveryJob]:
        rows = self._conn.execute(
            _CLAIM,
            {
                "now": now,
                "lease_until": lease_until,
                "limit": limit,
                "event_ids": list(event_ids) if event_ids is not None else None,
            },
        ).fetchall()
        return [
            DeliveryJob(
                row["id"],
                row["tenant_id"],
                row["subscription_id"],
                row["event_id"],
                row["webhook_id"],
                row["attempts"],
                row["started_at"],
                row["url"],
                row["secret_ref"],
            )
            for row in sorted(rows, key=lambda r: (r["started_at"], r["id"]))
        ]

    def delivered(self, delivery_id: UUID, now: datetime, status_code: int) -> bool:
        cursor = self._conn.execute(
            "UPDATE event_deliveries SET status = 'delivered', attempts = attempts + 1,"
            " last_attempt_at = %s, last_status_code = %s, last_error = NULL,"
            " delivered_at = %s, next_attempt_at = NULL"
            " WHERE id = %s AND status = 'pending'",
            (now, status_code, now, delivery_id),
        )
        return cursor.rowcount == 1

    def attempt_failed(
        self,
        delivery_id: UUID,
        now: datetime,
        status_code: int | None,
        error: str,
        next_attempt_at: datetime | None,
    ) -> bool:
        """Record a failed attempt: tried again at `next_attempt_at`, or (None) failed."""
        cursor = self._conn.execute(
            "UPDATE event_deliveries SET attempts = attempts + 1, last_attempt_at = %(now)s,"
            " last_status_code = %(code)s, last_error = left(%(error)s, 300),"
            " status = CASE WHEN %(next)s::timestamptz IS NULL THEN 'failed' ELSE 'pending' END,"
            " next_attempt_at = %(next)s,"
            " failed_at = CASE WHEN %(next)s::timestamptz IS NULL THEN %(now)s END"
            " WHERE id = %(id)s AND status = 'pending'",
            {"now": now, "code": status_code, "error": error, "next": next_attempt_at,
             "id": delivery_id},
        )  # fmt: skip
        return cursor.rowcount == 1

    def log(self, subscription_id: UUID, after: Position | None, limit: int) -> list[Delivery]:
        condition, order = newest_first()
        rows = self._conn.execute(
            f"SELECT {DELIVERY_COLUMNS} FROM event_deliveries"
            f" WHERE subscription_id = %(subscription_id)s AND {condition} {order}",
            after_position(after, limit, subscription_id=subscription_id),
        ).fetchall()
        return [_delivery(row) for row in rows]

    def replay(
        self,
        subscription_id: UUID,
        start: datetime,
        end: datetime,
        now: datetime,
        limit: int,
    ) -> tuple[int, datetime | None]:
        """Deliver again the events in [start, end) (at most `limit`, oldest first);
        how many, and where the rest begins (None: none left)."""
        row = self._conn.execute(
            _REPLAY,
            {
                "subscription_id": subscription_id,
                "from": start,
                "to": end,
                "now": now,
                "limit": limit,
            },
        ).fetchone()
        assert row is not None
        return int(row["replayed"]), row["next_from"]
