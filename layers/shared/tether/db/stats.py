"""SQL of results, read from the rollup the database keeps with the facts (migration
0026): a campaign's or a number's sends by how they ended and its contacts
(result_counts plus the deltas not yet folded in), and its contacts who replied
(result_replies). Every read is of a few rows per group, whatever the campaign's size."""

from __future__ import annotations

from typing import Any, Literal
from uuid import UUID

from tether.db.session import Session
from tether.domain.stats import Engagement, OutcomeCount, VariantEngagement

Scope = Literal["campaign", "number"]

_SCOPES: dict[Scope, str] = {
    "campaign": "tenant_id = %(tenant)s AND campaign_id = %(id)s",
    "number": "tenant_id = %(tenant)s AND number_id = %(id)s",
}

_COUNTS = """
SELECT nullif(g.variant, '') AS variant, pa.provider, g.status,
       nullif(g.error_code, '') AS error_code, g.accepted, g.sends, g.contacts, g.mms
FROM (
    SELECT variant, number_id, status, error_code, accepted,
           sum(sends)::bigint AS sends, sum(contacts)::bigint AS contacts,
           sum(mms)::bigint AS mms
    FROM (
        SELECT variant, number_id, status, error_code, accepted, sends, contacts, mms
        FROM result_counts WHERE {scope}
        UNION ALL
        SELECT variant, number_id, status, error_code, accepted, sends, contacts, mms
        FROM result_deltas WHERE {scope}
    ) both_tables
    GROUP BY 1, 2, 3, 4, 5
) g
JOIN phone_numbers pn ON pn.id = g.number_id
JOIN provider_accounts pa ON pa.id = pn.provider_account_id
WHERE g.sends <> 0 OR g.contacts <> 0
"""

_REPLIES = """
SELECT nullif(variant, '') AS variant, GROUPING(variant) = 1 AS overall,
       count(*) AS replies, count(*) FILTER (WHERE opted_out) AS opt_outs,
       percentile_cont(0.5) WITHIN GROUP (
           ORDER BY extract(epoch FROM first_reply_at - first_sent_at)
       ) AS median_wait
FROM result_replies
WHERE {scope}
GROUP BY GROUPING SETS ((variant), ())
"""


class StatsRepository:
    def __init__(self, conn: Session) -> None:
        self._conn = conn

    def outcomes(
        self, tenant_id: UUID, scope: Scope, subject_id: UUID
    ) -> tuple[list[OutcomeCount], dict[str | None, int]]:
        """The scope's campaign sends counted by variant, provider, status, error code
        and whether the provider accepted them; and its contacts per variant."""
        rows = self._conn.execute(
            _COUNTS.format(scope=_SCOPES[scope]), _params(tenant_id, subject_id)
        ).fetchall()
        contacts: dict[str | None, int] = {}
        outcomes: list[OutcomeCount] = []
        for row in rows:
            if row["status"] == "":  # a contact row
                contacts[row["variant"]] = contacts.get(row["variant"], 0) + row["contacts"]
            elif row["sends"]:
                outcomes.append(
                    OutcomeCount(
                        row["variant"],
                        row["provider"],
                        row["status"],
                        row["error_code"],
                        row["accepted"],
                        row["sends"],
                        row["mms"],
                    )
                )
        return outcomes, contacts

    def replies(self, tenant_id: UUID, scope: Scope, subject_id: UUID) -> list[VariantEngagement]:
        """The scope's contacts who replied, per variant and overall (contacts: 0, the
        caller has them from `outcomes`)."""
        rows = self._conn.execute(
            _REPLIES.format(scope=_SCOPES[scope]), _params(tenant_id, subject_id)
        ).fetchall()
        return [
            VariantEngagement(
                row["variant"],
                row["overall"],
                Engagement(
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

    def compact(self, batch: int) -> int:
        """Fold up to `batch` deltas into the counts (jobs role); how many moved."""
        row = self._conn.execute("SELECT compact_result_deltas(%s) AS moved", (batch,)).fetchone()
        assert row is not None
        return int(row["moved"])


def _params(tenant_id: UUID, subject_id: UUID) -> dict[str, Any]:
    return {"tenant": tenant_id, "id": subject_id}
