"""SQL of what a tenant sends with: provider accounts, numbers, pools."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from tether.db.errors import translated_errors
from tether.db.pages import after_position, newest_first
from tether.db.session import Session
from tether.domain.pagination import Position

ACCOUNT_COLUMNS = (
    "id, provider, name, external_account_id, signing_secret_ref, credentials_ref, created_at"
)
NUMBER_COLUMNS = (
    "id, provider_account_id, e164, pool, label, status, ai_worker::text AS ai_worker, retired_at,"
    " cooldown_until, assignment_status, currently_assigned_to, release_at, last_leased_at,"
    " sent_count, delivered_count, failed_count, filtered_count, created_at"
)


class InventoryRepository:
    def __init__(self, conn: Session) -> None:
        self._conn = conn

    def add_account(
        self,
        tenant_id: UUID,
        provider: str,
        name: str,
        external_account_id: str | None,
        signing_secret_ref: str | None,
        credentials_ref: str | None,
    ) -> dict[str, Any]:
        with translated_errors():
            row = self._conn.execute(
                "INSERT INTO provider_accounts (tenant_id, provider, name, external_account_id,"
                " signing_secret_ref, credentials_ref) VALUES (%s, %s, %s, %s, %s, %s)"
                f" RETURNING {ACCOUNT_COLUMNS}",
                (
                    tenant_id,
                    provider,
                    name,
                    external_account_id,
                    signing_secret_ref,
                    credentials_ref,
                ),
            ).fetchone()
        assert row is not None
        return row

    def accounts(self, after: Position | None, limit: int) -> list[dict[str, Any]]:
        condition, order = newest_first()
        return self._conn.execute(
            f"SELECT {ACCOUNT_COLUMNS} FROM provider_accounts WHERE {condition} {order}",
            after_position(after, limit),
        ).fetchall()

    def numbers(
        self,
        after: Position | None,
        limit: int,
        *,
        pool: str | None,
        status: str | None,
        assignment_status: str | None,
        provider_account_id: UUID | None,
    ) -> list[dict[str, Any]]:
        condition, order = newest_first()
        return self._conn.execute(
            f"SELECT {NUMBER_COLUMNS} FROM phone_numbers WHERE {condition}"
            " AND (%(pool)s::text IS NULL OR pool = %(pool)s)"
            " AND (%(status)s::text IS NULL OR status = %(status)s)"
            " AND (%(assignment)s::text IS NULL OR assignment_status = %(assignment)s)"
            " AND (%(account)s::uuid IS NULL OR provider_account_id = %(account)s)"
            f" {order}",
            after_position(
                after,
                limit,
                pool=pool,
                status=status,
                assignment=assignment_status,
                account=provider_account_id,
            ),
        ).fetchall()

    def set_worker(self, tenant_id: UUID, numbers: list[str], ai_worker: str) -> None:
        """Give registered numbers to an AI worker (seed 002 part 7)."""
        self._conn.execute(
            "UPDATE phone_numbers SET ai_worker = %s WHERE tenant_id = %s AND e164 = ANY(%s)",
            (ai_worker, tenant_id, numbers),
        )

    def pool_health(self) -> list[dict[str, Any]]:
        return self._conn.execute(
            "SELECT pool, available, assigned, cooldown, total FROM pool_health ORDER BY pool"
        ).fetchall()
