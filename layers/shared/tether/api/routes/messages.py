"""/v1/messages: send one message to a lead in a campaign, from its bound number."""

from __future__ import annotations

from aws_lambda_powertools.event_handler.api_gateway import Router

from tether.api import context, scopes
from tether.api.idempotency import idempotent
from tether.api.openapi import responses
from tether.api.params import IdempotencyKey
from tether.api.schemas import SendMessage, SendResult
from tether.services.outbound import SendRequest, request_send

router = Router()  # type: ignore[no-untyped-call]


@router.post(
    "/messages",
    openapi_extensions=scopes.WRITE,
    status_code=202,
    tags=["messages"],
    summary="Send a message: stored once per send key, then queued (202)",
    responses=responses(202, 404, 409),
    middlewares=[idempotent],
)
def send_message(body: SendMessage, idempotency_key: IdempotencyKey = None) -> SendResult:
    request = SendRequest(
        tenant_id=context.tenant_id(),
        campaign_id=body.campaign_id,
        lead_id=body.lead_id,
        template=body.template,
        body=body.body,
        media_urls=body.media_urls,
        send_key=body.send_key,
    )
    receipt = request_send(context.tenant_uow(), request, context.now(), context.queue())
    return SendResult(
        message_id=receipt.message_id,
        send_key=receipt.send_key,
        from_number=receipt.from_number,
        duplicate=receipt.duplicate,
    )
