"""The pure rules of webhook subscriptions: Tether's Standard Webhooks signature as the
official library verifies it, the retry schedule, and which URLs are refused."""

from __future__ import annotations

import base64
import json
import time
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from tether.domain.subscriptions import (
    FIRST_RETRY,
    LONGEST_WAIT,
    RETRY_WINDOW,
    InvalidSubscriptionUrl,
    check_subscription_url,
    public_host,
    retry_at,
    sign,
)
from tether.services.subscriptions import new_secret

START = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


JSON = st.dictionaries(st.text(max_size=20), st.one_of(st.text(), st.integers(), st.none()))


@settings(max_examples=50)
@given(data=JSON, webhook_id=st.from_regex(r"msg_[0-9a-f]{32}", fullmatch=True))
def test_the_official_library_verifies_tethers_signature(
    data: dict[str, object], webhook_id: str
) -> None:
    """Over any JSON body (the library parses what it verifies), with Unicode."""
    body = json.dumps({"id": webhook_id, "data": data}, ensure_ascii=False).encode()
    secret = new_secret()
    now = int(time.time())
    headers = {
        "webhook-id": webhook_id,
        "webhook-timestamp": str(now),
        "webhook-signature": sign(secret, webhook_id, now, body),
    }
    Webhook(secret).verify(body, headers)
    other = new_secret()
    with pytest.raises(WebhookVerificationError):
        Webhook(other).verify(body, headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(body + b" ", headers)  # one byte more


def test_a_secret_is_whsec_and_32_random_bytes() -> None:
    secrets = {new_secret() for _ in range(20)}
    assert len(secrets) == 20
    for secret in secrets:
        assert secret.startswith("whsec_")
        assert len(base64.b64decode(secret.removeprefix("whsec_"))) == 32


@given(
    attempts=st.integers(min_value=1, max_value=60),
    elapsed=st.timedeltas(min_value=timedelta(0), max_value=timedelta(hours=30)),
    jitter=st.floats(min_value=0, max_value=1, exclude_max=True),
)
def test_retries_back_off_within_24_hours_then_stop(
    attempts: int, elapsed: timedelta, jitter: float
) -> None:
    now = START + elapsed
    later = retry_at(START, attempts, now, jitter)
    if elapsed >= RETRY_WINDOW:
        assert later is None
        return
    assert later is not None
    assert now < later <= START + RETRY_WINDOW
    wait = later - now
    full = min(FIRST_RETRY * 2 ** min(attempts - 1, 20), LONGEST_WAIT)
    assert wait <= full
    assert wait >= full / 2 or later == START + RETRY_WINDOW


def test_the_waits_double() -> None:
    waits = [retry_at(START, n, START, 0.0) for n in (1, 2, 3, 4)]
    assert [w - START for w in waits if w] == [timedelta(seconds=s) for s in (15, 30, 60, 120)]


@pytest.mark.parametrize(
    ("url", "local", "deployed"),
    [
        ("https://hooks.example.com/in", True, True),
        ("HTTPS://hooks.example.com/in", True, True),
        ("https://hooks.example.com:8443/in?x=1", True, True),
        ("http://hooks.example.com/in", False, False),
        ("http://localhost:8080/in", True, False),
        ("http://127.0.0.1:8080/in", True, False),
        ("http://[::1]:8080/in", True, False),
        ("https://169.254.169.254/latest/meta-data", True, False),
        ("https://10.0.0.8/in", True, False),
        ("https://[fd00::1]/in", True, False),
        ("https://[::ffff:127.0.0.1]/in", True, False),
        ("https://100.64.0.1/in", True, False),
        ("https://metadata.google.internal/", True, False),
        ("https://intranet/in", True, False),
        ("https://user:pw@hooks.example.com/in", False, False),
        ("https://hooks.example.com/in#frag", False, False),
        ("https://hooks.example.com:99999/in", False, False),
        ("https:///in", False, False),
        ("javascript:alert(1)", False, False),
        ("https://hooks.example.com/a b", False, False),
    ],
)
def test_which_urls_are_taken(url: str, local: bool, deployed: bool) -> None:
    for stage_is_local, expected in ((True, local), (False, deployed)):
        if expected:
            assert check_subscription_url(url, local_stage=stage_is_local).lower() == url.lower()
        else:
            with pytest.raises(InvalidSubscriptionUrl):
                check_subscription_url(url, local_stage=stage_is_local)


def test_public_hosts() -> None:
    assert public_host("hooks.example.com")
    assert public_host("8.8.8.8")
    for host in (
        "localhost",
        "a.localhost",
        "0.0.0.0",  # noqa: S104 - refused, not bound
        "224.0.0.1",
        "[::]",
        "192.168.1.1",
    ):
        assert not public_host(host), host
