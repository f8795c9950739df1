"""The voice side, simulated: the sandbox tells Tether how a call ended, as VAPI or a
Twilio-compatible carrier would, signed with the sandbox's signing secret (the one a
local 'vapi', 'twilio' or 'signalwire' account is then given).

``POST /sandbox/calls`` (no token: it stands for the voice platform) with JSON:

- ``style``: ``vapi`` (an end-of-call-report, HMAC-SHA256 of the body in
  ``X-Vapi-Signature``) or ``twilio`` / ``signalwire`` (a call status callback, a form
  post signed the Twilio way);
- ``account_id``: Tether's provider account id; ``from`` (our leased number) and
  ``to`` (the lead), E.164; an optional ``call_id``;
- VAPI: ``ended_reason`` (default ``customer-ended-call``), ``structured_data`` and
  ``metadata`` (objects); Twilio-style: ``status`` (default ``completed``),
  ``answered_by`` and ``hints`` (the callback URL's query: ``lead_id``, ``outcome``,
  ``appointment_at``).

It posts to the voice route beside the messaging one: ``{webhook_url}`` is
``…/webhooks/sandbox``, so ``…/webhooks/voice/{style}/{account_id}``. 202 with the
call id, the URL and the webhook's HTTP status.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlencode

from tether.observability import logger
from tether.webhooks.signatures import twilio_signature

STYLES = ("vapi", "twilio", "signalwire")
_E164 = re.compile(r"^\+[1-9]\d{1,14}$")
POST_TIMEOUT_SECONDS = 30.0


class CallRefused(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def voice_base_url(webhook_url: str) -> str:
    """The voice route's base from the messaging one (…/webhooks/sandbox → …/webhooks/voice)."""
    return webhook_url.rstrip("/").rsplit("/", 1)[0] + "/voice"


def post_call(webhook_url: str, signing_secret: str, raw_body: bytes) -> dict[str, Any]:
    """Read a /sandbox/calls request, post its report signed, and say how it went."""
    try:
        request = json.loads(raw_body or b"{}")
    except ValueError as error:
        raise CallRefused(400, "body is not JSON") from error
    if not isinstance(request, dict):
        raise CallRefused(400, "body is not an object")
    style, account_id = request.get("style"), request.get("account_id")
    if style not in STYLES:
        raise CallRefused(400, f"'style' must be one of {', '.join(STYLES)}")
    if not isinstance(account_id, str) or not account_id:
        raise CallRefused(400, "'account_id' is required")
    ours, lead = request.get("from"), request.get("to")
    for name, value in (("from", ours), ("to", lead)):
        if not isinstance(value, str) or not _E164.match(value):
            raise CallRefused(400, f"'{name}' must be E.164")
    if not webhook_url:
        raise CallRefused(409, "no webhook_url configured")
    url = f"{voice_base_url(webhook_url)}/{style}/{quote(account_id, safe='')}"
    if style == "vapi":
        call_id = str(request.get("call_id") or uuid.uuid4())
        body, headers = _vapi_report(request, call_id, str(ours), str(lead), signing_secret)
    else:
        call_id = str(request.get("call_id") or f"CA{secrets.token_hex(16)}")
        hints = request.get("hints") or {}
        if not isinstance(hints, dict):
            raise CallRefused(400, "'hints' must be an object")
        if hints:
            url += "?" + urlencode({str(k): str(v) for k, v in hints.items()}, quote_via=quote)
        body, headers = _status_callback(
            request, call_id, str(ours), str(lead), url, str(style), signing_secret
        )
    status = _post(url, body, headers)
    logger.info("sandbox posted a call outcome", extra={"style": style, "status": status})
    return {"call_id": call_id, "url": url, "webhook_status": status}


def _vapi_report(
    request: Mapping[str, Any], call_id: str, ours: str, lead: str, secret: str
) -> tuple[bytes, dict[str, str]]:
    structured, metadata = request.get("structured_data") or {}, request.get("metadata") or {}
    if not isinstance(structured, dict) or not isinstance(metadata, dict):
        raise CallRefused(400, "'structured_data' and 'metadata' must be objects")
    now = datetime.now(UTC)
    report = {
        "message": {
            "type": "end-of-call-report",
            "timestamp": int(now.timestamp() * 1000),
            "endedReason": str(request.get("ended_reason") or "customer-ended-call"),
            "endedAt": now.isoformat().replace("+00:00", "Z"),
            "call": {
                "id": call_id,
                "type": "outboundPhoneCall",
                "metadata": metadata,
                "customer": {"number": lead},
            },
            "customer": {"number": lead},
            "phoneNumber": {"number": ours},
            "analysis": {"summary": "A sandbox call.", "structuredData": structured},
        }
    }
    body = json.dumps(report).encode()
    signature = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return body, {"Content-Type": "application/json", "X-Vapi-Signature": signature}


def _status_callback(
    request: Mapping[str, Any],
    call_id: str,
    ours: str,
    lead: str,
    url: str,
    style: str,
    secret: str,
) -> tuple[bytes, dict[str, str]]:
    params = [
        ("CallSid", call_id),
        ("AccountSid", "ACsandbox"),
        ("CallStatus", str(request.get("status") or "completed")),
        ("Direction", "outbound-api"),
        ("From", ours),
        ("To", lead),
        ("Timestamp", datetime.now(UTC).strftime("%a, %d %b %Y %H:%M:%S +0000")),
    ]
    if request.get("answered_by"):
        params.append(("AnsweredBy", str(request["answered_by"])))
    header = "X-Twilio-Signature" if style == "twilio" else "X-SignalWire-Signature"
    return urlencode(params).encode(), {
        "Content-Type": "application/x-www-form-urlencoded",
        header: twilio_signature(secret, url, params),
    }


def _post(url: str, body: bytes, headers: Mapping[str, str]) -> int | None:
    import urllib3

    try:
        response = urllib3.request(
            "POST",
            url,
            body=body,
            headers={"User-Agent": "tether-sandbox/1", **headers},
            timeout=POST_TIMEOUT_SECONDS,
            retries=False,
        )
    except urllib3.exceptions.HTTPError as error:
        logger.warning("sandbox call outcome not answered", extra={"error": str(error)})
        return None
    return int(response.status)
