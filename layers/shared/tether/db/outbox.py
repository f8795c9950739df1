"""SQL of the outbox (migration 0031): the one writer of outbox_events."""

from __future__ import annotations

from collections.abc import Mapping
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
        at: datetime,
        lead_id: UUID | None = None,
        version: int = 1,
    ) -> OutboxEvent:
        """The event of an effect, in the effect's own transaction."""
        row = self._conn.execute(
            f"INSERT INTO outbox_events (tenant_id, type, version, lead_id, occurred_at, data)"
            f" VALUES (%s, %s, %s, %s, %s, %s) RETURNING {OUTBOX_COLUMNS}",
            (tenant_id, type.value, version, lead_id, at, Jsonb(dict(data))),
        ).fetchone()
        assert row is not None
        event = _event(row)
        self.recorded.append(event)
        return event

    def get(self, ids: list[UUID]) -> list[OutboxEvent]:
        rows = self._conn.execute(
            f"SELECT {OUTBOX_COLUMNS} FROM outbox_events WHERE id = ANY(%s) ORDER BY occurred_at, id",
            (ids,),
        ).fetchall()
        return [_event(row) for row in rows]
