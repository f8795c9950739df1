"""Request and response bodies of the management API. Requests refuse fields they do
not know; text refuses what PostgreSQL cannot store (NUL, lone surrogates)."""

from __future__ import annotations

from datetime import datetime, time
from decimal import Decimal
from typing import Annotated, Any, Generic, Literal, TypeVar
from uuid import UUID

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    model_validator,
)

from tether.domain.whatsapp import check_template_use


def _storable(value: str) -> str:
    if "\x00" in value:
        raise ValueError("text cannot contain NUL characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as error:
        raise ValueError("text must be valid Unicode") from error
    return value


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("cannot be blank")
    return value


Text = Annotated[str, AfterValidator(_storable)]
Name = Annotated[
    str, Field(min_length=1, max_length=200), AfterValidator(_storable), AfterValidator(_not_blank)
]
Pool = Annotated[
    str, Field(min_length=1, max_length=100), AfterValidator(_storable), AfterValidator(_not_blank)
]
SecretValue = Annotated[str, Field(min_length=1, max_length=4096), AfterValidator(_storable)]
CredentialKey = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[a-z][a-z0-9_]*$")]
Credentials = Annotated[dict[CredentialKey, SecretValue], Field(min_length=1, max_length=20)]
# "vapi": an account only for the voice side's call outcomes (its signing secret is
# VAPI's server secret or HMAC key); it sends nothing
Provider = Literal["signalhouse", "twilio", "signalwire", "telnyx", "sandbox", "vapi"]
WorkspaceStage = Literal[
    "initial_message", "retarget", "nudger", "content_nurture", "book_appointment"
]
AiWorker = Literal["gianna", "cathy", "sabrina"]
LeadStateName = Literal[
    "new",
    "touched",
    "responded",
    "email_captured",
    "high_intent",
    "in_call_queue",
    "closed",
    "suppressed",
]
ItemT = TypeVar("ItemT")


class Schema(BaseModel):
    """The base of every body here: each model's validator and serializer are built when
    it is first used (defer_build), so a cold start builds its own route's models only."""

    model_config = ConfigDict(defer_build=True)


class Request(Schema):
    model_config = ConfigDict(extra="forbid")


class Page(Schema, Generic[ItemT]):
    items: list[ItemT]
    next_cursor: str | None = Field(
        description="pass as `cursor` for the next page; null on the last"
    )


class ErrorField(Schema):
    field: str
    reason: str


class ErrorBody(Schema):
    error: str
    message: str
    fields: list[ErrorField] = Field(default_factory=list)


# --- API keys


KeyScope = Literal["read", "write", "admin"]


class NewApiKey(Request):
    name: Name
    scope: KeyScope = Field(
        default="read",
        description="read: GETs; write: a day's work; admin: keys, settings, provider"
        " accounts. At most the scope of the key that issues it.",
    )


class ApiKey(Schema):
    id: UUID
    name: str
    prefix: str
    scope: KeyScope
    created_by_key_id: UUID | None = Field(
        default=None, description="the key that issued this one; none for a tenant's first key"
    )
    created_at: datetime
    last_used_at: datetime | None = None
    revoked_at: datetime | None = None


class IssuedApiKey(Schema):
    id: UUID
    name: str
    prefix: str
    scope: KeyScope
    created_by_key_id: UUID | None = None
    key: str | None = Field(
        description="shown this once; only its hash is kept. An Idempotency-Key replay"
        " answers null here: the key itself is never stored"
    )
    created_at: datetime


# --- provider accounts


class NewProviderAccount(Request):
    provider: Provider
    name: Name
    external_account_id: Annotated[Text, Field(max_length=200)] | None = None
    credentials: Credentials | None = Field(
        default=None,
        description="the send credentials, keys per provider (README, Providers); kept in"
        " Secrets Manager under the tenant's path, never stored in the database or returned",
    )
    signing_secret: SecretValue | None = Field(
        default=None,
        description="the secret the provider signs webhooks with; kept as credentials are",
    )


class ProviderAccountSecrets(Request):
    credentials: Credentials | None = Field(
        default=None, description="new send credentials (replace the old ones at once)"
    )
    signing_secret: SecretValue | None = Field(
        default=None, description="a new webhook signing secret"
    )
    previous_secret_valid_hours: int = Field(
        default=24,
        ge=0,
        le=168,
        description="how long webhooks signed with the replaced signing secret still verify",
    )


class ProviderAccount(Schema):
    id: UUID
    provider: str
    name: str
    external_account_id: str | None
    has_credentials: bool
    has_signing_secret: bool
    previous_secret_expires_at: datetime | None = Field(
        default=None, description="end of a signing-secret rotation's grace period"
    )
    webhook_path: str = Field(description="append to the stack's WebhookUrl output")
    voice_webhook_path: str | None = Field(
        default=None,
        description="where this account's call outcomes go (VAPI end-of-call reports, Twilio"
        " and SignalWire call status callbacks); the stack's WebhookUrl output is its base",
    )
    created_at: datetime


# --- numbers and pools


class NumberEntry(Request):
    number: Annotated[Text, Field(max_length=64)]
    label: Annotated[Text, Field(max_length=200)] | None = None


class NumberRegistration(Request):
    provider_account_id: UUID
    pool: Pool
    ai_worker: AiWorker | None = None
    numbers: list[NumberEntry] = Field(min_length=1, max_length=1000)
    whatsapp: bool = Field(
        default=False,
        description="the new numbers are WhatsApp senders at their provider (Twilio or Telnyx)",
    )


class WhatsAppSender(Request):
    enabled: bool = Field(
        description="the number is a WhatsApp sender at its provider (Twilio or Telnyx): a"
        " campaign may then send WhatsApp from it (POST /v1/campaigns/{id}/assignments)"
    )


class RejectedRow(Schema):
    row: int
    value: str
    reason: str


class RegistrationResult(Schema):
    stored: list[str]
    already_registered: list[str]
    rejected: list[RejectedRow]


class PhoneNumber(Schema):
    id: UUID
    provider_account_id: UUID
    e164: str
    pool: str
    label: str | None
    status: str
    ai_worker: str | None
    retired_at: datetime | None
    cooldown_until: datetime | None
    assignment_status: str
    currently_assigned_to: UUID | None
    release_at: datetime | None
    last_leased_at: datetime | None
    sent_count: int
    delivered_count: int
    failed_count: int
    filtered_count: int
    created_at: datetime
    whatsapp_enabled: bool = False


class LeadToRehome(Schema):
    lead_id: UUID
    campaign_id: UUID


class RetiredNumber(Schema):
    number: str
    released_lease: bool
    leads_to_rehome: list[LeadToRehome]


class PoolHealth(Schema):
    pool: str
    available: int
    assigned: int
    cooldown: int
    total: int


class PoolHealthList(Schema):
    pools: list[PoolHealth]


# --- campaigns


TemplateText = Annotated[
    Text,
    Field(
        max_length=1600,
        description="merge fields {first_name} {last_name} {company} {sender_name}"
        " {custom.<name>}, fallbacks {first_name|there}, {{ and }} for braces (README)",
    ),
]
SenderName = Annotated[Text, Field(min_length=1, max_length=100)]
CustomFieldName = Annotated[
    str,
    Field(
        pattern=r"^[a-z0-9_][a-z0-9_.-]{0,63}$",
        description="lower-case letters, digits, _ . -; a template names it {custom.<name>}",
    ),
]
CustomFieldValue = Annotated[Text, Field(max_length=1000)]


class VariantIn(Request):
    name: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]{0,39}$")]
    template: TemplateText
    weight: int = Field(default=1, ge=1, le=1000, description="its share of the leads")


class VariantOut(Schema):
    name: str
    template: str
    weight: int


class NewCampaign(Request):
    name: Name
    workspace_stage: WorkspaceStage = "initial_message"
    ai_worker: AiWorker = "gianna"
    pool: Pool
    template: TemplateText | None = None
    variants: list[VariantIn] | None = Field(
        default=None,
        max_length=20,
        description="several weighted templates instead of `template`; each lead gets"
        " one by a stable hash of (campaign, lead)",
    )
    follow_up_template: TemplateText | None = None
    sender_name: SenderName | None = Field(default=None, description="what {sender_name} says")


class CampaignUpdate(Request):
    """Only the fields given change; texts only before launch."""

    name: Name | None = None
    template: TemplateText | None = Field(
        default=None, description="a plain template (drops the variants); null: none"
    )
    variants: list[VariantIn] | None = Field(
        default=None, max_length=20, description="replaces the variants (drops `template`)"
    )
    follow_up_template: TemplateText | None = None
    sender_name: SenderName | None = None


class PreviewRequest(Request):
    lead_id: UUID
    template: TemplateText | None = Field(
        default=None, description="a template to try instead of the campaign's"
    )
    variant: Annotated[str, Field(max_length=40)] | None = Field(
        default=None, description="this variant rather than the lead's own"
    )


class Preview(Schema):
    text: str = Field(description="the text as a send to this lead would store it")
    variant: str | None = Field(description="the variant it was made from")
    encoding: Literal["GSM-7", "UCS-2"]
    segments: int
    units: int = Field(description="septets (GSM-7) or UTF-16 code units (UCS-2)")
    warnings: list[str]


class Progress(Schema):
    leads: int = Field(description="leads in the campaign")
    requested: int = Field(description="first messages stored (launch)")
    waiting: int
    sending: int
    sent: int
    delivered: int
    failed: int


class Campaign(Schema):
    id: UUID
    name: str
    workspace_stage: str
    ai_worker: str
    pool: str
    template: str | None
    variants: list[VariantOut] = Field(
        description="what a first message picks from: the variants, or the template as"
        " the one variant named default"
    )
    follow_up_template: str | None
    sender_name: str | None
    status: str
    staged_at: datetime | None
    launched_at: datetime | None
    created_at: datetime
    progress: Progress | None = None


class StageRequest(Request):
    rotation_numbers: int = Field(default=0, ge=0, le=20)


class Assignment(Schema):
    id: UUID
    phone_number: str
    phone_number_id: UUID
    is_primary: bool
    channel: Literal["sms", "whatsapp"] = "sms"


class AssignmentRequest(Request):
    phone_number_id: UUID
    channel: Literal["sms", "whatsapp"] = Field(
        default="sms",
        description="'whatsapp' makes the number the campaign's WhatsApp sender (it must be"
        " one at a provider that carries WhatsApp); 'sms' adds it to the SMS/MMS rotation",
    )


class StagedCampaign(Schema):
    campaign: Campaign
    assignments: list[Assignment]


class LaunchRequest(Request):
    launch_at: AwareDatetime | None = Field(
        default=None,
        description="start at this time, not a second before (within a year); absent or"
        " past: at once",
    )


class Launch(Schema):
    id: UUID
    campaign_id: UUID
    status: str = Field(
        description="scheduled (waits for launch_at), running, paused (with its campaign;"
        " resuming the campaign carries on), complete, cancelled"
    )
    launch_at: datetime | None
    queued: int = Field(description="first messages stored and queued by this launch")
    duplicates: int = Field(description="leads whose first message was stored before")
    skipped: dict[str, int] = Field(description="leads not queued, by reason")
    chunks_done: int
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    cancelled_at: datetime | None


# --- leads


class LeadIn(Request):
    phone: Annotated[Text, Field(max_length=64)]
    first_name: Annotated[Text, Field(max_length=200)] | None = None
    last_name: Annotated[Text, Field(max_length=200)] | None = None
    email: Annotated[Text, Field(max_length=320)] | None = None
    timezone: Annotated[Text, Field(max_length=64)] | None = None
    company: Annotated[Text, Field(max_length=200)] | None = None
    attributes: dict[CustomFieldName, CustomFieldValue] = Field(
        default_factory=dict, max_length=100, description="the lead's custom fields"
    )
    # consent evidence (tether.domain.consent.CONSENT_COLUMNS; the CSV's column names)
    consent_source: Annotated[Text, Field(max_length=2000)] | None = Field(
        default=None, description="where consent was given: a form URL, a file, a keyword"
    )
    consent_at: AwareDatetime | None = Field(default=None, description="when consent was given")
    consent_text: Annotated[Text, Field(max_length=10000)] | None = Field(
        default=None, description="the exact disclosure the person agreed to"
    )
    consent_ip: Annotated[Text, Field(max_length=64)] | None = None
    consent_user_agent: Annotated[Text, Field(max_length=1000)] | None = None
    consent_evidence: Annotated[Text, Field(max_length=2000)] | None = Field(
        default=None, description="a reference to more evidence (a screenshot, a log id)"
    )


class LeadUpdate(Request):
    """Only the fields given change; null clears one."""

    first_name: Annotated[Text, Field(max_length=200)] | None = None
    last_name: Annotated[Text, Field(max_length=200)] | None = None
    email: Annotated[Text, Field(max_length=320)] | None = None
    company: Annotated[Text, Field(max_length=200)] | None = None
    timezone: Annotated[Text, Field(max_length=64)] | None = None
    attributes: dict[CustomFieldName, CustomFieldValue | None] | None = Field(
        default=None,
        max_length=100,
        description="custom fields merged into the lead's; null removes one",
    )


class ConsentAttestationIn(Request):
    statement: Annotated[Text, Field(min_length=1, max_length=10000)] = Field(
        description="the tenant's attestation, recorded as the consent of every phone imported"
    )
    source: Annotated[Text, Field(min_length=1, max_length=2000)] | None = None


class LeadImport(Request):
    leads: list[LeadIn] = Field(min_length=1, max_length=5000)
    consent_attestation: ConsentAttestationIn | None = Field(
        default=None,
        description="the tenant attests consent for the whole import (else each lead's"
        " consent_* fields; required one way or the other when require_consent is on)",
    )


class RejectedLead(Schema):
    row: int
    value: str
    reason: str


class ImportResult(Schema):
    imported: int
    merged: int
    rejected: list[RejectedLead]


class Lead(Schema):
    id: UUID
    campaign_id: UUID | None
    phone: str
    first_name: str | None
    last_name: str | None
    email: str | None
    company: str | None = None
    timezone: str | None
    state: str
    state_changed_at: datetime
    assigned_phone_number_id: UUID | None
    last_message_at: datetime | None
    attributes: dict[str, Any]
    created_at: datetime
    reply_address: str | None = Field(
        default=None,
        description="where the lead's email replies find it: the tenant's reply_mailbox"
        " tagged with the lead's token (<local>+<token>@<domain>); null while the tenant"
        " has no reply_mailbox",
    )


class TraceBinding(Schema):
    campaign_id: UUID
    campaign_name: str
    campaign_status: str
    assignment_id: UUID
    phone_number_id: UUID
    phone_number: str
    is_primary: bool
    bound_at: datetime
    rehome_event_id: UUID | None
    channel: Literal["sms", "whatsapp"] = Field(
        default="sms", description="the lead's sticky sender is per campaign and channel"
    )


class MessageAttachment(BaseModel):
    """A message's media: Tether's copy (inbound media, once copied) read through a
    presigned URL that works for a few minutes; outbound media is the URL it was sent
    with, which Tether only passed on."""

    id: UUID
    content_type: str | None
    size_bytes: int | None
    copy_state: str = Field(
        description="none (outbound: passed on, not copied), pending, stored or refused"
    )
    url: str | None = Field(
        description="a presigned URL of Tether's copy (short-lived), or for outbound media"
        " the URL it was sent with; null while the copy is pending or when it was refused"
    )
    expires_at: datetime | None = Field(description="when a presigned url stops working")


class StatusChange(Schema):
    """One delivery status a provider reported. A message's history lists them by
    status rank and occurrence time; reports can arrive out of order."""

    status: str
    occurred_at: datetime = Field(description="when the provider says it happened")
    error_code: str | None = None
    applied: bool
    received_order: int = Field(
        ge=1, description="1 for the message's first report to arrive, 2 for the next, ..."
    )
    received_at: datetime = Field(description="when Tether received the report")


class TraceMessage(Schema):
    id: UUID
    direction: str
    campaign_id: UUID | None
    assignment_id: UUID | None
    phone_number_id: UUID | None
    from_address: str
    to_address: str
    body: str
    status: str
    provider: str | None
    external_id: str | None = Field(description="the provider's message SID")
    send_key: str | None
    error_code: str | None
    error_reason: str | None
    created_at: datetime
    sent_at: datetime | None
    delivered_at: datetime | None
    received_at: datetime | None
    channel: str = Field(description="what the message went as: sms, mms, whatsapp or email")
    our_address: str = Field(
        description="the tenant's address it was bound to: the number it went from or came"
        " to (a mailbox for email)"
    )
    attachments: list[MessageAttachment]
    status_history: list[StatusChange]


class TraceEvent(Schema):
    id: UUID
    event_type: str
    previous_state: str | None
    new_state: str | None
    payload: dict[str, Any]
    occurred_at: datetime


class LeadTrace(Schema):
    lead: Lead
    bindings: list[TraceBinding]
    messages: list[TraceMessage]
    events: list[TraceEvent]


# --- leases


class LeaseRequest(Request):
    pool: Pool | None = Field(default=None, description="default: the lead's campaign's pool")


class Lease(Schema):
    phone_number_id: UUID
    phone_number: str
    lead_id: UUID
    pool: str
    assigned_at: datetime
    release_at: datetime
    already_held: bool


class CallOutcomeRequest(Request):
    outcome: Literal["booked", "no_booking", "no_answer"]
    appointment_at: AwareDatetime | None = Field(
        default=None, description="required when booked; with its UTC offset"
    )
    pool: Pool | None = Field(default=None, description="default: the lead's campaign's pool")


class CallOutcomeResult(Schema):
    lead_id: UUID
    outcome: str
    release_at: datetime | None = Field(description="null: the number was released now")


# --- messages


class WhatsAppTemplateUse(Request):
    name: str = Field(min_length=1, max_length=512, pattern=r"^[a-z0-9_]+$")
    language: str = Field(default="en", pattern=r"^[a-z]{2,3}(_[A-Z]{2})?$")
    variables: dict[Annotated[str, Field(pattern=r"^[0-9]{1,2}$")], Text] = Field(
        default_factory=dict, max_length=100, description='values by placeholder: {"1": "Ana"}'
    )


class SendMessage(Request):
    campaign_id: UUID
    lead_id: UUID
    send_at: AwareDatetime | None = Field(
        default=None,
        description="hold the message until this time (within a year); quiet hours at the"
        " recipient still apply after it",
    )
    body: Annotated[Text, Field(min_length=1, max_length=1600)] | None = None
    template: str = Field(
        default="message", min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_.-]+$"
    )
    media_urls: list[Annotated[Text, Field(max_length=2000)]] = Field(
        default_factory=list, max_length=10
    )
    send_key: Annotated[Text, Field(min_length=1, max_length=200)] | None = None
    channel: Literal["sms", "whatsapp"] = Field(
        default="sms",
        description="the conversation: 'sms' (MMS when it carries media) or 'whatsapp', from"
        " the campaign's sender on that channel. WhatsApp free-form text goes only within 24"
        " hours of the lead's last WhatsApp message; else give whatsapp_template",
    )
    whatsapp_template: WhatsAppTemplateUse | None = None

    @model_validator(mode="after")
    def _template_is_whatsapp(self) -> SendMessage:
        check_template_use(
            self.channel, self.whatsapp_template is not None, self.body, self.media_urls
        )
        return self


class WhatsAppTemplateIn(Request):
    name: str = Field(min_length=1, max_length=512, pattern=r"^[a-z0-9_]+$")
    language: str = Field(default="en", pattern=r"^[a-z]{2,3}(_[A-Z]{2})?$")
    provider_template_id: Annotated[Text, Field(min_length=1, max_length=200)] = Field(
        description="what the provider sends it by: Twilio's Content SID (HX...), Telnyx's"
        " template id"
    )
    body: Annotated[Text, Field(min_length=1, max_length=1024)] = Field(
        description="the approved text, with Meta's {{1}}, {{2}} ... placeholders"
    )
    status: Literal["approved", "pending", "rejected", "paused", "disabled"] = "approved"


class WhatsAppTemplate(BaseModel):
    id: UUID
    name: str
    language: str
    provider_template_id: str
    body: str
    status: str


class SendResult(Schema):
    message_id: UUID
    send_key: str
    from_number: str
    duplicate: bool


class CancelledMessage(Schema):
    message_id: UUID
    status: str


# --- threads, notifications, call queue, unmatched, audit


class Thread(Schema):
    id: UUID
    channel: str
    our_address: str
    their_address: str
    lead_id: UUID | None
    campaign_id: UUID | None
    workspace_stage: str | None
    last_message_at: datetime | None
    last_inbound_at: datetime | None
    unread_count: int
    label: str | None
    next_step: str | None
    next_followup_at: datetime | None
    summary: str | None
    created_at: datetime


class ThreadMessage(Schema):
    id: UUID
    direction: str
    from_address: str
    to_address: str
    body: str
    media_urls: list[str]
    status: str
    error_code: str | None
    error_reason: str | None
    not_before: datetime | None = Field(
        description="a send held until then (quiet hours at the recipient, pacing, send_at)"
    )
    external_id: str | None
    lead_id: UUID | None
    campaign_id: UUID | None
    created_at: datetime
    sent_at: datetime | None
    delivered_at: datetime | None
    received_at: datetime | None
    channel: str = Field(description="what the message went as: sms, mms, whatsapp or email")
    our_address: str = Field(description="the tenant's number (or mailbox) it is bound to")
    attachments: list[MessageAttachment]


class MessageAttachments(BaseModel):
    message_id: UUID
    attachments: list[MessageAttachment]


class ThreadDetail(Schema):
    thread: Thread
    messages: list[ThreadMessage]


class Notification(Schema):
    id: UUID
    workspace_stage: str
    kind: str
    campaign_id: UUID | None
    lead_id: UUID | None
    thread_id: UUID | None
    message_id: UUID | None
    title: str
    body: str | None
    read_at: datetime | None
    created_at: datetime


class UnreadCounts(Schema):
    counts: dict[str, int] = Field(description="unread notifications per workspace stage")
    total: int


class CallEntry(Schema):
    id: UUID
    lead_id: UUID
    lead_phone: str
    first_name: str | None
    last_name: str | None
    priority: int
    reason: str
    status: str
    due_at: datetime
    claimed_by: str | None
    claimed_at: datetime | None
    created_at: datetime


class ClaimRequest(Request):
    claimed_by: Name


class ClaimResult(Schema):
    entry: CallEntry | None = Field(description="null: nothing is due")


class UnmatchedReply(Schema):
    message_id: UUID
    reason: str
    from_address: str
    to_address: str
    body: str
    received_at: datetime | None
    thread_id: UUID | None
    created_at: datetime


class CallOutcomeEntry(BaseModel):
    """A call the voice side reported by webhook, and what became of it."""

    id: UUID
    provider: str
    call_id: str
    outcome: str = Field(description="booked, no_booking or no_answer")
    provider_status: str = Field(description="the provider's endedReason or CallStatus")
    our_address: str | None
    customer_address: str | None
    appointment_at: datetime | None
    occurred_at: datetime
    state: str = Field(
        description="applied (the lease follows it), lease_released (a late report: nothing"
        " re-leased), superseded (a later call's outcome came first), unmatched (no lead)"
    )
    reason: str | None
    lead_id: UUID | None
    phone_number_id: UUID | None
    release_at: datetime | None
    receipt_id: UUID
    created_at: datetime


class AssignRequest(Request):
    lead_id: UUID


class AssignResult(Schema):
    message_id: UUID
    lead_id: UUID
    thread_id: UUID | None
    assigned_at: datetime
    intent: str = Field(description="what the reply means, classified on assignment")
    lead_state: str = Field(description="the lead's state after the reply was applied")


class AuditEntry(Schema):
    id: UUID
    kind: str
    actor: str | None
    subject_type: str | None
    subject_id: str | None
    detail: dict[str, Any]
    created_at: datetime


# --- timers

TimerTypeName = Literal["TIMER_7D", "TIMER_14D", "TIMER_30D", "FOLLOW_UP", "CALLBACK"]
EscalationTimer = Literal["TIMER_7D", "TIMER_14D", "TIMER_30D"]


class EscalationStepRequest(Request):
    action: Literal["move", "follow_up", "close"] = Field(
        description="move: to `campaign_id`, whose template goes out from the lead's bound"
        " number there; follow_up: a follow-up in the lead's campaign; close: close the lead"
    )
    campaign_id: UUID | None = Field(default=None, description="required by move, else absent")

    @model_validator(mode="after")
    def _campaign_for_move(self) -> EscalationStepRequest:
        if (self.action == "move") != (self.campaign_id is not None):
            raise ValueError("campaign_id is required by move and only by move")
        return self


class EscalationStep(Schema):
    timer_type: EscalationTimer
    action: Literal["move", "follow_up", "close"]
    campaign_id: UUID | None
    configured: bool = Field(description="false: the default (7D, 14D follow up; 30D closes)")


class EscalationMap(Schema):
    steps: list[EscalationStep]


class TimerRequest(Request):
    timer_type: TimerTypeName
    trigger_at: AwareDatetime = Field(description="when it fires; a pending one of the type moves")


class Timer(Schema):
    id: UUID
    timer_type: TimerTypeName
    trigger_at: datetime
    retry_at: datetime | None
    executed_at: datetime | None
    cancelled_at: datetime | None
    cancel_reason: str | None
    attempts: int
    max_attempts: int
    last_error: str | None
    message_id: UUID | None


class TimerList(Schema):
    items: list[Timer]


class TimersCancelled(Schema):
    cancelled: int


# --- settings

# JSON Schema's "time" wants a UTC offset; a time of day in the recipient's zone has none
TimeOfDay = Annotated[
    str,
    Field(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9])?$", description="HH:MM[:SS]"),
]


def _time_of_day(value: Any) -> Any:
    return value.isoformat() if isinstance(value, time) else value


class StateWindow(Schema):
    """A tenant's own sending window for one state, recipient's local time, every day."""

    model_config = ConfigDict(extra="forbid")

    start: TimeOfDay
    end: TimeOfDay


StateCode = Annotated[str, Field(pattern=r"^[A-Z]{2}$", description="US state, two letters")]

Days = Annotated[int, Field(ge=1, le=365)]
Hours = Annotated[int, Field(ge=0, le=24 * 30)]
Priority = Annotated[int, Field(ge=-1000, le=1000)]


class TenantSettings(Schema):
    timezone: str = Field(
        description="IANA zone of the tenant (a no-answer lease ends at its midnight)"
    )
    default_region: str = Field(description="ISO country of numbers written without +")
    quiet_hours_start: Annotated[TimeOfDay, BeforeValidator(_time_of_day)] = Field(
        description="first time of day a text may go, recipient's local time"
    )
    quiet_hours_end: Annotated[TimeOfDay, BeforeValidator(_time_of_day)] = Field(
        description="last time of day a text may go"
    )
    quiet_hours_by_state: dict[str, StateWindow] = Field(
        description="the tenant's own, narrower windows per state; the built-in state"
        " rules (README) apply whatever this says"
    )
    quiet_hours_wider_attested: bool = Field(
        description="the tenant attested that a window wider than 08:00-21:00 is lawful"
        " for it (never widens a state's statutory hours)"
    )
    timer_7d_days: int
    timer_14d_days: int
    timer_30d_days: int
    gold_label_priority: int = Field(
        description="call-queue priority when email and mobile are known"
    )
    call_priority: int = Field(description="call-queue priority of the other hot leads")
    lease_hours_without_booking: int
    lease_hours_after_appointment: int
    lease_cooldown_minutes: int
    lease_no_answer_retries: int
    send_segments_per_second: Decimal | None = Field(description="per number; null: no pacing")
    send_segments_per_day: int | None = Field(description="per number; null: no daily cap")
    send_max_attempts: int
    send_validity_hours: int
    preview_max_segments: int = Field(
        description="a campaign preview warns when a text takes more segments than this"
    )
    reply_mailbox: str | None = Field(
        default=None,
        description="the mailbox email replies reach (SES receives its domain); a lead's"
        " reply address is it tagged with the lead's token. Tether sends no email",
    )
    require_consent: bool = Field(
        description="campaign texts go only to phones with consent in force, and a lead"
        " import needs consent columns or an attestation"
    )
    brand_name: str | None = Field(
        description="the sender a HELP reply names (CTIA); a launch needs it"
    )
    help_contact: str | None = Field(
        description="the contact a HELP reply gives (a phone, an email or a URL); a launch needs it"
    )
    retain_webhook_payload_days: int = Field(
        description="days a webhook's raw request is kept before the retention job clears it"
    )
    retain_message_body_days: int = Field(
        description="days a message's text is kept before the retention job clears it"
    )
    retain_idempotency_days: int = Field(
        description="days an Idempotency-Key's stored response is kept"
    )


RetentionDays = Annotated[int, Field(ge=1, le=3650)]


class TenantSettingsUpdate(Request):
    """Only the settings given change."""

    timezone: Annotated[str, Field(min_length=1, max_length=64)] | None = None
    default_region: Annotated[str, Field(pattern=r"^[A-Z]{2}$")] | None = None
    quiet_hours_start: TimeOfDay | None = None
    quiet_hours_end: TimeOfDay | None = None
    quiet_hours_by_state: Annotated[dict[StateCode, StateWindow], Field(max_length=60)] | None = (
        None
    )
    quiet_hours_wider_attested: bool | None = None
    timer_7d_days: Days | None = None
    timer_14d_days: Days | None = None
    timer_30d_days: Days | None = None
    gold_label_priority: Priority | None = None
    call_priority: Priority | None = None
    lease_hours_without_booking: Annotated[int, Field(ge=1, le=24 * 30)] | None = None
    lease_hours_after_appointment: Hours | None = None
    lease_cooldown_minutes: Annotated[int, Field(ge=0, le=60 * 24 * 30)] | None = None
    lease_no_answer_retries: Annotated[int, Field(ge=0, le=10)] | None = None
    send_segments_per_second: Annotated[Decimal, Field(gt=0, le=1000, decimal_places=2)] | None = (
        None
    )
    send_segments_per_day: Annotated[int, Field(ge=1, le=1_000_000)] | None = None
    send_max_attempts: Annotated[int, Field(ge=1, le=20)] | None = None
    send_validity_hours: Annotated[int, Field(ge=1, le=24 * 7)] | None = None
    preview_max_segments: Annotated[int, Field(ge=1, le=10)] | None = None
    require_consent: bool | None = None
    reply_mailbox: (
        Annotated[
            str,
            Field(
                max_length=254,
                pattern=r"^[a-z0-9][a-z0-9._-]{0,63}@[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+$",
                description="lower-case, no '+' (it separates a lead's tag); null: none",
            ),
        ]
        | None
    ) = None
    brand_name: Annotated[Text, Field(min_length=1, max_length=60, pattern=r"\S")] | None = None
    help_contact: Annotated[Text, Field(min_length=1, max_length=100, pattern=r"\S")] | None = None
    retain_webhook_payload_days: RetentionDays | None = None
    retain_message_body_days: RetentionDays | None = None
    retain_idempotency_days: RetentionDays | None = None


# --- consent and the suppression list (issue 19)

Channel = Literal["sms", "whatsapp", "voice"]


class ConsentIn(Request):
    phone: Annotated[Text, Field(max_length=64)]
    channel: Channel = "sms"
    kind: Literal["granted", "revoked"] = Field(
        default="granted", description="revoked: also suppresses the phone tenant-wide"
    )
    source_type: Literal["form", "import", "attestation", "keyword", "api"] = "form"
    source: Annotated[Text, Field(min_length=1, max_length=2000)] = Field(
        description="where: a form URL, an import file, a keyword"
    )
    consented_at: AwareDatetime = Field(description="when the person gave (or withdrew) it")
    disclosure_text: Annotated[Text, Field(max_length=10000)] | None = Field(
        default=None, description="the exact text the person agreed to"
    )
    ip: Annotated[Text, Field(max_length=64)] | None = None
    user_agent: Annotated[Text, Field(max_length=1000)] | None = None
    evidence_ref: Annotated[Text, Field(max_length=2000)] | None = None
    lead_id: UUID | None = None


class ConsentOut(Schema):
    id: UUID
    phone: str | None = Field(description="null once the person was erased")
    channel: str
    kind: str
    source_type: str
    source: str
    consented_at: datetime
    recorded_at: datetime
    disclosure_text: str | None
    ip: str | None
    user_agent: str | None
    evidence_ref: str | None
    lead_id: UUID | None
    message_id: UUID | None
    recorded_by: str | None


class ResubscribeRequest(Request):
    consent_id: UUID = Field(description="a consent the lead's phone gave after its suppression")


class PhoneResubscribeRequest(Request):
    phone: Annotated[Text, Field(max_length=64)]
    consent_id: UUID = Field(description="a consent this phone gave after its suppressions")


class PhoneResubscribed(Schema):
    phone: str
    suppressions_lifted: int
    leads_resubscribed: list[UUID]


class SuppressionIn(Request):
    phone: Annotated[Text, Field(max_length=64)]
    note: Annotated[Text, Field(min_length=1, max_length=1000)] = Field(
        description="why this number is not to be contacted"
    )
    phone_number_id: UUID | None = Field(
        default=None, description="only this sending number; omitted: the whole tenant"
    )


class SuppressionOut(Schema):
    id: UUID
    phone: str | None = Field(
        description="null once the number was erased (its hash still matches)"
    )
    phone_number_id: UUID | None
    reason: str
    keyword: str | None
    note: str | None
    added_by: str | None
    source_message_id: UUID | None
    created_at: datetime
    active: bool
    lifted_at: datetime | None
    lifted_reason: str | None
    lifted_by: dict[str, Any] | None


class SuppressionImportRow(Schema):
    row: int
    value: str
    outcome: Literal["added", "already", "invalid"]
    reason: str | None


class SuppressionImportResult(Schema):
    added: int
    already: int
    invalid: int
    rows: list[SuppressionImportRow]


# --- erasure


class ErasureRequest(Request):
    phone: Annotated[Text, Field(min_length=1, max_length=64)] = Field(
        description="the number to erase, E.164 or as the tenant's default region writes it"
    )


class ErasureResult(Schema):
    phone_hash: str = Field(description="sha256 of tenant id and E.164: what is kept")
    erased: dict[str, int] = Field(description="rows cleared, by kind of record")


class ResultFigures(Schema):
    """One group's results (README, "Results", says what each figure counts)."""

    requested: int = Field(description="campaign sends stored")
    sent: int = Field(description="sends the provider accepted")
    delivered: int = Field(description="sends whose last status is delivered (or read)")
    failed: int = Field(description="sends that ended failed, undelivered or canceled")
    waiting: int = Field(description="sends neither accepted nor failed yet")
    mms: int = Field(
        default=0, description="of the sends stored, those that went as MMS (with media)"
    )
    failed_by_kind: dict[str, int] = Field(
        description="failed sends by kind: opt_out, invalid_number, carrier_filtered,"
        " temporary, account, rejected, not_sent, unknown"
    )
    contacts: int = Field(description="leads sent at least one text")
    replies: int = Field(description="contacts who texted back after their first text")
    reply_rate: float | None = Field(description="replies / contacts; null without contacts")
    opt_outs: int = Field(description="contacts whose reply opted them out")
    opt_out_rate: float | None = Field(description="opt_outs / contacts; null without contacts")
    median_seconds_to_first_reply: float | None = Field(
        description="from a contact's first text to their first reply; null without replies"
    )


class Results(Schema):
    """Results overall and per variant (a send without a variant is `default`)."""

    overall: ResultFigures
    by_variant: dict[str, ResultFigures]


# --- event subscriptions (webhooks, issue 16)

EventTypeName = Literal[
    "reply.received",
    "lead.state_changed",
    "lead.opted_out",
    "lead.resubscribed",
    "message.status_changed",
    "call.queued",
    "lease.acquired",
    "lease.released",
    "campaign.launch_progress",
]


def _subscription_url(value: str) -> str:
    from tether.config import stage_settings
    from tether.domain.subscriptions import InvalidSubscriptionUrl, check_subscription_url

    try:
        return check_subscription_url(value, local_stage=stage_settings().is_local)
    except InvalidSubscriptionUrl as error:
        raise ValueError(str(error)) from error


SubscriptionUrl = Annotated[
    str,
    Field(min_length=1, max_length=2048),
    AfterValidator(_storable),
    AfterValidator(_subscription_url),
]


class NewEventSubscription(Request):
    url: SubscriptionUrl = Field(
        description="https URL that receives the events (http://localhost or"
        " http://127.0.0.1 on the local stack only)"
    )
    event_types: list[EventTypeName] = Field(min_length=1, max_length=9)


class EventSubscriptionOut(Schema):
    id: UUID
    url: str
    event_types: list[EventTypeName]
    status: Literal["active", "failing", "disabled"] = Field(
        description="failing: a delivery failed for 24 h; a later success makes it active"
    )
    failing_since: datetime | None
    created_at: datetime
    updated_at: datetime


class CreatedEventSubscription(EventSubscriptionOut):
    secret: str | None = Field(
        description="the Standard Webhooks signing secret (whsec_...): shown this once only;"
        " a repeat with the same Idempotency-Key answers null here (the secret is never"
        " stored outside Secrets Manager)"
    )


class EventSubscriptionPatch(Request):
    status: Literal["active", "disabled"]


class EventDeliveryOut(Schema):
    id: UUID
    event_id: UUID
    webhook_id: str = Field(description="the webhook-id header: the same on every attempt")
    status: Literal["pending", "delivered", "failed"]
    attempts: int
    started_at: datetime
    next_attempt_at: datetime | None
    last_attempt_at: datetime | None
    last_status_code: int | None
    last_error: str | None
    delivered_at: datetime | None
    failed_at: datetime | None
    created_at: datetime


class ReplayRequest(Request):
    from_: AwareDatetime = Field(alias="from", description="first event time (inclusive)")
    to: AwareDatetime = Field(description="end of the range (exclusive); at most 31 days on")


class ReplayResult(Schema):
    replayed: int = Field(description="events delivered again (at most 1,000 a call)")
    next_from: datetime | None = Field(
        description="where the rest of the range begins: replay again from here; null when done"
    )
