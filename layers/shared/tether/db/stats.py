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
# The same scope for the replies (aliased r).
_REPLY_SCOPES: dict[Scope, str] = {
    "campaign": "r.tenant_id = %(tenant)s AND r.campaign_id = %(id)s",
    "number": "r.tenant_id = %(tenant)s AND r.outbound_number_id = %(id)s",
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

# A contact: a lead of a campaign sent at least one text, with its first text's time
# and its variant (a lead gets one variant per campaign; a follow-up without one does
# not change it). Its first reply: the lead's first inbound text in the campaign (to
# the number, for a number's results) at or after its first text. Aggregates, not a
# sort: the contacts of a campaign can be a hundred thousand.
_ENGAGEMENT = """
WITH contacts AS (
    SELECT m.campaign_id, m.lead_id, min(m.variant) AS variant, min(m.sent_at) AS first_sent
    FROM messages m
    WHERE {scope} AND m.direction = 'outbound' AND m.purpose = 'campaign'
      AND m.external_id IS NOT NULL AND m.lead_id IS NOT NULL {window}
    GROUP BY m.campaign_id, m.lead_id
),
answered AS (
    SELECT c.variant, min(r.received_at) - c.first_sent AS wait,
           bool_or(s.id IS NOT NULL) AS opted_out
    FROM contacts c
    JOIN messages r
      ON r.campaign_id = c.campaign_id AND r.lead_id = c.lead_id
     AND r.received_at >= c.first_sent
    LEFT JOIN suppressions s
      ON s.source_message_id = r.id AND s.reason = 'opt_out' AND s.tenant_id = %(tenant)s
    WHERE {reply_scope} AND r.direction = 'inbound'
    GROUP BY c.campaign_id, c.lead_id, c.variant, c.first_sent
),
per_variant AS (
    SELECT variant, count(*) AS contacts, 0 AS replies, 0 AS opt_outs,
           NULL::double precision AS wait
    FROM contacts GROUP BY variant
    UNION ALL
    SELECT variant, 0, 1, opted_out::int, extract(epoch FROM wait)::double precision
    FROM answered
)
SELECT variant, GROUPING(variant) = 1 AS overall,
       coalesce(sum(contacts), 0)::bigint AS contacts,
       coalesce(sum(replies), 0)::bigint AS replies,
       coalesce(sum(opt_outs), 0)::bigint AS opt_outs,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY wait) AS median_wait
FROM per_variant
GROUP BY GROUPING SETS ((variant), ())
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
            _ENGAGEMENT.format(
                scope=_SCOPES[scope], reply_scope=_REPLY_SCOPES[scope], window=_WINDOW
            ),
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
