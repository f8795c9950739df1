"""A signing-secret reference the resolver refuses (a `local:` value outside the local
stage) makes a webhook unverifiable: 401 and a log line for the operator, never a read
of the secret and never a 5xx."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from tests.support.webhook_samples import load_sample, signed_event
from tests.support.webhooks import AddAccount, Deliver
from tether.config import stage_settings


@pytest.fixture
def dev_stage(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("TETHER_STAGE", "dev")
    stage_settings.cache_clear()
    yield
    monkeypatch.undo()
    stage_settings.cache_clear()


def test_a_local_secret_outside_the_local_stage_is_refused_with_401(
    deliver: Deliver, add_account: AddAccount, dev_stage: None, caplog: pytest.LogCaptureFixture
) -> None:
    account_id = add_account("sandbox")  # signed with a local: reference
    response = deliver(signed_event(load_sample("sandbox_inbound"), account_id=account_id))
    assert response["statusCode"] == 401
    assert "no signing secret" in json.loads(response["body"])["message"]
    refused = [r for r in caplog.records if r.getMessage() == "signing secret refused"]
    assert refused
    assert refused[0].__dict__["provider_account_id"] == account_id
    assert "local stage only" in refused[0].__dict__["reason"]
