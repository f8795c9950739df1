"""Receiving a provider webhook: check it, store it exactly once, enqueue it.

In this order, each refusal a 4xx and nothing stored: wrong method (405), unknown
provider or account (404), body over 64 KiB (413), wrong content type (415), bad
signature over the raw request (401), unreadable payload (400). A refusal to no account
is a metric; those of an account are counted into one audit row per account, kind and
minute, so a flood costs no row per request. Then the event is made storable (one rule,
tether.domain.storable; the raw bytes kept beside it), stored in `webhook_receipts`
under the provider's event identity, at most once (Powertools idempotency in DynamoDB
in front, the unique key in Postgres behind), and put on the inbound queue.

A 5xx means nothing was stored, so the provider's retry is safe. Once the receipt is
committed every later failure is answered 200: a receipt the queue did not take is
re-driven by the sweeper (services.receipts), never lost and never the provider's to
resend.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol, TypeVar
from uuid import UUID

from aws_lambda_powertools.metrics import MetricUnit
from pydantic import BaseModel, ConfigDict

from tether.db.unit_of_work import UnitOfWork
from tether.db.webhook_repositories import NewReceipt
from tether.domain.errors import (
    ConfigurationError,
    DependencyUnavailable,
    IdempotencyKeyReused,
    InProgress,
)
from tether.domain.events import EventType, Provider
from tether.domain.provider_account import ProviderAccount
from tether.domain.storable import readable_body, storable, storable_text
from tether.observability import logger, metrics
from tether.queues import MessageQueue
from tether.services.receipts import ReceiptMessage, enqueue_receipt
from tether.webhooks.errors import (
    EventIdReused,
    InvalidSignature,
    MalformedPayload,
    MethodNotAllowed,
    PayloadTooLarge,
    UnknownWebhookTarget,
    UnsupportedMediaType,
    WebhookRejected,
)
from tether.webhooks.providers import (
    VOICE_WEBHOOK_PROVIDERS,
    WEBHOOK_PROVIDERS,
    ParsedDelivery,
    WebhookProvider,
)
from tether.webhooks.request import WEBHOOK_METHOD, WebhookRequest

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

MAX_BODY_BYTES = 64 * 1024
MAX_IDENTITY_LENGTH = 200
# never kept with a receipt: credentials a provider may send along (SignalHouse's authType)
# and VAPI's server secret, which is the credential itself
UNSTORED_HEADERS = frozenset(
    {"authorization", "proxy-authorization", "cookie", "x-api-key", "x-vapi-secret"}
)

DataT = TypeVar("DataT", bound=BaseModel)
ResultT = TypeVar("ResultT", bound=BaseModel)


class ExactlyOnce(Protocol):
    """Runs a use case at most once per `data.idempotency_key` (tether.aws.idempotency)."""

    def register_lambda_context(self, context: LambdaContext) -> None: ...

    def run(
        self, use_case: Callable[[DataT], ResultT], data: DataT, result_type: type[ResultT]
    ) -> tuple[ResultT, bool]: ...


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class WebhookPorts:
    """Everything the webhook talks to. The function wires real ones; tests wire moto's
    and a connection per thread. `unit_of_work` makes an unopened unit of work, scoped
    to a tenant or (None) not yet."""

    unit_of_work: Callable[[UUID | None], UnitOfWork]
    queue: MessageQueue
    exactly_once: ExactlyOnce
    resolve_secret: Callable[[str, UUID], str]  # (reference, the account's tenant)
    now: Callable[[], datetime] = utc_now


class Delivery(BaseModel):
    """A verified, parsed provider event, ready to store. The idempotency store hashes
    `idempotency_key` for the record's key and `fingerprint` for payload validation."""

    model_config = ConfigDict(frozen=True)

    idempotency_key: str
    fingerprint: str
    tenant_id: UUID
    provider_account_id: UUID | None  # None: an inbound mail (SES is no tenant's account)
    provider: Provider
    event_type: EventType
    external_id: str | None
    raw_body: str  # readable and storable; raw_bytes is the body as sent
    raw_bytes: bytes
    headers: dict[str, str]
    event: dict[str, Any] | None


class ReceiptOutcome(BaseModel):
    """What became of a delivery. The idempotency store keeps it, so a duplicate gets
    the first delivery's outcome back."""

    model_config = ConfigDict(frozen=True)

    tenant_id: UUID
    receipt_id: UUID | None  # None: Postgres already had the key (an earlier delivery)
    event_type: EventType
    enqueued: bool
    replayed: bool = False  # answered from the idempotency store; nothing ran

    @property
    def duplicate(self) -> bool:
        return self.replayed or self.receipt_id is None


def receive_webhook(request: WebhookRequest, ports: WebhookPorts) -> ReceiptOutcome:
    """Check, store once and enqueue one webhook request. Raises a WebhookRejected (4xx,
    audited; EventIdReused is a 409), InProgress (409: the same event is being stored
    right now) or DependencyUnavailable (503: nothing was stored)."""
    logger.append_keys(provider=request.provider)
    try:
        outcome = _receive(request, ports)
    except WebhookRejected as error:
        _audit_rejection(ports, request, error)
        metrics.add_metric(name="WebhookRejected", unit=MetricUnit.Count, value=1)
        raise
    except InProgress:
        metrics.add_metric(name="WebhookInProgress", unit=MetricUnit.Count, value=1)
        raise
    except DependencyUnavailable as error:
        logger.warning("webhook not stored", extra={"error": str(error)})
        metrics.add_metric(name="WebhookNotStored", unit=MetricUnit.Count, value=1)
        raise
    metrics.add_metric(
        name="WebhookDuplicate" if outcome.duplicate else "WebhookAccepted",
        unit=MetricUnit.Count,
        value=1,
    )
    logger.info(
        "webhook duplicate" if outcome.duplicate else "webhook accepted",
        extra={"enqueued": outcome.enqueued, "replayed": outcome.replayed},
    )
    return outcome


def _receive(request: WebhookRequest, ports: WebhookPorts) -> ReceiptOutcome:
    providers = VOICE_WEBHOOK_PROVIDERS if request.voice else WEBHOOK_PROVIDERS
    provider = providers.get(request.provider)
    account_id = _uuid(request.account_id)
    account: ProviderAccount | None = None
    if provider is not None and account_id is not None:
        # looked up first, so that every refusal of a real account is counted under its
        # tenant; a refusal to no account is only a metric
        with ports.unit_of_work(None) as uow:
            account = uow.provider_accounts.find_for_webhook(account_id)
    try:
        provider, account = _checked_request(request, provider, account)
    except WebhookRejected as error:
        error.tenant_id = account.tenant_id if account else None
        raise
    logger.append_keys(tenant_id=str(account.tenant_id))
    try:
        delivery = _verified_delivery(request, ports, provider, account)
    except WebhookRejected as error:
        error.tenant_id = account.tenant_id
        raise
    logger.append_keys(idempotency_key=delivery.idempotency_key)
    try:
        outcome, replayed = ports.exactly_once.run(
            lambda d: store_and_enqueue(ports, d), delivery, ReceiptOutcome
        )
    except IdempotencyKeyReused as error:
        rejected = EventIdReused(str(error))
        rejected.tenant_id = account.tenant_id
        raise rejected from error
    return outcome.model_copy(update={"replayed": True}) if replayed else outcome


def _checked_request(
    request: WebhookRequest, provider: WebhookProvider | None, account: ProviderAccount | None
) -> tuple[WebhookProvider, ProviderAccount]:
    """The provider and account, once the request's envelope is one they accept."""
    if request.method != WEBHOOK_METHOD:
        raise MethodNotAllowed(
            f"{request.method or 'this method'} is not allowed; use {WEBHOOK_METHOD}"
        )
    if provider is None or account is None or account.provider != provider.name:
        raise UnknownWebhookTarget("no such provider account")
    if len(request.body) > MAX_BODY_BYTES:
        raise PayloadTooLarge(f"the body is {len(request.body)} bytes; at most {MAX_BODY_BYTES}")
    if request.media_type not in provider.media_types:
        raise UnsupportedMediaType(
            f"{request.media_type[:100] or 'no content type'} is not accepted from {provider.name};"
            f" send {' or '.join(sorted(provider.media_types))}"
        )
    return provider, account


def _verified_delivery(
    request: WebhookRequest,
    ports: WebhookPorts,
    provider: WebhookProvider,
    account: ProviderAccount,
) -> Delivery:
    now = ports.now()
    secrets = []
    for ref in account.signing_secret_refs(now):
        try:
            secrets.append(ports.resolve_secret(ref, account.tenant_id))
        except ConfigurationError as error:
            # a reference outside the tenant's path (or a secret gone): never read, and
            # an operator's to fix; the request is unverifiable, not a server error
            logger.error(
                "signing secret refused",
                extra={"provider_account_id": str(account.id), "reason": str(error)},
            )
    if not secrets:
        raise InvalidSignature("the account has no signing secret configured")
    provider.verify(request, secrets, now)
    parsed: ParsedDelivery = provider.parse(request, now)
    if len(parsed.identity) > MAX_IDENTITY_LENGTH:
        raise MalformedPayload(f"the event id is longer than {MAX_IDENTITY_LENGTH} characters")
    # Everything text-like is made storable here, in one place (tether.domain.storable):
    # a NUL or a lone surrogate in a signed event must not lose it. raw_bytes keeps the
    # original, so nothing replaced is lost.
    return Delivery(
        # namespaced by account: one tenant's provider cannot collide with another's
        idempotency_key=storable_text(f"{provider.name}:{account.id}:{parsed.identity}"),
        fingerprint=parsed.fingerprint,
        tenant_id=account.tenant_id,
        provider_account_id=account.id,
        provider=provider.name,
        event_type=parsed.event_type,
        external_id=storable_text(parsed.external_id) if parsed.external_id else None,
        raw_body=readable_body(request.body),
        raw_bytes=request.body,
        headers=storable({k: v for k, v in request.headers.items() if k not in UNSTORED_HEADERS}),
        event=storable(parsed.event.model_dump(mode="json")) if parsed.event is not None else None,
    )


class ReceiptPorts(Protocol):
    """What storing and enqueueing a receipt needs (WebhookPorts, and inbound mail's)."""

    @property
    def unit_of_work(self) -> Callable[[UUID | None], UnitOfWork]: ...

    @property
    def queue(self) -> MessageQueue: ...


def store_and_enqueue(ports: ReceiptPorts, delivery: Delivery) -> ReceiptOutcome:
    """The use case the idempotency guard wraps: store the receipt (once per key), then
    enqueue it and mark it enqueued. Raises only while nothing is committed. Two
    transactions of one unit of work: the receipt's, before the queue is called, and
    the mark's after it."""
    with ports.unit_of_work(delivery.tenant_id) as uow:
        receipt_id = uow.webhook_receipts.add(
            NewReceipt(
                tenant_id=delivery.tenant_id,
                provider_account_id=delivery.provider_account_id,
                provider=delivery.provider,
                idempotency_key=delivery.idempotency_key,
                event_type=delivery.event_type,
                external_id=delivery.external_id,
                raw_body=delivery.raw_body,
                raw_bytes=delivery.raw_bytes,
                headers=delivery.headers,
                event=delivery.event,
            )
        )
        uow.commit()
        outcome = ReceiptOutcome(
            tenant_id=delivery.tenant_id,
            receipt_id=receipt_id,
            event_type=delivery.event_type,
            enqueued=False,
        )
        if receipt_id is None:
            return (
                outcome  # an earlier delivery stored it, and enqueued it or left it to the sweeper
            )
        logger.append_keys(receipt_id=str(receipt_id))
        # Stored: from here on no failure may reach the provider as a 5xx.
        try:
            enqueue_receipt(
                ports.queue,
                ReceiptMessage(
                    tenant_id=delivery.tenant_id,
                    receipt_id=receipt_id,
                    event_type=delivery.event_type,
                ),
            )
        except Exception:
            logger.exception("receipt not enqueued; the sweeper will re-drive it")
            metrics.add_metric(name="WebhookEnqueueFailed", unit=MetricUnit.Count, value=1)
            return outcome
        try:
            uow.webhook_receipts.mark_enqueued([receipt_id])
            uow.commit()
        except Exception:
            # enqueued but not marked: the sweeper sends it again (at least once to SQS;
            # the inbound side dedupes on the receipt id)
            logger.exception("receipt enqueued but not marked")
        return outcome.model_copy(update={"enqueued": True})


def _audit_rejection(ports: WebhookPorts, request: WebhookRequest, error: WebhookRejected) -> None:
    """Refusals cost no row per request (issue 24): one to an unknown account is only a
    metric; those of a known account are counted into one audit row per account, kind
    of refusal and minute."""
    tenant_id, kind = error.tenant_id, error.kind
    logger.info("webhook rejected", extra={"rejection": kind, "reason": error.reason})
    if tenant_id is None:
        metrics.add_metric(name="WebhookRejectedUnknownTarget", unit=MetricUnit.Count, value=1)
        return
    minute = ports.now().replace(second=0, microsecond=0)
    try:
        with ports.unit_of_work(tenant_id) as uow:
            uow.audit.count(
                "webhook_rejected",
                rate_key=f"webhook_rejected:{request.account_id}:{kind}:{minute.isoformat()}",
                tenant_id=tenant_id,
                actor=f"provider:{request.provider}"[:100],
                subject_type="provider_account",
                subject_id=request.account_id[:100],
                detail=storable(
                    {
                        "rejection": kind,
                        "minute": minute.isoformat(),
                        # the first refusal of the minute speaks for the rest
                        "reason": error.reason[:500],
                        "method": request.method[:20],
                        "content_type": (request.header("content-type") or "")[:200],
                        "body_bytes": len(request.body),
                    }
                ),
            )
            uow.commit()
    except Exception:
        # the refusal stands without its audit row; a 4xx must not turn into a 5xx
        logger.exception("audit row not written")


def _uuid(value: str) -> UUID | None:
    try:
        return UUID(value)
    except ValueError:
        return None
