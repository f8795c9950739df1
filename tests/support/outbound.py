"""A tenant with a staged campaign and its sender number, driving the send path against
the sandbox provider (Outbound), and a provider that crashes at a chosen step."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from tests.support.factories import make_campaign, make_lead, make_tenant
from tether.db.connection import Connection, FreshConnections
from tether.db.messages import SendContext
from tether.db.unit_of_work import UnitOfWork
from tether.providers import SendAccepted, SendCommand, SmsProvider
from tether.providers.sandbox import SandboxProvider
from tether.services.numbers import NumberRow, register_numbers, stage_campaign
from tether.services.outbound import SendOutcome, SendRequest, process_send, request_send
from tether_dev.sandbox import SandboxServer

NOW = datetime(2026, 11, 21, 20, 0, tzinfo=UTC)  # 12:00 in Los Angeles, 15:00 in New York
POOL = "Outreach"
SENDER = "+14155550100"
# The stack's public URL as the tests' sends name it (status callbacks go under it).
WEBHOOK_BASE_URL = "https://tether.example.test/dev"


class Crash(Exception):
    """Stands for the process dying at that point."""


class CrashingProvider:
    """The real sandbox adapter, dying just before or just after the provider accepts."""

    def __init__(self, inner: SmsProvider, when: str, crash: type[BaseException] = Crash) -> None:
        self.inner, self.when, self.crash = inner, when, crash
        self.name = inner.name
        self.supports_idempotency_key = inner.supports_idempotency_key

    def send(self, command: SendCommand) -> SendAccepted:
        if self.when == "before_send":
            raise self.crash
        accepted = self.inner.send(command)
        if self.when == "after_send":
            raise self.crash
        return accepted

    def find_sent(self, command: SendCommand, sent_after: datetime) -> SendAccepted | None:
        return self.inner.find_sent(command, sent_after)


class Outbound:
    def __init__(
        self, admin: Connection, app: FreshConnections, sandbox: SandboxServer, **config: object
    ) -> None:
        self.admin, self.app, self.sandbox = admin, app, sandbox
        config.setdefault("send_segments_per_second", None)  # pacing off unless a test wants it
        self.tenant_id, self.account_id = make_tenant(admin, **config)
        register_numbers(self.uow(), self.tenant_id, self.account_id, POOL, [NumberRow(SENDER)])
        self.campaign_id = make_campaign(admin, self.tenant_id, POOL)
        stage_campaign(self.uow(), self.campaign_id, NOW)
        self.keys = sandbox.config.honour_idempotency_keys

    def uow(self) -> UnitOfWork:
        return UnitOfWork(self.app, self.tenant_id)

    def provider(self, _: SendContext | None = None) -> SmsProvider:
        config = self.sandbox.config
        return SandboxProvider(
            self.sandbox.url,
            config.account_id,
            config.api_token,
            supports_idempotency_key=self.keys,
            read_timeout=1.0,
        )

    def lead(self, phone: str = "+14155550123") -> uuid.UUID:
        return make_lead(self.admin, self.tenant_id, phone, self.campaign_id)

    def request(
        self, lead_id: uuid.UUID, body: str = "Hi, it's Gianna", **extra: object
    ) -> uuid.UUID:
        receipt = request_send(
            self.uow(),
            SendRequest(
                tenant_id=self.tenant_id,
                campaign_id=self.campaign_id,
                lead_id=lead_id,
                body=body,
                **extra,
            ),
            NOW,
            None,
        )
        return receipt.message_id

    def process(
        self, message_id: uuid.UUID, now: datetime = NOW, provider: SmsProvider | None = None
    ) -> SendOutcome:
        return process_send(
            self.uow(),
            message_id,
            lambda ctx: provider or self.provider(ctx),
            now,
            webhook_base_url=WEBHOOK_BASE_URL,
        )

    def message(self, message_id: uuid.UUID) -> dict[str, object]:
        row = self.admin.execute(
            "SELECT status, attempts, external_id, error_code, not_before, from_address, attempt_started_at"
            " FROM messages WHERE id = %s",
            (message_id,),
        ).fetchone()
        assert row is not None
        return dict(row)

    def texts_to(self, phone: str) -> int:
        return len([t for t in self.sandbox.texts() if t.to_number == phone])
