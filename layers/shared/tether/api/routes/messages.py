"""/v1/messages: send one message to a lead in a campaign, from its bound number, now or
at a time; cancel one no provider has had yet; read a message's attachments."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Path

from tether.api import context, scopes
from tether.api.attachments import attachment_views
from tether.api.idempotency import idempotent
from tether.api.openapi import responses
from tether.api.params import IdempotencyKey
from tether.api.schemas import CancelledMessage, MessageAttachments, SendMessage, SendResult
from tether.domain.launches import check_schedule
from tether.services.media import message_attachments
from tether.services.outbound import (
    SendRequest,
    WhatsAppTemplateUse,
    cancel_send,
    request_send,
)

router = Router()  # type: ignore[no-untyped-call]


@router.post(
    "/messages",
    openapi_extensions=scopes.WRITE,
    status_code=202,
    tags=["messages"],
    summary="Send a message: stored once per send key, then queued (202); with send_at, held"
    " until then (and quiet hours at the recipient after it). channel 'whatsapp' sends from"
    " the campaign's WhatsApp sender; free-form only within 24 hours of the lead's last"
    " WhatsApp message (else 422: send an approved whatsapp_template)",
    responses=responses(202, 404, 409, 422),
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
        send_at=check_schedule(body.send_at, context.now(), "send_at"),
        channel=body.channel,
        whatsapp_template=WhatsAppTemplateUse(**body.whatsapp_template.model_dump())
        if body.whatsapp_template is not None
        else None,
    )
    receipt = request_send(context.tenant_uow(), request, context.now(), context.queue())
    return SendResult(
        message_id=receipt.message_id,
        send_key=receipt.send_key,
        from_number=receipt.from_number,
        duplicate=receipt.duplicate,
    )


@router.post(
    "/messages/<message_id>/cancel",
    openapi_extensions=scopes.WRITE,
    tags=["messages"],
    summary="Cancel a message no provider has had yet (a send_at not yet reached, say);"
    " 409 once it has gone",
    responses=responses(200, 404, 409),
)
def cancel_message(message_id: Annotated[UUID, Path()]) -> CancelledMessage:
    status = cancel_send(context.tenant_uow(), message_id)
    return CancelledMessage(message_id=message_id, status=status)


@router.get(
    "/messages/<message_id>/attachments",
    openapi_extensions=scopes.READ,
    tags=["messages"],
    summary="A message's media: inbound media through short-lived presigned URLs of"
    " Tether's copy, outbound media as the URL it went with",
    responses=responses(200, 404),
)
def get_message_attachments(message_id: Annotated[UUID, Path()]) -> MessageAttachments:
    found = message_attachments(context.tenant_uow(), message_id)
    return MessageAttachments(message_id=message_id, attachments=attachment_views(found))
