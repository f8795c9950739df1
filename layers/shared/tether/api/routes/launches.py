"""/v1/campaigns/{id}/launch and launches: start a campaign's first messages (now or at
a time), follow a launch's progress, cancel one that has not fired."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body, Path

from tether.api import context, scopes
from tether.api.idempotency import idempotent
from tether.api.openapi import responses
from tether.api.params import IdempotencyKey
from tether.api.schemas import Launch, LaunchRequest
from tether.domain.launches import Launch as LaunchEntity
from tether.services import launches

router = Router()  # type: ignore[no-untyped-call]
CampaignId = Annotated[UUID, Path()]
LaunchId = Annotated[UUID, Path()]


def _launch(launch: LaunchEntity) -> Launch:
    return Launch(
        id=launch.id,
        campaign_id=launch.campaign_id,
        status=launch.status.value,
        launch_at=launch.launch_at,
        queued=launch.queued,
        duplicates=launch.duplicates,
        skipped=launch.skipped,
        chunks_done=launch.chunk_seq,
        created_at=launch.created_at,
        started_at=launch.started_at,
        finished_at=launch.finished_at,
        cancelled_at=launch.cancelled_at,
    )


@router.post(
    "/campaigns/<campaign_id>/launch",
    openapi_extensions=scopes.WRITE,
    status_code=202,
    tags=["campaigns"],
    summary="Launch: the first message to every lead, now or at launch_at (202 with the"
    " launch; the work goes on in the background). Again, once one is done: only leads"
    " added since",
    responses=responses(202, 404, 409),
    middlewares=[idempotent],
)
def launch_campaign(
    campaign_id: CampaignId,
    body: Annotated[LaunchRequest | None, Body()] = None,
    idempotency_key: IdempotencyKey = None,
) -> Launch:
    launch = launches.start_launch(
        context.tenant_uow(),
        context.tenant_id(),
        campaign_id,
        body.launch_at if body else None,
        context.now(),
        context.launch_queue(),
    )
    return _launch(launch)


@router.get(
    "/campaigns/<campaign_id>/launches/<launch_id>",
    openapi_extensions=scopes.READ,
    tags=["campaigns"],
    summary="A launch and its progress: queued, duplicates, skipped by reason, status",
    responses=responses(200, 404),
)
def get_launch(campaign_id: CampaignId, launch_id: LaunchId) -> Launch:
    return _launch(launches.get_launch(context.tenant_uow(), campaign_id, launch_id))


@router.post(
    "/campaigns/<campaign_id>/launches/<launch_id>/cancel",
    openapi_extensions=scopes.WRITE,
    tags=["campaigns"],
    summary="Cancel a scheduled launch before it fires (409 once it has); it never fires",
    responses=responses(200, 404, 409),
)
def cancel_launch(campaign_id: CampaignId, launch_id: LaunchId) -> Launch:
    return _launch(
        launches.cancel_launch(context.tenant_uow(), campaign_id, launch_id, context.now())
    )
