"""An in-memory unit of work for unit tests of services (cosmicpython's FakeUnitOfWork):
the repositories a reply's effect on its lead goes through, kept in dicts and lists,
with the database's rules that matter to it (an event once per dedupe key, a state
moved only from the state expected, one live suppression per phone)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, Self, cast
from uuid import UUID, uuid4

from tether.db.numbers import NumberHealthRules, NumberSettings
from tether.db.unit_of_work import UnitOfWork
from tether.domain.lead_state import LeadState
from tether.domain.leases import LeaseRules
from tether.domain.model import Lead
from tether.domain.outbox import EventType, OutboxEvent


@dataclass
class RecordedEvent:
    lead_id: UUID
    event_type: str
    dedupe_key: str
    previous_state: LeadState | None
    new_state: LeadState | None
    payload: dict[str, Any]


class FakeLeads:
    def __init__(self) -> None:
        self.rows: dict[UUID, Lead] = {}

    def get(self, lead_id: UUID, *, for_update: bool = False) -> Lead | None:
        return self.rows.get(lead_id)

    def set_state(self, lead_id: UUID, expected: LeadState, target: LeadState) -> bool:
        lead = self.rows[lead_id]
        if lead.state is not expected:
            return False
        self.rows[lead_id] = replace(lead, state=target)
        return True

    def set_email(self, lead_id: UUID, email: str) -> None:
        self.rows[lead_id] = replace(self.rows[lead_id], email=email)

    def resubscribe_proven(self, lead: Lead, cause: dict[str, str]) -> bool:
        """The database's proof (migration 0027) is tried on real PostgreSQL
        (tests/integration/test_resubscribe.py); here a named START message proves it."""
        return lead.state is LeadState.SUPPRESSED and "message_id" in cause


class FakeLeadEvents:
    def __init__(self) -> None:
        self.events: list[RecordedEvent] = []

    def append(
        self,
        lead: Lead,
        event_type: str,
        dedupe_key: str,
        *,
        previous_state: LeadState | None = None,
        new_state: LeadState | None = None,
        payload: dict[str, Any] | None = None,
    ) -> UUID | None:
        if any(event.dedupe_key == dedupe_key for event in self.events):
            return None  # the unique dedupe_key
        self.events.append(
            RecordedEvent(lead.id, event_type, dedupe_key, previous_state, new_state, payload or {})
        )
        return uuid4()


class FakeSuppressions:
    def __init__(self) -> None:
        self.live: dict[tuple[UUID, str], str | None] = {}

    def add(
        self,
        tenant_id: UUID,
        phone: str,
        reason: str,
        *,
        phone_number_id: UUID | None = None,
        keyword: str | None = None,
        source_message_id: UUID | None = None,
    ) -> bool:
        if (tenant_id, phone) in self.live:
            return False
        self.live[(tenant_id, phone)] = keyword
        return True


class FakeTimers:
    def __init__(self) -> None:
        self.active: dict[UUID, int] = {}
        self.cancelled: list[tuple[UUID, str]] = []

    def cancel(
        self, lead_id: UUID, at: datetime, reason: str, timer_type: str | None = None
    ) -> int:
        count = self.active.pop(lead_id, 0)
        self.cancelled.append((lead_id, reason))
        return count


class FakeNumbers:
    def __init__(self, region: str) -> None:
        self.region = region

    def settings(self, tenant_id: UUID) -> NumberSettings:
        return NumberSettings(self.region, LeaseRules(), NumberHealthRules(0.5, 20, 24))


@dataclass
class FakeOutbox:
    """The outbox: the events recorded, in order (the real one is migration 0031's)."""

    recorded: list[OutboxEvent] = field(default_factory=list)

    def record(
        self,
        tenant_id: UUID,
        type: EventType,
        data: dict[str, Any],
        at: datetime | None,
        lead_id: UUID | None = None,
        version: int = 1,
    ) -> OutboxEvent:
        event = OutboxEvent(
            uuid4(), tenant_id, type, version, lead_id, at or datetime.now(UTC), dict(data)
        )
        self.recorded.append(event)
        return event


@dataclass
class FakeUnitOfWork:
    """Stands in for UnitOfWork where a service needs only these repositories."""

    region: str = "US"
    leads: FakeLeads = field(default_factory=FakeLeads)
    lead_events: FakeLeadEvents = field(default_factory=FakeLeadEvents)
    suppressions: FakeSuppressions = field(default_factory=FakeSuppressions)
    timers: FakeTimers = field(default_factory=FakeTimers)
    outbox: FakeOutbox = field(default_factory=FakeOutbox)
    committed: int = 0
    opened: bool = False

    def __post_init__(self) -> None:
        self.numbers = FakeNumbers(self.region)

    def __enter__(self) -> Self:
        if self.opened:
            raise RuntimeError("the unit of work is open already")
        self.opened = True
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.opened = False

    def commit(self) -> None:
        self.committed += 1

    def add_lead(self, phone: str = "+14155550123", state: LeadState = LeadState.TOUCHED) -> Lead:
        lead = Lead(uuid4(), uuid4(), uuid4(), phone, state)
        self.leads.rows[lead.id] = lead
        self.timers.active[lead.id] = 3
        return lead

    def as_uow(self) -> UnitOfWork:
        """This fake where a service's signature names the real one."""
        return cast(UnitOfWork, self)
