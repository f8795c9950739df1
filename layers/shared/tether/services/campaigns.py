"""Campaigns through their life: created, staged on numbers, paused and resumed, with
their progress counted from the sends themselves (launches: tether.services.launches)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from tether.db.campaigns import EDITABLE
from tether.db.unit_of_work import UnitOfWork
from tether.domain.campaigns import (
    Campaign,
    CampaignProgress,
    CampaignStatus,
    Composed,
    check_campaign_texts,
)
from tether.domain.errors import InvalidInput, NotFound
from tether.domain.launches import LAUNCH_TEMPLATE
from tether.domain.pagination import Page, Position, page_of
from tether.domain.segments import count_segments
from tether.domain.templates import Variant, check_template
from tether.observability import logger
from tether.queues import MessageQueue
from tether.services.launches import resume_launches, send_chunks
from tether.services.numbers import stage_numbers
from tether.services.outbound import enqueue_sends

WAKE_LIMIT = 500  # sends a resume enqueues itself; the sweeper takes the rest
TEXT_FIELDS = frozenset({"template", "follow_up_template", "sender_name"})  # fixed at launch


def create_campaign(
    uow: UnitOfWork,
    tenant_id: UUID,
    name: str,
    workspace_stage: str,
    ai_worker: str,
    pool: str,
    template: str | None,
    *,
    sender_name: str | None = None,
    follow_up_template: str | None = None,
    variants: Sequence[Variant] = (),
) -> Campaign:
    """A draft campaign; its texts are checked first (an unknown field or an unclosed
    brace is refused, naming it: tether.domain.templates)."""
    if not name.strip() or not pool.strip():
        raise InvalidInput("a campaign needs a name and a pool")
    sender_name = _sender_name(sender_name)
    check_campaign_texts(template, variants, follow_up_template, sender_name)
    with uow:
        campaign = uow.campaigns.add(
            tenant_id,
            name.strip(),
            workspace_stage,
            ai_worker,
            pool.strip(),
            template,
            sender_name,
            follow_up_template,
        )
        if variants:
            uow.campaigns.replace_variants(tenant_id, campaign.id, variants)
            campaign = _get(uow, campaign.id)
        uow.commit()
    logger.info("campaign created", extra={"campaign_id": str(campaign.id)})
    return campaign


def update_campaign(
    uow: UnitOfWork,
    tenant_id: UUID,
    campaign_id: UUID,
    changes: Mapping[str, str | None],
    variants: Sequence[Variant] | None,
    actor: str | None,
) -> Campaign:
    """Change the campaign's name, template, follow-up template or sender name (only
    those given) and, when `variants` is given, its variants. Texts change only before
    launch (InvalidState after: its leads' texts were made from them). Giving variants
    drops the plain template, and a plain template drops the variants. Audited with the
    old and new values."""
    if "name" in changes and not (changes["name"] or "").strip():
        raise InvalidInput("a campaign's name cannot be blank")
    fields = dict(changes)
    if fields.get("name") is not None:
        fields["name"] = (fields["name"] or "").strip()
    if "sender_name" in fields:
        fields["sender_name"] = _sender_name(fields["sender_name"])
    if variants and fields.get("template") is not None:
        raise InvalidInput("give a campaign a template or variants, not both")
    if variants:
        fields["template"] = None
    with uow:
        campaign = uow.campaigns.get(campaign_id, for_update=True)
        if campaign is None:
            raise NotFound("campaign", campaign_id)
        if variants is not None or set(fields) & TEXT_FIELDS:
            campaign.check_templates_editable()
        template = fields.get("template", campaign.template)
        kept = campaign.variants if variants is None and template is None else ()
        new_variants = tuple(variants) if variants is not None else kept
        check_campaign_texts(
            template,
            new_variants,
            fields.get("follow_up_template", campaign.follow_up_template),
            fields.get("sender_name", campaign.sender_name),
        )
        if new_variants != campaign.variants:
            uow.campaigns.replace_variants(tenant_id, campaign_id, ())  # before a template
        uow.campaigns.update(campaign_id, fields)
        if new_variants != campaign.variants:
            uow.campaigns.replace_variants(tenant_id, campaign_id, new_variants)
        updated = _get(uow, campaign_id)
        old, new = _changed(campaign, updated)
        if new:
            uow.audit.record(
                "campaign_changed",
                tenant_id=tenant_id,
                actor=actor,
                subject_type="campaign",
                subject_id=str(campaign_id),
                detail={"old": old, "new": new},
            )
        uow.commit()
    logger.info("campaign changed", extra={"campaign_id": str(campaign_id), "changed": sorted(new)})
    return updated


def _sender_name(given: str | None) -> str | None:
    if given is None:
        return None
    if not given.strip():
        raise InvalidInput("sender_name cannot be blank (null removes it)")
    return given.strip()


def _changed(before: Campaign, after: Campaign) -> tuple[dict[str, Any], dict[str, Any]]:
    """What changed between two readings of a campaign: its old and new values."""
    old: dict[str, Any] = {}
    new: dict[str, Any] = {}
    for name in (*EDITABLE, "variants"):
        was, now = getattr(before, name), getattr(after, name)
        if was != now:
            old[name] = [asdict(v) for v in was] if name == "variants" else was
            new[name] = [asdict(v) for v in now] if name == "variants" else now
    return old, new


def _get(uow: UnitOfWork, campaign_id: UUID) -> Campaign:
    campaign = uow.campaigns.get(campaign_id)
    if campaign is None:
        raise NotFound("campaign", campaign_id)
    return campaign


@dataclass(frozen=True, slots=True)
class Preview:
    """A lead's text as a send would store it, and what it costs."""

    text: str
    variant: str | None
    encoding: str
    segments: int
    units: int
    warnings: list[str]


def preview_text(
    uow: UnitOfWork,
    tenant_id: UUID,
    campaign_id: UUID,
    lead_id: UUID,
    text: str | None = None,
    variant: str | None = None,
) -> Preview:
    """The text `lead_id` would get from the campaign: from `text` when given (a
    template being written), else from the variant named, else from the lead's own
    variant; rendered as the send path renders it (`Campaign.compose`), with its
    encoding, segments, and a warning past the tenant's preview_max_segments."""
    with uow:
        campaign = _get(uow, campaign_id)
        lead = uow.messages.recipients([lead_id]).get(lead_id)
        if lead is None:
            raise NotFound("lead", lead_id)
        config = uow.settings.get(tenant_id)
        if config is None:
            raise NotFound("tenant", tenant_id)
    if text is not None:
        check_template(text, campaign.sender_name)
        composed = campaign.compose(lead, text)
    elif variant is not None:
        chosen = {v.name: v for v in campaign.sendable_variants()}.get(variant)
        if chosen is None:
            raise NotFound("variant", variant)
        composed = Composed(campaign.compose(lead, chosen.template).body, chosen.name)
    else:
        composed = campaign.compose(lead)
    count = count_segments(composed.body)
    warnings = []
    if count.segments > config.preview_max_segments:
        warnings.append(
            f"the text takes {count.segments} segments, over the tenant's"
            f" preview_max_segments ({config.preview_max_segments}); each segment is billed"
        )
    if count.encoding == "UCS-2":
        warnings.append(
            "a character outside GSM-7 makes the whole text UCS-2: 70 characters a segment"
            " (67 when split) instead of 160 (153)"
        )
    return Preview(
        composed.body, composed.variant, count.encoding, count.segments, count.units, warnings
    )


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
