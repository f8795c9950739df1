"""SQL for a tenant's WhatsApp templates (migration 0036)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from tether.db.session import Session
from tether.domain.whatsapp import WhatsAppTemplate

_COLUMNS = "id, tenant_id, name, language, provider_template_id, body, status"


class WhatsAppTemplateRepository:
    def __init__(self, conn: Session) -> None:
        self._conn = conn

    def save(
        self,
        tenant_id: UUID,
        name: str,
        language: str,
        provider_template_id: str,
        body: str,
        status: str,
    ) -> WhatsAppTemplate:
        """Register the template, or update the one of this name and language (its
        provider id, body and status change as its provider reviews it)."""
        row = self._conn.execute(
            "INSERT INTO whatsapp_templates (tenant_id, name, language, provider_template_id, body,"
            " status) VALUES (%s, %s, %s, %s, %s, %s)"
            " ON CONFLICT ON CONSTRAINT whatsapp_templates_name_language DO UPDATE SET"
            " provider_template_id = EXCLUDED.provider_template_id, body = EXCLUDED.body,"
            " status = EXCLUDED.status, updated_at = now()"
            f" RETURNING {_COLUMNS}",
            (tenant_id, name, language, provider_template_id, body, status),
        ).fetchone()
        assert row is not None
        return _template(row)

    def find(self, tenant_id: UUID, name: str, language: str) -> WhatsAppTemplate | None:
        row = self._conn.execute(
            f"SELECT {_COLUMNS} FROM whatsapp_templates"
            " WHERE tenant_id = %s AND name = %s AND language = %s",
            (tenant_id, name, language),
        ).fetchone()
        return _template(row) if row else None

    def listed(self, limit: int) -> list[WhatsAppTemplate]:
        """The session tenant's templates by name and language."""
        rows = self._conn.execute(
            f"SELECT {_COLUMNS} FROM whatsapp_templates ORDER BY name, language LIMIT %s",
            (limit,),
        ).fetchall()
        return [_template(row) for row in rows]


def _template(row: dict[str, Any]) -> WhatsAppTemplate:
    return WhatsAppTemplate(**row)
