"""SQL of the management API's access: API keys and Idempotency-Key records."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from psycopg.types.json import Jsonb

from tether.db.pages import after_position, newest_first
from tether.db.session import Session
from tether.domain.model import ApiKeyRecord, IdempotencyRecord, LiveKey
from tether.domain.pagination import Position

COLUMNS = "id, name, prefix, scope, created_by_key_id, created_at, last_used_at, revoked_at"


class ApiKeyRepository:
    def __init__(self, conn: Session) -> None:
        self._conn = conn

    def find_live(self, key_hash: bytes) -> LiveKey | None:
        """The live key with this hash, before its tenant is known. For the app role the
        transaction may then read this one key (migration 0015's api_key_lookup policy)."""
        self._conn.execute("SELECT set_config('app.api_key_hash', %s, true)", (key_hash.hex(),))
        row = self._conn.execute(
            "SELECT id, tenant_id, scope FROM api_keys WHERE key_hash = %s AND revoked_at IS NULL",
            (key_hash,),
        ).fetchone()
        return LiveKey(row["id"], row["tenant_id"], row["scope"]) if row else None

    def touch_as_tenant(self, tenant_id: UUID, key_id: UUID, at: datetime) -> None:
        """Note the key's use, at most once a minute (a write per request is not worth
        it), scoping the rest of the transaction to the key's tenant to do so."""
        self._conn.execute("SELECT set_config('app.tenant_id', %s, true)", (str(tenant_id),))
        self._conn.execute(
            "UPDATE api_keys SET last_used_at = %s WHERE id = %s"
            " AND (last_used_at IS NULL OR last_used_at < %s - interval '1 minute')",
            (at, key_id, at),
        )

    def add(
        self,
        tenant_id: UUID,
        name: str,
        prefix: str,
        key_hash: bytes,
        scope: str,
        created_by_key_id: UUID | None,
    ) -> ApiKeyRecord:
        """Store a key's hash (never the key). Migration 0019's trigger refuses a scope
        above its issuer's, or an issuer that is revoked."""
        row = self._conn.execute(
            "INSERT INTO api_keys (tenant_id, name, prefix, key_hash, scope, created_by_key_id)"
            " VALUES (%s, %s, %s, %s, %s, %s)"
            f" RETURNING {COLUMNS}",
            (tenant_id, name, prefix, key_hash, scope, created_by_key_id),
        ).fetchone()
        assert row is not None
        return ApiKeyRecord(**row)

    def page(self, after: Position | None, limit: int) -> list[dict[str, Any]]:
        condition, order = newest_first()
        return self._conn.execute(
            f"SELECT {COLUMNS} FROM api_keys WHERE {condition} {order}",
            after_position(after, limit),
        ).fetchall()

    def revoke(self, key_id: UUID, at: datetime) -> ApiKeyRecord | None:
        """Revoke the key (revoking twice keeps the first time)."""
        row = self._conn.execute(
            f"UPDATE api_keys SET revoked_at = coalesce(revoked_at, %s) WHERE id = %s"
            f" RETURNING {COLUMNS}",
            (at, key_id),
        ).fetchone()
        return ApiKeyRecord(**row) if row else None

    def revoke_descendants(self, key_id: UUID, at: datetime) -> list[ApiKeyRecord]:
        """Revoke every live key issued by this one, and by those, down the lineage."""
        rows = self._conn.execute(
            "WITH RECURSIVE lineage AS ("
            " SELECT id FROM api_keys WHERE created_by_key_id = %s"
            " UNION SELECT k.id FROM api_keys k JOIN lineage l ON k.created_by_key_id = l.id)"
            " UPDATE api_keys SET revoked_at = %s"
            " WHERE id IN (SELECT id FROM lineage) AND revoked_at IS NULL"
            f" RETURNING {COLUMNS}",
            (key_id, at),
        ).fetchall()
        return [ApiKeyRecord(**row) for row in rows]


class AuthFailureRepository:
    """Failed key lookups per source and minute (migration 0019), shared by every
    container through one upsert."""

    def __init__(self, conn: Session) -> None:
        self._conn = conn

    def failures(self, source: str, minute: datetime) -> int:
        row = self._conn.execute(
            "SELECT failures FROM api_auth_failures WHERE source = %s AND minute = %s",
            (source, minute),
        ).fetchone()
        return int(row["failures"]) if row else 0

    def count(self, source: str, minute: datetime) -> int:
        """Count one more failure of `source` in `minute`; the minute's count so far.
        Rows over a day old are dropped a few at a time on the way."""
        self._conn.execute(
            "DELETE FROM api_auth_failures WHERE ctid IN (SELECT ctid FROM api_auth_failures"
            " WHERE minute < %s - interval '1 day' LIMIT 50)",
            (minute,),
        )
        row = self._conn.execute(
            "INSERT INTO api_auth_failures AS f (source, minute, failures) VALUES (%s, %s, 1)"
            " ON CONFLICT (source, minute) DO UPDATE SET failures = f.failures + 1"
            " RETURNING failures",
            (source, minute),
        ).fetchone()
        assert row is not None  # an upsert always returns its row
        return int(row["failures"])


class IdempotencyRepository:
    def __init__(self, conn: Session) -> None:
        self._conn = conn

    def claim(
        self, tenant_id: UUID, key: str, request_hash: str, stale_before: datetime
    ) -> IdempotencyRecord | None:
        """Claim the key for this request: None when claimed now (go ahead), else the
        record another request left (its response, or a claim still in progress). A
        claim older than `stale_before` without a response is taken over."""
        claimed = self._conn.execute(
            "INSERT INTO api_idempotency AS r (tenant_id, idempotency_key, request_hash)"
            " VALUES (%s, %s, %s)"
            " ON CONFLICT (tenant_id, idempotency_key) DO UPDATE"
            " SET request_hash = EXCLUDED.request_hash, created_at = now()"
            " WHERE r.completed_at IS NULL AND r.created_at < %s"
            " RETURNING 1",
            (tenant_id, key, request_hash, stale_before),
        ).fetchone()
        if claimed is not None:
            return None
        row = self._conn.execute(
            "SELECT request_hash, status_code, response, completed_at FROM api_idempotency"
            " WHERE tenant_id = %s AND idempotency_key = %s",
            (tenant_id, key),
        ).fetchone()
        return IdempotencyRecord(**row) if row else None

    def complete(self, tenant_id: UUID, key: str, status_code: int, response: Any) -> None:
        self._conn.execute(
            "UPDATE api_idempotency SET status_code = %s, response = %s, completed_at = now()"
            " WHERE tenant_id = %s AND idempotency_key = %s",
            (status_code, Jsonb(response), tenant_id, key),
        )

    def release(self, tenant_id: UUID, key: str) -> None:
        """Give the key back: the request failed, and the client may try it again."""
        self._conn.execute(
            "DELETE FROM api_idempotency WHERE tenant_id = %s AND idempotency_key = %s"
            " AND completed_at IS NULL",
            (tenant_id, key),
        )
