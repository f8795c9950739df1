"""The providers' signature schemes, over the raw request. Every comparison is
constant-time; every failure raises InvalidSignature saying what was wrong (never
which byte), so the audit row and the 401 are useful without helping a forger.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Iterable, Sequence
from datetime import datetime

from tether.webhooks.errors import InvalidSignature

# Telnyx's documented window; the same tolerance for SignalHouse and Standard Webhooks.
TIMESTAMP_TOLERANCE_SECONDS = 300


def same(expected: str, given: str) -> bool:
    """Constant-time equality of two signatures (any text, not only ASCII)."""
    return hmac.compare_digest(expected.encode(), given.encode())


def require_header(value: str | None, name: str) -> str:
    if not value or not value.strip():
        raise InvalidSignature(f"the {name} header is missing")
    return value.strip()


def check_timestamp(
    seconds: float, now: datetime, tolerance: int = TIMESTAMP_TOLERANCE_SECONDS
) -> None:
    """Refuse a signed timestamp too far from `now`: a captured request cannot be
    replayed later (its timestamp is inside the signature)."""
    skew = abs(now.timestamp() - seconds)
    if skew > tolerance:
        raise InvalidSignature(f"the timestamp is {skew:.0f} s off, more than {tolerance} s")


def parse_timestamp(value: str, name: str, *, milliseconds: bool = False) -> float:
    if not value.isdigit():
        raise InvalidSignature(f"the {name} header is not a Unix timestamp")
    return int(value) / 1000 if milliseconds else float(value)


# Twilio, and SignalWire's compatibility (cXML) callbacks


def twilio_signature(auth_token: str, url: str, params: Iterable[tuple[str, str]]) -> str:
    """Base64 HMAC-SHA1 of the URL followed by every POST parameter's name and value,
    sorted by name (repeated names by value)."""
    signed = url + "".join(name + value for name, value in sorted(params))
    digest = hmac.new(auth_token.encode(), signed.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def verify_twilio(
    signature: str,
    secrets: Sequence[str],
    urls: Sequence[str],
    params: Sequence[tuple[str, str]],
) -> None:
    for url in urls:
        for secret in secrets:
            if same(twilio_signature(secret, url, params), signature):
                return
    raise InvalidSignature("the signature does not match the URL and parameters")


def verify_body_sha256(expected_hex: str | None, body: bytes) -> None:
    """Twilio's JSON callbacks sign only the URL, which carries the body's SHA-256."""
    if not expected_hex:
        raise InvalidSignature("a JSON callback's URL must carry bodySHA256")
    if not same(hashlib.sha256(body).hexdigest(), expected_hex.lower()):
        raise InvalidSignature("bodySHA256 does not match the body")


# SignalWire's JSON (RELAY, SWML) callbacks


def signalwire_json_signature(signing_key: str, url: str, body: bytes) -> str:
    """Lower-hex HMAC-SHA1 of the URL followed by the raw body."""
    return hmac.new(signing_key.encode(), url.encode() + body, hashlib.sha1).hexdigest()


def verify_signalwire_json(
    signature: str, secrets: Sequence[str], urls: Sequence[str], body: bytes
) -> None:
    for url in urls:
        for secret in secrets:
            if same(signalwire_json_signature(secret, url, body), signature.lower()):
                return
    raise InvalidSignature("the signature does not match the URL and body")


# Telnyx


def verify_telnyx(
    signature_b64: str, timestamp: str, body: bytes, public_keys: Sequence[str], now: datetime
) -> None:
    """Ed25519 over "{timestamp}|{raw body}" with the account's public key (base64)."""
    from cryptography.exceptions import InvalidSignature as BadEd25519
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    check_timestamp(parse_timestamp(timestamp, "telnyx-timestamp"), now)
    try:
        signature = base64.b64decode(signature_b64, validate=True)
    except (binascii.Error, ValueError) as error:
        raise InvalidSignature("telnyx-signature-ed25519 is not base64") from error
    signed = timestamp.encode() + b"|" + body
    for public_key in public_keys:
        try:
            key = Ed25519PublicKey.from_public_bytes(base64.b64decode(public_key, validate=True))
        except (binascii.Error, ValueError) as error:
            raise InvalidSignature(
                "the account's public key is not a base64 Ed25519 key"
            ) from error
        try:
            key.verify(signature, signed)
            return
        except BadEd25519:
            continue
    raise InvalidSignature("the signature does not match the timestamp and body")


# SignalHouse


def signalhouse_signature(secret: str, timestamp_ms: str, body: bytes) -> str:
    """Hex HMAC-SHA256 of "{timestamp in ms}.{raw body}"."""
    return hmac.new(
        secret.encode(), timestamp_ms.encode() + b"." + body, hashlib.sha256
    ).hexdigest()


def verify_signalhouse(
    signature: str, timestamp_ms: str, body: bytes, secrets: Sequence[str], now: datetime
) -> None:
    check_timestamp(
        parse_timestamp(timestamp_ms, "X-SignalHouse-Timestamp", milliseconds=True), now
    )
    for secret in secrets:
        if same(signalhouse_signature(secret, timestamp_ms, body), signature.lower()):
            return
    raise InvalidSignature("the signature does not match the timestamp and body")


# Standard Webhooks (the local provider sandbox)


def standard_webhooks_key(secret: str) -> bytes:
    """The HMAC key of a `whsec_<base64>` secret."""
    encoded = secret.removeprefix("whsec_")
    try:
        return base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError) as error:
        raise InvalidSignature("the account's secret is not a whsec_<base64> secret") from error


def standard_webhooks_signature(secret: str, msg_id: str, timestamp: str, body: bytes) -> str:
    """`v1,` and the base64 HMAC-SHA256 of "{id}.{timestamp}.{body}"."""
    signed = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(standard_webhooks_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def verify_standard_webhooks(
    msg_id: str,
    timestamp: str,
    signatures: str,
    body: bytes,
    secrets: Sequence[str],
    now: datetime,
) -> None:
    """`webhook-signature` holds space-separated `version,signature` pairs; any v1 match
    passes (a sender mid-rotation signs with both secrets)."""
    check_timestamp(parse_timestamp(timestamp, "webhook-timestamp"), now)
    given = [s for s in signatures.split() if s.startswith("v1,")]
    for secret in secrets:
        expected = standard_webhooks_signature(secret, msg_id, timestamp, body)
        if any(same(expected, candidate) for candidate in given):
            return
    raise InvalidSignature("no v1 signature matches the id, timestamp and body")
