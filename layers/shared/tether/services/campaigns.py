"""Campaigns through their life: created, staged on numbers, paused and resumed, with
their progress counted from the sends themselves (launches: tether.services.launches)."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from tether.db.unit_of_work import UnitOfWork
from tether.domain.campaigns import Campaign, CampaignProgress, CampaignStatus
from tether.domain.errors import InvalidInput, NotFound
from tether.domain.launches import LAUNCH_TEMPLATE
from tether.domain.launches import launch_send_key as launch_send_key  # its old home
from tether.domain.pagination import Page, Position, page_of
from tether.observability import logger
from tether.queues import MessageQueue
from tether.services.launches import resume_launches, send_chunks
from tether.services.numbers import stage_numbers
from tether.services.outbound import enqueue_sends

WAKE_LIMIT = 500  # sends a resume enqueues itself; the sweeper takes the rest


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
    launch_queue: MessageQueue | None = None,
) -> Campaign:
    """Carry on sending: the sends held while paused are due now and enqueued again, and
    a launch the pause stopped carries on from where it was."""
    with uow:
        campaign = uow.campaigns.get(campaign_id, for_update=True)
        if campaign is None:
            raise NotFound("campaign", campaign_id)
        if not campaign.needs_resume():
            return campaign
        campaign = uow.campaigns.set_status(campaign_id, CampaignStatus.ACTIVE, now)
        held = uow.messages.wake_paused_sends(campaign_id, now, WAKE_LIMIT)
        launches = resume_launches(uow, campaign_id, now)
        uow.commit()
        send_chunks(launch_queue, launches, now)
        if queue is not None and held:
            enqueue_sends(uow, queue, [(tenant_id, message_id) for message_id in held], now)
            uow.commit()
    logger.info("campaign resumed", extra={"campaign_id": str(campaign_id), "woken": len(held)})
    return campaign
