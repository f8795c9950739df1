"""/v1/suppressions: the suppression list: list and search, add a do-not-contact entry,
import a CSV of them, export it. Nothing is removed here: only a re-subscribe lifts an
entry (the lead's START/UNSTOP, or POST /v1/leads/{id}/resubscribe with a newer consent)."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Query

from tether.api import context, scopes
from tether.api.body import body_bytes, read_text
from tether.api.idempotency import idempotent
from tether.api.openapi import responses
from tether.api.params import Cursor, IdempotencyKey, Limit
from tether.api.schemas import (
    Page,
    PhoneResubscribed,
    PhoneResubscribeRequest,
    SuppressionImportResult,
    SuppressionImportRow,
    SuppressionIn,
    SuppressionOut,
    Text,
)
from tether.domain.pagination import DEFAULT_LIMIT, decode_position
from tether.domain.suppressions import Suppression
from tether.services import consent, suppressions

router = Router()  # type: ignore[no-untyped-call]


def _actor() -> str:
    return f"api_key:{context.scope().principal.key_id}"


def _out(suppression: Suppression) -> SuppressionOut:
    return SuppressionOut.model_validate(suppression, from_attributes=True)


@router.get(
    "/suppressions",
    openapi_extensions=scopes.READ,
    tags=["suppressions"],
    summary="The suppression list, newest first, by phone and whether in force",
    responses=responses(),
)
def list_suppressions(
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
    phone: Annotated[Text | None, Query(max_length=64)] = None,
    active: Annotated[bool | None, Query(description="true: in force; false: lifted")] = None,
) -> Page[SuppressionOut]:
    page = suppressions.list_suppressions(
        context.tenant_uow(),
        context.tenant_id(),
        decode_position(cursor),
        limit,
        phone=phone,
        active=active,
    )
    return Page[SuppressionOut](items=[_out(s) for s in page.items], next_cursor=page.next_cursor)


@router.post(
    "/suppressions",
    openapi_extensions=scopes.WRITE,
    status_code=201,
    tags=["suppressions"],
    summary="Add a do-not-contact entry by hand, with why",
    responses=responses(201, 404, 409),
    middlewares=[idempotent],
)
def add_suppression(body: SuppressionIn, idempotency_key: IdempotencyKey = None) -> SuppressionOut:
    added = suppressions.add_suppression(
        context.tenant_uow(),
        context.tenant_id(),
        body.phone,
        body.note,
        _actor(),
        body.phone_number_id,
    )
    return _out(added)


@router.post(
    "/suppressions/import",
    tags=["suppressions"],
    summary="Import a do-not-contact list (CSV with a phone column, and note or reason)",
    description="Each row is reported: added, already (suppressed before, or a repeated row), or"
    " invalid with why. The valid rows are stored together.",
    responses=responses(200, 409),
    middlewares=[idempotent],
    openapi_extensions={
        **scopes.WRITE,
        "requestBody": {
            "required": True,
            "content": {
                "text/csv": {
                    "schema": {"type": "string"},
                    "example": "phone,note\n(415) 555-0134,asked by phone not to be called\n",
                }
            },
        },
    },
)
def import_suppressions(
    note: Annotated[
        Text | None,
        Query(max_length=1000, description="the note of rows that give none"),
    ] = None,
    idempotency_key: IdempotencyKey = None,
) -> SuppressionImportResult:
    report = suppressions.import_suppressions(
        context.tenant_uow(),
        context.tenant_id(),
        _csv_body(),
        note,
        _actor(),
    )
    return SuppressionImportResult(
        added=report.added,
        already=report.already,
        invalid=report.invalid,
        rows=[
            SuppressionImportRow(row=r.row, value=r.value, outcome=r.outcome, reason=r.reason)
            for r in report.rows
        ],
    )


@router.post(
    "/suppressions/resubscribe",
    openapi_extensions=scopes.WRITE,
    tags=["suppressions"],
    summary="Lift a phone's suppressions with a consent it gave after them (re-subscribe)",
    description=(
        "The one way off the list besides the phone's own START/UNSTOP: every tenant-wide"
        " opt-out and do-not-contact entry of the phone older than the consent is lifted"
        " (lifted_by names the consent), and every lead of the phone suppressed before it"
        " moves to responded. A carrier's block of one number stays. 409 when the consent"
        " frees nothing; 422 when it is not a grant of this phone."
    ),
    responses=responses(200, 404, 409),
)
def resubscribe_phone(body: PhoneResubscribeRequest) -> PhoneResubscribed:
    done = consent.resubscribe_phone(
        context.tenant_uow(), context.tenant_id(), body.phone, body.consent_id, _actor()
    )
    return PhoneResubscribed(
        phone=done.phone,
        suppressions_lifted=done.suppressions_lifted,
        leads_resubscribed=done.leads,
    )


@router.get(
    "/suppressions/export",
    openapi_extensions=scopes.READ,
    tags=["suppressions"],
    summary="Export the suppression list as CSV (10,000 rows a file; X-Next-Cursor for more)",
    responses={
        **responses(),
        200: {"description": "the list", "content": {"text/csv": {"schema": {"type": "string"}}}},
    },
)
def export_suppressions(
    cursor: Cursor = None,
    active: Annotated[bool | None, Query(description="true: in force; false: lifted")] = None,
) -> Response[Any]:
    text, next_cursor = suppressions.export_suppressions(
        context.tenant_uow(), context.tenant_id(), decode_position(cursor), active=active
    )
    headers = {"Content-Disposition": 'attachment; filename="suppressions.csv"'}
    if next_cursor is not None:
        headers["X-Next-Cursor"] = next_cursor
    return Response(status_code=200, content_type="text/csv", body=text, headers=headers)


def _csv_body() -> str:
    event = router.current_event
    return read_text(body_bytes(event.body or "", bool(event.is_base64_encoded)))
