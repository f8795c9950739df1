"""The queue functions' record models: what Lambda hands over parses, with a typed body;
anything else is refused before a record runs (the batch processor reports it back)."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from functions.inbound.app import ReceiptRecord
from functions.outbound.app import SendRecord
from tether.config import PROJECT_ROOT
from tether.services.outbound import SENDS_PER_MESSAGE, OutboundBundle, OutboundMessage
from tether.services.receipts import ReceiptMessage

SAMPLES = [
    ("inbound.json", ReceiptRecord, ReceiptMessage),
    ("outbound.json", SendRecord, OutboundMessage),
    ("outbound_bundle.json", SendRecord, OutboundBundle),
]


def sample_record(name: str) -> dict[str, Any]:
    event = json.loads((PROJECT_ROOT / "events" / name).read_text())
    record: dict[str, Any] = event["Records"][0]
    return record


@pytest.mark.parametrize(("name", "model", "body"), SAMPLES)
def test_the_sample_event_parses_with_a_typed_body(
    name: str, model: type[BaseModel], body: type[BaseModel]
) -> None:
    record = sample_record(name)
    parsed = model.model_validate(record)
    assert isinstance(parsed.body, body)  # type: ignore[attr-defined]
    assert parsed.body == body.model_validate_json(record["body"])  # type: ignore[attr-defined]


@pytest.mark.parametrize(("name", "model", "body"), SAMPLES)
@pytest.mark.parametrize("bad_body", ["", "{not json", "[]", '{"tenant_id": "not-a-uuid"}', "null"])
def test_a_body_that_is_not_the_message_is_refused(
    name: str, model: type[BaseModel], body: type[BaseModel], bad_body: str
) -> None:
    with pytest.raises(ValidationError):
        model.model_validate({**sample_record(name), "body": bad_body})


@pytest.mark.parametrize("count", [0, SENDS_PER_MESSAGE + 1])
def test_a_bundle_of_no_sends_or_too_many_is_refused(count: int) -> None:
    body = {"tenant_id": str(uuid.uuid4()), "message_ids": [str(uuid.uuid4())] * count}
    with pytest.raises(ValidationError):
        SendRecord.model_validate({**sample_record("outbound.json"), "body": json.dumps(body)})
