"""SQL of launches (migration 0025): the one writer of the launches table."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any
from uuid import UUID

from psycopg.types.json import Jsonb

from tether.db.session import Session
from tether.domain.launches import Launch, LaunchStatus

LAUNCH_COLUMNS = (
    "id, tenant_id, campaign_id, status, launch_at, chunk_seq, cursor, queued, duplicates,"
    " skipped, wake_at, created_at, started_at, finished_at, cancelled_at"
)


def _launch(row: dict[str, Any]) -> Launch:
    skipped = row["skipped"]
    return Launch(
        row["id"],
        row["tenant_id"],
        row["campaign_id"],
        LaunchStatus(row["status"]),
        row["launch_at"],
        row["chunk_seq"],
        row["cursor"],
        row["queued"],
        row["duplicates"],
        dict(json.loads(skipped) if isinstance(skipped, str) else skipped),
        row["wake_at"],
        row["created_at"],
        row["started_at"],
        row["finished_at"],
        row["cancelled_at"],
    )


class LaunchRepository:
    def __init__(self, conn: Session) -> None:
        self._conn = conn

    def add(
        self,
        tenant_id: UUID,
        campaign_id: UUID,
        status: LaunchStatus,
        launch_at: datetime | None,
        wake_at: datetime,
        started_at: datetime | None,
        at: datetime,
    ) -> Launch:
        """A new launch; a campaign with one under way already is a Conflict
        (launches_one_open_per_campaign)."""
        row = self._conn.execute(
            "INSERT INTO launches (tenant_id, campaign_id, status, launch_at, wake_at,"
            " started_at, created_at) VALUES (%s, %s, %s, %s, %s, %s, %s)"
            f" RETURNING {LAUNCH_COLUMNS}",
            (tenant_id, campaign_id, status.value, launch_at, wake_at, started_at, at),
        ).fetchone()
        assert row is not None
        return _launch(row)

    def get(self, launch_id: UUID, *, for_update: bool = False) -> Launch | None:
        lock = " FOR NO KEY UPDATE" if for_update else ""
        row = self._conn.execute(
            f"SELECT {LAUNCH_COLUMNS} FROM launches WHERE id = %s{lock}", (launch_id,)
        ).fetchone()
        return _launch(row) if row else None

    def paused_of(self, campaign_id: UUID) -> list[Launch]:
        """The campaign's paused launches, locked (at most one: one is open at a time)."""
        rows = self._conn.execute(
            f"SELECT {LAUNCH_COLUMNS} FROM launches WHERE campaign_id = %s AND status = 'paused'"
            " FOR NO KEY UPDATE",
            (campaign_id,),
        ).fetchall()
        return [_launch(row) for row in rows]

    def due_to_wake(self, now: datetime, limit: int) -> list[Launch]:
        """Launches the dispatcher should hand to the queue now, locked; a launch another
        run holds is skipped (jobs role: every tenant)."""
        rows = self._conn.execute(
            f"SELECT {LAUNCH_COLUMNS} FROM launches WHERE wake_at <= %s"
            " ORDER BY wake_at LIMIT %s FOR NO KEY UPDATE SKIP LOCKED",
            (now, limit),
        ).fetchall()
        return [_launch(row) for row in rows]

    def save(self, launch: Launch) -> Launch:
        """Write what a launch's life changes: status, position, counts, times (the
        migration's trigger refuses a move backwards)."""
        row = self._conn.execute(
            "UPDATE launches SET status = %s, chunk_seq = %s, cursor = %s, queued = %s,"
            " duplicates = %s, skipped = %s, wake_at = %s, started_at = %s, finished_at = %s,"
            f" cancelled_at = %s WHERE id = %s RETURNING {LAUNCH_COLUMNS}",
            (
                launch.status.value,
                launch.chunk_seq,
                launch.cursor,
                launch.queued,
                launch.duplicates,
                Jsonb(launch.skipped),
                launch.wake_at,
                launch.started_at,
                launch.finished_at,
                launch.cancelled_at,
                launch.id,
            ),
        ).fetchone()
        assert row is not None
        return _launch(row)
