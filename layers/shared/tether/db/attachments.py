"""SQL for attachments (migrations 0034, 0035): a tenant's media deduplicated by URL,
linked to the messages that carried them, and the copy of inbound media in the media
bucket."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from tether.db.session import Session
from tether.domain.media import Attachment, MediaCopy

_COLUMNS = "a.id, a.url, a.content_type, a.size_bytes, a.storage_key, a.copy_state, a.copy_error"


class AttachmentRepository:
    def __init__(self, conn: Session) -> None:
        self._conn = conn

    def link(
        self,
        tenant_id: UUID,
        media: Sequence[tuple[UUID, Sequence[str]]],
        *,
        copy: bool,
        receipt_id: UUID | None = None,
        declared: Mapping[str, str] | None = None,
    ) -> list[UUID]:
        """Each message's media as the tenant's attachments (one row per distinct URL,
        whoever stored it first), linked in the message's order. `copy`: inbound media,
        to be copied into the media bucket with the account of the receipt's webhook
        (an attachment stored before as outbound-only now waits for its copy too).
        `declared`: a URL's Content-Type as the provider declared it, kept until the copy
        records the type the file is served with. Returns the attachments waiting for a
        copy that these messages carry."""
        message_ids = [m for m, urls in media for _ in urls]
        urls = [url for _, found in media for url in found]
        positions = [p for _, found in media for p in range(len(found))]
        types = [(declared or {}).get(url) or None for url in urls]
        if not urls:
            return []
        rows = self._conn.execute(
            "WITH v AS (SELECT * FROM unnest(%(messages)s::uuid[], %(urls)s::text[],"
            "   %(positions)s::int[], %(types)s::text[]) AS v(message_id, url, position, type)),"
            " account AS (SELECT provider_account_id FROM webhook_receipts WHERE id = %(receipt)s),"
            " made AS ("
            "  INSERT INTO attachments AS a (tenant_id, url, copy_state, source_account_id,"
            "   content_type)"
            "  SELECT DISTINCT ON (v.url) %(tenant)s::uuid, v.url,"
            "   CASE WHEN %(copy)s THEN 'pending' ELSE 'none' END,"
            "   (SELECT provider_account_id FROM account), v.type"
            "  FROM v ORDER BY v.url, v.type NULLS LAST"
            "  ON CONFLICT (tenant_id, url_hash) DO UPDATE SET"
            "   copy_state = CASE WHEN a.copy_state = 'none' AND EXCLUDED.copy_state = 'pending'"
            "     THEN 'pending' ELSE a.copy_state END,"
            "   source_account_id = coalesce(a.source_account_id, EXCLUDED.source_account_id),"
            "   content_type = coalesce(a.content_type, EXCLUDED.content_type)"
            "  RETURNING a.id, a.url, a.url_hash, a.copy_state),"
            " linked AS ("
            "  INSERT INTO message_attachments (tenant_id, message_id, attachment_id, position)"
            "  SELECT DISTINCT ON (v.message_id, made.id) %(tenant)s::uuid, v.message_id,"
            "   made.id, v.position::smallint"
            "  FROM v JOIN made ON made.url_hash = sha256(convert_to(v.url, 'UTF8'))"
            "  ORDER BY v.message_id, made.id, v.position"
            "  ON CONFLICT DO NOTHING RETURNING attachment_id)"
            " SELECT DISTINCT made.id FROM made WHERE made.copy_state = 'pending'"
            "  AND EXISTS (SELECT 1 FROM linked WHERE linked.attachment_id = made.id)",
            {
                "messages": message_ids,
                "urls": urls,
                "positions": positions,
                "types": types,
                "receipt": receipt_id,
                "tenant": tenant_id,
                "copy": copy,
            },
        ).fetchall()
        return [row["id"] for row in rows]

    def for_messages(self, message_ids: Iterable[UUID]) -> dict[UUID, list[Attachment]]:
        """The attachments of each message, in its order (messages of the session's
        tenant only: row-level security)."""
        ids = list(set(message_ids))
        if not ids:
            return {}
        rows = self._conn.execute(
            f"SELECT ma.message_id, ma.position, {_COLUMNS} FROM message_attachments ma"
            " JOIN attachments a ON a.id = ma.attachment_id AND a.tenant_id = ma.tenant_id"
            " WHERE ma.message_id = ANY(%s) ORDER BY ma.message_id, ma.position",
            (ids,),
        ).fetchall()
        found: dict[UUID, list[Attachment]] = {}
        for row in rows:
            found.setdefault(row["message_id"], []).append(_attachment(row))
        return found

    def of_message(self, message_id: UUID) -> list[Attachment] | None:
        """A message's attachments; None when the session's tenant has no such message."""
        exists = self._conn.execute(
            "SELECT 1 FROM messages WHERE id = %s", (message_id,)
        ).fetchone()
        if exists is None:
            return None
        return self.for_messages([message_id]).get(message_id, [])

    def copy_job(self, attachment_id: UUID) -> MediaCopy | None:
        """What copying an attachment needs: its URL and the account that fetches it."""
        row = self._conn.execute(
            "SELECT a.id, a.tenant_id, a.url, a.copy_state, a.copy_attempts, p.id AS account_id,"
            " p.provider, p.credentials_ref FROM attachments a"
            " LEFT JOIN provider_accounts p ON p.id = a.source_account_id"
            " WHERE a.id = %s",
            (attachment_id,),
        ).fetchone()
        if row is None:
            return None
        return MediaCopy(
            row["id"],
            row["tenant_id"],
            row["url"],
            row["copy_state"],
            row["copy_attempts"],
            row["provider"],
            row["account_id"],
            row["credentials_ref"],
        )

    def mark_stored(
        self,
        attachment_id: UUID,
        storage_key: str,
        content_type: str,
        size_bytes: int,
        at: datetime,
    ) -> bool:
        """Record the copy (once: a copy stored by another delivery stays); whether this
        call recorded it."""
        row = self._conn.execute(
            "UPDATE attachments SET copy_state = 'stored', storage_key = %s, stored_at = %s,"
            " content_type = %s, size_bytes = %s, copy_error = NULL,"
            " copy_attempts = copy_attempts + 1"
            " WHERE id = %s AND copy_state = 'pending' RETURNING id",
            (storage_key, at, content_type, size_bytes, attachment_id),
        ).fetchone()
        return row is not None

    def mark_refused(
        self,
        attachment_id: UUID,
        reason: str,
        content_type: str | None = None,
        size_bytes: int | None = None,
    ) -> None:
        """It will not be copied (too large, a type not kept, gone at the provider)."""
        self._conn.execute(
            "UPDATE attachments SET copy_state = 'refused', copy_error = %s,"
            " content_type = coalesce(%s, content_type), size_bytes = coalesce(%s, size_bytes),"
            " copy_attempts = copy_attempts + 1 WHERE id = %s AND copy_state = 'pending'",
            (reason[:500], content_type, size_bytes, attachment_id),
        )

    def note_failed_attempt(self, attachment_id: UUID) -> int:
        """Count an attempt that may succeed later; the attempts so far."""
        row = self._conn.execute(
            "UPDATE attachments SET copy_attempts = copy_attempts + 1 WHERE id = %s"
            " RETURNING copy_attempts",
            (attachment_id,),
        ).fetchone()
        return int(row["copy_attempts"]) if row else 0

    def mark_enqueued(self, attachment_ids: Sequence[UUID], at: datetime | None) -> None:
        """Record the hand-over to MediaQueue (None: in no queue, the sweeper's)."""
        self._conn.execute(
            "UPDATE attachments SET copy_enqueued_at = %s WHERE id = ANY(%s)",
            (at, list(attachment_ids)),
        )

    def waiting_to_enqueue(self, before: datetime, limit: int) -> list[tuple[UUID, UUID]]:
        """Copies wanted that no queue holds, made before `before`: (tenant, attachment)."""
        rows = self._conn.execute(
            "SELECT id, tenant_id FROM attachments"
            " WHERE copy_state = 'pending' AND copy_enqueued_at IS NULL AND created_at < %s"
            " ORDER BY created_at LIMIT %s FOR UPDATE SKIP LOCKED",
            (before, limit),
        ).fetchall()
        return [(row["tenant_id"], row["id"]) for row in rows]

    def get(self, attachment_id: UUID) -> Attachment | None:
        row = self._conn.execute(
            f"SELECT {_COLUMNS} FROM attachments a WHERE a.id = %s", (attachment_id,)
        ).fetchone()
        return _attachment(row) if row else None


def _attachment(row: dict[str, Any]) -> Attachment:
    return Attachment(
        row["id"],
        row["url"],
        row["content_type"],
        row["size_bytes"],
        row["storage_key"],
        row["copy_state"],
        row["copy_error"],
        row.get("position") or 0,
    )
