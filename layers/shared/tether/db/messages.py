"""SQL for outbound messages: the request, the claim, the attempt and its outcome."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from tether.db.session import Session
from tether.domain.lead_state import LeadState
from tether.domain.messages import StoredSend
from tether.domain.model import Lead


@dataclass(frozen=True, slots=True)
class OutboundDraft:
    tenant_id: UUID
    lead_id: UUID | None  # None only for an opt-out confirmation to a phone with no lead
    campaign_id: UUID
    thread_id: UUID
    assignment_id: UUID
    number_id: UUID
    from_number: str
    to_number: str
    send_key: str
    template: str | None
    body: str
    media_urls: list[str]
    segments: int
    expires_at: datetime
    purpose: str = "campaign"
    variant: str | None = None  # the campaign template variant the body was made from
    not_before: datetime | None = None  # held until then (a send_at)
    channel: str = "sms"  # the message channel: 'sms', 'mms' or 'whatsapp'
    whatsapp_template_id: UUID | None = None  # an approved WhatsApp template it goes as
    template_variables: dict[str, str] | None = None  # that template's values


@dataclass(frozen=True, slots=True)
class InboundDraft:
    tenant_id: UUID
    thread_id: UUID
    provider: str
    external_id: str
    from_address: str
    to_address: str
    body: str
    media_urls: list[str]
    received_at: datetime
    lead_id: UUID | None
    campaign_id: UUID | None
    assignment_id: UUID | None
    number_id: UUID | None
    channel: str = "sms"  # the message channel (migration 0034); never changes after
    email_message_id: str | None = None  # an email's Message-ID (migration 0037)
    subject: str | None = None


@dataclass(frozen=True, slots=True)
class SendTemplate:
    """The approved WhatsApp template a send goes as, and its values."""

    name: str
    language: str
    provider_template_id: str
    status: str
    variables: dict[str, str]


@dataclass(frozen=True, slots=True)
class SendContext:
    """A message locked for sending, with what its gates need to know."""

    id: UUID
    tenant_id: UUID
    lead_id: UUID | None  # None only for an opt-out confirmation to a phone with no lead
    campaign_id: UUID
    status: str
    attempts: int
    external_id: str | None
    from_number: str
    to_number: str
    number_id: UUID
    body: str
    media_urls: list[str]
    segments: int
    send_key: str
    not_before: datetime | None
    expires_at: datetime | None
    attempt_started_at: datetime | None
    paced_slot: datetime | None
    lead_state: str | None
    lead_timezone: str | None
    provider_account_id: UUID
    provider: str
    credentials_ref: str | None
    # tenant_config
    quiet_hours_start: Any
    quiet_hours_end: Any
    quiet_hours_by_state: dict[str, Any]
    segments_per_second: Decimal | None
    segments_per_day: int | None
    max_attempts: int
    timer_7d_days: int
    purpose: str = "campaign"
    campaign_status: str = "active"
    quiet_hours_wider_attested: bool = False
    channel: str = "sms"
    # WhatsApp: when the person last wrote on the message's thread (the 24-hour window
    # opened then), and the template it goes as (None: free-form text)
    last_inbound_at: datetime | None = None
    template: SendTemplate | None = None

    @property
    def is_opt_out_confirmation(self) -> bool:
        return self.purpose == "opt_out_confirmation"


@dataclass(frozen=True, slots=True)
class HandOverCheck:
    lead: Lead | None  # locked; None only for an opt-out confirmation to a phone with no lead
    external_id: str | None
    attempts: int
    suppressed: bool


class MessageRepository:
    def __init__(self, conn: Session) -> None:
        self._conn = conn

    def insert_outbound_many(self, drafts: Sequence[OutboundDraft]) -> dict[str, UUID]:
        """The rows of many sends in one statement, once per send key: the ids of the rows
        made, by send key (a key used already makes none)."""
        if not drafts:
            return {}
        columns = (
            [d.tenant_id for d in drafts],
            [d.thread_id for d in drafts],
            [d.lead_id for d in drafts],
            [d.campaign_id for d in drafts],
            [d.from_number for d in drafts],
            [d.to_number for d in drafts],
            [d.number_id for d in drafts],
            [d.assignment_id for d in drafts],
            [d.send_key for d in drafts],
            [d.template for d in drafts],
            [d.body for d in drafts],
            [d.segments for d in drafts],
            [json.dumps(d.media_urls) for d in drafts],
            [d.expires_at for d in drafts],
            [d.purpose for d in drafts],
            [d.variant for d in drafts],
            [d.not_before for d in drafts],
            [d.channel for d in drafts],
            [d.whatsapp_template_id for d in drafts],
            [json.dumps(d.template_variables) if d.template_variables is not None else None
             for d in drafts],
        )  # fmt: skip
        rows = self._conn.execute(
            "INSERT INTO messages (tenant_id, direction, thread_id, lead_id, campaign_id,"
            " from_address, to_address, outbound_number_id, campaign_phone_assignment_id,"
            " send_key, template, body, segments, media_urls, status, queued_at, expires_at, purpose,"
            " variant, not_before, channel, whatsapp_template_id, template_variables)"
            " SELECT v.tenant_id, 'outbound', v.thread_id, v.lead_id, v.campaign_id, v.from_address,"
            " v.to_address, v.number_id, v.assignment_id, v.send_key, v.template, v.body, v.segments,"
            " ARRAY(SELECT jsonb_array_elements_text(v.media::jsonb)), 'queued', now(),"
            " v.expires_at, v.purpose, v.variant, v.not_before, v.channel, v.wa_template,"
            " v.wa_variables::jsonb"
            " FROM unnest(%b::uuid[], %b::uuid[], %b::uuid[], %b::uuid[], %b::text[], %b::text[],"
            " %b::uuid[], %b::uuid[], %b::text[], %b::text[], %b::text[], %b::int[], %b::text[],"
            " %b::timestamptz[], %b::text[], %b::text[], %b::timestamptz[], %b::text[], %b::uuid[],"
            " %b::text[])"
            " AS v(tenant_id, thread_id, lead_id, campaign_id, from_address, to_address, number_id,"
            " assignment_id, send_key, template, body, segments, media, expires_at, purpose, variant,"
            " not_before, channel, wa_template, wa_variables)"
            " ON CONFLICT (tenant_id, send_key) DO NOTHING RETURNING id, send_key",
            columns,
        ).fetchall()
        return {row["send_key"]: row["id"] for row in rows}

    def mark_enqueued_many(self, message_ids: Sequence[UUID], at: datetime) -> None:
        self._conn.execute(
            "UPDATE messages SET enqueued_at = %s WHERE id = ANY(%s)", (at, list(message_ids))
        )

    def validity_hours(self, tenant_ids: Iterable[UUID]) -> dict[UUID, int]:
        """How long each tenant's sends may wait before they expire, in hours."""
        rows = self._conn.execute(
            "SELECT tenant_id, send_validity_hours FROM tenant_config WHERE tenant_id = ANY(%s)",
            (list(tenant_ids),),
        ).fetchall()
        return {row["tenant_id"]: row["send_validity_hours"] for row in rows}

    def recipients(self, lead_ids: Iterable[UUID]) -> dict[UUID, Lead]:
        """The leads that sends are asked for (the session's tenant's), by id."""
        rows = self._conn.execute(
            "SELECT id, tenant_id, campaign_id, phone, state::text AS state, email,"
            " first_name, last_name, company, attributes FROM leads WHERE id = ANY(%s)",
            (list(set(lead_ids)),),
        ).fetchall()
        return {
            r["id"]: Lead(
                r["id"],
                r["tenant_id"],
                r["campaign_id"],
                r["phone"],
                LeadState(r["state"]),
                r["email"],
                r["first_name"],
                r["last_name"],
                r["company"],
                r["attributes"],
            )
            for r in rows
        }

    def by_send_key(self, tenant_id: UUID, send_key: str) -> StoredSend | None:
        """The tenant's message with this send key (send keys are unique per tenant)."""
        return self.by_send_keys([(tenant_id, send_key)]).get((tenant_id, send_key))

    def by_send_keys(self, keys: Sequence[tuple[UUID, str]]) -> dict[tuple[UUID, str], StoredSend]:
        """The messages stored under many (tenant, send key) in one statement."""
        if not keys:
            return {}
        rows = self._conn.execute(
            "SELECT m.id, m.tenant_id, m.send_key, m.status, m.from_address, m.lead_id, m.campaign_id"
            " FROM unnest(%b::uuid[], %b::text[]) AS v(tenant_id, send_key)"
            " JOIN messages m ON m.tenant_id = v.tenant_id AND m.send_key = v.send_key",
            ([tenant for tenant, _ in keys], [key for _, key in keys]),
        ).fetchall()
        return {
            (r["tenant_id"], r["send_key"]): StoredSend(
                r["id"], r["status"], r["from_address"], r["lead_id"], r["campaign_id"]
            )
            for r in rows
        }

    def lock_for_send(self, message_id: UUID) -> SendContext | None:
        """The message locked for its claim, with what its gates need (migration 0009)."""
        row = self._conn.execute("SELECT * FROM message_for_send(%s)", (message_id,)).fetchone()
        if row is None:
            return None
        return SendContext(
            id=row["id"],
            tenant_id=row["tenant_id"],
            lead_id=row["lead_id"],
            campaign_id=row["campaign_id"],
            status=row["status"],
            attempts=row["attempts"],
            external_id=row["external_id"],
            from_number=row["from_address"],
            to_number=row["to_address"],
            number_id=row["outbound_number_id"],
            body=row["body"],
            media_urls=list(row["media_urls"]),
            segments=row["segments"] or 1,
            send_key=row["send_key"],
            not_before=row["not_before"],
            expires_at=row["expires_at"],
            attempt_started_at=row["attempt_started_at"],
            paced_slot=row["paced_slot"],
            lead_state=row["lead_state"],
            lead_timezone=row["lead_timezone"],
            provider_account_id=row["provider_account_id"],
            provider=row["provider"],
            credentials_ref=row["credentials_ref"],
            quiet_hours_start=row["quiet_hours_start"],
            quiet_hours_end=row["quiet_hours_end"],
            quiet_hours_by_state=row["quiet_hours_by_state"],
            segments_per_second=row["send_segments_per_second"],
            segments_per_day=row["send_segments_per_day"],
            max_attempts=row["send_max_attempts"],
            timer_7d_days=row["timer_7d_days"],
            purpose=row["purpose"],
            campaign_status=row["campaign_status"],
            quiet_hours_wider_attested=row["quiet_hours_wider_attested"],
            channel=row["channel"],
            last_inbound_at=row["last_inbound_at"],
            template=SendTemplate(
                row["template_name"],
                row["template_language"],
                row["provider_template_id"],
                row["template_status"],
                dict(row["template_variables"] or {}),
            )
            if row["template_name"] is not None
            else None,
        )

    def begin_hand_over(self, message_id: UUID) -> HandOverCheck | None:
        """Take the hand-over's locks in their order (the lead, the phone against
        opt-outs, the message) and read what may have changed since the claim."""
        row = self._conn.execute("SELECT * FROM begin_hand_over(%s)", (message_id,)).fetchone()
        if row is None:
            return None
        lead = (
            Lead(
                row["lead_id"],
                row["tenant_id"],
                row["campaign_id"],
                row["phone"],
                LeadState(row["lead_state"]),
            )
            if row["lead_id"] is not None
            else None
        )
        return HandOverCheck(lead, row["external_id"], row["attempts"], row["suppressed"])

    def count_daily_segments(
        self, tenant_id: UUID, number_id: UUID, day: date, segments: int, limit: int
    ) -> bool:
        """Add `segments` to the number's count for `day` unless that would pass `limit`."""
        row = self._conn.execute(
            "INSERT INTO number_daily_segments AS d (tenant_id, phone_number_id, day, segments)"
            " SELECT %(tenant)s, %(number)s, %(day)s, %(segments)s WHERE %(segments)s <= %(limit)s"
            " ON CONFLICT (phone_number_id, day) DO UPDATE SET segments = d.segments + EXCLUDED.segments"
            " WHERE d.segments + EXCLUDED.segments <= %(limit)s RETURNING d.segments",
            {
                "tenant": tenant_id,
                "number": number_id,
                "day": day,
                "segments": segments,
                "limit": limit,
            },
        ).fetchone()
        return row is not None

    def defer(
        self, message_id: UUID, until: datetime, *, paced_slot: datetime | None = None
    ) -> None:
        self._conn.execute(
            "UPDATE messages SET not_before = %s, paced_slot = coalesce(%s, paced_slot) WHERE id = %s",
            (until, paced_slot, message_id),
        )

    def start_attempt(self, message_id: UUID, now: datetime) -> None:
        """Open an attempt. An attempt already open keeps its start: the text may be at
        the provider since then. Sent with the transaction's COMMIT (or its next
        statement), in one round trip."""
        self._conn.execute_later(
            "UPDATE messages SET status = 'sending', attempts = attempts + 1,"
            " attempt_started_at = coalesce(attempt_started_at, %s), not_before = NULL WHERE id = %s",
            (now, message_id),
        )

    def record_sent(
        self, message_id: UUID, provider: str, external_id: str, segments: int | None, now: datetime
    ) -> str | None:
        """Mark the send sent; its status before (None: no such message)."""
        row = self._conn.execute(
            "UPDATE messages m SET status = 'sent', provider = %s, external_id = %s,"
            " segments = coalesce(%s, m.segments), sent_at = %s, attempt_started_at = NULL,"
            " error_code = NULL, error_reason = NULL"
            " FROM messages old WHERE m.id = %s AND old.id = m.id RETURNING old.status",
            (provider, external_id, segments, now, message_id),
        ).fetchone()
        return None if row is None else str(row["status"])

    def retry_later(
        self,
        message_id: UUID,
        code: str | None,
        reason: str,
        retry_at: datetime,
        *,
        attempt_open: bool,
    ) -> None:
        """This attempt failed but another may succeed. `attempt_open`: the provider may
        have the text, so the attempt stays open (in doubt) for the retry."""
        self._conn.execute(
            "UPDATE messages SET error_code = %s, error_reason = %s, not_before = %s,"
            " attempt_started_at = CASE WHEN %s THEN attempt_started_at END WHERE id = %s",
            (code, reason, retry_at, attempt_open, message_id),
        )

    def fail(self, message_id: UUID, code: str | None, reason: str) -> str | None:
        """Fail the send; its status before (None: no such message)."""
        row = self._conn.execute(
            "UPDATE messages m SET status = 'failed', error_code = %s, error_reason = %s,"
            " attempt_started_at = NULL FROM messages old WHERE m.id = %s AND old.id = m.id"
            " RETURNING old.status",
            (code, reason, message_id),
        ).fetchone()
        return None if row is None else str(row["status"])

    def unsent_status(self, message_id: UUID) -> tuple[str, bool] | None:
        """An outbound message's status and whether a provider may have it (an attempt
        opened, or an id from one), locked for a cancel; None when there is none."""
        row = self._conn.execute(
            "SELECT status, (attempt_started_at IS NOT NULL OR external_id IS NOT NULL"
            " OR attempts > 0) AS attempted FROM messages"
            " WHERE id = %s AND direction = 'outbound' FOR UPDATE",
            (message_id,),
        ).fetchone()
        return (row["status"], row["attempted"]) if row else None

    def cancel(self, message_id: UUID, reason: str) -> None:
        self._conn.execute(
            "UPDATE messages SET status = 'canceled', error_code = 'cancelled',"
            " error_reason = %s, not_before = NULL WHERE id = %s",
            (reason, message_id),
        )

    def mark_enqueued(self, message_id: UUID, at: datetime | None) -> None:
        """Record the hand-over to OutboundQueue (None: not enqueued, the sweeper's)."""
        self._conn.execute("UPDATE messages SET enqueued_at = %s WHERE id = %s", (at, message_id))

    def waiting_to_enqueue(self, now: datetime, limit: int) -> list[tuple[UUID, UUID]]:
        """Sends that are due and in no queue: never enqueued (the queue call failed
        after the commit) or deferred for longer than a queue delay can hold: (tenant,
        message) pairs."""
        rows = self._conn.execute(
            "SELECT id, tenant_id FROM messages"
            " WHERE direction = 'outbound' AND status IN ('queued', 'sending') AND enqueued_at IS NULL"
            " AND coalesce(not_before, created_at) <= %s"
            " ORDER BY coalesce(not_before, created_at) LIMIT %s FOR UPDATE SKIP LOCKED",
            (now, limit),
        ).fetchall()
        return [(row["tenant_id"], row["id"]) for row in rows]

    def find_message(self, provider: str, external_id: str) -> TrackedMessage | None:
        row = self._conn.execute(
            "SELECT id, tenant_id, lead_id, status, outbound_number_id, to_address FROM messages"
            " WHERE provider = %s AND external_id = %s",
            (provider, external_id),
        ).fetchone()
        return _tracked(row) if row else None

    def lock_tracked(self, message_id: UUID) -> TrackedMessage:
        row = self._conn.execute(
            "SELECT id, tenant_id, lead_id, status, outbound_number_id, to_address, campaign_id"
            " FROM messages WHERE id = %s FOR UPDATE",
            (message_id,),
        ).fetchone()
        assert row is not None
        return _tracked(row)

    def move_status(
        self,
        message_id: UUID,
        status: str,
        error_code: str | None,
        error_reason: str | None,
        at: datetime,
    ) -> None:
        self._conn.execute(
            "UPDATE messages SET status = %s,"
            " delivered_at = CASE WHEN %s = 'delivered' THEN %s ELSE delivered_at END,"
            " error_code = coalesce(%s, error_code), error_reason = coalesce(%s, error_reason)"
            " WHERE id = %s",
            (status, status, at, error_code, error_reason, message_id),
        )

    def insert_inbound(self, draft: InboundDraft) -> UUID | None:
        """A reply, once per provider message id: None when it was stored already."""
        row = self._conn.execute(
            "INSERT INTO messages (tenant_id, direction, thread_id, lead_id, campaign_id, from_address,"
            " to_address, outbound_number_id, campaign_phone_assignment_id, provider, external_id, body,"
            " media_urls, status, received_at, channel, email_message_id, subject)"
            " VALUES (%s, 'inbound', %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, 'received', %s,"
            " %s, %s, %s)"
            " ON CONFLICT (provider, external_id) DO NOTHING RETURNING id",
            (
                draft.tenant_id,
                draft.thread_id,
                draft.lead_id,
                draft.campaign_id,
                draft.from_address,
                draft.to_address,
                draft.number_id,
                draft.assignment_id,
                draft.provider,
                draft.external_id,
                draft.body,
                draft.media_urls,
                draft.received_at,
                draft.channel,
                draft.email_message_id,
                draft.subject,
            ),
        ).fetchone()
        return row["id"] if row else None

    def attribute(self, message_id: UUID, ai_worker: str) -> None:
        """Name the AI worker a reply was handled by."""
        self._conn.execute(
            "UPDATE messages SET ai_worker = %s WHERE id = %s", (ai_worker, message_id)
        )

    def assign_lead(self, message_id: UUID, lead_id: UUID, campaign_id: UUID | None) -> None:
        """An unmatched reply is the lead's from now on (a message's lead may be set
        once, never changed: migration 0004)."""
        self._conn.execute(
            "UPDATE messages SET lead_id = %s, campaign_id = coalesce(campaign_id, %s)"
            " WHERE id = %s AND lead_id IS NULL",
            (lead_id, campaign_id, message_id),
        )

    def wake_paused_sends(self, campaign_id: UUID, now: datetime, limit: int) -> list[UUID]:
        """Bring the campaign's sends held while it was paused forward to now: never
        attempted, in no queue, waiting for a later time. Their ids, at most `limit`
        (the sweeper takes any others, now that they are due)."""
        rows = self._conn.execute(
            "WITH held AS ("
            "  UPDATE messages SET not_before = %(now)s"
            "  WHERE campaign_phone_assignment_id IN"
            "    (SELECT id FROM campaign_phone_assignments WHERE campaign_id = %(id)s)"
            "  AND direction = 'outbound' AND status = 'queued' AND attempts = 0"
            "  AND enqueued_at IS NULL AND not_before > %(now)s"
            "  RETURNING id)"
            " SELECT id FROM held LIMIT %(limit)s",
            {"id": campaign_id, "now": now, "limit": limit},
        ).fetchall()
        return [row["id"] for row in rows]


@dataclass(frozen=True, slots=True)
class StatusEvent:
    id: UUID
    status: str
    error_code: str | None
    error_reason: str | None
    occurred_at: datetime


@dataclass(frozen=True, slots=True)
class TrackedMessage:
    id: UUID
    tenant_id: UUID
    lead_id: UUID | None
    status: str
    number_id: UUID | None
    to_address: str
    campaign_id: UUID | None = None


class StatusRepository:
    """Delivery statuses: their history, and the message each one moves."""

    def __init__(self, conn: Session) -> None:
        self._conn = conn

    def record(
        self,
        tenant_id: UUID,
        provider: str,
        external_id: str,
        status: str,
        error_code: str | None,
        error_reason: str | None,
        occurred_at: datetime,
        receipt_id: UUID | None,
    ) -> StatusEvent | None:
        """Keep the report; None when this receipt was recorded already."""
        row = self._conn.execute(
            "INSERT INTO message_status_events (tenant_id, provider, external_id, status, error_code,"
            " error_reason, occurred_at, receipt_id) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)"
            " ON CONFLICT (receipt_id) DO NOTHING RETURNING id",
            (
                tenant_id,
                provider,
                external_id,
                status,
                error_code,
                error_reason,
                occurred_at,
                receipt_id,
            ),
        ).fetchone()
        if row is None:
            return None
        return StatusEvent(row["id"], status, error_code, error_reason, occurred_at)

    def parked(self, provider: str, external_id: str) -> list[StatusEvent]:
        """Reports that came before the send's SID was stored, in arrival order."""
        rows = self._conn.execute(
            "SELECT id, status, error_code, error_reason, occurred_at FROM message_status_events"
            " WHERE provider = %s AND external_id = %s AND message_id IS NULL"
            " ORDER BY created_at, id FOR UPDATE",
            (provider, external_id),
        ).fetchall()
        return [
            StatusEvent(r["id"], r["status"], r["error_code"], r["error_reason"], r["occurred_at"])
            for r in rows
        ]

    def attach(self, event_ids: list[UUID], message_id: UUID, at: datetime) -> None:
        self._conn.execute(
            "UPDATE message_status_events SET message_id = %s, applied_at = %s WHERE id = ANY(%s)",
            (message_id, at, event_ids),
        )


def _tracked(row: dict[str, Any]) -> TrackedMessage:
    return TrackedMessage(
        row["id"],
        row["tenant_id"],
        row["lead_id"],
        row["status"],
        row["outbound_number_id"],
        row["to_address"],
        row.get("campaign_id"),
    )
