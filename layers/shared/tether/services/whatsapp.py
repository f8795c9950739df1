"""A tenant's WhatsApp templates: registered as its provider approved them, listed.

Meta approves templates through the provider (Twilio's Content Template Builder, the
Telnyx portal or API); Tether keeps what it needs to send one and to check the 24-hour
window's rule: name, language, the provider's id, the body with its {{n}} variables and
its review status. Only an 'approved' one may go.
"""

from __future__ import annotations

from uuid import UUID

from tether.db.unit_of_work import UnitOfWork
from tether.domain.whatsapp import WhatsAppTemplate, check_template_body
from tether.observability import logger

MAX_TEMPLATES = 500


def register_template(
    uow: UnitOfWork,
    tenant_id: UUID,
    name: str,
    language: str,
    provider_template_id: str,
    body: str,
    status: str,
) -> WhatsAppTemplate:
    """Register a template (or update the one of this name and language)."""
    check_template_body(body)
    with uow:
        template = uow.whatsapp_templates.save(
            tenant_id, name, language, provider_template_id.strip(), body, status
        )
        uow.commit()
    logger.info(
        "whatsapp template registered",
        extra={
            "tenant_id": str(tenant_id),
            "template": name,
            "language": language,
            "status": status,
        },
    )
    return template


def list_templates(uow: UnitOfWork) -> list[WhatsAppTemplate]:
    with uow:
        return uow.whatsapp_templates.listed(MAX_TEMPLATES)
