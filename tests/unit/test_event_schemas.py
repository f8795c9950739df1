"""Every event type has a published, versioned JSON Schema of its envelope and data,
and each schema is itself a valid JSON Schema that names its own type and version."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import pytest
from jsonschema import Draft202012Validator, ValidationError

from tests.support.events import SCHEMAS, check, schema_path
from tether.domain.outbox import EventType, OutboxEvent, state_changed_data


@pytest.mark.parametrize("type", list(EventType))
def test_every_event_type_has_a_valid_schema_of_its_envelope(type: EventType) -> None:
    schema = json.loads(schema_path(type).read_text())
    Draft202012Validator.check_schema(schema)
    assert schema["properties"]["type"] == {"const": type.value}
    assert schema["properties"]["version"] == {"const": 1}
    assert schema["description"]


def test_no_schema_without_its_event_type() -> None:
    assert {p.name for p in SCHEMAS.glob("*.json")} == {f"{t.value}.v1.json" for t in EventType}


def event(type: EventType, data: dict[str, object]) -> OutboxEvent:
    at = datetime(2026, 11, 24, 12, tzinfo=UTC)
    return OutboxEvent(uuid.uuid4(), uuid.uuid4(), type, 1, None, at, data)


def test_a_schema_refuses_what_it_does_not_document() -> None:
    lead = uuid.uuid4()
    good = state_changed_data(lead, "new", "touched", "FIRST_TOUCH")
    check(event(EventType.LEAD_STATE_CHANGED, good))
    check(event(EventType.LEAD_STATE_CHANGED, {}))  # erased: the data is emptied
    for bad in (
        {**good, "to": "nowhere"},  # not a lead state
        {**good, "phone": "+14155550123"},  # a field no schema names
        {k: v for k, v in good.items() if k != "reason"},
        {**good, "lead_id": "not-a-uuid"},
    ):
        with pytest.raises(ValidationError):
            check(event(EventType.LEAD_STATE_CHANGED, bad))
