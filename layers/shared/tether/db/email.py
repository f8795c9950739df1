"""Inbound email's SQL: the tenant a reply mailbox belongs to, and the lead a mail is
from (migration 0037)."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from tether.db.session import Session


@dataclass(frozen=True, slots=True)
class EmailMatch:
    lead_id: UUID | None
    campaign_id: UUID | None
    matched_by: str | None  # 'reply_address', 'in_reply_to', 'sender', 'ambiguous' or None

    @property
    def unmatched_reason(self) -> str | None:
        if self.matched_by == "ambiguous":
            return "several leads have the sender's email address"
        if self.lead_id is None:
            return "no lead has the sender's email address"
        return None


class MailboxRepository:
    def __init__(self, conn: Session) -> None:
        self._conn = conn

    def tenant_for(self, mailbox: str) -> UUID | None:
        """The tenant whose reply mailbox this is, before any tenant is known. For the
        app role: the transaction may then read that one tenant_config row (migration
        0037's reply_mailbox_lookup policy), and nothing else it could not already."""
        self._conn.execute("SELECT set_config('app.reply_mailbox', %s, true)", (mailbox,))
        row = self._conn.execute(
            "SELECT tenant_id FROM tenant_config WHERE reply_mailbox = %s", (mailbox,)
        ).fetchone()
        return row["tenant_id"] if row else None

    def reply_mailbox(self, tenant_id: UUID) -> str | None:
        row = self._conn.execute(
            "SELECT reply_mailbox FROM tenant_config WHERE tenant_id = %s", (tenant_id,)
        ).fetchone()
        return row["reply_mailbox"] if row else None

    def reply_token(self, lead_id: UUID) -> str | None:
        row = self._conn.execute(
            "SELECT reply_token FROM leads WHERE id = %s", (lead_id,)
        ).fetchone()
        return row["reply_token"] if row else None

    def match(
        self, tenant_id: UUID, token: str | None, thread_ids: tuple[str, ...], sender: str
    ) -> EmailMatch:
        """The lead by its reply address's token, else by a stored mail this one
        answers, else by the sender's address (match_email, migration 0037)."""
        row = self._conn.execute(
            "SELECT * FROM match_email(%s, %s, %s, %s)",
            (tenant_id, token, list(thread_ids), sender),
        ).fetchone()
        assert row is not None
        return EmailMatch(row["lead_id"], row["campaign_id"], row["matched_by"])
