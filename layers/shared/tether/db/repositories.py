"""Repositories: the SQL behind the unit of work. Each method is one statement."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from psycopg import sql
from psycopg.types.json import Jsonb

from tether.db.pages import after_position, newest_first
from tether.db.session import Session
from tether.domain.model import TenantConfig
from tether.domain.pagination import Position
from tether.domain.suppressions import Suppression

SUPPRESSION_COLUMNS = (
    "id, phone, phone_number_id, reason, keyword, note, added_by, source_message_id,"
    " created_at, lifted_at, lifted_reason, lifted_by"
)


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
    "require_consent",
    "brand_name",
    "help_contact",
    "retain_webhook_payload_days",
    "retain_message_body_days",
    "retain_idempotency_days",
    "reply_mailbox",
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


@dataclass(frozen=True, slots=True)
class NewSuppression:
    """A suppression just written, and its opt-out clock: the time from the opt-out's
    arrival (its webhook receipt) to this suppression, when it came by webhook."""

    id: UUID
    opt_out_clock: timedelta | None


class SuppressionRepository:
    """Every query of the suppression list. Rows are matched on their phone hash
    (sha256 of tenant and E.164, migration 0028), so an erased number's opt-out still
    holds and still shows when it is searched for."""

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
        note: str | None = None,
        added_by: str | None = None,
        receipt_id: UUID | None = None,
    ) -> NewSuppression | None:
        """Suppress `phone` (for the whole tenant, or one sending number). Waits for the
        sends to it in flight (migration 0009). None if it was suppressed already. With
        `receipt_id`, the opt-out's arrival is its receipt's and the clock is kept. A
        trigger writes the audit row (migration 0027)."""
        row = self._conn.execute(
            "INSERT INTO suppressions (tenant_id, phone, phone_number_id, reason, keyword,"
            " source_message_id, note, added_by, arrived_at)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s, %s,"
            " (SELECT received_at FROM webhook_receipts WHERE id = %s))"
            " ON CONFLICT (tenant_id, phone_hash, phone_number_id) WHERE lifted_at IS NULL"
            " DO NOTHING RETURNING id, opt_out_clock",
            (
                tenant_id,
                phone,
                phone_number_id,
                reason,
                keyword,
                source_message_id,
                note,
                added_by,
                receipt_id,
            ),
        ).fetchone()
        return NewSuppression(row["id"], row["opt_out_clock"]) if row else None

    def add_many(
        self, tenant_id: UUID, entries: Sequence[tuple[str, str | None]], added_by: str | None
    ) -> set[str]:
        """Suppress many phones tenant-wide by hand ((phone, note) each, phones distinct),
        in one statement: the phones added (the others were suppressed already)."""
        rows = self._conn.execute(
            "INSERT INTO suppressions (tenant_id, phone, reason, note, added_by)"
            " SELECT %s, e.phone, 'manual', e.note, %s"
            " FROM unnest(%s::text[], %s::text[]) AS e(phone, note) ORDER BY e.phone"
            " ON CONFLICT (tenant_id, phone_hash, phone_number_id) WHERE lifted_at IS NULL"
            " DO NOTHING RETURNING phone",
            (tenant_id, added_by, [p for p, _ in entries], [n for _, n in entries]),
        ).fetchall()
        return {row["phone"] for row in rows}

    def lift(
        self,
        tenant_id: UUID,
        phone: str,
        at: datetime,
        reason: str,
        *,
        cause: dict[str, str],
        reasons: Sequence[str] = ("opt_out",),
    ) -> int:
        """Lift the phone's tenant-wide suppressions of `reasons` that `cause` proves a
        re-subscribe from ({"message_id": a START} or {"consent_id": a newer consent}):
        how many. The database checks the proof again (migration 0027); a suppression it
        does not prove is left as it is."""
        cursor = self._conn.execute(
            "UPDATE suppressions s SET lifted_at = %(at)s, lifted_reason = %(reason)s,"
            " lifted_by = %(cause)s"
            " WHERE s.tenant_id = %(tenant)s AND s.lifted_at IS NULL"
            " AND s.phone_hash = suppression_phone_hash(%(tenant)s, %(phone)s)"
            " AND s.reason = ANY(%(reasons)s) AND s.phone_number_id IS NULL"
            " AND resubscribe_proven(s.tenant_id, s.phone, s.created_at, %(cause)s, NULL)",
            {
                "at": at,
                "reason": reason,
                "cause": Jsonb(cause),
                "tenant": tenant_id,
                "phone": phone,
                "reasons": list(reasons),
            },
        )
        return cursor.rowcount

    def blocks(self, tenant_id: UUID, phone: str) -> bool:
        """Whether a tenant-wide suppression holds `phone`, erased or not."""
        row = self._conn.execute(
            "SELECT EXISTS (SELECT 1 FROM suppressions WHERE tenant_id = %s"
            " AND phone_hash = suppression_phone_hash(%s, %s)"
            " AND phone_number_id IS NULL AND lifted_at IS NULL) AS blocks",
            (tenant_id, tenant_id, phone),
        ).fetchone()
        return bool(row and row["blocks"])

    def erase(self, tenant_id: UUID, phone: str, at: datetime) -> int:
        """Clear the number from its suppressions, keeping their hash: how many."""
        cursor = self._conn.execute(
            "UPDATE suppressions SET phone = NULL, erased_at = %s"
            " WHERE tenant_id = %s AND phone_hash = suppression_phone_hash(%s, %s)"
            " AND erased_at IS NULL",
            (at, tenant_id, tenant_id, phone),
        )
        return cursor.rowcount

    def page(
        self, after: Position | None, limit: int, *, phone: str | None, active: bool | None
    ) -> list[Suppression]:
        """The tenant's suppressions, newest first, by exact phone and whether in force."""
        condition, order = newest_first()
        rows = self._conn.execute(
            f"SELECT {SUPPRESSION_COLUMNS} FROM suppressions WHERE {condition}"
            " AND (%(phone)s::text IS NULL"
            # the session's tenant (row security sees no other): a constant the index takes
            " OR phone_hash = suppression_phone_hash(app_current_tenant(), %(phone)s))"
            " AND (%(active)s::boolean IS NULL OR (lifted_at IS NULL) = %(active)s)"
            f" {order}",
            after_position(after, limit, phone=phone, active=active),
        ).fetchall()
        return [Suppression(**row) for row in rows]

    def get(self, suppression_id: UUID) -> Suppression | None:
        row = self._conn.execute(
            f"SELECT {SUPPRESSION_COLUMNS} FROM suppressions WHERE id = %s", (suppression_id,)
        ).fetchone()
        return Suppression(**row) if row else None

    def active_for(self, tenant_id: UUID, phone: str) -> list[Suppression]:
        rows = self._conn.execute(
            f"SELECT {SUPPRESSION_COLUMNS} FROM suppressions"
            " WHERE tenant_id = %s AND phone_hash = suppression_phone_hash(%s, %s)"
            " AND lifted_at IS NULL ORDER BY created_at",
            (tenant_id, tenant_id, phone),
        ).fetchall()
        return [Suppression(**row) for row in rows]
