"""Campaigns through their life: created, staged on numbers, launched (the first
message to every lead), paused and resumed, with their progress counted from the sends
themselves."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

from tether.db.unit_of_work import UnitOfWork
from tether.domain.campaigns import Campaign, CampaignProgress, CampaignStatus
from tether.domain.errors import InvalidInput, NotFound
from tether.domain.pagination import Page, Position, page_of
from tether.observability import logger, metrics
from tether.queues import MessageQueue
from tether.services.numbers import stage_numbers
from tether.services.outbound import SendRefused, SendRequest, enqueue_sends, store_sends

LAUNCH_TEMPLATE = "launch"
LAUNCH_BATCH = 200
WAKE_LIMIT = 500  # sends a resume enqueues itself; the sweeper takes the rest


@dataclass(frozen=True, slots=True)
class LaunchBudget:
    """How much one launch request does before it answers (API Gateway waits 29 s at
    most); launching again carries on where it stopped."""

    max_leads: int = 1000
    max_seconds: float = 20.0


@dataclass(frozen=True, slots=True)
class LaunchReport:
    campaign: Campaign
    progress: CampaignProgress
    queued_now: int
    already_queued: int
    skipped: dict[str, int] = field(default_factory=dict)
    complete: bool = True


def launch_send_key(campaign_id: UUID, lead_id: UUID) -> str:
    """One first message per lead and campaign, however often the launch is repeated."""
    return f"{LAUNCH_TEMPLATE}:{campaign_id}:{lead_id}"


def create_campaign(
    uow: UnitOfWork,
    tenant_id: UUID,
    name: str,
    workspace_stage: str,
    ai_worker: str,
    pool: str,
    template: str | None,
) -> Campaign:
    if not name.strip() or not pool.strip():
        raise InvalidInput("a campaign needs a name and a pool")
    with uow:
        campaign = uow.campaigns.add(
            tenant_id, name.strip(), workspace_stage, ai_worker, pool.strip(), template
        )
        uow.commit()
    logger.info("campaign created", extra={"campaign_id": str(campaign.id)})
    return campaign


def campaign_with_progress(uow: UnitOfWork, campaign_id: UUID) -> tuple[Campaign, CampaignProgress]:
    with uow:
        campaign = uow.campaigns.get(campaign_id)
        if campaign is None:
            raise NotFound("campaign", campaign_id)
        return campaign, uow.campaigns.progress(campaign_id, LAUNCH_TEMPLATE)


def list_campaigns(uow: UnitOfWork, after: Position | None, limit: int) -> Page[Campaign]:
    with uow:
        rows = uow.campaigns.page(after, limit)
    return page_of(rows, limit, lambda c: (c.created_at, c.id))


def stage(
    uow: UnitOfWork, campaign_id: UUID, rotation_numbers: int, now: datetime
) -> tuple[Campaign, list[dict[str, Any]]]:
    """Stage the campaign on its pool's numbers (seed 000); staging again changes nothing."""
    with uow:
        assignments = stage_numbers(uow, campaign_id, now, rotation_numbers)
        uow.commit()
        campaign = uow.campaigns.get(campaign_id)
    assert campaign is not None
    return campaign, assignments


def launch_campaign(
    uow: UnitOfWork,
    tenant_id: UUID,
    campaign_id: UUID,
    now: datetime,
    queue: MessageQueue | None,
    budget: LaunchBudget = LaunchBudget(),
) -> LaunchReport:
    """Queue the campaign's first message to every lead that may get one, through the
    send path (`store_sends`, a batch of leads a transaction, then enqueued). Repeating
    it queues only leads added since; a lead already sent to keeps its first message."""
    with uow:
        check_help_identity(uow, tenant_id)
        found = uow.campaigns.get(campaign_id, for_update=True)
        if found is None:
            raise NotFound("campaign", campaign_id)
        found.check_launchable()
        campaign = uow.campaigns.set_status(campaign_id, CampaignStatus.ACTIVE, now, launched=True)
        uow.commit()
        started = time.monotonic()
        queued = duplicates = 0
        skipped: Counter[str] = Counter()
        after: UUID | None = None
        complete = True
        while True:
            room = budget.max_leads - (queued + duplicates + sum(skipped.values()))
            if room <= 0 or time.monotonic() - started > budget.max_seconds:
                complete = not uow.campaigns.leads_to_launch(campaign_id, after, 1)
                uow.rollback()
                break
            leads = uow.campaigns.leads_to_launch(campaign_id, after, min(LAUNCH_BATCH, room))
            if not leads:
                uow.rollback()
                break
            after = leads[-1]
            requests = [
                SendRequest(
                    tenant_id=tenant_id,
                    campaign_id=campaign_id,
                    lead_id=lead_id,
                    template=LAUNCH_TEMPLATE,
                    send_key=launch_send_key(campaign_id, lead_id),
                )
                for lead_id in leads
            ]
            results = store_sends(uow, requests, now)
            uow.commit()
            fresh: list[tuple[UUID, UUID]] = []
            for result in results:
                if isinstance(result, SendRefused):
                    skipped[type(result.error).__name__] += 1
                    logger.warning(
                        "launch skipped a lead",
                        extra={"lead_id": str(result.request.lead_id), "error": str(result.error)},
                    )
                elif result.duplicate:
                    duplicates += 1
                else:
                    queued += 1
                    fresh.append((tenant_id, result.message_id))
            if queue is not None and fresh:
                enqueue_sends(uow, queue, fresh, now)
                uow.commit()
        progress = uow.campaigns.progress(campaign_id, LAUNCH_TEMPLATE)
        uow.rollback()
    metrics.add_metric(name="LaunchQueued", unit="Count", value=queued)
    logger.info(
        "campaign launched",
        extra={
            "campaign_id": str(campaign_id),
            "queued": queued,
            "already_queued": duplicates,
            "skipped": dict(skipped),
            "complete": complete,
        },
    )
    return LaunchReport(campaign, progress, queued, duplicates, dict(skipped), complete)


def check_help_identity(uow: UnitOfWork, tenant_id: UUID) -> None:
    """A launch needs the brand and contact a HELP reply names (422 naming the missing)."""
    config = uow.settings.get(tenant_id)
    if config is None:
        raise NotFound("tenant", tenant_id)
    config.check_help_identity()


def pause_campaign(uow: UnitOfWork, campaign_id: UUID, now: datetime) -> Campaign:
    """Stop the campaign's sends that no provider has yet: the outbound gate holds them
    (services.outbound) until the campaign is resumed. Pausing twice changes nothing."""
    with uow:
        campaign = uow.campaigns.get(campaign_id, for_update=True)
        if campaign is None:
            raise NotFound("campaign", campaign_id)
        if not campaign.needs_pause():
            return campaign
        campaign = uow.campaigns.set_status(campaign_id, CampaignStatus.PAUSED, now)
        uow.commit()
    logger.info("campaign paused", extra={"campaign_id": str(campaign_id)})
    return campaign


def resume_campaign(
    uow: UnitOfWork,
    tenant_id: UUID,
    campaign_id: UUID,
    now: datetime,
    queue: MessageQueue | None,
) -> Campaign:
    """Carry on sending: the sends held while paused are due now and enqueued again."""
    with uow:
        campaign = uow.campaigns.get(campaign_id, for_update=True)
        if campaign is None:
            raise NotFound("campaign", campaign_id)
        if not campaign.needs_resume():
            return campaign
        campaign = uow.campaigns.set_status(campaign_id, CampaignStatus.ACTIVE, now)
        held = uow.messages.wake_paused_sends(campaign_id, now, WAKE_LIMIT)
        uow.commit()
        if queue is not None and held:
            enqueue_sends(uow, queue, [(tenant_id, message_id) for message_id in held], now)
            uow.commit()
    logger.info("campaign resumed", extra={"campaign_id": str(campaign_id), "woken": len(held)})
    return campaign
