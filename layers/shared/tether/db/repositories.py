"""Repositories: the SQL behind the unit of work. Each method is one statement."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from psycopg import sql
from psycopg.types.json import Jsonb

from tether.db.errors import translated_errors
from tether.db.session import Session
from tether.domain.lead_state import LeadState
from tether.domain.model import Lead


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
        with translated_errors():
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
)


class TenantSettingsRepository:
    def __init__(self, conn: Session) -> None:
        self._conn = conn

    def get(self, tenant_id: UUID) -> dict[str, Any] | None:
        columns = sql.SQL(", ").join(sql.Identifier(name) for name in TENANT_SETTINGS)
        return self._conn.execute(
            sql.SQL("SELECT {} FROM tenant_config WHERE tenant_id = %s").format(columns),
            (tenant_id,),
        ).fetchone()

    def update(self, tenant_id: UUID, changes: dict[str, Any], actor: str | None = None) -> None:
        """Change the settings given. A trigger (migration 0017) writes the audit row
        with the old and new values; `actor` is named on it."""
        unknown = set(changes) - set(TENANT_SETTINGS)
        assert not unknown, unknown  # the service passes only the settings above
        assignments = sql.SQL(", ").join(
            sql.SQL("{} = %s").format(sql.Identifier(name)) for name in changes
        )
        values = [Jsonb(value) if isinstance(value, dict) else value for value in changes.values()]
        with translated_errors():
            self._conn.execute("SELECT set_config('app.actor', %s, true)", (actor or "",))
            self._conn.execute(
                sql.SQL("UPDATE tenant_config SET {} WHERE tenant_id = %s").format(assignments),
                (*values, tenant_id),
            )


class LeadRepository:
    def __init__(self, conn: Session) -> None:
        self._conn = conn

    def add(self, tenant_id: UUID, phone: str, campaign_id: UUID | None = None) -> Lead:
        with translated_errors():
            row = self._conn.execute(
                "INSERT INTO leads (tenant_id, campaign_id, phone) VALUES (%s, %s, %s) "
                "RETURNING id, tenant_id, campaign_id, phone, state",
                (tenant_id, campaign_id, phone),
            ).fetchone()
        assert row is not None
        return _lead(row)

    def get(self, lead_id: UUID, *, for_update: bool = False) -> Lead | None:
        """The lead, or None. `for_update` serialises writers of this lead; it takes the
        weaker NO KEY UPDATE lock, which does not block foreign-key checks of rows that
        reference the lead (its events), so those never wait on it."""
        lock = " FOR NO KEY UPDATE" if for_update else ""
        row = self._conn.execute(
            "SELECT id, tenant_id, campaign_id, phone, state FROM leads WHERE id = %s" + lock,
            (lead_id,),
        ).fetchone()
        return _lead(row) if row else None

    def set_state(self, lead_id: UUID, expected: LeadState, target: LeadState) -> bool:
        """Move the lead if it is still in `expected`. False if it was not."""
        with translated_errors():
            cursor = self._conn.execute(
                "UPDATE leads SET state = %s WHERE id = %s AND state = %s",
                (target.value, lead_id, expected.value),
            )
        return cursor.rowcount == 1


class LeadEventRepository:
    def __init__(self, conn: Session) -> None:
        self._conn = conn

    def append(
        self,
        lead: Lead,
        event_type: str,
        dedupe_key: str,
        *,
        previous_state: LeadState | None = None,
        new_state: LeadState | None = None,
        payload: dict[str, Any] | None = None,
    ) -> UUID | None:
        """Record an event once per `dedupe_key`: its id, or None when already recorded."""
        with translated_errors():
            row = self._conn.execute(
                "INSERT INTO lead_events"
                " (tenant_id, lead_id, event_type, previous_state, new_state, payload, dedupe_key)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT (dedupe_key) DO NOTHING RETURNING id",
                (
                    lead.tenant_id,
                    lead.id,
                    event_type,
                    previous_state.value if previous_state else None,
                    new_state.value if new_state else None,
                    Jsonb(payload or {}),
                    dedupe_key,
                ),
            ).fetchone()
        return row["id"] if row else None

    def for_lead(self, lead_id: UUID) -> list[dict[str, Any]]:
        return self._conn.execute(
            "SELECT event_type, previous_state, new_state, payload, dedupe_key, occurred_at"
            " FROM lead_events WHERE lead_id = %s ORDER BY seq",
            (lead_id,),
        ).fetchall()


def _lead(row: dict[str, Any]) -> Lead:
    return Lead(
        row["id"], row["tenant_id"], row["campaign_id"], row["phone"], LeadState(row["state"])
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
        with translated_errors():
            row = self._conn.execute(
                "INSERT INTO suppressions (tenant_id, phone, phone_number_id, reason, keyword, source_message_id)"
                " VALUES (%s, %s, %s, %s, %s, %s)"
                " ON CONFLICT (tenant_id, phone, phone_number_id) WHERE lifted_at IS NULL DO NOTHING RETURNING id",
                (tenant_id, phone, phone_number_id, reason, keyword, source_message_id),
            ).fetchone()
        return row is not None
