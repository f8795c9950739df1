"""Launches at any size: the request writes a launch row and answers 202; LaunchQueue
carries one chunk message at a time, and each chunk stores the first messages of the
next `chunk_size` leads through the send path (`store_sends`) and moves the launch's
cursor and counts on in the same transaction.

Why a chain, one chunk in flight per launch: the launch row is the one place its
position lives, so a chunk delivered twice, or re-driven, finds the sequence moved on
and does nothing; a chunk killed mid-way rolls back whole and its message comes back.
The next chunk's message is sent before the commit, so a crash after the commit cannot
lose it (and one sent for a commit that failed finds the sequence unmoved and does
nothing). Launches of different campaigns run side by side.

Scheduled launches wait in the same row: the dispatcher (the timers job, every minute)
hands each to LaunchQueue a little before its time with a queue delay that ends at that
time, and the chunk refuses to start a second early (it waits again). The dispatcher also
re-drives a launch that made no progress for a while (its chunk message was lost)."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from tether.db.unit_of_work import UnitOfWork
from tether.domain.campaigns import Campaign, CampaignStatus
from tether.domain.errors import NotFound
from tether.domain.launches import (
    LAUNCH_TEMPLATE,
    STALLED_AFTER,
    ChunkOutcome,
    Launch,
    LaunchStatus,
    check_schedule,
    first_wake,
    launch_send_key,
)
from tether.domain.outbox import EventType
from tether.observability import logger, metrics
from tether.queues import MessageQueue
from tether.services.outbound import SendRefused, SendRequest, enqueue_sends, store_sends

DEFAULT_CHUNK_SIZE = 1000
DISPATCH_BATCH = 100


class LaunchChunk(BaseModel):
    """What LaunchQueue carries: the launch, and the chunk of it this message is for."""

    model_config = ConfigDict(frozen=True)

    tenant_id: UUID
    launch_id: UUID
    seq: int = Field(ge=0)


def _chunk_of(launch: Launch) -> str:
    return LaunchChunk(
        tenant_id=launch.tenant_id, launch_id=launch.id, seq=launch.chunk_seq
    ).model_dump_json()


def _hand_to_queue(queue: MessageQueue, launch: Launch, now: datetime) -> bool:
    """Send the launch's next chunk message (delayed until the launch is due); False when
    the queue did not take it (the dispatcher re-drives the launch later)."""
    try:
        queue.send(_chunk_of(launch), delay_seconds=launch.seconds_until_due(now))
    except Exception:
        logger.exception(
            "launch chunk not enqueued; the dispatcher will re-drive it",
            extra={"launch_id": str(launch.id)},
        )
        return False
    return True


def start_launch(
    uow: UnitOfWork,
    tenant_id: UUID,
    campaign_id: UUID,
    launch_at: datetime | None,
    now: datetime,
    queue: MessageQueue | None,
) -> Launch:
    """Start the campaign's first messages to every lead that may get one, now or at
    `launch_at`: the launch is written and handed to LaunchQueue (or left for the
    dispatcher when it is far ahead). Launching again, once a launch is done, queues only
    leads added since (each lead's first message has one send key)."""
    when = check_schedule(launch_at, now, "launch_at")
    with uow:
        campaign = uow.campaigns.get(campaign_id, for_update=True)
        if campaign is None:
            raise NotFound("campaign", campaign_id)
        campaign.check_launchable()
        # the brand and contact a HELP reply names, before any campaign text (issue 19)
        _check_help_identity(uow, tenant_id)
        wake = first_wake(when, now)
        dispatch_now = wake <= now
        launch = uow.launches.add(
            tenant_id,
            campaign_id,
            LaunchStatus.SCHEDULED if when else LaunchStatus.RUNNING,
            when,
            # once handed to the queue, the dispatcher looks again only if it stalls
            (when or now) + STALLED_AFTER if dispatch_now else wake,
            None if when else now,
            now,
        )
        if when is None:
            uow.campaigns.set_status(campaign_id, CampaignStatus.ACTIVE, now, launched=True)
        uow.commit()
    if dispatch_now and queue is not None:
        _hand_to_queue(queue, launch, now)
    metrics.add_metric(name="LaunchesStarted", unit="Count", value=1)
    logger.info(
        "launch started",
        extra={
            "campaign_id": str(campaign_id),
            "launch_id": str(launch.id),
            "launch_at": when.isoformat() if when else None,
        },
    )
    return launch


def get_launch(uow: UnitOfWork, campaign_id: UUID, launch_id: UUID) -> Launch:
    with uow:
        launch = uow.launches.get(launch_id)
    if launch is None or launch.campaign_id != campaign_id:
        raise NotFound("launch", launch_id)
    return launch


def cancel_launch(uow: UnitOfWork, campaign_id: UUID, launch_id: UUID, now: datetime) -> Launch:
    """Cancel a scheduled launch before it fires (InvalidState once it has); it never
    fires after. Cancelling twice changes nothing."""
    with uow:
        launch = uow.launches.get(launch_id, for_update=True)
        if launch is None or launch.campaign_id != campaign_id:
            raise NotFound("launch", launch_id)
        launch.check_cancellable()
        if launch.status is LaunchStatus.CANCELLED:
            return launch
        launch = uow.launches.save(
            replace(launch, status=LaunchStatus.CANCELLED, cancelled_at=now, wake_at=None)
        )
        uow.commit()
    logger.info("launch cancelled", extra={"launch_id": str(launch_id)})
    return launch


def resume_launches(uow: UnitOfWork, campaign_id: UUID, now: datetime) -> list[Launch]:
    """A step of resuming the campaign (the caller commits, then `send_chunks`): its
    paused launch carries on from its cursor."""
    resumed = []
    for launch in uow.launches.paused_of(campaign_id):
        resumed.append(
            uow.launches.save(
                replace(launch, status=LaunchStatus.RUNNING, wake_at=now + STALLED_AFTER)
            )
        )
    return resumed


def send_chunks(queue: MessageQueue | None, launches: list[Launch], now: datetime) -> None:
    """Hand committed launches to LaunchQueue; one the queue refuses is re-driven later."""
    if queue is None:
        return
    for launch in launches:
        _hand_to_queue(queue, launch, now)


def dispatch_launches(
    uow: UnitOfWork, queue: MessageQueue, now: datetime, batch_size: int = DISPATCH_BATCH
) -> int:
    """The dispatcher (the timers job; jobs role, every tenant): hand to LaunchQueue the
    scheduled launches about to be due (with a delay ending at their time) and the
    launches whose chunk message went missing. Overlapping runs skip each other's rows;
    a spare chunk message does nothing."""
    with uow:
        woken = 0
        for launch in uow.launches.due_to_wake(now, batch_size):
            if not _hand_to_queue(queue, launch, now):
                break
            due = launch.launch_at if launch.launch_at and launch.launch_at > now else now
            uow.launches.save(replace(launch, wake_at=due + STALLED_AFTER))
            woken += 1
        uow.commit()
    if woken:
        logger.info("launches dispatched", extra={"count": woken})
    return woken


def run_launch_chunk(
    uow: UnitOfWork,
    launch_queue: MessageQueue,
    outbound_queue: MessageQueue | None,
    chunk: LaunchChunk,
    now: datetime,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
) -> str:
    """What the launch worker does with one chunk message (`uow` of its tenant); what
    came of it, in a word: stale, early, paused, running or complete."""
    with uow:
        launch = uow.launches.get(chunk.launch_id, for_update=True)
        if launch is None:
            raise NotFound("launch", chunk.launch_id)
        if not launch.takes_chunk(chunk.seq):
            uow.rollback()
            return "stale"
        if not launch.due(now):
            uow.rollback()  # delivered early: it waits again for its time
            launch_queue.send(_chunk_of(launch), delay_seconds=launch.seconds_until_due(now))
            return "early"
        campaign = uow.campaigns.get(launch.campaign_id, for_update=True)
        assert campaign is not None  # the foreign key
        if launch.status is LaunchStatus.SCHEDULED:
            launch = replace(launch, status=LaunchStatus.RUNNING, started_at=now)
            if campaign.status is CampaignStatus.STAGED:
                campaign = uow.campaigns.set_status(
                    campaign.id, CampaignStatus.ACTIVE, now, launched=True
                )
        if campaign.status is not CampaignStatus.ACTIVE:
            # paused (or no longer sendable): the fan-out stops here; resuming carries on
            launch = uow.launches.save(replace(launch, status=LaunchStatus.PAUSED, wake_at=None))
            _record_progress(uow, launch, now)
            uow.commit()
            logger.info("launch paused with its campaign", extra={"launch_id": str(launch.id)})
            return "paused"
        leads = uow.campaigns.leads_to_launch(launch.campaign_id, launch.cursor, chunk_size)
        outcome, fresh = _store_first_messages(uow, launch, campaign, leads, now)
        queued, duplicates, skipped = launch.counts_after(outcome)
        done = len(leads) < chunk_size
        launch = uow.launches.save(
            replace(
                launch,
                status=LaunchStatus.COMPLETE if done else LaunchStatus.RUNNING,
                chunk_seq=launch.chunk_seq + 1,
                cursor=leads[-1] if leads else launch.cursor,
                queued=queued,
                duplicates=duplicates,
                skipped=skipped,
                wake_at=None if done else now + STALLED_AFTER,
                finished_at=now if done else None,
            )
        )
        _record_progress(uow, launch, now)
        if not done:
            # before the commit: a crash after it cannot lose the chain (see the docstring)
            launch_queue.send(_chunk_of(launch))
        uow.commit()
        if outbound_queue is not None and fresh:
            enqueue_sends(uow, outbound_queue, fresh, now)
            uow.commit()
    metrics.add_metric(name="LaunchQueued", unit="Count", value=outcome.queued)
    logger.info(
        "launch chunk done",
        extra={
            "launch_id": str(launch.id),
            "seq": chunk.seq,
            "leads": outcome.leads,
            "queued": outcome.queued,
            "duplicates": outcome.duplicates,
            "skipped": dict(outcome.skipped),
            "complete": done,
        },
    )
    return "complete" if done else "running"


def _record_progress(uow: UnitOfWork, launch: Launch, now: datetime) -> None:
    """campaign.launch_progress, in the chunk's transaction: once per chunk (a chunk
    delivered twice finds the sequence moved on and records nothing)."""
    uow.outbox.record(
        launch.tenant_id,
        EventType.CAMPAIGN_LAUNCH_PROGRESS,
        {
            "campaign_id": str(launch.campaign_id),
            "launch_id": str(launch.id),
            "status": launch.status.value,
            "queued": launch.queued,
            "duplicates": launch.duplicates,
            "skipped": dict(launch.skipped),
            "total": None,  # the leads still to come are not counted ahead
        },
        now,
    )


def _store_first_messages(
    uow: UnitOfWork, launch: Launch, campaign: Campaign, leads: list[UUID], now: datetime
) -> tuple[ChunkOutcome, list[tuple[UUID, UUID]]]:
    requests = [
        SendRequest(
            tenant_id=launch.tenant_id,
            campaign_id=campaign.id,
            lead_id=lead_id,
            template=LAUNCH_TEMPLATE,
            send_key=launch_send_key(campaign.id, lead_id),
        )
        for lead_id in leads
    ]
    queued = duplicates = 0
    skipped: dict[str, int] = {}
    fresh: list[tuple[UUID, UUID]] = []
    for result in store_sends(uow, requests, now):
        if isinstance(result, SendRefused):
            reason = type(result.error).__name__
            skipped[reason] = skipped.get(reason, 0) + 1
            logger.warning(
                "launch skipped a lead",
                extra={"lead_id": str(result.request.lead_id), "error": str(result.error)},
            )
        elif result.duplicate:
            duplicates += 1
        else:
            queued += 1
            fresh.append((launch.tenant_id, result.message_id))
    return ChunkOutcome(len(leads), queued, duplicates, skipped), fresh


def _check_help_identity(uow: UnitOfWork, tenant_id: UUID) -> None:
    """A launch needs the brand and contact a HELP reply names (422 naming the missing)."""
    config = uow.settings.get(tenant_id)
    if config is None:
        raise NotFound("tenant", tenant_id)
    config.check_help_identity()
