"""A campaign and the rules of its life: staged on numbers, launched, paused, resumed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from uuid import UUID

from tether.domain.errors import InvalidState


class CampaignStatus(StrEnum):
    DRAFT = "draft"
    STAGED = "staged"
    ACTIVE = "active"
    PAUSED = "paused"
    COMPLETED = "completed"


@dataclass(frozen=True, slots=True)
class CampaignProgress:
    """A campaign's leads, and its first messages by where they are."""

    leads: int
    requested: int
    waiting: int
    sending: int
    sent: int
    delivered: int
    failed: int


@dataclass(frozen=True, slots=True)
class Campaign:
    id: UUID
    tenant_id: UUID
    name: str
    workspace_stage: str
    ai_worker: str
    pool: str
    template: str | None
    follow_up_template: str | None
    status: CampaignStatus
    staged_at: datetime | None
    launched_at: datetime | None
    created_at: datetime
    updated_at: datetime

    def check_launchable(self) -> None:
        """InvalidState unless a launch may (re)start this campaign's first messages."""
        if self.status is CampaignStatus.PAUSED:
            raise InvalidState("the campaign is paused: resume it to carry on sending")
        if self.status in {CampaignStatus.DRAFT, CampaignStatus.COMPLETED}:
            raise InvalidState(
                f"a {self.status.value} campaign cannot be launched"
                + (
                    ": stage it on its pool's numbers first"
                    if self.status is CampaignStatus.DRAFT
                    else ""
                )
            )
        if not (self.template or "").strip():
            raise InvalidState("the campaign has no template to send")

    def needs_pause(self) -> bool:
        """Whether pausing changes anything (pausing twice does not); InvalidState when a
        campaign in this status cannot be paused."""
        if self.status is CampaignStatus.PAUSED:
            return False
        if self.status is not CampaignStatus.ACTIVE:
            raise InvalidState(
                f"only an active campaign can be paused; this one is {self.status.value}"
            )
        return True

    def needs_resume(self) -> bool:
        """Whether resuming changes anything (an active campaign needs none);
        InvalidState when a campaign in this status cannot be resumed."""
        if self.status is CampaignStatus.ACTIVE:
            return False
        if self.status is not CampaignStatus.PAUSED:
            raise InvalidState(
                f"only a paused campaign can be resumed; this one is {self.status.value}"
            )
        return True

    def follow_up_text(self, default: str) -> str:
        """What a follow-up timer sends in this campaign."""
        return self.follow_up_template or default
