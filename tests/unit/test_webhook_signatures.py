"""Each provider's signature scheme, on fixed inputs: no network, no database."""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import UTC, datetime, timedelta

import pytest

from tests.support.webhook_samples import TELNYX_PRIVATE_KEY, TELNYX_PUBLIC_KEY
from tether.webhooks import signatures
from tether.webhooks.errors import InvalidSignature

NOW = datetime(2026, 1, 15, 17, 30, 5, tzinfo=UTC)

# Twilio's published example (the required test vector)
TWILIO_TOKEN = "12345"
TWILIO_URL = "https://mycompany.com/myapp.php?foo=1&bar=2"
TWILIO_PARAMS = [
    ("CallSid", "CA1234567890ABCDE"),
    ("Caller", "+14158675309"),
    ("Digits", "1234"),
    ("From", "+14158675309"),
    ("To", "+18005551212"),
]
TWILIO_EXPECTED = "RSOYDt4T1cUTdK1PDd93/VVr8B8="


def test_twilio_test_vector() -> None:
    assert signatures.twilio_signature(TWILIO_TOKEN, TWILIO_URL, TWILIO_PARAMS) == TWILIO_EXPECTED


def test_twilio_signature_does_not_depend_on_parameter_order() -> None:
    shuffled = list(reversed(TWILIO_PARAMS))
    assert signatures.twilio_signature(TWILIO_TOKEN, TWILIO_URL, shuffled) == TWILIO_EXPECTED


def test_twilio_repeated_names_are_signed_in_value_order() -> None:
    one = signatures.twilio_signature("t", "https://x/y", [("A", "2"), ("A", "1")])
    assert one == signatures.twilio_signature("t", "https://x/y", [("A", "1"), ("A", "2")])
    assert one != signatures.twilio_signature("t", "https://x/y", [("A", "12")])


def test_twilio_valid_signature_is_accepted() -> None:
    signatures.verify_twilio(TWILIO_EXPECTED, [TWILIO_TOKEN], [TWILIO_URL], TWILIO_PARAMS)


@pytest.mark.parametrize(
    ("url", "params"),
    [
        ("https://mycompany.com/myapp.php?foo=1&bar=3", TWILIO_PARAMS),  # URL
        ("http://mycompany.com/myapp.php?foo=1&bar=2", TWILIO_PARAMS),  # scheme
        (TWILIO_URL, [*TWILIO_PARAMS[:2], ("Digits", "9999"), *TWILIO_PARAMS[3:]]),  # body
        (TWILIO_URL, [*TWILIO_PARAMS, ("Extra", "")]),  # an added parameter
    ],
)
def test_twilio_tampered_url_or_body_is_rejected(url: str, params: list[tuple[str, str]]) -> None:
    with pytest.raises(InvalidSignature):
        signatures.verify_twilio(TWILIO_EXPECTED, [TWILIO_TOKEN], [url], params)


def test_twilio_wrong_token_is_rejected_and_a_second_secret_is_tried() -> None:
    with pytest.raises(InvalidSignature):
        signatures.verify_twilio(TWILIO_EXPECTED, ["54321"], [TWILIO_URL], TWILIO_PARAMS)
    signatures.verify_twilio(TWILIO_EXPECTED, ["54321", "12345"], [TWILIO_URL], TWILIO_PARAMS)


def test_twilio_json_callback_checks_the_body_hash() -> None:
    body = b'{"event":"x"}'
    signatures.verify_body_sha256(hashlib.sha256(body).hexdigest(), body)
    with pytest.raises(InvalidSignature, match="bodySHA256"):
        signatures.verify_body_sha256(hashlib.sha256(body).hexdigest(), body + b" ")
    with pytest.raises(InvalidSignature):
        signatures.verify_body_sha256(None, body)


def test_signalwire_json_is_lower_hex_hmac_sha1_of_url_and_body() -> None:
    url, body, key = "https://example.com/hook", b'{"a":1}', "PSKkey"
    expected = signatures.signalwire_json_signature(key, url, body)
    assert len(expected) == 40
    assert expected == expected.lower()
    signatures.verify_signalwire_json(expected, [key], [url], body)
    signatures.verify_signalwire_json(expected.upper(), [key], [url], body)
    for bad_url, bad_body in [(url + "x", body), (url, b'{"a":2}')]:
        with pytest.raises(InvalidSignature):
            signatures.verify_signalwire_json(expected, [key], [bad_url], bad_body)


def _telnyx(timestamp: str, body: bytes) -> str:
    return base64.b64encode(TELNYX_PRIVATE_KEY.sign(timestamp.encode() + b"|" + body)).decode()


def test_telnyx_ed25519_signature_is_accepted() -> None:
    ts, body = str(int(NOW.timestamp())), b'{"data":{}}'
    signatures.verify_telnyx(_telnyx(ts, body), ts, body, [TELNYX_PUBLIC_KEY], NOW)


@pytest.mark.parametrize("tamper", ["body", "timestamp", "key"])
def test_telnyx_tampered_body_timestamp_or_key_is_rejected(tamper: str) -> None:
    ts, body = str(int(NOW.timestamp())), b'{"data":{}}'
    signature = _telnyx(ts, body)
    other_key = base64.b64encode(bytes(32)).decode()
    with pytest.raises(InvalidSignature):
        signatures.verify_telnyx(
            signature,
            str(int(ts) + 1) if tamper == "timestamp" else ts,
            body + b" " if tamper == "body" else body,
            [other_key if tamper == "key" else TELNYX_PUBLIC_KEY],
            NOW,
        )


@pytest.mark.parametrize("skew", [301, -301, 86_400])
def test_telnyx_timestamps_more_than_300_s_off_are_rejected(skew: int) -> None:
    ts, body = str(int(NOW.timestamp()) + skew), b"{}"
    with pytest.raises(InvalidSignature, match="off"):
        signatures.verify_telnyx(_telnyx(ts, body), ts, body, [TELNYX_PUBLIC_KEY], NOW)


def test_telnyx_timestamps_within_300_s_are_accepted() -> None:
    ts, body = str(int(NOW.timestamp()) - 299), b"{}"
    signatures.verify_telnyx(_telnyx(ts, body), ts, body, [TELNYX_PUBLIC_KEY], NOW)


def test_telnyx_malformed_headers_and_keys_are_rejected_not_errors() -> None:
    ts = str(int(NOW.timestamp()))
    with pytest.raises(InvalidSignature, match="not base64"):
        signatures.verify_telnyx("***", ts, b"{}", [TELNYX_PUBLIC_KEY], NOW)
    with pytest.raises(InvalidSignature, match="Unix timestamp"):
        signatures.verify_telnyx(_telnyx(ts, b"{}"), "yesterday", b"{}", [TELNYX_PUBLIC_KEY], NOW)
    with pytest.raises(InvalidSignature, match="public key"):
        signatures.verify_telnyx(_telnyx(ts, b"{}"), ts, b"{}", ["c2hvcnQ="], NOW)


def test_signalhouse_hex_hmac_sha256_over_millisecond_timestamp_and_body() -> None:
    ts, body = str(int(NOW.timestamp() * 1000)), b'{"event":"MESSAGE_RECEIVED"}'
    signature = signatures.signalhouse_signature("secret", ts, body)
    assert signature == hmac.new(b"secret", ts.encode() + b"." + body, "sha256").hexdigest()
    signatures.verify_signalhouse(signature, ts, body, ["secret"], NOW)


def test_signalhouse_accepts_the_previous_secret_it_is_given() -> None:
    ts, body = str(int(NOW.timestamp() * 1000)), b"{}"
    old = signatures.signalhouse_signature("old", ts, body)
    signatures.verify_signalhouse(old, ts, body, ["new", "old"], NOW)
    with pytest.raises(InvalidSignature):
        signatures.verify_signalhouse(old, ts, body, ["new"], NOW)


@pytest.mark.parametrize("tamper", ["body", "timestamp", "stale"])
def test_signalhouse_tampered_or_stale_is_rejected(tamper: str) -> None:
    ts, body = str(int(NOW.timestamp() * 1000)), b"{}"
    signature = signatures.signalhouse_signature("secret", ts, body)
    if tamper == "stale":
        stale = str(int((NOW - timedelta(minutes=6)).timestamp() * 1000))
        signature, ts = signatures.signalhouse_signature("secret", stale, body), stale
    with pytest.raises(InvalidSignature):
        signatures.verify_signalhouse(
            signature,
            str(int(ts) + 1) if tamper == "timestamp" else ts,
            body + b"x" if tamper == "body" else body,
            ["secret"],
            NOW,
        )


def test_signalhouse_timestamp_is_milliseconds_not_seconds() -> None:
    seconds, body = str(int(NOW.timestamp())), b"{}"
    signature = signatures.signalhouse_signature("secret", seconds, body)
    with pytest.raises(InvalidSignature, match="off"):  # read as ms, that is 1970
        signatures.verify_signalhouse(signature, seconds, body, ["secret"], NOW)


SECRET = "whsec_" + base64.b64encode(b"0123456789abcdef0123456789abcdef").decode()


def test_standard_webhooks_signature() -> None:
    ts, body = str(int(NOW.timestamp())), b'{"type":"message.received"}'
    signature = signatures.standard_webhooks_signature(SECRET, "msg_1", ts, body)
    key = base64.b64decode(SECRET.removeprefix("whsec_"))
    digest = hmac.new(key, f"msg_1.{ts}.".encode() + body, "sha256").digest()
    assert signature == "v1," + base64.b64encode(digest).decode()
    # a sender mid-rotation sends several; one match is enough
    signatures.verify_standard_webhooks("msg_1", ts, f"v1,bogus= {signature}", body, [SECRET], NOW)


@pytest.mark.parametrize("tamper", ["id", "timestamp", "body", "version", "stale"])
def test_standard_webhooks_tampered_or_stale_is_rejected(tamper: str) -> None:
    ts, body = str(int(NOW.timestamp())), b"{}"
    if tamper == "stale":
        ts = str(int(NOW.timestamp()) - 400)
    signature = signatures.standard_webhooks_signature(SECRET, "msg_1", ts, body)
    with pytest.raises(InvalidSignature):
        signatures.verify_standard_webhooks(
            "msg_2" if tamper == "id" else "msg_1",
            str(int(ts) + 1) if tamper == "timestamp" else ts,
            signature.replace("v1,", "v2,") if tamper == "version" else signature,
            body + b" " if tamper == "body" else body,
            [SECRET],
            NOW,
        )


def test_a_missing_header_says_which() -> None:
    with pytest.raises(InvalidSignature, match="the X-Twilio-Signature header is missing"):
        signatures.require_header(None, "X-Twilio-Signature")
    with pytest.raises(InvalidSignature):
        signatures.require_header("   ", "webhook-id")


def test_comparison_handles_non_ascii_input() -> None:
    assert not signatures.same("abc", "äbc")
