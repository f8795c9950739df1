"""A tenant whose pool staffs four campaigns, for the timer job (World), and a queue that
remembers what the job handed it."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from tests.support.factories import make_campaign
from tests.support.outbound import NOW, POOL, Outbound
from tether.db.connection import Connection, FreshConnections
from tether.db.unit_of_work import UnitOfWork
from tether.domain.timers import TimerType
from tether.services.numbers import NumberRow, register_numbers, stage_campaign
from tether.services.outbound import Outcome
from tether.services.timers import TimerRunReport, fire_due_timers
from tether_dev.sandbox import SandboxServer

LEAD_PHONE = "+14155550123"
NUDGE, RETARGET, NURTURE = "+14155550101", "+14155550102", "+14155550103"


class RecordingQueue:
    """OutboundQueue as the job sees it, remembering every body it was handed."""

    def __init__(self) -> None:
        self.bodies: list[str] = []
        self._lock = threading.Lock()

    def send(self, body: str, **_: Any) -> str:
        with self._lock:
            self.bodies.append(body)
        return str(uuid.uuid4())

    def send_batch(self, bodies: Sequence[str]) -> list[int]:
        with self._lock:
            self.bodies.extend(bodies)
        return []


class World(Outbound):
    """A tenant whose pool staffs four campaigns: GIANNA's first one (the Outbound
    helper's), CATHY's nudge, the retarget and the content nurture, a number each."""

    def __init__(
        self,
        admin: Connection,
        app: FreshConnections,
        jobs: FreshConnections,
        sandbox: SandboxServer,
        **config: object,
    ) -> None:
        # the job works across tenants: earlier tests' timers in this database are not ours
        admin.execute(
            "UPDATE lead_timers SET cancelled_at = now(), cancel_reason = 'another test'"
            " WHERE executed_at IS NULL AND cancelled_at IS NULL"
        )
        super().__init__(admin, app, sandbox, **config)
        self.jobs = jobs
        register_numbers(
            self.uow(),
            self.tenant_id,
            self.account_id,
            POOL,
            [NumberRow(NUDGE), NumberRow(RETARGET), NumberRow(NURTURE)],
        )
        self.nudge = self.campaign("nudger", "cathy", "Cathy here: still interested?")
        self.retarget = self.campaign("retarget", "cathy", "A new offer for you")
        self.nurture = self.campaign("content_nurture", "sabrina", "Our monthly market notes")

    def campaign(self, stage: str, worker: str, template: str, staged: bool = True) -> uuid.UUID:
        campaign_id = make_campaign(self.admin, self.tenant_id, POOL)
        self.admin.execute(
            "UPDATE campaigns SET workspace_stage = %s, ai_worker = %s, template = %s WHERE id = %s",
            (stage, worker, template, campaign_id),
        )
        if staged:
            stage_campaign(self.uow(), campaign_id, NOW)
        return campaign_id

    def step(self, timer_type: str, action: str, campaign_id: uuid.UUID | None = None) -> None:
        self.admin.execute(
            "INSERT INTO escalation_steps (tenant_id, timer_type, action, campaign_id)"
            " VALUES (%s, %s, %s, %s)",
            (self.tenant_id, timer_type, action, campaign_id),
        )

    def touched(self, phone: str = LEAD_PHONE) -> uuid.UUID:
        """A lead sent its first text at NOW: TOUCHED, with its 7/14/30-day timers."""
        lead_id = self.lead(phone)
        assert self.process(self.request(lead_id)).outcome is Outcome.SENT
        return lead_id

    def run(
        self, now: datetime, queue: RecordingQueue | None = None, **options: Any
    ) -> TimerRunReport:
        return fire_due_timers(UnitOfWork(self.jobs), queue, now, **options)

    def timers(self, lead_id: uuid.UUID) -> dict[str, dict[str, Any]]:
        rows = self.admin.execute(
            "SELECT id, timer_type::text AS timer_type, trigger_at, executed_at, cancelled_at,"
            " cancel_reason, attempts, retry_at, last_error, message_id"
            " FROM lead_timers WHERE lead_id = %s ORDER BY created_at",
            (lead_id,),
        ).fetchall()
        return {row["timer_type"]: dict(row) for row in rows}

    def lead_row(self, lead_id: uuid.UUID) -> dict[str, Any]:
        row = self.admin.execute(
            "SELECT state::text AS state, campaign_id FROM leads WHERE id = %s", (lead_id,)
        ).fetchone()
        assert row is not None
        return dict(row)

    def sent(self, message_id: uuid.UUID) -> dict[str, Any]:
        row = self.admin.execute(
            "SELECT m.campaign_id, m.from_address, m.body, m.send_key, m.status, b.phone_number AS bound"
            " FROM messages m LEFT JOIN lead_sender_bindings b"
            "   ON b.lead_id = m.lead_id AND b.campaign_id = m.campaign_id WHERE m.id = %s",
            (message_id,),
        ).fetchone()
        assert row is not None
        return dict(row)

    def events(self, lead_id: uuid.UUID) -> list[dict[str, Any]]:
        return self.admin.execute(
            "SELECT event_type, previous_state::text AS previous_state, new_state::text AS new_state,"
            " payload, dedupe_key FROM lead_events WHERE lead_id = %s ORDER BY seq",
            (lead_id,),
        ).fetchall()

    def schedule(self, lead_id: uuid.UUID, timer_type: TimerType, at: datetime) -> uuid.UUID:
        with self.uow() as uow:
            timer_id = uow.timers.schedule(self.tenant_id, lead_id, timer_type.value, at)
            uow.commit()
        return timer_id
