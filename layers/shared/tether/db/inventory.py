"""SQL of what a tenant sends with: provider accounts, numbers, pools."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from tether.db.pages import after_position, newest_first
from tether.db.session import Session
from tether.domain.model import AccountSecrets
from tether.domain.pagination import Position

# what the API shows of an account: whether secrets are set, never where they are
ACCOUNT_COLUMNS = (
    "id, provider, name, external_account_id, credentials_ref IS NOT NULL AS has_credentials,"
    " signing_secret_ref IS NOT NULL AS has_signing_secret, previous_secret_expires_at,"
    " created_at"
)
NUMBER_COLUMNS = (
    "id, provider_account_id, e164, pool, label, status, ai_worker::text AS ai_worker, retired_at,"
    " cooldown_until, assignment_status, currently_assigned_to, release_at, last_leased_at,"
    " sent_count, delivered_count, failed_count, filtered_count, created_at, whatsapp_enabled"
)


class InventoryRepository:
    def __init__(self, conn: Session) -> None:
        self._conn = conn

    def set_whatsapp(self, number_ids: list[UUID], enabled: bool) -> list[dict[str, Any]]:
        """Mark numbers as WhatsApp senders (or not); the rows changed."""
        return self._conn.execute(
            f"UPDATE phone_numbers SET whatsapp_enabled = %s WHERE id = ANY(%s)"
            f" RETURNING {NUMBER_COLUMNS}",
            (enabled, number_ids),
        ).fetchall()

    def number_ids(self, tenant_id: UUID, numbers: list[str]) -> list[UUID]:
        rows = self._conn.execute(
            "SELECT id FROM phone_numbers WHERE tenant_id = %s AND e164 = ANY(%s)",
            (tenant_id, numbers),
        ).fetchall()
        return [row["id"] for row in rows]

    def add_account(
        self,
        account_id: UUID,
        tenant_id: UUID,
        provider: str,
        name: str,
        external_account_id: str | None,
        signing_secret_ref: str | None,
        credentials_ref: str | None,
    ) -> dict[str, Any]:
        row = self._conn.execute(
            "INSERT INTO provider_accounts (id, tenant_id, provider, name,"
            " external_account_id, signing_secret_ref, credentials_ref)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s)"
            f" RETURNING {ACCOUNT_COLUMNS}",
            (
                account_id,
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

    def account_for_update(self, account_id: UUID) -> AccountSecrets | None:
        """The account's provider and secret references, locked until commit."""
        row = self._conn.execute(
            "SELECT provider, signing_secret_ref, credentials_ref"
            " FROM provider_accounts WHERE id = %s FOR UPDATE",
            (account_id,),
        ).fetchone()
        return AccountSecrets(**row) if row else None

    def set_secret_refs(
        self,
        account_id: UUID,
        *,
        credentials_ref: str | None,
        signing_secret_ref: str | None,
        previous_signing_secret_ref: str | None,
        previous_secret_expires_at: datetime | None,
    ) -> dict[str, Any]:
        """Point the account at its (rotated) secrets; None keeps what is there, except
        that a previous signing secret is replaced or cleared together with its end.
        A reference from before migration 0020 (an ARN, refused at use anyway) is
        dropped, since the row could not be written back with it."""
        row = self._conn.execute(
            "UPDATE provider_accounts SET"
            " credentials_ref = coalesce(%s, CASE WHEN provider_secret_ref_ok("
            "   credentials_ref, tenant_id, id, 'credentials') THEN credentials_ref END),"
            " signing_secret_ref = coalesce(%s, CASE WHEN provider_secret_ref_ok("
            "   signing_secret_ref, tenant_id, id, 'signing-secret')"
            "   THEN signing_secret_ref END),"
            " previous_signing_secret_ref = CASE WHEN %s THEN %s"
            "   WHEN provider_secret_ref_ok("
            "     previous_signing_secret_ref, tenant_id, id, 'signing-secret')"
            "   THEN previous_signing_secret_ref END,"
            " previous_secret_expires_at = CASE WHEN %s THEN %s"
            "   WHEN provider_secret_ref_ok("
            "     previous_signing_secret_ref, tenant_id, id, 'signing-secret')"
            "   THEN previous_secret_expires_at END"
            f" WHERE id = %s RETURNING {ACCOUNT_COLUMNS}",
            (
                credentials_ref,
                signing_secret_ref,
                signing_secret_ref is not None,
                previous_signing_secret_ref,
                signing_secret_ref is not None,
                previous_secret_expires_at,
                account_id,
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

    def pool_health(self) -> list[dict[str, Any]]:
        return self._conn.execute(
            "SELECT pool, available, assigned, cooldown, total FROM pool_health ORDER BY pool"
        ).fetchall()
