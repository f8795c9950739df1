"""SQL of campaigns as the API manages them: create, read with progress, launch, pause."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from psycopg import sql

from tether.db.pages import after_position, newest_first
from tether.db.session import Session
from tether.domain.campaigns import Campaign, CampaignProgress, CampaignStatus
from tether.domain.pagination import Position
from tether.domain.templates import Variant

CAMPAIGN_COLUMNS = (
    "id, tenant_id, name, workspace_stage::text AS workspace_stage, ai_worker::text AS ai_worker,"
    " pool, template, follow_up_template, status, staged_at, launched_at, created_at, updated_at,"
    " sender_name,"
    # the variants ride along (a campaign is read with what it sends, in one statement)
    " (SELECT coalesce(jsonb_agg(jsonb_build_array(t.name, t.template, t.weight)"
    "   ORDER BY t.name), '[]') FROM campaign_templates t WHERE t.campaign_id = campaigns.id)"
    " AS variants"
)
# What PATCH may change (tether.services.campaigns.update_campaign).
EDITABLE = ("name", "template", "follow_up_template", "sender_name")


def _campaign(row: dict[str, Any]) -> Campaign:
    return Campaign(
        row["id"],
        row["tenant_id"],
        row["name"],
        row["workspace_stage"],
        row["ai_worker"],
        row["pool"],
        row["template"],
        row["follow_up_template"],
        CampaignStatus(row["status"]),
        row["staged_at"],
        row["launched_at"],
        row["created_at"],
        row["updated_at"],
        row["sender_name"],
        tuple(Variant(name, template, weight) for name, template, weight in row["variants"]),
    )


class CampaignRepository:
    def __init__(self, conn: Session) -> None:
        self._conn = conn

    def add(
        self,
        tenant_id: UUID,
        name: str,
        workspace_stage: str,
        ai_worker: str,
        pool: str,
        template: str | None,
        sender_name: str | None = None,
        follow_up_template: str | None = None,
    ) -> Campaign:
        row = self._conn.execute(
            "INSERT INTO campaigns (tenant_id, name, workspace_stage, ai_worker, pool, template,"
            " sender_name, follow_up_template)"
            f" VALUES (%s, %s, %s, %s, %s, %s, %s, %s) RETURNING {CAMPAIGN_COLUMNS}",
            (
                tenant_id,
                name,
                workspace_stage,
                ai_worker,
                pool,
                template,
                sender_name,
                follow_up_template,
            ),
        ).fetchone()
        assert row is not None
        return _campaign(row)

    def update(self, campaign_id: UUID, changes: Mapping[str, str | None]) -> None:
        """Change the columns given (of EDITABLE); a trigger (migration 0024) refuses
        template changes once the campaign is launched."""
        unknown = set(changes) - set(EDITABLE)
        assert not unknown, unknown  # the service passes only these
        if not changes:
            return
        assignments = sql.SQL(", ").join(
            sql.SQL("{} = %s").format(sql.Identifier(name)) for name in changes
        )
        self._conn.execute(
            sql.SQL("UPDATE campaigns SET {} WHERE id = %s").format(assignments),
            (*changes.values(), campaign_id),
        )

    def replace_variants(
        self, tenant_id: UUID, campaign_id: UUID, variants: Sequence[Variant]
    ) -> None:
        """The campaign's variants become `variants` (none: it has none)."""
        self._conn.execute("DELETE FROM campaign_templates WHERE campaign_id = %s", (campaign_id,))
        if variants:
            self._conn.execute(
                "INSERT INTO campaign_templates (tenant_id, campaign_id, name, template, weight)"
                " SELECT %s, %s, v.name, v.template, v.weight"
                " FROM unnest(%s::text[], %s::text[], %s::int[]) AS v(name, template, weight)",
                (
                    tenant_id,
                    campaign_id,
                    [v.name for v in variants],
                    [v.template for v in variants],
                    [v.weight for v in variants],
                ),
            )

    def get(self, campaign_id: UUID, *, for_update: bool = False) -> Campaign | None:
        lock = " FOR NO KEY UPDATE" if for_update else ""
        row = self._conn.execute(
            f"SELECT {CAMPAIGN_COLUMNS} FROM campaigns WHERE id = %s{lock}", (campaign_id,)
        ).fetchone()
        return _campaign(row) if row else None

    def get_many(self, campaign_ids: Iterable[UUID]) -> dict[UUID, Campaign]:
        """The session's tenant's campaigns among `campaign_ids`, by id."""
        rows = self._conn.execute(
            f"SELECT {CAMPAIGN_COLUMNS} FROM campaigns WHERE id = ANY(%s)", (list(campaign_ids),)
        ).fetchall()
        return {row["id"]: _campaign(row) for row in rows}

    def page(self, after: Position | None, limit: int) -> list[Campaign]:
        condition, order = newest_first()
        rows = self._conn.execute(
            f"SELECT {CAMPAIGN_COLUMNS} FROM campaigns WHERE {condition} {order}",
            after_position(after, limit),
        ).fetchall()
        return [_campaign(row) for row in rows]

    def mark_staged(self, campaign_id: UUID, at: datetime) -> None:
        self._conn.execute(
            "UPDATE campaigns SET status = 'staged', staged_at = %s WHERE id = %s AND status = 'draft'",
            (at, campaign_id),
        )

    def progress(self, campaign_id: UUID, template: str) -> CampaignProgress:
        """Leads, and the campaign's sends of `template` by where they are. Messages are
        found through the campaign's assignments (indexed), not a scan by campaign."""
        row = self._conn.execute(
            "SELECT (SELECT count(*) FROM leads WHERE campaign_id = %(id)s) AS leads,"
            " count(m.id) AS requested,"
            " count(m.id) FILTER (WHERE m.status IN ('pending', 'queued', 'accepted')) AS waiting,"
            " count(m.id) FILTER (WHERE m.status = 'sending') AS sending,"
            " count(m.id) FILTER (WHERE m.status = 'sent') AS sent,"
            " count(m.id) FILTER (WHERE m.status IN ('delivered', 'read')) AS delivered,"
            " count(m.id) FILTER (WHERE m.status IN ('failed', 'undelivered', 'canceled')) AS failed"
            " FROM messages m"
            " WHERE m.campaign_phone_assignment_id IN"
            "   (SELECT id FROM campaign_phone_assignments WHERE campaign_id = %(id)s)"
            " AND m.direction = 'outbound' AND m.template = %(template)s",
            {"id": campaign_id, "template": template},
        ).fetchone()
        assert row is not None
        return CampaignProgress(**row)

    def set_status(
        self, campaign_id: UUID, status: CampaignStatus, at: datetime, *, launched: bool = False
    ) -> Campaign:
        row = self._conn.execute(
            "UPDATE campaigns SET status = %s,"
            " launched_at = CASE WHEN %s THEN coalesce(launched_at, %s) ELSE launched_at END"
            f" WHERE id = %s RETURNING {CAMPAIGN_COLUMNS}",
            (status.value, launched, at, campaign_id),
        ).fetchone()
        assert row is not None
        return _campaign(row)

    def leads_to_launch(self, campaign_id: UUID, after: UUID | None, limit: int) -> list[UUID]:
        """The campaign's leads a first message may go to (not suppressed or closed),
        in id order after `after`."""
        rows = self._conn.execute(
            "SELECT id FROM leads WHERE campaign_id = %s"
            " AND (%s::uuid IS NULL OR id > %s) AND state NOT IN ('suppressed', 'closed')"
            " ORDER BY id LIMIT %s",
            (campaign_id, after, after, limit),
        ).fetchall()
        return [row["id"] for row in rows]
