"""SQL of the outbox (migration 0031): the one writer of outbox_events."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from psycopg.types.json import Jsonb

from tether.db.session import Session
from tether.domain.outbox import EventType, OutboxEvent

OUTBOX_COLUMNS = "id, tenant_id, type, version, lead_id, occurred_at, data, relayed_at, erased_at"


def _event(row: Mapping[str, Any]) -> OutboxEvent:
    return OutboxEvent(
        row["id"],
        row["tenant_id"],
        EventType(row["type"]),
        row["version"],
        row["lead_id"],
        row["occurred_at"],
        row["data"],
        row["relayed_at"],
        row["erased_at"],
    )


class OutboxRepository:
    def __init__(self, conn: Session) -> None:
        self._conn = conn
        # what this unit of work recorded since its last commit or rollback
        self.recorded: list[OutboxEvent] = []

    def record(
        self,
        tenant_id: UUID,
        type: EventType,
        data: Mapping[str, Any],
        at: datetime | None,
        lead_id: UUID | None = None,
        version: int = 1,
    ) -> OutboxEvent:
        """The event of an effect, in the effect's own transaction (`at` None: the
        transaction's time, as the effect's own rows take it)."""
        row = self._conn.execute(
            f"INSERT INTO outbox_events (tenant_id, type, version, lead_id, occurred_at, data)"
            f" VALUES (%s, %s, %s, %s, coalesce(%s, now()), %s) RETURNING {OUTBOX_COLUMNS}",
            (tenant_id, type.value, version, lead_id, at, Jsonb(dict(data))),
        ).fetchone()
        assert row is not None
        event = _event(row)
        self.recorded.append(event)
        return event

    def written(self, event: OutboxEvent) -> None:
        """An event another repository's statement wrote in this transaction (claim_lease
        writes lease.acquired itself): relayed after the commit as a recorded one is."""
        self.recorded.append(event)

    def record_many(
        self,
        events: Sequence[tuple[UUID, EventType, Mapping[str, Any], UUID | None]],
        at: datetime | None,
    ) -> list[OutboxEvent]:
        """Many events of one effect written in one statement (a job's batch): (tenant,
        type, data, lead) each."""
        if not events:
            return []
        rows = self._conn.execute(
            "INSERT INTO outbox_events (tenant_id, type, lead_id, occurred_at, data)"
            " SELECT v.tenant_id, v.type, v.lead_id, coalesce(%s, now()), v.data"
            " FROM unnest(%s::uuid[], %s::text[], %s::uuid[], %s::jsonb[])"
            "   WITH ORDINALITY AS v(tenant_id, type, lead_id, data, n) ORDER BY v.n"
            f" RETURNING {OUTBOX_COLUMNS}",
            (
                at,
                [e[0] for e in events],
                [e[1].value for e in events],
                [e[3] for e in events],
                [Jsonb(dict(e[2])) for e in events],
            ),
        ).fetchall()
        recorded = [_event(row) for row in rows]
        self.recorded.extend(recorded)
        return recorded

    def mark_relayed(self, ids: Sequence[UUID], at: datetime) -> None:
        self._conn.execute(
            "UPDATE outbox_events SET relayed_at = %s WHERE id = ANY(%s)", (at, list(ids))
        )

    def unrelayed(self, before: datetime, limit: int) -> list[tuple[UUID, UUID]]:
        """(tenant, event) of the events written before `before` (on the database's
        clock: recorded_at, never the effect's own, which a job may set ahead) but never
        handed to EventsQueue, in the order they were recorded; rows another sweeper
        holds are skipped."""
        rows = self._conn.execute(
            "SELECT tenant_id, id FROM outbox_events"
            " WHERE relayed_at IS NULL AND recorded_at < %s"
            " ORDER BY seq LIMIT %s FOR UPDATE SKIP LOCKED",
            (before, limit),
        ).fetchall()
        return [(row["tenant_id"], row["id"]) for row in rows]

    def erase(self, tenant_id: UUID, lead_ids: list[UUID], needles: list[str], at: datetime) -> int:
        """Erasure: the events of these leads, and any other event naming the person
        (an opt-out that matched no lead), keep their facts but lose their data."""
        cursor = self._conn.execute(
            "UPDATE outbox_events SET data = '{}', erased_at = %(at)s"
            " WHERE tenant_id = %(tenant)s AND erased_at IS NULL"
            " AND (lead_id = ANY(%(leads)s)"
            "      OR EXISTS (SELECT 1 FROM unnest(%(needles)s::text[]) n"
            "                 WHERE strpos(lower(data::text), lower(n)) > 0))",
            {"at": at, "tenant": tenant_id, "leads": lead_ids, "needles": needles},
        )
        return cursor.rowcount

    def get(self, ids: list[UUID]) -> list[OutboxEvent]:
        """The events of these ids this scope can see, in the order they were recorded."""
        rows = self._conn.execute(
            f"SELECT {OUTBOX_COLUMNS} FROM outbox_events WHERE id = ANY(%s) ORDER BY seq",
            (ids,),
        ).fetchall()
        return [_event(row) for row in rows]
