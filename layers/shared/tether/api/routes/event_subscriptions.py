"""/v1/event-subscriptions: webhooks of the tenant's events (issue 16). Tether makes
each subscription's signing secret and shows it once; deliveries are signed per
Standard Webhooks, logged per subscription, and can be replayed for a time range."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Path

from tether.api import context, scopes
from tether.api.idempotency import idempotent_never_storing
from tether.api.openapi import responses
from tether.api.params import Cursor, IdempotencyKey, Limit
from tether.api.schemas import (
    CreatedEventSubscription,
    EventDeliveryOut,
    EventSubscriptionOut,
    EventSubscriptionPatch,
    NewEventSubscription,
    Page,
    ReplayRequest,
    ReplayResult,
)
from tether.domain.pagination import DEFAULT_LIMIT, decode_position
from tether.domain.subscriptions import Delivery, Subscription, SubscriptionStatus
from tether.services import subscriptions

router = Router()  # type: ignore[no-untyped-call]

SubscriptionId = Annotated[UUID, Path()]


def _out(subscription: Subscription) -> EventSubscriptionOut:
    return EventSubscriptionOut.model_validate(subscription, from_attributes=True)


def _delivery(delivery: Delivery) -> EventDeliveryOut:
    return EventDeliveryOut.model_validate(delivery, from_attributes=True)


@router.post(
    "/event-subscriptions",
    openapi_extensions=scopes.ADMIN,
    status_code=201,
    tags=["event subscriptions"],
    summary="Subscribe a URL to event types; the answer holds the signing secret, once",
    responses=responses(201, 409),
    middlewares=[idempotent_never_storing("secret")],
)
def create_event_subscription(
    body: NewEventSubscription, idempotency_key: IdempotencyKey = None
) -> CreatedEventSubscription:
    created = subscriptions.create_subscription(
        context.tenant_uow(),
        context.secrets(),
        context.tenant_id(),
        body.url,
        body.event_types,
        context.now(),
    )
    return CreatedEventSubscription(
        **_out(created.subscription).model_dump(), secret=created.secret
    )


@router.get(
    "/event-subscriptions",
    openapi_extensions=scopes.READ,
    tags=["event subscriptions"],
    summary="The tenant's event subscriptions, newest first",
    responses=responses(),
)
def list_event_subscriptions(
    limit: Limit = DEFAULT_LIMIT, cursor: Cursor = None
) -> Page[EventSubscriptionOut]:
    page = subscriptions.list_subscriptions(context.tenant_uow(), decode_position(cursor), limit)
    return Page[EventSubscriptionOut](
        items=[_out(s) for s in page.items], next_cursor=page.next_cursor
    )


@router.get(
    "/event-subscriptions/<subscription_id>",
    openapi_extensions=scopes.READ,
    tags=["event subscriptions"],
    summary="One event subscription (its secret is never shown again)",
    responses=responses(200, 404),
)
def get_event_subscription(subscription_id: SubscriptionId) -> EventSubscriptionOut:
    return _out(subscriptions.get_subscription(context.tenant_uow(), subscription_id))


@router.patch(
    "/event-subscriptions/<subscription_id>",
    openapi_extensions=scopes.ADMIN,
    tags=["event subscriptions"],
    summary="Disable a subscription, or make it active again",
    responses=responses(200, 404),
)
def patch_event_subscription(
    subscription_id: SubscriptionId, body: EventSubscriptionPatch
) -> EventSubscriptionOut:
    return _out(
        subscriptions.set_subscription_status(
            context.tenant_uow(), subscription_id, SubscriptionStatus(body.status), context.now()
        )
    )


@router.delete(
    "/event-subscriptions/<subscription_id>",
    openapi_extensions=scopes.ADMIN,
    tags=["event subscriptions"],
    summary="Delete a subscription, its delivery log and its secret",
    responses=responses(200, 404),
)
def delete_event_subscription(subscription_id: SubscriptionId) -> EventSubscriptionOut:
    deleted = subscriptions.delete_subscription(
        context.tenant_uow(), context.secrets(), subscription_id
    )
    return _out(deleted)


@router.get(
    "/event-subscriptions/<subscription_id>/deliveries",
    openapi_extensions=scopes.READ,
    tags=["event subscriptions"],
    summary="The subscription's delivery log, newest first",
    responses=responses(200, 404),
)
def list_event_deliveries(
    subscription_id: SubscriptionId, limit: Limit = DEFAULT_LIMIT, cursor: Cursor = None
) -> Page[EventDeliveryOut]:
    page = subscriptions.delivery_log(
        context.tenant_uow(), subscription_id, decode_position(cursor), limit
    )
    return Page[EventDeliveryOut](
        items=[_delivery(d) for d in page.items], next_cursor=page.next_cursor
    )


@router.post(
    "/event-subscriptions/<subscription_id>/replay",
    openapi_extensions=scopes.ADMIN,
    tags=["event subscriptions"],
    summary="Deliver a time range's events again (same webhook-id each), up to 1,000 a call",
    responses=responses(200, 404),
)
def replay_event_deliveries(subscription_id: SubscriptionId, body: ReplayRequest) -> ReplayResult:
    replay = subscriptions.replay_deliveries(
        context.tenant_uow(), subscription_id, body.from_, body.to, context.now()
    )
    return ReplayResult(replayed=replay.replayed, next_from=replay.next_from)
