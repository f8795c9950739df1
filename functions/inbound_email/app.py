"""S3 ObjectCreated in the inbound mail bucket (SES's receipt rule stored a mail) →
the mail stored once as a receipt and put on InboundQueue (services.inbound_email).

S3 invokes asynchronously: an exception makes Lambda retry the event (twice), then it
goes to the dead-letter queue; a stored mail is never stored twice.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache
from typing import Any
from urllib.parse import unquote_plus

from aws_lambda_powertools.utilities.data_classes import S3Event
from aws_lambda_powertools.utilities.typing import LambdaContext

from tether.config import inbound_email_settings
from tether.observability import capture_lambda_handler, logger, metrics
from tether.queues import queue_at
from tether.services.inbound_email import MailArrival, MailPorts, receive_mail


@lru_cache(maxsize=1)
def mail_ports() -> MailPorts:
    """The container's connection, queue and bucket reader, made on first use."""
    from functools import partial

    from tether.aws.mail_store import S3MailStore
    from tether.db.connection import lambda_connection
    from tether.db.unit_of_work import UnitOfWork

    settings = inbound_email_settings()
    return MailPorts(
        unit_of_work=partial(UnitOfWork, lambda_connection("app")),
        queue=queue_at(settings.inbound_queue_url),
        mail=S3MailStore(settings.max_mail_bytes),
    )


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
@capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, list[str]]:
    outcomes = []
    for record in S3Event(event).records:
        arrival = MailArrival(
            bucket=record.s3.bucket.name,
            key=unquote_plus(record.s3.get_object.key),  # the event's key is URL-encoded
            arrived_at=_when(record.event_time),
        )
        outcomes.append(receive_mail(arrival, mail_ports()).value)
    return {"outcomes": outcomes}


def _when(event_time: str | None) -> datetime:
    """When S3 stored the mail (the event says), else now."""
    try:
        return datetime.fromisoformat(event_time or "").astimezone(UTC)
    except ValueError:
        return datetime.now(UTC)
