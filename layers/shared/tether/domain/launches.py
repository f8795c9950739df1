"""A launch: one request's first messages to a campaign's leads, done a chunk at a time.

The rules, pure: when a scheduled launch may fire (not a second before its time), what
a chunk message may still do (only the chunk the launch waits for), when a launch may
be cancelled (until it fires), and how a chunk's outcome moves the counts on."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from uuid import UUID

from tether.domain.errors import InvalidInput, InvalidState

# The first message of a campaign to a lead: its template name and its send key.
LAUNCH_TEMPLATE = "launch"


def launch_send_key(campaign_id: UUID, lead_id: UUID) -> str:
    """One first message per lead and campaign, however often it is launched."""
    return f"{LAUNCH_TEMPLATE}:{campaign_id}:{lead_id}"


# How far ahead of its time the dispatcher hands a scheduled launch to the queue, with
# a delay that ends at its time: more than the dispatcher's period (a minute), and
# within what a queue delay holds (15 minutes).
DISPATCH_AHEAD = timedelta(minutes=2)
# A launch whose chunk message was lost (a queue call failed after a commit) is handed
# to the queue again after this long without progress; a spare message does nothing.
STALLED_AFTER = timedelta(minutes=5)
MAX_QUEUE_DELAY_SECONDS = 900
# How far ahead a launch or a message may be scheduled.
LONGEST_SCHEDULE = timedelta(days=365)


class LaunchStatus(StrEnum):
    SCHEDULED = "scheduled"
    RUNNING = "running"
    PAUSED = "paused"
    COMPLETE = "complete"
    CANCELLED = "cancelled"


@dataclass(frozen=True, slots=True)
class ChunkOutcome:
    """What one chunk of leads came to: sends stored now, sends stored before (a lead
    some earlier launch reached), and leads refused, by reason."""

    leads: int
    queued: int = 0
    duplicates: int = 0
    skipped: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Launch:
    id: UUID
    tenant_id: UUID
    campaign_id: UUID
    status: LaunchStatus
    launch_at: datetime | None
    chunk_seq: int
    cursor: UUID | None
    queued: int
    duplicates: int
    skipped: dict[str, int]
    wake_at: datetime | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    cancelled_at: datetime | None

    @property
    def open(self) -> bool:
        return self.status in {LaunchStatus.SCHEDULED, LaunchStatus.RUNNING, LaunchStatus.PAUSED}

    def takes_chunk(self, seq: int) -> bool:
        """Whether a chunk message numbered `seq` has work to do: the launch is under way
        (or due to start) and waits for exactly that chunk. A message delivered twice, or
        a spare one from a re-drive, finds the sequence moved on and does nothing."""
        return seq == self.chunk_seq and self.status in {
            LaunchStatus.SCHEDULED,
            LaunchStatus.RUNNING,
        }

    def due(self, now: datetime) -> bool:
        """A scheduled launch fires at its time, not a second before."""
        return self.launch_at is None or self.launch_at <= now

    def seconds_until_due(self, now: datetime) -> int:
        """The queue delay that ends at the launch's time (0 when due)."""
        if self.launch_at is None or self.launch_at <= now:
            return 0
        return min(MAX_QUEUE_DELAY_SECONDS, math.ceil((self.launch_at - now).total_seconds()))

    def check_cancellable(self) -> None:
        """InvalidState unless the launch has yet to fire."""
        if self.status is LaunchStatus.CANCELLED:
            return
        if self.status is not LaunchStatus.SCHEDULED:
            raise InvalidState(
                f"the launch has fired already (it is {self.status.value}): pause the campaign"
                " to stop its sends"
            )

    def counts_after(self, outcome: ChunkOutcome) -> tuple[int, int, dict[str, int]]:
        skipped = dict(self.skipped)
        for reason, count in outcome.skipped.items():
            skipped[reason] = skipped.get(reason, 0) + count
        return self.queued + outcome.queued, self.duplicates + outcome.duplicates, skipped


def first_wake(launch_at: datetime | None, now: datetime) -> datetime:
    """When the dispatcher first hands a new launch to the queue: at once, or a little
    before its time (the queue's delay ends at the time itself)."""
    if launch_at is None or launch_at - DISPATCH_AHEAD <= now:
        return now
    return launch_at - DISPATCH_AHEAD


def check_schedule(at: datetime | None, now: datetime, what: str) -> datetime | None:
    """A time to launch or send at: with a time zone, and within a year. A time already
    past means at once."""
    if at is None:
        return None
    if at.tzinfo is None or at.utcoffset() is None:
        raise InvalidInput(f"{what} needs a time zone offset (e.g. 2026-05-01T09:00:00Z)")
    if at - now > LONGEST_SCHEDULE:
        raise InvalidInput(f"{what} is more than a year ahead")
    return at if at > now else None
