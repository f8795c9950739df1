"""/v1/threads, /v1/notifications, /v1/call-queue, /v1/unmatched-inbound,
/v1/call-outcomes, /v1/audit-log:
what the team works from."""

from __future__ import annotations

from typing import Annotated, Literal
from uuid import UUID

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Path, Query

from tether.api import context, scopes
from tether.api.attachments import with_attachment_views
from tether.api.openapi import responses
from tether.api.params import Cursor, Limit
from tether.api.schemas import (
    AssignRequest,
    AssignResult,
    AuditEntry,
    CallEntry,
    CallOutcomeEntry,
    ClaimRequest,
    ClaimResult,
    Notification,
    Page,
    Text,
    Thread,
    ThreadDetail,
    ThreadMessage,
    UnmatchedReply,
    UnreadCounts,
    WorkspaceStage,
)
from tether.domain.pagination import DEFAULT_LIMIT, decode_position, decode_ranked_position
from tether.services import inbox

router = Router()  # type: ignore[no-untyped-call]
Stage = Annotated[WorkspaceStage | None, Query()]


@router.get(
    "/threads",
    openapi_extensions=scopes.READ,
    tags=["threads"],
    summary="Threads, most recently active first, by workspace stage, label or unread",
    responses=responses(),
)
def list_threads(
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
    workspace_stage: Stage = None,
    label: Annotated[Text | None, Query(max_length=100)] = None,
    unread: Annotated[bool | None, Query()] = None,
) -> Page[Thread]:
    page = inbox.list_threads(
        context.tenant_uow(), decode_position(cursor), limit, workspace_stage, label, unread
    )
    return Page[Thread](
        items=[Thread.model_validate(t, from_attributes=True) for t in page.items],
        next_cursor=page.next_cursor,
    )


@router.get(
    "/threads/<thread_id>",
    openapi_extensions=scopes.READ,
    tags=["threads"],
    summary="A thread with its latest messages and its insight",
    responses=responses(200, 404),
)
def get_thread(thread_id: Annotated[UUID, Path()]) -> ThreadDetail:
    view = inbox.get_thread(context.tenant_uow(), thread_id)
    return ThreadDetail(
        thread=Thread.model_validate(view.thread, from_attributes=True),
        messages=[ThreadMessage.model_validate(m) for m in with_attachment_views(view.messages)],
    )


@router.get(
    "/notifications",
    openapi_extensions=scopes.READ,
    tags=["notifications"],
    summary="Notifications, newest first, by workspace stage or unread",
    responses=responses(),
)
def list_notifications(
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
    workspace_stage: Stage = None,
    unread: Annotated[bool | None, Query()] = None,
) -> Page[Notification]:
    page = inbox.list_notifications(
        context.tenant_uow(), decode_position(cursor), limit, workspace_stage, unread
    )
    return Page[Notification](
        items=[Notification.model_validate(r) for r in page.items], next_cursor=page.next_cursor
    )


@router.get(
    "/notifications/unread-counts",
    openapi_extensions=scopes.READ,
    tags=["notifications"],
    summary="The bell: unread notifications per workspace stage",
    responses=responses(),
)
def unread_counts() -> UnreadCounts:
    counts = inbox.unread_counts(context.tenant_uow(), context.tenant_id())
    return UnreadCounts(counts=counts, total=sum(counts.values()))


@router.post(
    "/notifications/<notification_id>/read",
    openapi_extensions=scopes.WRITE,
    tags=["notifications"],
    summary="Mark a notification read",
    responses=responses(200, 404),
)
def mark_read(notification_id: Annotated[UUID, Path()]) -> Notification:
    row = inbox.mark_notification_read(context.tenant_uow(), notification_id, context.now())
    return Notification.model_validate(row)


@router.get(
    "/call-queue",
    openapi_extensions=scopes.READ,
    tags=["call queue"],
    summary="Queued calls by priority, then by when they are due",
    responses=responses(),
)
def list_call_queue(limit: Limit = DEFAULT_LIMIT, cursor: Cursor = None) -> Page[CallEntry]:
    page = inbox.list_call_queue(
        context.tenant_uow(), context.tenant_id(), decode_ranked_position(cursor), limit
    )
    return Page[CallEntry](
        items=[CallEntry.model_validate(c, from_attributes=True) for c in page.items],
        next_cursor=page.next_cursor,
    )


@router.post(
    "/call-queue/claim",
    openapi_extensions=scopes.WRITE,
    tags=["call queue"],
    summary="Claim the next due call (two agents never get the same one)",
    responses=responses(),
)
def claim_call(body: ClaimRequest) -> ClaimResult:
    row = inbox.claim_next_call(
        context.tenant_uow(), context.tenant_id(), body.claimed_by, context.now()
    )
    return ClaimResult(
        entry=CallEntry.model_validate(row, from_attributes=True) if row is not None else None
    )


@router.get(
    "/unmatched-inbound",
    openapi_extensions=scopes.READ,
    tags=["unmatched inbound"],
    summary="Replies that matched no lead, newest first",
    responses=responses(),
)
def list_unmatched(limit: Limit = DEFAULT_LIMIT, cursor: Cursor = None) -> Page[UnmatchedReply]:
    page = inbox.list_unmatched(context.tenant_uow(), decode_position(cursor), limit)
    return Page[UnmatchedReply](
        items=[UnmatchedReply.model_validate(r) for r in page.items], next_cursor=page.next_cursor
    )


@router.get(
    "/call-outcomes",
    openapi_extensions=scopes.READ,
    tags=["call outcomes"],
    summary="Calls the voice side reported by webhook, newest first; unmatched ones wait here",
    responses=responses(),
)
def list_call_outcomes(
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
    state: Annotated[
        Literal["applied", "lease_released", "superseded", "unmatched"] | None, Query()
    ] = None,
) -> Page[CallOutcomeEntry]:
    from tether.services.call_outcomes import list_call_outcomes as listed

    page = listed(context.tenant_uow(), decode_position(cursor), limit, state)
    return Page[CallOutcomeEntry](
        items=[CallOutcomeEntry.model_validate(r) for r in page.items],
        next_cursor=page.next_cursor,
    )


@router.post(
    "/unmatched-inbound/<message_id>/assign",
    openapi_extensions=scopes.WRITE,
    tags=["unmatched inbound"],
    summary="Give an unmatched reply to its lead",
    responses=responses(200, 404, 409),
)
def assign_unmatched(message_id: Annotated[UUID, Path()], body: AssignRequest) -> AssignResult:
    result = inbox.assign_unmatched(context.tenant_uow(), message_id, body.lead_id, context.now())
    return AssignResult.model_validate(result)


@router.get(
    "/audit-log",
    openapi_extensions=scopes.ADMIN,
    tags=["audit log"],
    summary="The audit log, newest first (access denied, send failures, ...)",
    responses=responses(),
)
def list_audit_log(
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
    kind: Annotated[Text | None, Query(max_length=100)] = None,
) -> Page[AuditEntry]:
    page = inbox.list_audit_log(context.tenant_uow(), decode_position(cursor), limit, kind)
    return Page[AuditEntry](
        items=[AuditEntry.model_validate(r) for r in page.items], next_cursor=page.next_cursor
    )
