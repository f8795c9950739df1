"""A script's handle on the running local stack, over HTTP only: the gateway (as a
client of the API would call it), Lambda's Invoke API (fire a schedule's function
now), and the sandbox (what it was asked to send; a lead's reply). The demo and the
e2e tests drive the stack through it.

    stack = LocalStack.running()          # from .tether/dev.json
    stack.call("GET", "/v1/health")
    stack.invoke("sweeper", {...})
    stack.reply(lead="+1212...", to="+1415...", text="Yes")
    stack.texts(account_id)
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import urllib3

from tether.config import DatabaseSettings

TIMEOUT_SECONDS = 30.0


class StackNotRunning(Exception):
    pass


@dataclass(frozen=True)
class Answer:
    status: int
    headers: Mapping[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body or b"null")


@dataclass(frozen=True)
class LocalStack:
    state: Mapping[str, Any]

    @classmethod
    def running(cls, state_file: Path | None = None) -> LocalStack:
        """The stack `python -m tether_dev dev` runs (its dev.json under the data dir)."""
        from tether_dev.local.stack import STATE_FILE_NAME

        path = state_file or DatabaseSettings().tether_data_dir / STATE_FILE_NAME
        try:
            return cls(json.loads(path.read_text()))
        except (OSError, ValueError) as error:
            raise StackNotRunning(f"no local stack: {path} ({error}); run `make dev`") from error

    @property
    def gateway_url(self) -> str:
        return str(self.state["gateway_url"])

    @property
    def sandbox_url(self) -> str:
        return str(self.state["sandbox_url"])

    def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> Answer:
        """One request to the gateway; a non-bytes body is sent as JSON."""
        all_headers = dict(headers or {})
        data: bytes | None = None
        if isinstance(body, bytes):
            data = body
        elif body is not None:
            data = json.dumps(body).encode()
            all_headers.setdefault("Content-Type", "application/json")
        return _request(method, f"{self.gateway_url}{path}", data, all_headers)

    def invoke(self, function: str, event: Any) -> Any:
        """Run a function now on `event` and return its answer; a failed function raises."""
        # a deployed stack's functions have physical names; the local stack's are short
        name = (self.state.get("function_names") or {}).get(function, function)
        answer = _request(
            "POST",
            f"{self.state['lambda_url']}/2015-03-31/functions/{name}/invocations",
            json.dumps(event).encode(),
            {"Content-Type": "application/json"},
        )
        if answer.status != 200 or "x-amz-function-error" in answer.headers:
            raise RuntimeError(f"{function}: {answer.status} {answer.body.decode()}")
        return answer.json()

    def reply(
        self,
        *,
        lead: str,
        to: str,
        text: str,
        account_id: str | None = None,
        channel: str = "sms",
        media: list[tuple[str, bytes]] | None = None,
    ) -> Any:
        """A lead texts one of our numbers (or writes on WhatsApp, `channel` 'whatsapp');
        the sandbox posts it, signed, to the webhook. `media` (content type, bytes) makes
        it an MMS: the sandbox serves each file."""
        import base64

        payload: dict[str, Any] = {"from": lead, "to": to, "body": text}
        if account_id:
            payload["account_id"] = account_id
        if channel != "sms":
            payload["channel"] = channel
        if media:
            payload["media"] = [
                {"content_type": kind, "base64": base64.b64encode(data).decode()}
                for kind, data in media
            ]
        answer = _request(
            "POST",
            f"{self.sandbox_url}/sandbox/replies",
            json.dumps(payload).encode(),
            {"Content-Type": "application/json"},
        )
        if answer.status != 202:
            raise RuntimeError(f"sandbox reply: {answer.status} {answer.body.decode()}")
        return answer.json()

    def report_call(self, **report: Any) -> Any:
        """The voice side reports how a call ended (tether_dev.sandbox.calls: style,
        account_id, from, to, ...); the sandbox posts it, signed, to the voice webhook."""
        if "from_" in report:
            report["from"] = report.pop("from_")
        answer = _request(
            "POST",
            f"{self.sandbox_url}/sandbox/calls",
            json.dumps(report).encode(),
            {"Content-Type": "application/json"},
        )
        if answer.status != 202:
            raise RuntimeError(f"sandbox call: {answer.status} {answer.body.decode()}")
        return answer.json()

    def drop_mail(self, raw: bytes, name: str) -> str:
        """A mail received as SES would store it. Into the local stack's email drop
        (`mail_drop` in dev.json): written beside the folder, then moved in whole.
        Against a deployed stack (only `mail_bucket`): put in the bucket under mail/
        and the inbound_email function invoked with the event S3 sends (if the stack's
        own notification fires as well, the mail is still stored once). Where it went."""
        if self.state.get("mail_drop"):
            folder = Path(str(self.state["mail_drop"]))
            partial = folder.parent / f".{name}.partial"
            partial.write_bytes(raw)
            target = folder / f"{name}.eml"
            partial.replace(target)
            return str(target)
        import uuid
        from datetime import UTC, datetime

        import boto3

        from tether_dev.local.events import s3_object_created_event

        bucket, key = str(self.state["mail_bucket"]), f"mail/{name}-{uuid.uuid4().hex}"
        s3 = boto3.session.Session(
            aws_access_key_id="testing",
            aws_secret_access_key="testing",  # noqa: S106 - an emulator's, not a secret
            region_name="us-east-1",
        ).client("s3", endpoint_url=str(self.state["aws_endpoint_url"]))
        s3.put_object(Bucket=bucket, Key=key, Body=raw)
        self.invoke(
            "inbound_email", s3_object_created_event(bucket, key, len(raw), "-", datetime.now(UTC))
        )
        return f"s3://{bucket}/{key}"

    def texts(self, account_id: str) -> list[dict[str, Any]]:
        """Every text the sandbox accepted for `account_id`, newest first."""
        answer = _request(
            "GET",
            f"{self.sandbox_url}/v1/accounts/{account_id}/messages",
            None,
            {"Authorization": f"Bearer {self.state['sandbox_api_token']}"},
        )
        messages: list[dict[str, Any]] = answer.json()["messages"]
        return messages

    def sandbox_account(self, account_id: str) -> dict[str, str]:
        """The references a provider account of the sandbox needs (provider_accounts'
        signing_secret_ref and credentials_ref) to send and be called back."""
        credentials = {
            "account_id": account_id,
            "api_token": self.state["sandbox_api_token"],
            "base_url": self.sandbox_url,
        }
        return {
            "signing_secret_ref": f"local:{self.state['sandbox_signing_secret']}",
            "credentials_ref": f"local:{json.dumps(credentials)}",
        }


def _request(method: str, url: str, body: bytes | None, headers: Mapping[str, str]) -> Answer:
    response = urllib3.request(
        method, url, body=body, headers=dict(headers), timeout=TIMEOUT_SECONDS, retries=False
    )
    return Answer(
        response.status, {k.lower(): v for k, v in response.headers.items()}, response.data
    )
