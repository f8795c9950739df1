"""Repositories of webhook receipt: provider accounts, receipts and the audit log.
Each method is one statement (the account lookup sets its scope first)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from psycopg.types.json import Jsonb

from tether.db.pages import after_position, newest_first
from tether.db.session import Session
from tether.domain.events import EventType
from tether.domain.model import ReceiptToApply
from tether.domain.pagination import Position
from tether.domain.provider_account import ProviderAccount


@dataclass(frozen=True, slots=True)
class NewReceipt:
    tenant_id: UUID
    provider_account_id: UUID | None  # None only for an inbound mail (migration 0037)
    provider: str
    idempotency_key: str
    event_type: str
    external_id: str | None
    raw_body: str
    raw_bytes: bytes
    headers: Mapping[str, str]
    event: Mapping[str, Any] | None


@dataclass(frozen=True, slots=True)
class PendingReceipt:
    """A receipt stored but not yet on the inbound queue."""

    id: UUID
    tenant_id: UUID
    event_type: EventType


class ProviderAccountRepository:
    def __init__(self, conn: Session) -> None:
        self._conn = conn

    def find_for_webhook(self, account_id: UUID) -> ProviderAccount | None:
        """The account a webhook URL names, before its tenant is known. For the app
        role: the transaction may then read this one account (migration 0008's
        webhook_account_lookup policy), and nothing else it could not read already."""
        self._conn.execute(
            "SELECT set_config('app.provider_account_id', %s, true)", (str(account_id),)
        )
        row = self._conn.execute(
            "SELECT id, tenant_id, provider, signing_secret_ref,"
            " previous_signing_secret_ref, previous_secret_expires_at"
            " FROM provider_accounts WHERE id = %s",
            (account_id,),
        ).fetchone()
        return ProviderAccount(**row) if row else None


class WebhookReceiptRepository:
    def __init__(self, conn: Session) -> None:
        self._conn = conn

    def lock_for_processing(self, receipt_id: UUID) -> ReceiptToApply | None:
        """The receipt's canonical event and whether it was processed, locked so two
        deliveries of its queue message take turns."""
        row = self._conn.execute(
            "SELECT id, event_type, event, processed_at FROM webhook_receipts WHERE id = %s FOR UPDATE",
            (receipt_id,),
        ).fetchone()
        if row is None:
            return None
        return ReceiptToApply(row["id"], row["processed_at"], row["event_type"], row["event"])

    def mark_processed(self, receipt_id: UUID, at: datetime) -> None:
        self._conn.execute(
            "UPDATE webhook_receipts SET processed_at = %s, attempts = attempts + 1, last_error = NULL"
            " WHERE id = %s",
            (at, receipt_id),
        )

    def add(self, receipt: NewReceipt) -> UUID | None:
        """Store a receipt once per idempotency key. None when the key was stored before
        (by an earlier delivery, or a concurrent one that committed first)."""
        row = self._conn.execute(
            "INSERT INTO webhook_receipts (tenant_id, provider_account_id, provider,"
            " idempotency_key, event_type, external_id, raw_body, raw_bytes, headers, event)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
            " ON CONFLICT (idempotency_key) DO NOTHING RETURNING id",
            (
                receipt.tenant_id,
                receipt.provider_account_id,
                receipt.provider,
                receipt.idempotency_key,
                receipt.event_type,
                receipt.external_id,
                receipt.raw_body,
                receipt.raw_bytes,
                Jsonb(dict(receipt.headers)),
                Jsonb(dict(receipt.event)) if receipt.event is not None else None,
            ),
        ).fetchone()
        return row["id"] if row else None

    def mark_enqueued(self, receipt_ids: Sequence[UUID]) -> int:
        """Record that these receipts are on the inbound queue; the number newly marked.

        The mark need not survive a crash: a lost one only makes the sweeper send the
        receipt again, which the inbound side dedupes. So this transaction commits
        without waiting for its WAL flush (synchronous_commit off, transaction-local,
        set in the same statement), saving a disk flush per webhook."""
        if not receipt_ids:
            return 0
        cursor = self._conn.execute(
            "UPDATE webhook_receipts SET enqueued_at = now()"
            " FROM (SELECT set_config('synchronous_commit', 'off', true)) AS relaxed"
            " WHERE id = ANY(%s) AND enqueued_at IS NULL",
            (list(receipt_ids),),
        )
        return cursor.rowcount

    def lock_unenqueued(self, older_than: timedelta, limit: int) -> list[PendingReceipt]:
        """Receipts stored more than `older_than` ago and never enqueued, oldest first,
        locked for this transaction. Rows another sweeper holds are skipped, not waited
        for, so two sweeps never take the same receipt (jobs role: every tenant)."""
        rows = self._conn.execute(
            "SELECT id, tenant_id, event_type FROM webhook_receipts"
            " WHERE enqueued_at IS NULL AND received_at < now() - %s"
            " ORDER BY received_at LIMIT %s FOR UPDATE SKIP LOCKED",
            (older_than, limit),
        ).fetchall()
        return [PendingReceipt(r["id"], r["tenant_id"], r["event_type"]) for r in rows]


class AuditLogRepository:
    def __init__(self, conn: Session) -> None:
        self._conn = conn

    def record(
        self,
        kind: str,
        *,
        tenant_id: UUID | None,
        actor: str | None = None,
        subject_type: str | None = None,
        subject_id: str | None = None,
        detail: Mapping[str, Any] | None = None,
    ) -> None:
        """Append an audit row. With no tenant (a request for an unknown account) the app
        role may write it but not read it back, hence no RETURNING."""
        self._conn.execute(
            "INSERT INTO audit_log (tenant_id, kind, actor, subject_type, subject_id, detail)"
            " VALUES (%s, %s, %s, %s, %s, %s)",
            (tenant_id, kind, actor, subject_type, subject_id, Jsonb(dict(detail or {}))),
        )

    def count(
        self,
        kind: str,
        *,
        rate_key: str,
        tenant_id: UUID,
        actor: str | None = None,
        subject_type: str | None = None,
        subject_id: str | None = None,
        detail: Mapping[str, Any] | None = None,
    ) -> None:
        """Count one more occurrence into the audit row named `rate_key`, writing it
        (count 1) on the first. The only update an audit row allows (migration 0018)."""
        self._conn.execute(
            "INSERT INTO audit_log"
            " (tenant_id, kind, actor, subject_type, subject_id, detail, rate_key)"
            " VALUES (%s, %s, %s, %s, %s, %s || '{\"count\": 1}'::jsonb, %s)"
            " ON CONFLICT (rate_key) DO UPDATE SET detail = jsonb_set(audit_log.detail,"
            " '{count}', to_jsonb((audit_log.detail ->> 'count')::bigint + 1))",
            (
                tenant_id,
                kind,
                actor,
                subject_type,
                subject_id,
                Jsonb(dict(detail or {})),
                rate_key,
            ),
        )

    def page(self, after: Position | None, limit: int, kind: str | None) -> list[dict[str, Any]]:
        condition, order = newest_first()
        return self._conn.execute(
            "SELECT id, kind, actor, subject_type, subject_id, detail, created_at FROM audit_log"
            f" WHERE {condition} AND (%(kind)s::text IS NULL OR kind = %(kind)s) {order}",
            after_position(after, limit, kind=kind),
        ).fetchall()
