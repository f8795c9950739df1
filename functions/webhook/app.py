"""POST /webhooks/{provider}/{account_id}: a provider's inbound message or delivery
status, verified, stored exactly once and put on the inbound queue.

API Gateway maps only POST here (template.yaml) and answers any other method with its
own 403; the function still answers a wrong method with 405 when called directly.
"""

from __future__ import annotations

from functools import lru_cache, partial
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from tether.config import webhook_settings
from tether.http import Response, error_response, json_response, response
from tether.observability import API_GATEWAY_REQUEST, capture_lambda_handler, logger, metrics
from tether.queues import queue_at
from tether.secrets import resolve_secret
from tether.services.webhooks import ReceiptOutcome, WebhookPorts, receive_webhook
from tether.webhooks.providers.base import FORM
from tether.webhooks.request import WebhookRequest

# Twilio and SignalWire read a form callback's answer as TwiML/cXML: an empty one says
# "received, nothing to reply".
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'


@lru_cache(maxsize=1)
def webhook_ports() -> WebhookPorts:
    """The container's connection, queue and idempotency store, made on first use."""
    from tether.aws.idempotency import DynamoDbExactlyOnce
    from tether.db.connection import lambda_connection
    from tether.db.unit_of_work import UnitOfWork

    settings = webhook_settings()
    return WebhookPorts(
        unit_of_work=partial(UnitOfWork, lambda_connection("app")),
        queue=queue_at(settings.inbound_queue_url),
        exactly_once=DynamoDbExactlyOnce(
            settings.idempotency_table_name,
            key_prefix="webhook-receipt",
            expires_after_seconds=settings.idempotency_expires_after_seconds,
        ),
        resolve_secret=resolve_secret,
    )


@logger.inject_lambda_context(correlation_id_path=API_GATEWAY_REQUEST, clear_state=True)
@metrics.log_metrics
@capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> Response:
    try:
        ports = webhook_ports()
        ports.exactly_once.register_lambda_context(context)
        request = WebhookRequest.from_api_gateway(event)
        outcome = receive_webhook(request, ports)
    except Exception as error:
        return error_response(error)
    return _acknowledge(request, outcome)


def _acknowledge(request: WebhookRequest, outcome: ReceiptOutcome) -> Response:
    if request.media_type == FORM:
        return response(200, EMPTY_TWIML, "text/xml")
    return json_response(
        200,
        {
            "status": "duplicate" if outcome.duplicate else "accepted",
            "receipt_id": str(outcome.receipt_id) if outcome.receipt_id else None,
        },
    )
