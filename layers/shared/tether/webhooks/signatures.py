"""The providers' signature schemes, over the raw request. Every comparison is
constant-time; every failure raises InvalidSignature saying what was wrong (never
which byte), so the audit row and the 401 are useful without helping a forger.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import math
import re
from collections.abc import Iterable, Sequence
from datetime import datetime

from tether.webhooks.errors import InvalidSignature

# Telnyx's documented window; the same tolerance for SignalHouse and Standard Webhooks.
TIMESTAMP_TOLERANCE_SECONDS = 300


def utf8(text: str) -> bytes:
    """`text` as UTF-8; a lone surrogate (only a forger sends one) becomes its bytes and
    simply fails to match, never an encoding error."""
    return text.encode("utf-8", "surrogatepass")


def same(expected: str, given: str) -> bool:
    """Constant-time equality of two signatures (any text, not only ASCII)."""
    return hmac.compare_digest(utf8(expected), utf8(given))


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


_UNIX_TIME = re.compile(r"[0-9]{1,16}")


def parse_timestamp(value: str, name: str, *, milliseconds: bool = False) -> float:
    """ASCII digits only: str.isdigit() also takes "²", which int() then refuses."""
    if not _UNIX_TIME.fullmatch(value):
        raise InvalidSignature(f"the {name} header is not a Unix timestamp")
    return int(value) / 1000 if milliseconds else float(value)


# Twilio, and SignalWire's compatibility (cXML) callbacks


# X-Twilio-Webhooks-Signature-Settings: "key=<shared key id>,algorithm=<algorithm>";
# absent, or without an algorithm, means the Auth Token's HMAC-SHA1.
TWILIO_ALGORITHMS = {"HMAC_SHA1": hashlib.sha1, "HMAC_SHA256": hashlib.sha256}


def twilio_algorithm(settings_header: str | None) -> str:
    """The algorithm a Twilio request announces, as the SDK's get_signature_algorithm
    reads it. Raises InvalidSignature for one Tether does not know."""
    algorithm = "HMAC_SHA1"
    for part in (settings_header or "").split(","):
        name, separator, value = part.partition("=")
        if separator and name.strip() == "algorithm" and value.strip():
            algorithm = value.strip()
            break
    if algorithm.upper() not in TWILIO_ALGORITHMS:
        raise InvalidSignature(f"the signature algorithm {algorithm[:40]!r} is not supported")
    return algorithm.upper()


def twilio_signature(
    auth_token: str,
    url: str,
    params: Iterable[tuple[str, str]],
    algorithm: str = "HMAC_SHA1",
) -> str:
    """Base64 HMAC of the URL followed by each POST parameter name, sorted, with each of
    its distinct values, sorted: the official SDK's RequestValidator.compute_signature
    (so `Digits=1&Digits=1` signs "Digits1" once)."""
    values: dict[str, set[str]] = {}
    for name, value in params:
        values.setdefault(name, set()).add(value)
    signed = url + "".join(
        name + value for name in sorted(values) for value in sorted(values[name])
    )
    digest = hmac.new(utf8(auth_token), utf8(signed), TWILIO_ALGORITHMS[algorithm]).digest()
    return base64.b64encode(digest).decode()


def verify_twilio(
    signature: str,
    secrets: Sequence[str],
    urls: Sequence[str],
    params: Sequence[tuple[str, str]],
    algorithm: str = "HMAC_SHA1",
) -> None:
    """Any of `secrets` (the Auth Token, or the webhook shared key when the request
    announces HMAC_SHA256; two of either during a rotation) over any URL variant."""
    for url in urls:
        for secret in secrets:
            if same(twilio_signature(secret, url, params, algorithm), signature.strip()):
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
    return hmac.new(utf8(signing_key), utf8(url) + body, hashlib.sha1).hexdigest()


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
    return hmac.new(utf8(secret), utf8(timestamp_ms) + b"." + body, hashlib.sha256).hexdigest()


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


# Standard Webhooks (the local provider sandbox), as the `standardwebhooks` library
# verifies: what it accepts, this accepts.


def standard_webhooks_key(secret: str) -> bytes:
    """The HMAC key of a `whsec_<base64>` secret; the prefix is optional and the base64
    may lack its padding."""
    encoded = secret.strip().removeprefix("whsec_")
    try:
        key = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
    except (binascii.Error, ValueError) as error:
        raise InvalidSignature("the account's secret is not a whsec_<base64> secret") from error
    if not key:
        raise InvalidSignature("the account's secret is empty")
    return key


def standard_webhooks_signature(secret: str, msg_id: str, timestamp: str, body: bytes) -> str:
    """`v1,` and the base64 HMAC-SHA256 of "{id}.{timestamp}.{body}"."""
    signed = utf8(f"{msg_id}.{timestamp}.") + body
    digest = hmac.new(standard_webhooks_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def _standard_timestamp(value: str) -> str:
    """The library reads the header as a float and signs its whole seconds."""
    try:
        seconds = float(value)
    except ValueError as error:
        raise InvalidSignature("the webhook-timestamp header is not a Unix timestamp") from error
    if not math.isfinite(seconds) or abs(seconds) > 1e11:
        raise InvalidSignature("the webhook-timestamp header is not a Unix timestamp")
    return str(math.floor(seconds))


def _signature_bytes(encoded: str) -> bytes | None:
    try:
        return base64.b64decode(encoded)
    except (binascii.Error, ValueError):
        return None


def verify_standard_webhooks(
    msg_id: str,
    timestamp: str,
    signatures: str,
    body: bytes,
    secrets: Sequence[str],
    now: datetime,
) -> None:
    """`webhook-signature` holds space-separated `version,signature` pairs; any v1 match
    passes (a sender mid-rotation signs with both secrets). Signatures are compared as
    the bytes they encode, as the library does."""
    seconds = _standard_timestamp(timestamp)
    check_timestamp(float(seconds), now)
    given = [
        decoded
        for pair in signatures.split(" ")
        if pair.startswith("v1,") and (decoded := _signature_bytes(pair[3:])) is not None
    ]
    for secret in secrets:
        expected = standard_webhooks_signature(secret, msg_id, seconds, body)
        expected_bytes = base64.b64decode(expected[3:])
        if any(hmac.compare_digest(expected_bytes, candidate) for candidate in given):
            return
    raise InvalidSignature("no v1 signature matches the id, timestamp and body")
