"""What a matched reply's follow-through reads. The reply itself is stored by the
messages repository, its effects through the aggregates' repositories."""

from __future__ import annotations

from uuid import UUID

from tether.db.session import Session
from tether.domain.model import ReplyContext


class ReplyEffectsRepository:
    """What a matched reply's follow-through reads, and the worker it is attributed to."""

    def __init__(self, conn: Session) -> None:
        self._conn = conn

    def context(self, campaign_id: UUID, number_id: UUID | None, lead_id: UUID) -> ReplyContext:
        """The campaign's workspace stage and pool, the worker the reply belongs to (its
        number's, else its campaign's: an email reached no number), the call priorities
        and the lead's email."""
        row = self._conn.execute(
            "SELECT c.workspace_stage::text AS workspace_stage, c.pool,"
            " coalesce(p.ai_worker, c.ai_worker)::text AS ai_worker,"
            " t.gold_label_priority, t.call_priority, l.email"
            " FROM campaigns c JOIN tenant_config t ON t.tenant_id = c.tenant_id"
            " JOIN leads l ON l.id = %s LEFT JOIN phone_numbers p ON p.id = %s"
            " WHERE c.id = %s",
            (lead_id, number_id, campaign_id),
        ).fetchone()
        assert row is not None
        return ReplyContext(
            row["workspace_stage"],
            row["pool"],
            row["ai_worker"],
            row["gold_label_priority"],
            row["call_priority"],
            row["email"],
        )
