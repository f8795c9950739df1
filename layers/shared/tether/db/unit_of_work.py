"""The unit of work: one door to the database for the services.

A unit of work made for a tenant scopes each of its transactions to that tenant (see
Session), and row-level security confines every statement to it. One made without a
tenant is for the jobs role, which works across tenants. Whatever was not committed
when the unit of work ends is rolled back.

A unit of work given an EventRelay hands the events each commit recorded (the outbox,
issue 16) to it right after that commit; the relay never fails the commit's use case.
"""

from __future__ import annotations

from collections.abc import Sequence
from importlib import import_module
from types import TracebackType
from typing import TYPE_CHECKING, Any, Protocol, Self
from uuid import UUID

from psycopg.pq import TransactionStatus

from tether.db.connection import Connection, ConnectionSource
from tether.db.session import Session
from tether.domain.outbox import OutboxEvent

if TYPE_CHECKING:
    from tether.db.api_keys import ApiKeyRepository, AuthFailureRepository, IdempotencyRepository
    from tether.db.attachments import AttachmentRepository
    from tether.db.calls import CallOutcomeRepository
    from tether.db.campaigns import CampaignRepository
    from tether.db.consents import ConsentRepository
    from tether.db.email import MailboxRepository
    from tether.db.erasure import ErasureRepository
    from tether.db.inbound import ReplyEffectsRepository
    from tether.db.inbox import (
        CallQueueRepository,
        NotificationRepository,
        ThreadRepository,
        UnmatchedRepository,
    )
    from tether.db.inventory import InventoryRepository
    from tether.db.launches import LaunchRepository
    from tether.db.leads import LeadEventRepository, LeadRepository
    from tether.db.messages import MessageRepository, StatusRepository
    from tether.db.numbers import (
        CampaignNumberRepository,
        NumberRepository,
    )
    from tether.db.outbox import OutboxRepository
    from tether.db.repositories import (
        SuppressionRepository,
        TenantRepository,
        TenantSettingsRepository,
    )
    from tether.db.retention import RetentionRepository
    from tether.db.stats import StatsRepository
    from tether.db.subscriptions import DeliveryRepository, SubscriptionRepository
    from tether.db.timers import TimerRepository
    from tether.db.webhook_repositories import (
        AuditLogRepository,
        ProviderAccountRepository,
        WebhookReceiptRepository,
    )
    from tether.db.whatsapp import WhatsAppTemplateRepository


class EventRelay(Protocol):
    def relay(self, uow: UnitOfWork, events: Sequence[OutboxEvent]) -> None:
        """Hand committed events on (tether.services.events.QueueRelay): called after
        the commit that wrote them, with the unit of work still open. Never raises."""
        ...


# Each repository of a unit of work: its module and class, imported and made on first use
# in each opening, so that a function imports only the repositories it uses (a cold
# start pays for the rest otherwise: about a hundred milliseconds of modules).
REPOSITORIES: dict[str, tuple[str, str]] = {
    "leads": ("tether.db.leads", "LeadRepository"),
    "lead_events": ("tether.db.leads", "LeadEventRepository"),
    "tenants": ("tether.db.repositories", "TenantRepository"),
    "settings": ("tether.db.repositories", "TenantSettingsRepository"),
    "numbers": ("tether.db.numbers", "NumberRepository"),
    "campaign_numbers": ("tether.db.numbers", "CampaignNumberRepository"),
    "audit": ("tether.db.webhook_repositories", "AuditLogRepository"),
    "provider_accounts": ("tether.db.webhook_repositories", "ProviderAccountRepository"),
    "webhook_receipts": ("tether.db.webhook_repositories", "WebhookReceiptRepository"),
    "messages": ("tether.db.messages", "MessageRepository"),
    "attachments": ("tether.db.attachments", "AttachmentRepository"),
    "timers": ("tether.db.timers", "TimerRepository"),
    "suppressions": ("tether.db.repositories", "SuppressionRepository"),
    "statuses": ("tether.db.messages", "StatusRepository"),
    "reply_effects": ("tether.db.inbound", "ReplyEffectsRepository"),
    "api_keys": ("tether.db.api_keys", "ApiKeyRepository"),
    "auth_failures": ("tether.db.api_keys", "AuthFailureRepository"),
    "idempotency": ("tether.db.api_keys", "IdempotencyRepository"),
    "campaigns": ("tether.db.campaigns", "CampaignRepository"),
    "stats": ("tether.db.stats", "StatsRepository"),
    "launches": ("tether.db.launches", "LaunchRepository"),
    "threads": ("tether.db.inbox", "ThreadRepository"),
    "notifications": ("tether.db.inbox", "NotificationRepository"),
    "call_queue": ("tether.db.inbox", "CallQueueRepository"),
    "unmatched": ("tether.db.inbox", "UnmatchedRepository"),
    "inventory": ("tether.db.inventory", "InventoryRepository"),
    "consents": ("tether.db.consents", "ConsentRepository"),
    "erasure": ("tether.db.erasure", "ErasureRepository"),
    "retention": ("tether.db.retention", "RetentionRepository"),
    "outbox": ("tether.db.outbox", "OutboxRepository"),
    "subscriptions": ("tether.db.subscriptions", "SubscriptionRepository"),
    "deliveries": ("tether.db.subscriptions", "DeliveryRepository"),
    "call_outcomes": ("tether.db.calls", "CallOutcomeRepository"),
    "whatsapp_templates": ("tether.db.whatsapp", "WhatsAppTemplateRepository"),
    "mailboxes": ("tether.db.email", "MailboxRepository"),
}


class UnitOfWork:
    leads: LeadRepository
    lead_events: LeadEventRepository
    tenants: TenantRepository
    settings: TenantSettingsRepository
    numbers: NumberRepository
    campaign_numbers: CampaignNumberRepository
    audit: AuditLogRepository
    provider_accounts: ProviderAccountRepository
    webhook_receipts: WebhookReceiptRepository
    messages: MessageRepository
    attachments: AttachmentRepository
    timers: TimerRepository
    suppressions: SuppressionRepository
    statuses: StatusRepository
    reply_effects: ReplyEffectsRepository
    api_keys: ApiKeyRepository
    auth_failures: AuthFailureRepository
    idempotency: IdempotencyRepository
    campaigns: CampaignRepository
    stats: StatsRepository
    launches: LaunchRepository
    threads: ThreadRepository
    notifications: NotificationRepository
    call_queue: CallQueueRepository
    unmatched: UnmatchedRepository
    inventory: InventoryRepository
    consents: ConsentRepository
    erasure: ErasureRepository
    retention: RetentionRepository
    outbox: OutboxRepository
    subscriptions: SubscriptionRepository
    deliveries: DeliveryRepository
    call_outcomes: CallOutcomeRepository
    whatsapp_templates: WhatsAppTemplateRepository
    mailboxes: MailboxRepository
    _session: Session

    def __init__(
        self,
        connections: ConnectionSource,
        tenant_id: UUID | None = None,
        relay: EventRelay | None = None,
    ) -> None:
        self._connections = connections
        self.tenant_id = tenant_id
        self.relay = relay
        self._conn: Connection | None = None

    def __enter__(self) -> Self:
        if self._conn is not None:
            # a use case opens the unit of work it is given; its steps take it open
            raise RuntimeError("the unit of work is open already: pass it unopened")
        conn = self._connections.acquire()
        self._conn = conn
        self._session = Session(conn, self.tenant_id)
        for name in REPOSITORIES:  # the last opening's, bound to its session
            self.__dict__.pop(name, None)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        conn, self._conn = self._conn, None
        if conn is None:
            return
        try:
            if not conn.closed and conn.info.transaction_status != TransactionStatus.IDLE:
                conn.rollback()  # nothing after the last commit survives
        finally:
            self._connections.release(conn)

    def __getattr__(self, name: str) -> Any:
        """A repository, made on its first use in this opening (bound to its session)."""
        where = REPOSITORIES.get(name)
        if where is None or "_session" not in self.__dict__ or self._conn is None:
            raise AttributeError(name)
        repository = getattr(import_module(where[0]), where[1])(self._session)
        setattr(self, name, repository)
        return repository

    @property
    def connection(self) -> Connection:
        if self._conn is None:
            raise RuntimeError("the unit of work is not open")
        return self._conn

    def commit(self) -> None:
        self._open_session().commit()
        recorded = self._take_recorded()
        if recorded and self.relay is not None:
            self.relay.relay(self, recorded)

    def rollback(self) -> None:
        self._open_session().rollback()
        self._take_recorded()

    def _take_recorded(self) -> list[OutboxEvent]:
        """The events recorded since the last commit or rollback, cleared; a transaction
        that recorded none leaves the outbox repository unmade (and unimported)."""
        outbox: OutboxRepository | None = self.__dict__.get("outbox")
        if outbox is None:
            return []
        recorded, outbox.recorded = outbox.recorded, []
        return recorded

    def _open_session(self) -> Session:
        if self._conn is None:
            raise RuntimeError("the unit of work is not open")
        return self._session
