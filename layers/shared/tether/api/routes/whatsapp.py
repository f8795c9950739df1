"""/v1/whatsapp-templates: the tenant's WhatsApp templates, as its provider approved them
(outside the 24-hour window, only an approved one may go)."""

from __future__ import annotations

from aws_lambda_powertools.event_handler.api_gateway import Router

from tether.api import context, scopes
from tether.api.openapi import responses
from tether.api.schemas import Page, WhatsAppTemplate, WhatsAppTemplateIn
from tether.domain.whatsapp import WhatsAppTemplate as TemplateEntity
from tether.services.whatsapp import list_templates, register_template

router = Router()  # type: ignore[no-untyped-call]


def _template(template: TemplateEntity) -> WhatsAppTemplate:
    return WhatsAppTemplate(
        id=template.id,
        name=template.name,
        language=template.language,
        provider_template_id=template.provider_template_id,
        body=template.body,
        status=template.status,
    )


@router.post(
    "/whatsapp-templates",
    openapi_extensions=scopes.WRITE,
    tags=["whatsapp"],
    summary="Register a WhatsApp template as its provider has it (name and language; the"
    " same again updates its provider id, body and status)",
    responses=responses(200, 422),
)
def put_template(body: WhatsAppTemplateIn) -> WhatsAppTemplate:
    template = register_template(
        context.tenant_uow(),
        context.tenant_id(),
        body.name,
        body.language,
        body.provider_template_id,
        body.body,
        body.status,
    )
    return _template(template)


@router.get(
    "/whatsapp-templates",
    openapi_extensions=scopes.READ,
    tags=["whatsapp"],
    summary="The tenant's WhatsApp templates, by name and language (one page: at most 500)",
    responses=responses(),
)
def get_templates() -> Page[WhatsAppTemplate]:
    templates = list_templates(context.tenant_uow())
    return Page[WhatsAppTemplate](items=[_template(t) for t in templates], next_cursor=None)
