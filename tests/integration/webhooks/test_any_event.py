"""Issue 13's done-when, as a property: any signed event, of any provider, with any
Unicode (control characters, NUL, unpaired surrogates), extreme numbers and odd phone
strings in any field, posted through the local gateway over real HTTP, is never a 5xx,
and every 200 leaves exactly one receipt (a retry of it, none more).

The requests are signed by independent code: the `twilio` SDK's RequestValidator, the
`standardwebhooks` library, `cryptography`'s Ed25519 and plain HMACs written here, never
Tether's own signing helpers.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import math
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode

import pytest
import urllib3
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from standardwebhooks import Webhook
from twilio.request_validator import RequestValidator

import functions.webhook.app as webhook_app
from tests.support.webhook_samples import SAMPLES, SECRETS, TELNYX_PRIVATE_KEY, load_sample
from tests.support.webhooks import AddAccount, FakeLambdaContext, receipts
from tether.db.connection import Connection
from tether.services.webhooks import WebhookPorts
from tether_dev.local.gateway import LocalGateway
from tether_dev.local.runtime import Invocation
from tether_dev.local.template import Route

# examples per sample (12 samples, five providers); 240 cases, about 35 s
EXAMPLES_PER_SAMPLE = 20
BIG_INTEGER = "__BIG_INTEGER__"  # written into the JSON as a 5,000-digit literal
ROUTE = Route("ANY", "/webhooks/{provider}/{account_id}", "WebhookFunction")

# any code point at all, surrogates included, with the troublesome ones made likely
any_text = st.one_of(
    st.text(st.characters(codec=None, categories=None), max_size=40),
    st.text(st.sampled_from(["\x00", "\ud800", "\udfff", "\x07", "\u2028", "S", "T", "O", "P"])),
    st.sampled_from(["STOP\x00", "\x00", "\ud83d", "STOP\ud800", ""]),
)
odd_phone = st.sampled_from(
    ["+1 212 555 0", "+", "0", "٣٤٥٦", "+1" + "9" * 300, "(415) 555-2671", "+14155552671"]
)
extreme_number = st.one_of(
    st.sampled_from([math.nan, math.inf, -math.inf, 1e20, -1e20, 1e300, -0.0, BIG_INTEGER]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(),
)
any_value = st.one_of(any_text, odd_phone, extreme_number, st.none(), st.booleans())


@pytest.fixture
def gateway(ports: WebhookPorts, monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalGateway]:
    """The local gateway serving the webhook function (in this process, on moto and the
    test database), as `make dev` serves it."""
    monkeypatch.setattr(webhook_app, "webhook_ports", lambda: ports)

    def invoke(function: str, event: dict[str, Any], request_id: str) -> Invocation:
        try:
            result = webhook_app.handler(event, FakeLambdaContext())
        except Exception as error:  # the gateway answers 502, which the test refuses
            return Invocation(function, None, error, 1.0, False)
        return Invocation(function, result, None, 1.0, False)

    served = LocalGateway([ROUTE], "dev", invoke, "127.0.0.1", 0).start()
    yield served
    served.close()


def mutated_json(value: Any, data: st.DataObject, root: bool = True) -> Any:
    """`value` with any of its leaves (and sometimes a whole branch) replaced."""
    if not root and data.draw(st.integers(0, 15)) == 0:
        return data.draw(any_value)
    if isinstance(value, dict):
        return {k: mutated_json(v, data, False) for k, v in value.items()}
    if isinstance(value, list):
        return [mutated_json(v, data, False) for v in value]
    if data.draw(st.integers(0, 5)) != 0:
        return value
    # mostly of the leaf's own kind, so that the event often still parses and is stored
    if isinstance(value, str) and data.draw(st.integers(0, 9)):
        return data.draw(st.one_of(any_text, odd_phone))
    if isinstance(value, int | float) and data.draw(st.integers(0, 9)):
        return data.draw(extreme_number)
    return data.draw(any_value)


def json_body(sample: dict[str, Any], data: st.DataObject) -> bytes:
    text = json.dumps(mutated_json(json.loads(sample["body"]), data))  # NaN, \ud800 escapes
    return text.replace(f'"{BIG_INTEGER}"', "9" * 5000).encode()


def form_pairs(sample: dict[str, Any], data: st.DataObject) -> list[tuple[str, str]]:
    pairs = []
    for name, value in parse_qsl(sample["body"], keep_blank_values=True):
        if data.draw(st.integers(0, 3)) == 0:
            value = str(data.draw(any_value))
        pairs.append((name, value))
        if data.draw(st.integers(0, 9)) == 0:  # a repeated parameter
            pairs.append((name, value))
    return pairs


def sign(
    provider: str, url: str, body: bytes, headers: dict[str, str], form: list[tuple[str, str]]
) -> None:
    now = datetime.now(UTC)
    secret = SECRETS[provider]
    if provider == "twilio" or (provider == "signalwire" and form):
        validator = RequestValidator(secret)
        values: dict[str, list[str]] = {}
        for name, value in form:
            values.setdefault(name, []).append(value)
        signature = validator.compute_signature(url, _Multi(values))
        headers["X-Twilio-Signature" if provider == "twilio" else "X-SignalWire-Signature"] = (
            signature
        )
    elif provider == "signalwire":
        digest = hmac.new(secret.encode(), url.encode() + body, hashlib.sha1).hexdigest()
        headers["X-SignalWire-Signature"] = digest
    elif provider == "telnyx":
        timestamp = str(int(now.timestamp()))
        headers["telnyx-timestamp"] = timestamp
        headers["telnyx-signature-ed25519"] = base64.b64encode(
            TELNYX_PRIVATE_KEY.sign(timestamp.encode() + b"|" + body)
        ).decode()
    elif provider == "signalhouse":
        timestamp_ms = str(int(now.timestamp() * 1000))
        headers["X-SignalHouse-Timestamp"] = timestamp_ms
        headers["X-SignalHouse-Signature"] = hmac.new(
            secret.encode(), timestamp_ms.encode() + b"." + body, hashlib.sha256
        ).hexdigest()
    else:
        headers["webhook-timestamp"] = str(int(now.timestamp()))
        headers["webhook-signature"] = Webhook(secret).sign(
            headers["webhook-id"], now, body.decode()
        )


class _Multi(dict[str, list[str]]):
    def getall(self, name: str) -> list[str]:
        return self[name]


header_text = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=60)


@pytest.mark.parametrize("name", SAMPLES)
@settings(
    max_examples=EXAMPLES_PER_SAMPLE,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_any_signed_event_is_never_a_5xx_and_each_200_is_one_receipt(
    name: str,
    data: st.DataObject,
    gateway: LocalGateway,
    add_account: AddAccount,
    admin: Connection,
) -> None:
    sample = load_sample(name)
    provider = sample["pathParameters"]["provider"]
    account_id = add_account(provider)
    path = f"/webhooks/{provider}/{account_id}"
    url = gateway.url + path
    headers = {"Content-Type": sample["headers"]["Content-Type"]}
    form: list[tuple[str, str]] = []
    if headers["Content-Type"] == "application/x-www-form-urlencoded":
        form = form_pairs(sample, data)
        body = urlencode(form, errors="surrogatepass").encode()
    else:
        body = json_body(sample, data)
    # the provider's own id of the delivery, where it sends one in a header
    if provider == "sandbox":
        headers["webhook-id"] = data.draw(header_text.filter(str.strip)).strip()
    if provider == "signalhouse":
        headers["X-SignalHouse-Delivery-Id"] = data.draw(header_text)
    # form values as the SDK sees them: what the framework decoded from the body
    sign(
        provider,
        url,
        body,
        headers,
        parse_qsl(body.decode(), keep_blank_values=True) if form else [],
    )

    first = urllib3.request("POST", url, body=body, headers=headers, retries=False, timeout=30)
    again = urllib3.request("POST", url, body=body, headers=headers, retries=False, timeout=30)
    event(f"{name}: {first.status}")

    assert first.status < 500, (first.status, first.data[:500], body[:300])
    assert again.status < 500, (again.status, again.data[:500])
    stored = receipts(admin, account_id)
    if first.status == 200:
        assert again.status == 200
        assert len(stored) == 1
        assert bytes(stored[0]["raw_bytes"]) == body
    else:
        assert stored == [], first.data
        assert json.loads(first.data)["message"]  # a 4xx says what is wrong


@pytest.mark.parametrize("name", SAMPLES)
def test_the_samples_signed_by_this_harness_are_accepted(
    name: str, gateway: LocalGateway, add_account: AddAccount, admin: Connection
) -> None:
    """The signing above is right, so the property's 4xx are the payload's doing."""
    sample = load_sample(name)
    provider = sample["pathParameters"]["provider"]
    account_id = add_account(provider)
    url = f"{gateway.url}/webhooks/{provider}/{account_id}"
    # the provider's own headers; the gateway adds Host and the X-Forwarded ones
    headers = {
        k: v
        for k, v in sample["headers"].items()
        if k.lower() not in ("host", "x-amzn-trace-id") and not k.lower().startswith("x-forwarded")
    }
    body = sample["body"].encode()
    form = headers["Content-Type"] == "application/x-www-form-urlencoded"
    sign(
        provider,
        url,
        body,
        headers,
        parse_qsl(sample["body"], keep_blank_values=True) if form else [],
    )
    answer = urllib3.request("POST", url, body=body, headers=headers, retries=False)
    assert answer.status == 200, answer.data
    assert len(receipts(admin, account_id)) == 1
