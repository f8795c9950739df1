"""Recorded events read back and checked against their published JSON Schemas
(schemas/events/<type>.v1.json), with jsonschema's format checks (uuid, date-time)."""

from __future__ import annotations

import json
import uuid
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator

from tether.db.connection import Connection, FreshConnections
from tether.db.unit_of_work import UnitOfWork
from tether.domain.outbox import EventType, OutboxEvent

SCHEMAS = Path(__file__).resolve().parents[2] / "schemas" / "events"


def schema_path(type: EventType, version: int = 1) -> Path:
    return SCHEMAS / f"{type.value}.v{version}.json"


@cache
def validator(type: EventType, version: int = 1) -> Draft202012Validator:
    schema = json.loads(schema_path(type, version).read_text())
    return Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)


def check(event: OutboxEvent) -> dict[str, Any]:
    """The event's envelope, as JSON on the wire, once its schema has accepted it."""
    envelope: dict[str, Any] = json.loads(json.dumps(event.envelope()))
    validator(event.type, event.version).validate(envelope)
    return envelope


def recorded(
    admin: Connection, app: FreshConnections, tenant_id: uuid.UUID, *types: EventType
) -> list[OutboxEvent]:
    """The tenant's committed events (of `types`, or all), in recorded order, each checked
    against its schema: every flow that records events validates them this way."""
    rows = admin.execute(
        "SELECT id FROM outbox_events WHERE tenant_id = %s"
        " AND (cardinality(%s::text[]) = 0 OR type = ANY(%s::text[])) ORDER BY seq",
        (tenant_id, [t.value for t in types], [t.value for t in types]),
    ).fetchall()
    with UnitOfWork(app, tenant_id) as uow:
        events = uow.outbox.get([row["id"] for row in rows])
    for event in events:
        check(event)
    return events


def kinds(events: list[OutboxEvent]) -> list[str]:
    return [event.type.value for event in events]
