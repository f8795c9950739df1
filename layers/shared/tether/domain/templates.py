"""Message templates with merge fields, and a campaign's weighted variants. Pure.

Syntax (README, "Templates"):

- ``{first_name}``, ``{last_name}``, ``{company}``, ``{sender_name}``: the lead's
  fields, and the campaign's sender name;
- ``{custom.NAME}``: the lead's custom field NAME (its ``attributes``); custom fields
  are namespaced so that a typo in a standard field is an error when the campaign is
  saved, whatever the leads hold (they are often imported after the campaign);
- ``{first_name|there}``: the fallback after ``|`` is used when the value is missing or
  blank (``{first_name|}`` asks for nothing in its place);
- ``{{`` and ``}}`` write a literal brace; a lone ``}`` is an error, as in Python's
  str.format, so a half-typed field never reaches a lead.

Field names are matched without regard to case or surrounding spaces. A field with no
fallback and no value refuses the send for that lead (`MissingMergeValue`): a text with
a hole in it ("Hi , ...") reaches a real person and cannot be taken back, while a
refused lead is reported and is sent to by the next launch once its field is filled.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from uuid import UUID

from tether.domain.errors import InvalidInput

STANDARD_FIELDS = ("first_name", "last_name", "company", "sender_name")
CUSTOM_PREFIX = "custom."
# A custom field's name (a key of a lead's attributes); the database checks the same.
CUSTOM_NAME = re.compile(r"[a-z0-9_][a-z0-9_.-]{0,63}")
MAX_TEMPLATE_LENGTH = 1600
MAX_RENDERED_LENGTH = 1600  # what a send's body may hold
DEFAULT_VARIANT = "default"  # the one variant of a campaign with a plain template
VARIANT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,39}")
MAX_VARIANTS = 20
MAX_WEIGHT = 1000


class TemplateError(InvalidInput):
    """A template that cannot be used: `reason` names the field and `position` (0-based,
    in characters) where the problem starts."""

    def __init__(self, reason: str, position: int, field: str | None = None) -> None:
        super().__init__(f"{reason} at position {position}")
        self.reason = reason
        self.position = position
        self.field = field

    def within(self, where: str) -> TemplateError:
        """The same error, said of `where` (a variant, the follow-up template)."""
        return TemplateError(f"{where}: {self.reason}", self.position, self.field)


class MissingMergeValue(InvalidInput):
    """A lead lacks a value the template needs and the field has no fallback."""

    def __init__(self, field: str) -> None:
        super().__init__(
            f"the lead has no {field} and the template's {{{field}}} has no fallback:"
            f" fill it in, or write {{{field}|...}}"
        )
        self.field = field


@dataclass(frozen=True, slots=True)
class Field:
    name: str  # lower-case: first_name, custom.city, ...
    fallback: str | None  # None: no fallback; '' : nothing in its place
    position: int


@dataclass(frozen=True, slots=True)
class Template:
    """A parsed template: literal text and fields, in order."""

    parts: tuple[str | Field, ...]

    @property
    def fields(self) -> tuple[Field, ...]:
        return tuple(part for part in self.parts if isinstance(part, Field))


@dataclass(frozen=True, slots=True)
class MergeValues:
    """What a lead's text may say about it and its campaign."""

    first_name: str | None = None
    last_name: str | None = None
    company: str | None = None
    sender_name: str | None = None
    custom: Mapping[str, str] | None = None

    def value(self, name: str) -> str | None:
        if name.startswith(CUSTOM_PREFIX):
            found = (self.custom or {}).get(name.removeprefix(CUSTOM_PREFIX))
            return found if isinstance(found, str) else None
        value: str | None = getattr(self, name)
        return value


@lru_cache(maxsize=256)
def parse(text: str) -> Template:
    """The template in `text`, or TemplateError naming what is wrong and where."""
    if len(text) > MAX_TEMPLATE_LENGTH:
        raise TemplateError(
            f"the template is {len(text)} characters, over {MAX_TEMPLATE_LENGTH}",
            MAX_TEMPLATE_LENGTH,
        )
    parts: list[str | Field] = []
    literal: list[str] = []
    index, end = 0, len(text)
    while index < end:
        char = text[index]
        if char == "{" and text.startswith("{{", index):
            literal.append("{")
            index += 2
        elif char == "}" and text.startswith("}}", index):
            literal.append("}")
            index += 2
        elif char == "}":
            raise TemplateError("a '}' closes no field (write '}}' for a brace)", index)
        elif char == "{":
            close = text.find("}", index + 1)
            opened = text.find("{", index + 1)
            if close < 0 or 0 <= opened < close:
                raise TemplateError("a '{' is never closed (write '{{' for a brace)", index)
            if literal:
                parts.append("".join(literal))
                literal = []
            parts.append(_field(text[index + 1 : close], index))
            index = close + 1
        else:
            literal.append(char)
            index += 1
    if literal:
        parts.append("".join(literal))
    return Template(tuple(parts))


def _field(inside: str, position: int) -> Field:
    raw_name, bar, fallback = inside.partition("|")
    name = raw_name.strip().lower()
    if not name:
        raise TemplateError("a field has no name ('{}')", position)
    if name.startswith(CUSTOM_PREFIX):
        custom = name.removeprefix(CUSTOM_PREFIX)
        if not CUSTOM_NAME.fullmatch(custom):
            raise TemplateError(
                f"custom field {{{raw_name.strip()}}} is not a custom field name (letters,"
                " digits, '_', '.', '-'; at most 64)",
                position,
                name,
            )
    elif name not in STANDARD_FIELDS:
        raise TemplateError(
            f"unknown field {{{raw_name.strip()}}} (known: {', '.join(STANDARD_FIELDS)},"
            " custom.<name>)",
            position,
            name,
        )
    return Field(name, fallback if bar else None, position)


def render(template: Template, values: MergeValues) -> str:
    """The text for one lead: each field's value (trimmed), else its fallback; a field
    with neither raises MissingMergeValue."""
    out: list[str] = []
    for part in template.parts:
        if isinstance(part, str):
            out.append(part)
            continue
        value = (values.value(part.name) or "").strip()
        if value:
            out.append(value)
        elif part.fallback is not None:
            out.append(part.fallback)
        else:
            raise MissingMergeValue(part.name)
    return "".join(out)


def custom_field_name(raw: str) -> str | None:
    """A spreadsheet column's name as a custom field name ("Home City" → home_city), or
    None when nothing of it can name one."""
    name = re.sub(r"[^a-z0-9_.-]+", "_", raw.strip().lower()).strip("_.-")
    name = name[:64].rstrip("_.-") if len(name) > 64 else name
    return name if name and CUSTOM_NAME.fullmatch(name) else None


@dataclass(frozen=True, slots=True)
class Variant:
    """One of a campaign's templates, sent to a share of its leads by weight."""

    name: str
    template: str
    weight: int = 1


def check_variants(variants: Sequence[Variant], sender_name: str | None) -> None:
    """TemplateError or InvalidInput unless the variants may be a campaign's: named
    once each, weighed 1..MAX_WEIGHT, each a valid template that needs no sender name
    the campaign lacks."""
    if len(variants) > MAX_VARIANTS:
        raise InvalidInput(f"at most {MAX_VARIANTS} variants")
    seen: set[str] = set()
    for variant in variants:
        if not VARIANT_NAME.fullmatch(variant.name):
            raise InvalidInput(
                f"variant name {variant.name[:50]!r}: letters, digits, '_' and '-', at most 40"
            )
        if variant.name in seen:
            raise InvalidInput(f"variant {variant.name!r} is named twice")
        seen.add(variant.name)
        if not 1 <= variant.weight <= MAX_WEIGHT:
            raise InvalidInput(f"variant {variant.name!r}: weight must be 1 to {MAX_WEIGHT}")
        check_template(variant.template, sender_name, where=f"variant {variant.name!r}")


def check_template(text: str, sender_name: str | None, *, where: str = "template") -> Template:
    """The parsed template, or TemplateError naming `where`, the field and the position.
    A blank template is refused too; so is {sender_name} with no fallback when the
    campaign has no sender name (every send would be refused)."""
    if not text.strip():
        raise TemplateError(f"{where}: is blank", 0)
    try:
        template = parse(text)
    except TemplateError as error:
        raise error.within(where) from None
    if not (sender_name or "").strip():
        for field in template.fields:
            if field.name == "sender_name" and field.fallback is None:
                raise TemplateError(
                    f"{where}: {{sender_name}} has no fallback and the campaign has no sender_name",
                    field.position,
                    field.name,
                )
    return template


def choose_variant(campaign_id: UUID, lead_id: UUID, variants: Sequence[Variant]) -> Variant:
    """The lead's variant, the same on every call and in every process: the first 8
    bytes of SHA-256 over "<campaign id>:<lead id>" (canonical lower-case UUIDs), read
    big-endian as a number in [0, 2**64), scaled onto the total weight; the variants are
    laid end to end in name order, each as wide as its weight."""
    if not variants:
        raise ValueError("a campaign without variants chooses none")
    ordered = sorted(variants, key=lambda v: v.name)
    total = sum(v.weight for v in ordered)
    digest = hashlib.sha256(f"{campaign_id}:{lead_id}".encode("ascii")).digest()
    point = (int.from_bytes(digest[:8], "big") * total) >> 64
    for variant in ordered:
        if point < variant.weight:
            return variant
        point -= variant.weight
    raise AssertionError("unreachable: point < total")
