"""The sandbox talking back: status callbacks after each accepted text that asked for
them (to the URL it named, and never unasked, as real providers do) and replies from
leads, posted over real HTTP to a webhook receiver, signed so the webhook verifies."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import urllib3

from tests.support.providers import FROM, TO
from tether.providers import SendCommand
from tether.providers.sandbox import SandboxProvider
from tether.webhooks.signatures import verify_standard_webhooks
from tether_dev.sandbox import SandboxConfig, SandboxServer
from tether_dev.sandbox.callbacks import WebhookPoster
from tether_dev.sandbox.server import DEV_SIGNING_SECRET


class Receiver(ThreadingHTTPServer):
    """A webhook endpoint that keeps every post: (path, headers, body)."""

    def __init__(self, failures: int = 0) -> None:
        self.posts: list[tuple[str, dict[str, str], bytes]] = []
        self.failures = failures  # the first posts answered 503
        # the first post's answer waits until this many more posts arrived (10 s at most)
        self.hold_first_for = 0
        self.arrived_while_held = 0
        self.lock = threading.Condition()
        super().__init__(("127.0.0.1", 0), _Handler)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/webhooks/sandbox"

    def events(self) -> list[dict[str, Any]]:
        with self.lock:
            return [json.loads(body) for _, _, body in self.posts]


class _Handler(BaseHTTPRequestHandler):
    server: Receiver

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        server = self.server
        with server.lock:
            server.posts.append((self.path, {k.lower(): v for k, v in self.headers.items()}, body))
            failing = len(server.posts) <= server.failures
            server.lock.notify_all()
            if len(server.posts) == 1 and server.hold_first_for:
                server.lock.wait_for(lambda: len(server.posts) > server.hold_first_for, 10)
                server.arrived_while_held = len(server.posts) - 1
        self.send_response(503 if failing else 200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def talking_sandbox(
    receiver: Receiver, make_sandbox: Callable[..., SandboxServer]
) -> Callable[..., SandboxServer]:
    """Sandboxes that post their callbacks to `receiver` (the test may stop one early)."""

    def make(**config: Any) -> SandboxServer:
        return make_sandbox(
            webhook_url=receiver.url, open_accounts=True, callback_delay_seconds=0.02, **config
        )

    return make


def wait_for(receiver: Receiver, count: int) -> list[dict[str, Any]]:
    deadline = time.monotonic() + 5
    while len(receiver.events()) < count and time.monotonic() < deadline:
        time.sleep(0.02)
    return receiver.events()


def test_each_text_gets_queued_sent_delivered_signed_to_its_accounts_webhook(
    receiver: Receiver, talking_sandbox: Callable[..., SandboxServer]
) -> None:
    sandbox = talking_sandbox()
    try:
        provider = SandboxProvider(sandbox.url, "acct-7", sandbox.config.api_token)
        callback = f"{receiver.url}/acct-7"
        accepted = provider.send(SendCommand(FROM, TO, "Hi", "key-1", status_callback_url=callback))
        events = wait_for(receiver, 3)
    finally:
        sandbox.stop()

    assert [(e["type"], e["data"]["status"]) for e in events] == [
        ("message.status", "queued"),
        ("message.status", "sent"),
        ("message.status", "delivered"),
    ]
    assert {e["data"]["id"] for e in events} == {accepted.external_id}
    for path, headers, body in receiver.posts:
        assert path == "/webhooks/sandbox/acct-7"
        verify_standard_webhooks(
            headers["webhook-id"],
            headers["webhook-timestamp"],
            headers["webhook-signature"],
            body,
            [sandbox.config.signing_secret],
            datetime.now(UTC),
        )
    assert [t.account_id for t in sandbox.texts()] == ["acct-7"]


def test_at_an_undelivered_rate_of_one_every_text_ends_undelivered_with_a_reason(
    receiver: Receiver, talking_sandbox: Callable[..., SandboxServer]
) -> None:
    sandbox = talking_sandbox(undelivered_rate=1.0)
    try:
        SandboxProvider(sandbox.url, "a", sandbox.config.api_token).send(
            SendCommand(FROM, TO, "Hi", "key-1", status_callback_url=f"{receiver.url}/a")
        )
        last = wait_for(receiver, 3)[-1]["data"]
    finally:
        sandbox.stop()
    assert (last["status"], last["error_code"]) == ("undelivered", "filtered")


def test_a_reply_goes_to_the_account_that_sent_from_that_number(
    receiver: Receiver, talking_sandbox: Callable[..., SandboxServer]
) -> None:
    sandbox = talking_sandbox()
    try:
        SandboxProvider(sandbox.url, "acct-9", sandbox.config.api_token).send(
            SendCommand(FROM, TO, "Hi", "key-1")
        )

        def reply(payload: dict[str, str]) -> urllib3.BaseHTTPResponse:
            return urllib3.request(
                "POST", f"{sandbox.url}/sandbox/replies", body=json.dumps(payload).encode()
            )

        answer = reply({"from": TO, "to": FROM, "body": "STOP"})
        unknown = reply({"from": TO, "to": "+14155550999", "body": "hello?"})
        chosen = reply({"from": TO, "to": "+14155550999", "body": "hi", "account_id": "acct-2"})
        malformed = reply({"from": "nope", "to": FROM, "body": "x"})
        wait_for(receiver, 2)  # the two replies (its send asked for no status callbacks)
    finally:
        sandbox.stop()

    assert (answer.status, answer.json()["account_id"], answer.json()["webhook_status"]) == (
        202,
        "acct-9",
        200,
    )
    assert unknown.status == 404
    assert chosen.status == 202
    assert malformed.status == 400
    received = [(p, json.loads(b)) for p, _, b in receiver.posts if b"message.received" in b]
    assert [(p, e["data"]["from"], e["data"]["body"]) for p, e in received] == [
        ("/webhooks/sandbox/acct-9", TO, "STOP"),
        ("/webhooks/sandbox/acct-2", TO, "hi"),
    ]


def test_a_post_answered_5xx_is_retried_with_the_same_webhook_id() -> None:
    receiver = Receiver(failures=2)
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    try:
        poster = WebhookPoster(receiver.url, DEV_SIGNING_SECRET, retry_delays=(0.01, 0.01, 0.01))
        delivery = poster.post("acct-1", "message.status", {"id": "SM1", "status": "sent"})
    finally:
        receiver.shutdown()
        receiver.server_close()
    assert delivery.status == 200
    assert [h["webhook-id"] for _, h, _ in receiver.posts] == [delivery.webhook_id] * 3


def test_without_a_webhook_url_it_stays_silent_and_serves_one_account(receiver: Receiver) -> None:
    with SandboxServer(SandboxConfig()) as sandbox:
        refused = urllib3.request(
            "POST",
            f"{sandbox.url}/v1/accounts/other/messages",
            body=json.dumps({"from": FROM, "to": TO, "body": "x"}).encode(),
            headers={"Authorization": f"Bearer {sandbox.config.api_token}"},
        )
        no_webhook = urllib3.request(
            "POST",
            f"{sandbox.url}/sandbox/replies",
            body=json.dumps({"from": TO, "to": FROM, "body": "x"}).encode(),
        )
    assert refused.status == 404
    assert no_webhook.status == 409
    assert receiver.posts == []


def test_status_callbacks_go_only_to_the_url_a_send_names_and_never_unasked(
    receiver: Receiver, talking_sandbox: Callable[..., SandboxServer]
) -> None:
    sandbox = talking_sandbox()
    try:
        provider = SandboxProvider(sandbox.url, "acct-3", sandbox.config.api_token)
        silent = provider.send(SendCommand(FROM, TO, "no callback asked", "key-1"))
        elsewhere = f"{receiver.url.removesuffix('/webhooks/sandbox')}/status/of/key-2?x=1"
        asked = provider.send(
            SendCommand(FROM, TO, "callback asked", "key-2", status_callback_url=elsewhere)
        )
        events = wait_for(receiver, 3)
        time.sleep(0.2)  # the silent text's statuses would be due by now (delay 0.02 s)
        deliveries = sandbox.deliveries()
    finally:
        sandbox.stop()
    assert [e["data"]["id"] for e in receiver.events()] == [asked.external_id] * 3
    assert {path for path, _, _ in receiver.posts} == {"/status/of/key-2?x=1"}
    assert len(events) == 3
    by_sid = {t.sid: t for t in sandbox.texts()}
    assert by_sid[silent.external_id].status_callback_url is None
    assert by_sid[asked.external_id].status_callback_url == elsewhere
    assert [d.url for d in deliveries] == [elsewhere] * 3


def test_a_status_callback_that_is_not_an_http_url_is_refused(
    talking_sandbox: Callable[..., SandboxServer],
) -> None:
    sandbox = talking_sandbox()
    try:
        answers = [
            urllib3.request(
                "POST",
                f"{sandbox.url}/v1/accounts/acct/messages",
                body=json.dumps(
                    {"from": FROM, "to": TO, "body": "x", "status_callback": callback}
                ).encode(),
                headers={"Authorization": f"Bearer {sandbox.config.api_token}"},
            )
            for callback in ("ftp://example.test/x", "not a url", "https://", 7)
        ]
    finally:
        sandbox.stop()
    assert [a.status for a in answers] == [400] * 4
    assert sandbox.texts() == []


def test_lanes_post_at_once_each_texts_statuses_still_in_order(
    receiver: Receiver, talking_sandbox: Callable[..., SandboxServer]
) -> None:
    """The first post's answer is held until three more posts arrive: only other lanes
    can post them (its own waits for that answer). Every text's statuses arrive in order."""
    receiver.hold_first_for = 3
    sandbox = talking_sandbox(callback_lanes=4)
    try:
        provider = SandboxProvider(sandbox.url, "acct-9", sandbox.config.api_token)
        sids = [
            provider.send(
                SendCommand(
                    FROM, TO, f"Hi {n}", f"key-{n}", status_callback_url=f"{receiver.url}/acct-9"
                )
            ).external_id
            for n in range(12)
        ]
        events = wait_for(receiver, 12 * 3)
    finally:
        sandbox.stop()

    assert receiver.arrived_while_held >= 3
    posted = [(e["data"]["id"], e["data"]["status"]) for e in events]
    assert sorted(posted) == sorted(
        (sid, status) for sid in sids for status in ("queued", "sent", "delivered")
    )
    for sid in sids:
        assert [status for posted_sid, status in posted if posted_sid == sid] == [
            "queued",
            "sent",
            "delivered",
        ]
