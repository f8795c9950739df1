"""Secret references, signing-secret rotation, and the error-to-status table."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from tether.domain.errors import ConfigurationError, DependencyUnavailable, InProgress, NotFound
from tether.domain.provider_account import ProviderAccount
from tether.http import error_response
from tether.secrets import resolve_secret
from tether.webhooks import errors

NOW = datetime(2026, 1, 15, tzinfo=UTC)


def account(**changes: object) -> ProviderAccount:
    values: dict[str, object] = {
        "id": uuid.uuid4(),
        "tenant_id": uuid.uuid4(),
        "provider": "signalhouse",
        "signing_secret_ref": "local:new",
        "previous_signing_secret_ref": "local:old",
        "previous_secret_expires_at": NOW + timedelta(hours=1),
    }
    values.update(changes)
    return ProviderAccount(**values)  # type: ignore[arg-type]


def test_both_secrets_verify_during_the_grace_period_only() -> None:
    assert account().signing_secret_refs(NOW) == ["local:new", "local:old"]
    assert account().signing_secret_refs(NOW + timedelta(hours=1)) == ["local:new"]
    assert (
        account(signing_secret_ref=None, previous_signing_secret_ref=None).signing_secret_refs(NOW)
        == []
    )


def test_local_references_are_their_value_and_unknown_ones_are_refused() -> None:
    tenant = uuid.uuid4()
    assert resolve_secret("local:s3cr3t:with:colons", tenant) == "s3cr3t:with:colons"
    with pytest.raises(ConfigurationError):
        resolve_secret("vault://somewhere", tenant)


@pytest.mark.parametrize(
    ("error", "status", "header"),
    [
        (errors.MethodNotAllowed("use POST"), 405, ("Allow", "POST")),
        (errors.UnknownWebhookTarget("no such account"), 404, None),
        (NotFound("lead", 1), 404, None),
        (errors.PayloadTooLarge("big"), 413, None),
        (errors.UnsupportedMediaType("xml"), 415, None),
        (errors.InvalidSignature("bad"), 401, None),
        (errors.MalformedPayload("what is wrong"), 400, None),
        (errors.EventIdReused("reused"), 409, None),
        (InProgress("busy"), 409, ("Retry-After", "1")),
        (DependencyUnavailable("SQS"), 503, ("Retry-After", "5")),
        (ConfigurationError("bad ref"), 500, None),
        (RuntimeError("bug"), 500, None),
    ],
)
def test_each_error_has_one_status(
    error: Exception, status: int, header: tuple[str, str] | None
) -> None:
    response = error_response(error)
    assert response["statusCode"] == status
    body = json.loads(response["body"])
    if status < 500:
        assert body["message"] == str(error)  # a client's error says what is wrong
    else:
        assert str(error) not in body["message"]  # Tether's own never leaks
    if header:
        assert response["headers"][header[0]] == header[1]
