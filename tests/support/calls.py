"""Voice-side webhook requests as API Gateway hands them to the webhook function: VAPI
end-of-call reports and Twilio/SignalWire call status callbacks on
/webhooks/voice/{provider}/{account_id}, signed by independent code (the official
`twilio` SDK's RequestValidator; a plain HMAC-SHA256 for VAPI)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlencode

from twilio.request_validator import RequestValidator

VOICE_RESOURCE = "/webhooks/voice/{provider}/{account_id}"
HOST = "k3v9x2w1ab.execute-api.us-east-1.amazonaws.com"
STAGE = "dev"

# development secrets of the voice accounts the tests make
VOICE_SECRETS = {
    "vapi": "vapi-dev-server-secret",
    "twilio": "twilio-dev-auth-token",
    "signalwire": "PSKdevsigningkey0123456789abcdef",
}


def voice_event(
    provider: str,
    account_id: str,
    body: str | bytes,
    content_type: str,
    headers: Mapping[str, str] | None = None,
    query: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    path = f"/webhooks/voice/{provider}/{account_id}"
    # bytes go as API Gateway passes a body it cannot read as text: base64
    text = base64.b64encode(body).decode() if isinstance(body, bytes) else body
    return {
        "resource": VOICE_RESOURCE,
        "path": path,
        "httpMethod": "POST",
        "headers": {
            "Host": HOST,
            "Content-Type": content_type,
            "X-Forwarded-Port": "443",
            "X-Forwarded-Proto": "https",
            **(headers or {}),
        },
        "queryStringParameters": dict(query) if query else None,
        "multiValueQueryStringParameters": {k: [v] for k, v in query.items()} if query else None,
        "pathParameters": {"provider": provider, "account_id": account_id},
        "stageVariables": None,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "k3v9x2w1ab",
            "domainName": HOST,
            "httpMethod": "POST",
            "path": f"/{STAGE}{path}",
            "requestId": "c6af9ac6-7b61-11e6-9a41-93e8deadbeef",
            "resourcePath": VOICE_RESOURCE,
            "stage": STAGE,
            "identity": {"sourceIp": "54.172.60.2"},
        },
        "body": text,
        "isBase64Encoded": isinstance(body, bytes),
    }


def public_url(event: Mapping[str, Any]) -> str:
    """The URL the provider called (and signed), as its caller configured it."""
    query = event.get("queryStringParameters") or {}
    suffix = f"?{urlencode(query, quote_via=quote)}" if query else ""
    return f"https://{HOST}{event['requestContext']['path']}{suffix}"


# --- VAPI


def vapi_report(
    call_id: str,
    ended_reason: str,
    *,
    customer: str | None,
    ours: str | None,
    structured: Mapping[str, Any] | None = None,
    metadata: Mapping[str, Any] | None = None,
    ended_at: datetime | None = None,
    carrier_call_id: str | None = None,
) -> dict[str, Any]:
    """An end-of-call-report server message, shaped as VAPI sends it (the fields
    Tether reads, and a few it does not)."""
    ended = (ended_at or datetime.now(UTC)).isoformat().replace("+00:00", "Z")
    return {
        "message": {
            "type": "end-of-call-report",
            "timestamp": int(datetime.now(UTC).timestamp() * 1000),
            "endedReason": ended_reason,
            "endedAt": ended,
            "cost": 0.12,
            "call": {
                "id": call_id,
                "type": "outboundPhoneCall",
                "status": "ended",
                "phoneCallProvider": "twilio",
                "phoneCallProviderId": carrier_call_id,
                "metadata": dict(metadata or {}),
                "customer": {"number": customer} if customer else None,
            },
            "customer": {"number": customer} if customer else None,
            "phoneNumber": {"number": ours} if ours else None,
            "assistant": {"name": "Barbara", "metadata": {}},
            "analysis": {
                "summary": "The customer talked about a reverse mortgage.",
                "structuredData": dict(structured or {}),
                "successEvaluation": "true",
            },
            "artifact": {"transcript": "AI: Hello ...", "messages": []},
        }
    }


def vapi_event(
    account_id: str,
    body: Mapping[str, Any] | str | bytes,
    secret: str = VOICE_SECRETS["vapi"],
    mode: str = "hmac",
) -> dict[str, Any]:
    """The report as VAPI posts it, authenticated as `mode` says: "hmac" (X-Vapi-Signature,
    hex HMAC-SHA256 of the body), "secret" (X-Vapi-Secret), "bearer", or "none"."""
    raw = body if isinstance(body, str | bytes) else json.dumps(body)
    data = raw.encode() if isinstance(raw, str) else raw
    headers: dict[str, str] = {}
    if mode == "hmac":
        headers["X-Vapi-Signature"] = hmac.new(secret.encode(), data, hashlib.sha256).hexdigest()
    elif mode == "secret":
        headers["X-Vapi-Secret"] = secret
    elif mode == "bearer":
        headers["Authorization"] = f"Bearer {secret}"
    return voice_event("vapi", account_id, raw, "application/json", headers)


# --- Twilio and SignalWire call status callbacks


def call_status_params(
    call_sid: str,
    status: str,
    *,
    ours: str,
    customer: str,
    direction: str = "outbound-api",
    answered_by: str | None = None,
) -> list[tuple[str, str]]:
    params = [
        ("AccountSid", "AC0a1b2c3d4e5f60718293a4b5c6d7e8f9"),
        ("ApiVersion", "2010-04-01"),
        ("CallSid", call_sid),
        ("CallStatus", status),
        ("Direction", direction),
        ("From", ours if direction != "inbound" else customer),
        ("To", customer if direction != "inbound" else ours),
        ("CallDuration", "42"),
        ("Timestamp", datetime.now(UTC).strftime("%a, %d %b %Y %H:%M:%S +0000")),
        ("CallbackSource", "call-progress-events"),
        ("SequenceNumber", "3"),
    ]
    if answered_by:
        params.append(("AnsweredBy", answered_by))
    return params


def call_status_event(
    provider: str,
    account_id: str,
    params: list[tuple[str, str]],
    query: Mapping[str, str] | None = None,
    secret: str | None = None,
) -> dict[str, Any]:
    """The callback signed the Twilio way by the official SDK (SignalWire's compatibility
    API signs the same, in X-SignalWire-Signature)."""
    body = urlencode(params)
    event = voice_event(provider, account_id, body, "application/x-www-form-urlencoded", {}, query)
    signature = RequestValidator(secret or VOICE_SECRETS[provider]).compute_signature(
        public_url(event), dict(params)
    )
    header = "X-Twilio-Signature" if provider == "twilio" else "X-SignalWire-Signature"
    event["headers"][header] = signature
    return event
