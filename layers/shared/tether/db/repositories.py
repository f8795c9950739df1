"""Repositories: the SQL behind the unit of work. Each method is one statement."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from psycopg import sql
from psycopg.types.json import Jsonb

from tether.db.session import Session
from tether.domain.model import TenantConfig


class TenantRepository:
    def __init__(self, conn: Session) -> None:
        self._conn = conn

    def named(self, name: str) -> UUID | None:
        """The oldest tenant called `name` (names are not unique)."""
        row = self._conn.execute(
            "SELECT id FROM tenants WHERE name = %s ORDER BY created_at LIMIT 1", (name,)
        ).fetchone()
        return row["id"] if row else None

    def create(self, name: str, default_region: str = "US") -> UUID:
        """A tenant and its default configuration (jobs role: tenants have no tenant yet)."""
        row = self._conn.execute(
            "WITH tenant AS (INSERT INTO tenants (name) VALUES (%s) RETURNING id) "
            "INSERT INTO tenant_config (tenant_id, default_region) "
            "SELECT id, %s FROM tenant RETURNING tenant_id",
            (name, default_region),
        ).fetchone()
        assert row is not None
        tenant_id: UUID = row["tenant_id"]
        return tenant_id


# What a tenant may change of its configuration through the API (tether.services.settings).
TENANT_SETTINGS = (
    "timezone",
    "default_region",
    "quiet_hours_start",
    "quiet_hours_end",
    "quiet_hours_by_state",
    "quiet_hours_wider_attested",
    "timer_7d_days",
    "timer_14d_days",
    "timer_30d_days",
    "gold_label_priority",
    "call_priority",
    "lease_hours_without_booking",
    "lease_hours_after_appointment",
    "lease_cooldown_minutes",
    "lease_no_answer_retries",
    "send_segments_per_second",
    "send_segments_per_day",
    "send_max_attempts",
    "send_validity_hours",
    "preview_max_segments",
)


class TenantSettingsRepository:
    def __init__(self, conn: Session) -> None:
        self._conn = conn

    def get(self, tenant_id: UUID) -> TenantConfig | None:
        columns = sql.SQL(", ").join(sql.Identifier(name) for name in TENANT_SETTINGS)
        row = self._conn.execute(
            sql.SQL("SELECT {} FROM tenant_config WHERE tenant_id = %s").format(columns),
            (tenant_id,),
        ).fetchone()
        return TenantConfig(**row) if row else None

    def update(self, tenant_id: UUID, changes: dict[str, Any], actor: str | None = None) -> None:
        """Change the settings given. A trigger (migration 0017) writes the audit row
        with the old and new values; `actor` is named on it."""
        unknown = set(changes) - set(TENANT_SETTINGS)
        assert not unknown, unknown  # the service passes only the settings above
        assignments = sql.SQL(", ").join(
            sql.SQL("{} = %s").format(sql.Identifier(name)) for name in changes
        )
        values = [Jsonb(value) if isinstance(value, dict) else value for value in changes.values()]
        self._conn.execute("SELECT set_config('app.actor', %s, true)", (actor or "",))
        self._conn.execute(
            sql.SQL("UPDATE tenant_config SET {} WHERE tenant_id = %s").format(assignments),
            (*values, tenant_id),
        )


class SuppressionRepository:
    def __init__(self, conn: Session) -> None:
        self._conn = conn

    def add(
        self,
        tenant_id: UUID,
        phone: str,
        reason: str,
        *,
        phone_number_id: UUID | None = None,
        keyword: str | None = None,
        source_message_id: UUID | None = None,
    ) -> bool:
        """Suppress `phone` (for the whole tenant, or one sending number). Waits for the
        sends to it in flight (migration 0009). False if it was suppressed already."""
        row = self._conn.execute(
            "INSERT INTO suppressions (tenant_id, phone, phone_number_id, reason, keyword, source_message_id)"
            " VALUES (%s, %s, %s, %s, %s, %s)"
            " ON CONFLICT (tenant_id, phone, phone_number_id) WHERE lifted_at IS NULL DO NOTHING RETURNING id",
            (tenant_id, phone, phone_number_id, reason, keyword, source_message_id),
        ).fetchone()
        return row is not None

    def lift(self, tenant_id: UUID, phone: str, at: datetime, reason: str) -> int:
        """Lift the phone's opt-outs (a START or UNSTOP from it): how many."""
        cursor = self._conn.execute(
            "UPDATE suppressions SET lifted_at = %s, lifted_reason = %s"
            " WHERE tenant_id = %s AND phone = %s AND lifted_at IS NULL AND reason = 'opt_out'",
            (at, reason, tenant_id, phone),
        )
        return cursor.rowcount
