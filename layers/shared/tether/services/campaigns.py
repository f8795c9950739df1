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
from tether.domain.errors import InvalidInput, InvalidState, NotFound, TetherError
from tether.domain.pagination import Page, Position, page_of
from tether.observability import logger, metrics
from tether.queues import MessageQueue
from tether.services.numbers import stage_campaign
from tether.services.outbound import SendRequest, enqueue, request_send

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
    campaign: dict[str, Any]
    progress: dict[str, Any]
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
) -> dict[str, Any]:
    if not name.strip() or not pool.strip():
        raise InvalidInput("a campaign needs a name and a pool")
    row = uow.campaigns.add(
        tenant_id, name.strip(), workspace_stage, ai_worker, pool.strip(), template
    )
    uow.commit()
    logger.info("campaign created", extra={"campaign_id": str(row["id"])})
    return row


def campaign_with_progress(
    uow: UnitOfWork, campaign_id: UUID
) -> tuple[dict[str, Any], dict[str, Any]]:
    campaign = uow.campaigns.get(campaign_id)
    if campaign is None:
        raise NotFound("campaign", campaign_id)
    return campaign, uow.campaigns.progress(campaign_id, LAUNCH_TEMPLATE)


def list_campaigns(uow: UnitOfWork, after: Position | None, limit: int) -> Page[dict[str, Any]]:
    return page_of(uow.campaigns.page(after, limit), limit, lambda r: (r["created_at"], r["id"]))


def stage(
    uow: UnitOfWork, campaign_id: UUID, rotation_numbers: int, now: datetime
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Stage the campaign on its pool's numbers (seed 000); staging again changes nothing."""
    assignments = stage_campaign(uow, campaign_id, now, rotation_numbers)
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
    """Queue the campaign's first message to every lead that may get one, through
    request_send (stored, then enqueued). Repeating it queues only leads added since;
    a lead already sent to keeps its first message."""
    campaign = uow.campaigns.get(campaign_id, for_update=True)
    if campaign is None:
        raise NotFound("campaign", campaign_id)
    if campaign["status"] == "paused":
        raise InvalidState("the campaign is paused: resume it to carry on sending")
    if campaign["status"] in {"draft", "completed"}:
        raise InvalidState(
            f"a {campaign['status']} campaign cannot be launched"
            + (": stage it on its pool's numbers first" if campaign["status"] == "draft" else "")
        )
    if not (campaign["template"] or "").strip():
        raise InvalidState("the campaign has no template to send")
    campaign = uow.campaigns.set_status(campaign_id, "active", now, launched=True)
    uow.commit()
    started = time.monotonic()
    queued = duplicates = 0
    skipped: Counter[str] = Counter()
    after: UUID | None = None
    complete = True
    while True:
        leads = uow.campaigns.leads_to_launch(campaign_id, after, LAUNCH_BATCH)
        uow.rollback()  # end the read's transaction; each send is its own
        if not leads:
            break
        for lead in leads:
            if queued + duplicates + sum(skipped.values()) >= budget.max_leads or (
                time.monotonic() - started > budget.max_seconds
            ):
                complete = False
                break
            after = lead["id"]
            request = SendRequest(
                tenant_id=tenant_id,
                campaign_id=campaign_id,
                lead_id=lead["id"],
                template=LAUNCH_TEMPLATE,
                send_key=launch_send_key(campaign_id, lead["id"]),
            )
            try:
                receipt = request_send(uow, request, now, queue)
            except TetherError as error:
                uow.rollback()
                skipped[type(error).__name__] += 1
                logger.warning(
                    "launch skipped a lead", extra={"lead_id": str(lead["id"]), "error": str(error)}
                )
                continue
            if receipt.duplicate:
                duplicates += 1
            else:
                queued += 1
        if not complete:
            break
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
    progress = uow.campaigns.progress(campaign_id, LAUNCH_TEMPLATE)
    uow.rollback()
    return LaunchReport(campaign, progress, queued, duplicates, dict(skipped), complete)


def pause_campaign(uow: UnitOfWork, campaign_id: UUID, now: datetime) -> dict[str, Any]:
    """Stop the campaign's sends that no provider has yet: the outbound gate holds them
    (services.outbound) until the campaign is resumed. Pausing twice changes nothing."""
    campaign = uow.campaigns.get(campaign_id, for_update=True)
    if campaign is None:
        raise NotFound("campaign", campaign_id)
    if campaign["status"] == "paused":
        return campaign
    if campaign["status"] != "active":
        raise InvalidState(
            f"only an active campaign can be paused; this one is {campaign['status']}"
        )
    campaign = uow.campaigns.set_status(campaign_id, "paused", now)
    uow.commit()
    logger.info("campaign paused", extra={"campaign_id": str(campaign_id)})
    return campaign


def resume_campaign(
    uow: UnitOfWork,
    tenant_id: UUID,
    campaign_id: UUID,
    now: datetime,
    queue: MessageQueue | None,
) -> dict[str, Any]:
    """Carry on sending: the sends held while paused are due now and enqueued again."""
    campaign = uow.campaigns.get(campaign_id, for_update=True)
    if campaign is None:
        raise NotFound("campaign", campaign_id)
    if campaign["status"] == "active":
        return campaign
    if campaign["status"] != "paused":
        raise InvalidState(
            f"only a paused campaign can be resumed; this one is {campaign['status']}"
        )
    campaign = uow.campaigns.set_status(campaign_id, "active", now)
    held = uow.campaigns.wake_paused_sends(campaign_id, now, WAKE_LIMIT)
    uow.commit()
    if queue is not None:
        for message_id in held:
            enqueue(uow, queue, tenant_id, message_id, now)
    logger.info("campaign resumed", extra={"campaign_id": str(campaign_id), "woken": len(held)})
    return campaign
