"""One table from typed errors to status codes, for the webhook and the API alike."""

from __future__ import annotations

import json

import pytest
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestUnsupportedContentType

from tether.api.errors import error_response as api_error_response
from tether.api.errors import proxy_error
from tether.domain.errors import (
    BindingViolation,
    Conflict,
    ConstraintViolation,
    DependencyUnavailable,
    Forbidden,
    IdempotencyKeyReused,
    InProgress,
    InvalidInput,
    InvalidPhoneNumber,
    InvalidState,
    InvalidTransition,
    InvalidValue,
    MalformedBody,
    MethodNotAllowed,
    NoFreeNumber,
    NotFound,
    PayloadTooLarge,
    PoolExhausted,
    SenderUnavailable,
    TooManyFailures,
    Unauthenticated,
    UnsupportedMediaType,
)
from tether.http import ERRORS, error_response, status_of
from tether.webhooks import errors as webhook

ONE_OF_EACH: list[Exception] = [
    MethodNotAllowed("use POST"),
    webhook.UnknownWebhookTarget("no such provider account"),
    NotFound("lead", 1),
    MalformedBody("not valid JSON"),
    Unauthenticated("no key"),
    webhook.InvalidSignature("bad"),
    Forbidden("read only"),
    TooManyFailures(30),
    PayloadTooLarge("big"),
    UnsupportedMediaType("xml"),
    webhook.EventIdReused("reused"),
    IdempotencyKeyReused("reused"),
    InProgress("busy"),
    InvalidTransition("new", "closed"),
    InvalidState("not staged"),
    PoolExhausted("Outreach"),
    NoFreeNumber("Outreach", 2, 1),
    SenderUnavailable("retired"),
    Conflict("campaigns_pkey", "a campaign with this id exists already"),
    BindingViolation("messages_outbound_bound", "bound"),
    ConstraintViolation(None, "a value is not allowed"),
    InvalidValue("a value is out of range or cannot be stored"),
    webhook.MalformedPayload("metaData"),
    InvalidPhoneNumber("+1", "too short"),
    InvalidInput("no"),
    DependencyUnavailable("SQS"),
]


def test_no_row_hides_behind_an_earlier_one() -> None:
    """First match wins, so a row after one of its base classes could never match."""
    for index, (error_type, _, _) in enumerate(ERRORS):
        earlier = [row[0] for row in ERRORS[:index]]
        assert not any(issubclass(error_type, base) for base in earlier), error_type


def test_every_row_is_exercised() -> None:
    for error_type, status, code in ERRORS:
        assert any(
            isinstance(error, error_type) and status_of(error) == (status, code)
            for error in ONE_OF_EACH
        ), error_type


@pytest.mark.parametrize("error", ONE_OF_EACH, ids=lambda error: type(error).__name__)
def test_the_webhook_and_the_api_answer_each_error_alike(error: Exception) -> None:
    status, code = status_of(error)
    hook = error_response(error)
    api = api_error_response(error)
    before_routing = proxy_error(error)
    assert hook["statusCode"] == api.status_code == before_routing["statusCode"] == status
    hook_body = json.loads(hook["body"])
    assert hook_body["error"] == api.body["error"] == code  # type: ignore[index]
    assert hook_body["message"] == api.body["message"]  # type: ignore[index]
    for name, value in (api.headers or {}).items():
        assert hook["headers"][name] == before_routing["headers"][name] == value


def test_a_request_that_cannot_be_read_is_400_and_a_value_that_breaks_a_rule_422() -> None:
    """The one difference between what the webhook and the API refuse, in the table:
    a provider's payload it cannot read (a request refusal) against a readable value
    that breaks a rule."""
    assert status_of(webhook.MalformedPayload("metaData")) == (400, "invalid_input")
    assert status_of(InvalidPhoneNumber("", "empty")) == (422, "invalid_input")
    assert status_of(MalformedBody("not JSON")) == (400, "malformed_body")


def test_one_class_per_refusal_on_both_surfaces() -> None:
    assert webhook.UnsupportedMediaType is UnsupportedMediaType
    assert webhook.PayloadTooLarge is PayloadTooLarge
    assert webhook.MethodNotAllowed is MethodNotAllowed
    # the resolver's own refusal of a media type is answered as Tether's
    refused = api_error_response(RequestUnsupportedContentType("text/xml is not supported", []))
    assert (refused.status_code, refused.body["error"]) == (415, "unsupported_media_type")  # type: ignore[index]


def test_no_driver_error_is_in_the_table() -> None:
    assert all(not row[0].__module__.startswith("psycopg") for row in ERRORS)
