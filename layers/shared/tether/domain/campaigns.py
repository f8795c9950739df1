"""A campaign and the rules of its life: staged on numbers, launched, paused, resumed."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from uuid import UUID

from tether.domain.errors import InvalidInput, InvalidState
from tether.domain.model import Lead
from tether.domain.templates import (
    DEFAULT_VARIANT,
    MAX_RENDERED_LENGTH,
    MergeValues,
    Variant,
    check_template,
    check_variants,
    choose_variant,
    parse,
    render,
)

# The workspace stages of a campaign (the database's workspace_stage enum, in its order):
# the bell counts and the WebSocket subscriptions are per stage.
WORKSPACE_STAGES = ("initial_message", "retarget", "nudger", "content_nurture", "book_appointment")


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
class Composed:
    """A lead's text, and the variant it was made from (None: not a campaign template)."""

    body: str
    variant: str | None


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
    sender_name: str | None = None
    # several weighted templates (issue 15); none: `template` is the one, "default"
    variants: tuple[Variant, ...] = ()

    @property
    def launched(self) -> bool:
        return self.launched_at is not None

    def sendable_variants(self) -> tuple[Variant, ...]:
        """What a first message picks from: the variants, or the plain template as the
        one variant named "default" (none when the campaign has no template yet)."""
        if self.variants:
            return self.variants
        if (self.template or "").strip():
            return (Variant(DEFAULT_VARIANT, self.template or "", 1),)
        return ()

    def variant_for(self, lead_id: UUID) -> Variant | None:
        """The lead's variant, the same every time (tether.domain.templates.choose_variant)."""
        variants = self.sendable_variants()
        return choose_variant(self.id, lead_id, variants) if variants else None

    def merge_values(self, lead: Lead) -> MergeValues:
        return MergeValues(
            lead.first_name, lead.last_name, lead.company, self.sender_name, lead.custom_fields
        )

    def compose(self, lead: Lead, text: str | None = None) -> Composed:
        """The lead's text: `text` rendered for it (no variant), else its variant's
        template. TemplateError for a broken template, MissingMergeValue when the lead
        lacks a field without fallback, InvalidInput when there is nothing to send or
        the text is too long."""
        variant = None if text is not None else self.variant_for(lead.id)
        source = text if variant is None else variant.template
        if source is None or not source.strip():
            raise InvalidInput("the message has no body: give one, or a campaign template")
        body = render(parse(source), self.merge_values(lead))
        if not body.strip():
            raise InvalidInput("the rendered text is blank")
        if len(body) > MAX_RENDERED_LENGTH:
            raise InvalidInput(
                f"the rendered text is {len(body)} characters, over {MAX_RENDERED_LENGTH}"
            )
        return Composed(body, variant.name if variant is not None else None)

    def check_templates_editable(self) -> None:
        """InvalidState once launched: its leads' texts were rendered from these."""
        if self.launched:
            raise InvalidState(
                "the campaign has been launched: its templates, variants and sender name"
                " are fixed (its leads' texts were made from them); create a new campaign"
            )

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
        if not self.sendable_variants():
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


def check_campaign_texts(
    template: str | None,
    variants: Sequence[Variant],
    follow_up_template: str | None,
    sender_name: str | None,
) -> None:
    """TemplateError (naming the field and where) or InvalidInput unless these may be a
    campaign's texts: a plain template or variants (not both), each a valid template,
    and no {sender_name} without fallback when there is no sender name."""
    if template is not None and variants:
        raise InvalidInput("give a campaign a template or variants, not both")
    if template is not None:
        check_template(template, sender_name)
    check_variants(variants, sender_name)
    if follow_up_template is not None:
        check_template(follow_up_template, sender_name, where="follow_up_template")
