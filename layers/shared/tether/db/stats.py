"""SQL of results: a campaign's or a number's sends grouped by how they ended, and its
contacts with their replies and opt-outs, read from the stored messages in two
statements (indexes: migration 0026)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from tether.db.session import Session
from tether.domain.stats import Engagement, OutcomeCount, VariantEngagement

Scope = Literal["campaign", "number"]

# Which messages are in scope: a campaign's, or a number's (both directions: a reply
# carries the campaign and the number it reached).
_SCOPES: dict[Scope, str] = {
    "campaign": "m.tenant_id = %(tenant)s AND m.campaign_id = %(id)s",
    "number": "m.tenant_id = %(tenant)s AND m.outbound_number_id = %(id)s",
}
_WINDOW = (
    " AND (%(since)s::timestamptz IS NULL OR m.created_at >= %(since)s)"
    " AND (%(until)s::timestamptz IS NULL OR m.created_at < %(until)s)"
)

_OUTCOMES = """
SELECT o.variant, pa.provider, o.status, o.error_code, o.accepted, o.count
FROM (
    SELECT m.variant, m.outbound_number_id, m.status, m.error_code,
           m.external_id IS NOT NULL AS accepted, count(*) AS count
    FROM messages m
    WHERE {scope} AND m.direction = 'outbound' AND m.purpose = 'campaign' {window}
    GROUP BY 1, 2, 3, 4, 5
) o
JOIN phone_numbers pn ON pn.id = o.outbound_number_id
JOIN provider_accounts pa ON pa.id = pn.provider_account_id
"""

# A contact: a lead of a campaign sent at least one text, at its first text (whose
# variant is the lead's). Its first reply: the lead's first inbound text in the
# campaign (to the number, for a number's results) at or after that.
_ENGAGEMENT = """
WITH contacts AS (
    SELECT DISTINCT ON (m.campaign_id, m.lead_id)
           m.campaign_id, m.lead_id, m.variant, m.sent_at
    FROM messages m
    WHERE {scope} AND m.direction = 'outbound' AND m.purpose = 'campaign'
      AND m.external_id IS NOT NULL AND m.lead_id IS NOT NULL {window}
    ORDER BY m.campaign_id, m.lead_id, m.sent_at
),
replies AS (
    SELECT m.campaign_id, m.lead_id, m.received_at, m.id
    FROM messages m
    WHERE {scope} AND m.direction = 'inbound' AND m.lead_id IS NOT NULL
),
answered AS (
    SELECT c.campaign_id, c.lead_id,
           min(r.received_at) - c.sent_at AS wait,
           bool_or(s.id IS NOT NULL) AS opted_out
    FROM contacts c
    JOIN replies r
      ON r.campaign_id = c.campaign_id AND r.lead_id = c.lead_id AND r.received_at >= c.sent_at
    LEFT JOIN suppressions s
      ON s.tenant_id = %(tenant)s AND s.source_message_id = r.id AND s.reason = 'opt_out'
    GROUP BY c.campaign_id, c.lead_id, c.sent_at
)
SELECT c.variant, GROUPING(c.variant) = 1 AS overall,
       count(*) AS contacts,
       count(a.lead_id) AS replies,
       count(*) FILTER (WHERE a.opted_out) AS opt_outs,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM a.wait)) AS median_wait
FROM contacts c
LEFT JOIN answered a ON a.campaign_id = c.campaign_id AND a.lead_id = c.lead_id
GROUP BY GROUPING SETS ((c.variant), ())
"""


class StatsRepository:
    def __init__(self, conn: Session) -> None:
        self._conn = conn

    def outcomes(
        self,
        tenant_id: UUID,
        scope: Scope,
        subject_id: UUID,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> list[OutcomeCount]:
        """The scope's campaign sends, counted by variant, provider, status, error code
        and whether the provider accepted them."""
        rows = self._conn.execute(
            _OUTCOMES.format(scope=_SCOPES[scope], window=_WINDOW),
            _params(tenant_id, subject_id, since, until),
        ).fetchall()
        return [OutcomeCount(**row) for row in rows]

    def engagement(
        self,
        tenant_id: UUID,
        scope: Scope,
        subject_id: UUID,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> list[VariantEngagement]:
        """The scope's contacts and their replies, per variant and overall."""
        rows = self._conn.execute(
            _ENGAGEMENT.format(scope=_SCOPES[scope], window=_WINDOW),
            _params(tenant_id, subject_id, since, until),
        ).fetchall()
        return [
            VariantEngagement(
                row["variant"],
                row["overall"],
                Engagement(
                    contacts=row["contacts"],
                    replies=row["replies"],
                    opt_outs=row["opt_outs"],
                    median_seconds_to_first_reply=(
                        round(float(row["median_wait"]), 3)
                        if row["median_wait"] is not None
                        else None
                    ),
                ),
            )
            for row in rows
        ]


def _params(
    tenant_id: UUID, subject_id: UUID, since: datetime | None, until: datetime | None
) -> dict[str, Any]:
    return {"tenant": tenant_id, "id": subject_id, "since": since, "until": until}
