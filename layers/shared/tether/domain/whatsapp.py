"""WhatsApp as Tether sends it (issue 18): which providers carry it, its addresses, and
its approved templates (Meta's `{{1}}` placeholders). Pure.

Free-form text may go only inside the 24-hour customer-service window that the person's
last message opened (tether.domain.send_gates.session_window_refusal); outside it, only
a template Meta approved. Tether keeps each tenant's approved templates and renders
their body for the record, while the provider is sent the template's id and the values.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from uuid import UUID

from tether.domain.errors import InvalidInput

# The providers whose messaging API carries WhatsApp (issue 18's report lists the
# documents): Twilio (`whatsapp:+E164` on the Messages API) and Telnyx
# (POST /v2/messages/whatsapp); the local sandbox imitates them. SignalWire and
# SignalHouse send SMS/MMS only. Migration 0036's provider_carries_whatsapp() agrees.
WHATSAPP_PROVIDERS = frozenset({"twilio", "telnyx", "sandbox"})

ADDRESS_PREFIX = "whatsapp:"
PLACEHOLDER = re.compile(r"\{\{\s*([0-9]{1,2})\s*\}\}")
MAX_VARIABLE_LENGTH = 1024
TEMPLATE_STATUSES = ("approved", "pending", "rejected", "paused", "disabled")


def check_template_use(
    channel: str, templated: bool, body: str | None, media_urls: Sequence[str]
) -> None:
    """A WhatsApp template send goes on channel 'whatsapp' and brings no body or media of
    its own (ValueError, which the request models turn into a 422)."""
    if templated:
        if channel != "whatsapp":
            raise ValueError("whatsapp_template goes with channel 'whatsapp'")
        if body is not None or media_urls:
            raise ValueError("a WhatsApp template send has no body or media of its own")


def carries_whatsapp(provider: str) -> bool:
    return provider in WHATSAPP_PROVIDERS


def split_address(address: str) -> tuple[bool, str]:
    """Whether a provider's address is a WhatsApp one, and the address without the
    `whatsapp:` prefix (any case, spaces around it dropped)."""
    stripped = address.strip()
    if stripped[: len(ADDRESS_PREFIX)].lower() == ADDRESS_PREFIX:
        return True, stripped[len(ADDRESS_PREFIX) :].strip()
    return False, address


def whatsapp_address(e164: str) -> str:
    return f"{ADDRESS_PREFIX}{e164}"


@dataclass(frozen=True, slots=True)
class WhatsAppTemplate:
    """A tenant's WhatsApp template, as its provider knows it."""

    id: UUID
    tenant_id: UUID
    name: str
    language: str
    provider_template_id: str
    body: str
    status: str

    @property
    def approved(self) -> bool:
        return self.status == "approved"

    def placeholders(self) -> list[str]:
        return placeholders(self.body)

    def render(self, variables: Mapping[str, str]) -> str:
        return render_template(self.body, variables)


def placeholders(body: str) -> list[str]:
    """The template's variables ("1", "2" ...), each once, in order of first use."""
    return list(dict.fromkeys(match.group(1) for match in PLACEHOLDER.finditer(body)))


def check_template_body(body: str) -> None:
    """Meta numbers a template's variables from {{1}} up without gaps."""
    found = sorted({int(name) for name in placeholders(body)})
    if found and found != list(range(1, len(found) + 1)):
        raise InvalidInput(
            f"the template's variables must be numbered {{{{1}}}} to {{{{{len(found)}}}}}"
            f" without gaps; found {', '.join(str(n) for n in found)}"
        )


def render_template(body: str, variables: Mapping[str, str]) -> str:
    """The template's body with each `{{n}}` replaced by its value: every placeholder
    needs a non-blank value, and no value may name a placeholder the body lacks (what a
    provider refuses, refused here before anything is stored)."""
    wanted = placeholders(body)
    missing = [name for name in wanted if not str(variables.get(name, "")).strip()]
    if missing:
        raise InvalidInput(
            f"the template needs a value for {', '.join('{{' + n + '}}' for n in missing)}"
        )
    unknown = sorted(set(variables) - set(wanted))
    if unknown:
        raise InvalidInput(f"the template has no variable {', '.join(unknown)}")
    too_long = [name for name in wanted if len(variables[name]) > MAX_VARIABLE_LENGTH]
    if too_long:
        raise InvalidInput(f"variable {too_long[0]} is over {MAX_VARIABLE_LENGTH} characters")
    return PLACEHOLDER.sub(lambda match: variables[match.group(1)], body)


class SessionWindowClosed(InvalidInput):
    """Free-form text asked for outside the channel's customer-service window."""
