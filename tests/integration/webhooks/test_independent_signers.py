"""Requests signed by the providers' own libraries, not by Tether's code: the official
`twilio` SDK's RequestValidator (HMAC-SHA1, HMAC-SHA256 announced by
X-Twilio-Webhooks-Signature-Settings, repeated values, the port variants, bodySHA256 for
JSON; SignalWire's compatibility callbacks sign the same way) and the `standardwebhooks`
library. What they sign is accepted; anything tampered with is 401."""

from __future__ import annotations

import base64
import copy
import json
import uuid
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode

import pytest
from standardwebhooks import Webhook
from twilio.request_validator import RequestValidator

from tests.support.webhook_samples import load_sample, retarget, twilio_json_event
from tests.support.webhooks import AddAccount, Deliver, receipts
from tether.db.connection import Connection

AUTH_TOKEN = "12345678901234567890123456789012"  # an Auth Token's shape
SHARED_KEY = "webhooks_sharedkey_secret_0123456789abcdef"


def settings(algorithm: str) -> str:
    return f"key=webhooks_sharedkey_SK0123,algorithm={algorithm}"


class MultiDict(dict[str, list[str]]):
    """Repeated form values, as the SDK reads them from Flask's MultiDict (getall)."""

    def getall(self, name: str) -> list[str]:
        return self[name]


def multi(pairs: list[tuple[str, str]]) -> MultiDict:
    values = MultiDict()
    for name, value in pairs:
        values.setdefault(name, []).append(value)
    return values


def public_url(event: dict[str, Any], port: str = "") -> str:
    """The URL the provider called, written out from the event by hand."""
    query = event.get("queryStringParameters")
    return f"https://{event['headers']['Host']}{port}{event['requestContext']['path']}" + (
        f"?{urlencode(query)}" if query else ""
    )


def twilio_form(
    add_account: AddAccount,
    provider: str,
    pairs: list[tuple[str, str]],
    *,
    secret: str = AUTH_TOKEN,
    algorithm: str | None = None,
    port: str = "",
) -> dict[str, Any]:
    account_id = add_account(provider, f"local:{secret}")
    event = retarget(load_sample(f"{provider}_status"), account_id)
    event["body"] = urlencode(pairs)
    validator = RequestValidator(secret)
    signature = validator.compute_signature(public_url(event, port), multi(pairs), algorithm)
    # the SDK's own check agrees before Tether is asked
    assert validator.validate(public_url(event, port), multi(pairs), signature, algorithm)
    header = "X-Twilio-Signature" if provider == "twilio" else "X-SignalWire-Signature"
    event["headers"][header] = signature
    if algorithm:
        event["headers"]["X-Twilio-Webhooks-Signature-Settings"] = settings(algorithm)
    return event


def status_pairs(*extra: tuple[str, str]) -> list[tuple[str, str]]:
    sid = f"SM{uuid.uuid4().hex}"
    return [
        ("MessageSid", sid),
        ("SmsSid", sid),
        ("MessageStatus", "delivered"),
        ("To", "+14155552671"),
        ("From", "+16502530000"),
        *extra,
    ]


def status(deliver: Deliver, event: dict[str, Any]) -> int:
    code: int = deliver(event)["statusCode"]
    return code


PROVIDERS = ["twilio", "signalwire"]


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize(
    ("secret", "algorithm"),
    [(AUTH_TOKEN, None), (AUTH_TOKEN, "HMAC_SHA1"), (SHARED_KEY, "HMAC_SHA256")],
    ids=["sha1", "sha1 announced", "sha256 shared key"],
)
@pytest.mark.parametrize(
    "extra",
    [(), (("Digits", "1"), ("Digits", "1")), (("Digits", "2"), ("Digits", "1"), ("Digits", "2"))],
    ids=["plain", "repeated identical", "repeated mixed"],
)
@pytest.mark.parametrize("port", ["", ":443"], ids=["no port", "with :443"])
def test_what_the_twilio_sdk_signs_is_accepted_and_stored(
    provider: str,
    secret: str,
    algorithm: str | None,
    extra: tuple[tuple[str, str], ...],
    port: str,
    deliver: Deliver,
    add_account: AddAccount,
    admin: Connection,
) -> None:
    event = twilio_form(
        add_account, provider, status_pairs(*extra), secret=secret, algorithm=algorithm, port=port
    )
    assert status(deliver, event) == 200
    assert len(receipts(admin, event["pathParameters"]["account_id"])) == 1


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize(
    "tamper",
    [
        "value",
        "added parameter",
        "dropped repeat",
        "algorithm downgraded",
        "algorithm unknown",
        "other secret",
    ],
)
def test_a_tampered_twilio_request_is_401(
    provider: str, tamper: str, deliver: Deliver, add_account: AddAccount, admin: Connection
) -> None:
    pairs = status_pairs(("Digits", "1"), ("Digits", "2"))
    event = twilio_form(add_account, provider, pairs, secret=SHARED_KEY, algorithm="HMAC_SHA256")
    if tamper == "value":
        event["body"] = event["body"].replace("delivered", "failed")
    elif tamper == "added parameter":
        event["body"] += "&ErrorCode=30007"
    elif tamper == "dropped repeat":
        event["body"] = event["body"].replace("&Digits=2", "")
    elif tamper == "algorithm downgraded":
        del event["headers"]["X-Twilio-Webhooks-Signature-Settings"]
    elif tamper == "algorithm unknown":
        event["headers"]["X-Twilio-Webhooks-Signature-Settings"] = "algorithm=HMAC_MD5"
    else:
        pairs = list(parse_qsl(event["body"]))
        header = "X-Twilio-Signature" if provider == "twilio" else "X-SignalWire-Signature"
        event["headers"][header] = RequestValidator("another token").compute_signature(
            public_url(event), multi(pairs), "HMAC_SHA256"
        )
    response = deliver(event)
    assert response["statusCode"] == 401, response
    assert json.loads(response["body"])["error"] == "invalid_signature"
    assert receipts(admin, event["pathParameters"]["account_id"]) == []


@pytest.mark.parametrize("algorithm", [None, "HMAC_SHA256"])
def test_a_twilio_json_callback_signed_by_the_sdk_with_its_body_hash(
    algorithm: str | None, deliver: Deliver, add_account: AddAccount, admin: Connection
) -> None:
    secret = SHARED_KEY if algorithm else AUTH_TOKEN
    account_id = add_account("twilio", f"local:{secret}")
    event = twilio_json_event(
        retarget(load_sample("twilio_status"), account_id), {"id": str(uuid.uuid4())}
    )
    validator = RequestValidator(secret)
    url = public_url(event)
    assert event["queryStringParameters"]["bodySHA256"] == validator.compute_hash(event["body"])
    event["headers"]["X-Twilio-Signature"] = validator.compute_signature(url, {}, algorithm)
    if algorithm:
        event["headers"]["X-Twilio-Webhooks-Signature-Settings"] = settings(algorithm)
    assert validator.validate(url, event["body"], event["headers"]["X-Twilio-Signature"], algorithm)

    assert status(deliver, event) == 200
    tampered = copy.deepcopy(event)
    tampered["body"] = event["body"].replace('"id"', '"Id"')
    tampered["headers"]["I-Twilio-Idempotency-Token"] = str(uuid.uuid4())
    assert status(deliver, tampered) == 401
    assert len(receipts(admin, account_id)) == 1


# Standard Webhooks (the sandbox provider)

RAW_KEY = b"a key whose base64 needs padding"  # 32 bytes: base64 ends in "="


def unpadded_secret() -> str:
    return "whsec_" + base64.b64encode(RAW_KEY).decode().rstrip("=")


def sandbox_event(add_account: AddAccount, secret: str) -> tuple[dict[str, Any], Webhook]:
    account_id = add_account("sandbox", f"local:{secret}")
    event = retarget(load_sample("sandbox_status"), account_id)
    event["headers"]["webhook-id"] = f"msg_{uuid.uuid4().hex}"
    body = json.loads(event["body"])
    body["data"]["id"] = f"sbx_{uuid.uuid4().hex}"
    event["body"] = json.dumps(body)
    return event, Webhook(secret)


def sign_sandbox(event: dict[str, Any], hook: Webhook, signatures: str | None = None) -> None:
    now = datetime.now(UTC)
    signature = hook.sign(event["headers"]["webhook-id"], now, event["body"])
    event["headers"]["webhook-timestamp"] = str(int(now.timestamp()))
    event["headers"]["webhook-signature"] = (signatures or "{}").format(signature)
    hook.verify(event["body"], event["headers"])  # the library accepts it


@pytest.mark.parametrize(
    "signatures",
    ["{}", "v1,bm90IGl0 {}", "v2,c29tZXRoaW5nIGVsc2U= {}", "{} v1,bm90IGl0"],
    ids=["one", "a wrong one first", "another version first", "a wrong one after"],
)
@pytest.mark.parametrize("padded", [False, True], ids=["unpadded secret", "padded secret"])
def test_what_the_standard_webhooks_library_signs_is_accepted(
    signatures: str, padded: bool, deliver: Deliver, add_account: AddAccount, admin: Connection
) -> None:
    secret = unpadded_secret() if not padded else "whsec_" + base64.b64encode(RAW_KEY).decode()
    event, hook = sandbox_event(add_account, secret)
    sign_sandbox(event, hook, signatures)
    assert status(deliver, event) == 200
    assert len(receipts(admin, event["pathParameters"]["account_id"])) == 1


@pytest.mark.parametrize("tamper", ["body", "id", "timestamp", "other key"])
def test_a_tampered_standard_webhook_is_401(
    tamper: str, deliver: Deliver, add_account: AddAccount, admin: Connection
) -> None:
    event, hook = sandbox_event(add_account, unpadded_secret())
    sign_sandbox(event, hook)
    if tamper == "body":
        event["body"] = event["body"].replace("delivered", "failed")
    elif tamper == "id":
        event["headers"]["webhook-id"] += "x"
    elif tamper == "timestamp":
        event["headers"]["webhook-timestamp"] = str(int(event["headers"]["webhook-timestamp"]) - 1)
    else:
        sign_sandbox(event, Webhook("whsec_" + base64.b64encode(b"another key").decode()))
    response = deliver(event)
    assert response["statusCode"] == 401, response
    assert receipts(admin, event["pathParameters"]["account_id"]) == []
