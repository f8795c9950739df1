"""The sample webhook events in events/webhook/, and how tests sign them.

Each sample is an API Gateway proxy event as a provider's real callback arrives,
signed with the development secrets below for SAMPLE_ACCOUNT_ID. Tests retarget a
sample to their own account and sign it again with a fresh timestamp (`signed_event`):
Telnyx, SignalHouse and Standard Webhooks refuse timestamps more than 5 minutes off.

`python -m tests.support.webhook_samples` re-signs the files after a sample's body is edited.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from tether.webhooks import signatures
from tether.webhooks.request import WebhookRequest

EVENTS_DIR = Path(__file__).resolve().parents[2] / "events" / "webhook"
SAMPLE_ACCOUNT_ID = "5f0c6a8e-2b1d-4c3e-9a7f-0d1e2f3a4b5c"
SAMPLE_TIME = datetime(2026, 1, 15, 17, 30, 5, tzinfo=UTC)
# the lead and the tenant's number in every sample
LEAD_IN_SAMPLES = "+14155552671"
OURS_IN_SAMPLES = "+16502530000"

# Development secrets (never used outside tests and the samples). Telnyx signs with a
# private key and the account holds its public key.
TELNYX_PRIVATE_KEY = Ed25519PrivateKey.from_private_bytes(
    hashlib.sha256(b"tether telnyx sample key").digest()
)
TELNYX_PUBLIC_KEY = base64.b64encode(
    TELNYX_PRIVATE_KEY.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
).decode()
SECRETS: dict[str, str] = {
    "twilio": "twilio-dev-auth-token",
    "signalwire": "PSKdevsigningkey0123456789abcdef",
    "telnyx": TELNYX_PUBLIC_KEY,
    "signalhouse": "shws_dev_signing_secret",
    "sandbox": "whsec_" + base64.b64encode(b"tether sandbox development key!!").decode(),
}

SAMPLES = {
    "twilio_inbound": "twilio",
    "twilio_status": "twilio",
    "signalwire_inbound": "signalwire",
    "signalwire_status": "signalwire",
    "signalwire_relay_inbound": "signalwire",
    "signalwire_relay_status": "signalwire",
    "telnyx_inbound": "telnyx",
    "telnyx_status": "telnyx",
    "signalhouse_inbound": "signalhouse",
    "signalhouse_status": "signalhouse",
    "sandbox_inbound": "sandbox",
    "sandbox_status": "sandbox",
}


def load_sample(name: str) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((EVENTS_DIR / f"{name}.json").read_text())
    return event


def provider_of(event: Mapping[str, Any]) -> str:
    return str(event["pathParameters"]["provider"])


def retarget(
    event: Mapping[str, Any], account_id: str, provider: str | None = None
) -> dict[str, Any]:
    """The same request sent to another account's (or provider's) webhook URL."""
    moved = copy.deepcopy(dict(event))
    old_provider = provider_of(event)
    old_id = event["pathParameters"]["account_id"]
    new_provider = provider or old_provider
    moved["pathParameters"] = {"provider": new_provider, "account_id": account_id}
    for holder, key in ((moved, "path"), (moved["requestContext"], "path")):
        holder[key] = (
            str(holder[key])
            .replace(f"/{old_provider}/", f"/{new_provider}/")
            .replace(old_id, account_id)
        )
    return moved


def with_body(event: Mapping[str, Any], body: str) -> dict[str, Any]:
    changed = copy.deepcopy(dict(event))
    changed["body"] = body
    return changed


def with_form_param(event: Mapping[str, Any], name: str, value: str) -> dict[str, Any]:
    params = [
        (k, v if k != name else value) for k, v in parse_qsl(event["body"], keep_blank_values=True)
    ]
    return with_body(event, urlencode(params))


def with_json(event: Mapping[str, Any], change: Any) -> dict[str, Any]:
    """The event with its JSON body passed through `change` (which edits it in place)."""
    body = json.loads(event["body"])
    change(body)
    return with_body(event, json.dumps(body))


def signed_event(
    event: Mapping[str, Any],
    secret: str | None = None,
    *,
    now: datetime | None = None,
    account_id: str | None = None,
) -> dict[str, Any]:
    """`event` retargeted to `account_id` and signed with `secret` (the provider's
    development secret when omitted) at `now`."""
    provider = provider_of(event)
    signed = retarget(event, account_id) if account_id else copy.deepcopy(dict(event))
    secret = secret if secret is not None else SECRETS[provider]
    now = now or datetime.now(UTC)
    headers = signed["headers"]
    request = WebhookRequest.from_api_gateway(signed)
    body = request.body
    url = request.url.candidates()[0]
    form = request.media_type == "application/x-www-form-urlencoded"
    if provider == "twilio" or (provider == "signalwire" and form):
        # a JSON callback signs the URL alone (it carries the body's hash)
        params = parse_qsl(body.decode(), keep_blank_values=True) if form else []
        header = "X-Twilio-Signature" if provider == "twilio" else "X-SignalWire-Signature"
        headers[header] = signatures.twilio_signature(secret, url, params)
    elif provider == "signalwire":
        headers["X-SignalWire-Signature"] = signatures.signalwire_json_signature(secret, url, body)
    elif provider == "telnyx":
        timestamp = str(int(now.timestamp()))
        if secret != TELNYX_PUBLIC_KEY:
            raise ValueError("Telnyx samples are signed with the sample key pair only")
        headers["telnyx-timestamp"] = timestamp
        headers["telnyx-signature-ed25519"] = base64.b64encode(
            TELNYX_PRIVATE_KEY.sign(timestamp.encode() + b"|" + body)
        ).decode()
    elif provider == "signalhouse":
        timestamp_ms = str(int(now.timestamp() * 1000))
        headers["X-SignalHouse-Timestamp"] = timestamp_ms
        headers["X-SignalHouse-Signature"] = signatures.signalhouse_signature(
            secret, timestamp_ms, body
        )
    elif provider == "sandbox":
        timestamp = str(int(now.timestamp()))
        headers["webhook-timestamp"] = timestamp
        headers["webhook-signature"] = signatures.standard_webhooks_signature(
            secret, headers["webhook-id"], timestamp, body
        )
    else:
        raise ValueError(f"no signer for {provider} with {request.media_type}")
    return signed


def twilio_json_event(event: Mapping[str, Any], body: Mapping[str, Any]) -> dict[str, Any]:
    """A Twilio JSON callback: the body's SHA-256 rides in the URL, which alone is signed."""
    changed = with_body(event, json.dumps(body))
    changed["headers"]["Content-Type"] = "application/json"
    digest = hashlib.sha256(changed["body"].encode()).hexdigest()
    changed["queryStringParameters"] = {"bodySHA256": digest}
    changed["multiValueQueryStringParameters"] = {"bodySHA256": [digest]}
    return changed


def _resign_files() -> None:
    for name in SAMPLES:
        path = EVENTS_DIR / f"{name}.json"
        event = json.loads(path.read_text())
        path.write_text(json.dumps(signed_event(event, now=SAMPLE_TIME), indent=2) + "\n")
    print(f"signed {len(SAMPLES)} samples in {EVENTS_DIR}")


if __name__ == "__main__":
    _resign_files()
