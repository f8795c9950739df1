"""Receiving an inbound email (issue 18, seed 001): SES's receipt rule stored the raw
mail in S3, S3 told the inbound_email function; here it is read, parsed (standard
library: tether.domain.email), given to the tenant whose reply mailbox it reached,
stored exactly once as a `webhook_receipts` row (provider "ses", keyed by the mail's
Message-ID, else SES's message id) and put on InboundQueue, where the inbound function
applies it like any reply (services.email_replies).

Nothing is lost and nothing crashes on a bad mail: a mail to no tenant's mailbox stays
in the bucket and is logged (with a metric) for an operator; a mail without a readable
sender is stored as a receipt of an unknown event (kept, applied as nothing). A mail
delivered twice (S3 notifies at least once; SES may store a mail twice) is stored once:
the receipt's unique key in Postgres says so.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Protocol
from uuid import UUID

from aws_lambda_powertools.metrics import MetricUnit
from pydantic import AwareDatetime, BaseModel, ConfigDict

from tether.db.unit_of_work import UnitOfWork
from tether.domain.email import ParsedMail, mailbox_parts, parse_mail
from tether.domain.events import EmailDetails, InboundMessage
from tether.domain.storable import readable_body, storable
from tether.observability import logger, metrics
from tether.queues import MessageQueue

if TYPE_CHECKING:
    from tether.services.webhooks import Delivery

PROVIDER = "ses"
MAX_STORED_RAW_BYTES = 1024 * 1024  # of the raw mail kept with its receipt; S3 keeps it all


class MailReader(Protocol):
    def read(self, bucket: str, key: str) -> bytes | None: ...


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class MailPorts:
    """What receiving a mail talks to. `unit_of_work` makes an unopened unit of work,
    scoped to a tenant or (None) not yet."""

    unit_of_work: Callable[[UUID | None], UnitOfWork]
    queue: MessageQueue
    mail: MailReader
    now: Callable[[], datetime] = utc_now


class MailArrival(BaseModel):
    """One object SES put in the inbound mail bucket (an S3 ObjectCreated record)."""

    model_config = ConfigDict(frozen=True)

    bucket: str
    key: str
    arrived_at: AwareDatetime


class MailOutcome(StrEnum):
    ACCEPTED = "accepted"
    DUPLICATE = "duplicate"
    UNROUTED = "unrouted"  # to no tenant's mailbox: kept in the bucket, logged
    GONE = "gone"  # the object was no longer there


def receive_mail(arrival: MailArrival, ports: MailPorts) -> MailOutcome:
    """Read, route, store once and enqueue one stored mail. Raises
    DependencyUnavailable (S3, the database) while nothing is stored, so the event is
    retried."""
    logger.append_keys(mail_bucket=arrival.bucket, mail_key=arrival.key)
    raw = ports.mail.read(arrival.bucket, arrival.key)
    if raw is None:
        logger.warning("mail object gone")
        return MailOutcome.GONE
    parsed = parse_mail(raw)
    if parsed.defects:
        logger.warning("mail has defects", extra={"defects": list(parsed.defects)[:20]})
    routed = _route(ports, parsed.recipients)
    if routed is None:
        logger.error(
            "mail reached no tenant's reply mailbox; kept in the bucket",
            extra={"recipients": list(parsed.recipients)[:10], "sender": parsed.sender},
        )
        metrics.add_metric(name="InboundEmailUnrouted", unit=MetricUnit.Count, value=1)
        return MailOutcome.UNROUTED
    tenant_id, recipient = routed
    logger.append_keys(tenant_id=str(tenant_id))
    # the webhook's own store-once-and-enqueue, imported here: its module brings the
    # providers' webhook parsers, which a mail never needs at cold start
    from tether.services.webhooks import store_and_enqueue

    delivery = mail_delivery(arrival, raw, parsed, tenant_id, recipient)
    outcome = store_and_enqueue(ports, delivery)
    result = MailOutcome.DUPLICATE if outcome.duplicate else MailOutcome.ACCEPTED
    metrics.add_metric(
        name="InboundEmailDuplicate" if outcome.duplicate else "InboundEmailAccepted",
        unit=MetricUnit.Count,
        value=1,
    )
    logger.info(
        "mail stored" if not outcome.duplicate else "mail duplicate",
        extra={"receipt_id": str(outcome.receipt_id), "enqueued": outcome.enqueued},
    )
    return result


def _route(ports: MailPorts, recipients: tuple[str, ...]) -> tuple[UUID, str] | None:
    """The tenant of the first recipient that is (a tagged form of) a tenant's reply
    mailbox, and that recipient."""
    with ports.unit_of_work(None) as uow:
        for recipient in recipients:
            parts = mailbox_parts(recipient)
            if parts is None:
                continue
            tenant_id = uow.mailboxes.tenant_for(parts[0])
            if tenant_id is not None:
                return tenant_id, recipient
    return None


def mail_delivery(
    arrival: MailArrival, raw: bytes, parsed: ParsedMail, tenant_id: UUID, recipient: str
) -> Delivery:
    """The receipt of one mail: the canonical InboundMessage (channel "email") when it
    has a sender, else an unknown event kept as it came."""
    from tether.services.webhooks import Delivery

    identity = parsed.identity(arrival.key.rsplit("/", 1)[-1])
    event = None
    if parsed.sender is not None:
        event = InboundMessage(
            provider=PROVIDER,
            external_id=identity,
            from_address=parsed.sender,
            to_address=recipient,
            body=parsed.text,
            channel="email",
            occurred_at=arrival.arrived_at,
            email=EmailDetails(
                message_id=parsed.message_id,
                subject=parsed.subject,
                in_reply_to=parsed.in_reply_to,
                references=parsed.references,
                reply_text=parsed.reply_text,
            ),
        )
    kept = raw[:MAX_STORED_RAW_BYTES]
    headers = {
        "s3_bucket": arrival.bucket,
        "s3_key": arrival.key,
        "size_bytes": str(len(raw)),
        "stored_bytes": str(len(kept)),
        "recipient": recipient,
    }
    if parsed.defects:
        headers["defects"] = ", ".join(parsed.defects)[:1000]
    return Delivery(
        idempotency_key=f"{PROVIDER}:{tenant_id}:{identity}",
        fingerprint=hashlib.sha256(raw).hexdigest(),
        tenant_id=tenant_id,
        provider_account_id=None,
        provider=PROVIDER,
        event_type="inbound_message" if event is not None else "unknown",
        external_id=identity,
        raw_body=readable_body(kept),
        raw_bytes=kept,
        headers=storable(headers),
        event=storable(event.model_dump(mode="json")) if event is not None else None,
    )
