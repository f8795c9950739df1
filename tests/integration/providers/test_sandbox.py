"""The sandbox provider and its adapter, over real HTTP on a free loopback port."""

from __future__ import annotations

import json
import re
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
import urllib3

from tests.support.providers import FROM, TO
from tether.providers import ProviderError, ProviderErrorKind, SendCommand, provider_for
from tether.providers.sandbox import SandboxProvider
from tether_dev.sandbox import (
    DEFAULT_FAULT_NUMBERS,
    SandboxConfig,
    SandboxFault,
    SandboxServer,
    SandboxText,
)

K = ProviderErrorKind


def command(
    key: str = "lead-1:intro:2026-03-02", to: str = TO, body: str = "Hi Ana"
) -> SendCommand:
    return SendCommand(FROM, to, body, key, status_callback_url="https://example.test/status")


def test_a_send_is_accepted_with_a_sid_and_recorded(
    sandbox: SandboxServer, sandbox_provider: SandboxProvider
) -> None:
    accepted = sandbox_provider.send(command(body="Hi Ana 👋 " + "x" * 70))
    assert re.fullmatch(r"SM[0-9a-f]{32}", accepted.external_id)
    assert accepted.provider == "sandbox"
    assert accepted.status == "queued"
    assert accepted.segments == 2  # the emoji makes it UCS-2: 80 code units
    [text] = sandbox.texts()
    assert (text.sid, text.from_number, text.to_number) == (accepted.external_id, FROM, TO)
    assert text.idempotency_key == "lead-1:intro:2026-03-02"
    assert text.status_callback_url == "https://example.test/status"
    assert text.encoding == "UCS-2"


def test_the_same_idempotency_key_answers_the_same_and_sends_one_text(
    sandbox: SandboxServer, sandbox_provider: SandboxProvider
) -> None:
    first = sandbox_provider.send(command())
    again = sandbox_provider.send(command())
    other = sandbox_provider.send(command(key="lead-1:follow-up:2026-03-02"))
    assert again == first
    assert other.external_id != first.external_id
    assert len(sandbox.texts()) == 2
    assert [t.sid for t in sandbox.texts(idempotency_key="lead-1:intro:2026-03-02")] == [
        first.external_id
    ]


def test_concurrent_sends_with_one_key_make_one_text(
    sandbox: SandboxServer, sandbox_provider: SandboxProvider
) -> None:
    results: list[str] = []

    def send() -> None:
        results.append(sandbox_provider.send(command()).external_id)

    threads = [threading.Thread(target=send) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(results)) == 1
    assert len(sandbox.texts()) == 1


def test_a_key_reused_for_another_message_is_refused(
    sandbox: SandboxServer, sandbox_provider: SandboxProvider
) -> None:
    sandbox_provider.send(command())
    with pytest.raises(ProviderError) as raised:
        sandbox_provider.send(command(body="a different text"))
    assert raised.value.kind == K.REJECTED
    assert raised.value.code == "idempotency_key_reused"
    assert len(sandbox.texts()) == 1


def test_without_keys_a_retry_is_a_second_text_and_find_sent_finds_the_first(
    sandbox: SandboxServer,
) -> None:
    sandbox.configure(honour_idempotency_keys=False)
    provider = provider_for(
        "sandbox",
        {"account_id": "sandbox", "api_token": "sandbox-token", "idempotency_keys": "off"},
        base_url=sandbox.url,
        local_stage=True,
    )
    assert not provider.supports_idempotency_key
    before = datetime.now(UTC)
    first = provider.send(command())
    # After a crash the caller asks before sending again, and gets the first text.
    assert provider.find_sent(command(), before) == first
    # Had it sent blindly, the lead would have had the text twice.
    second = provider.send(command())
    assert second.external_id != first.external_id
    assert len(sandbox.texts()) == 2
    assert all(text.idempotency_key is None for text in sandbox.texts())


def test_find_sent_ignores_other_texts_and_older_ones(
    sandbox: SandboxServer, sandbox_provider: SandboxProvider
) -> None:
    sandbox_provider.send(command())
    later = datetime.now(UTC) + timedelta(seconds=1)
    assert sandbox_provider.find_sent(command(), later) is None
    earlier = datetime.now(UTC) - timedelta(minutes=1)
    assert sandbox_provider.find_sent(command(body="another body"), earlier) is None
    assert sandbox_provider.find_sent(command(to="+14155550199"), earlier) is None
    assert sandbox_provider.find_sent(command(), earlier) is not None


@pytest.mark.parametrize(
    ("number", "fault"),
    [(n, f) for n, f in DEFAULT_FAULT_NUMBERS.items() if f != SandboxFault.TIMEOUT],
)
def test_each_failure_class_maps_to_its_kind(
    sandbox: SandboxServer, sandbox_provider: SandboxProvider, number: str, fault: SandboxFault
) -> None:
    expected = {
        SandboxFault.RATE_LIMITED: (K.RETRYABLE, 429),
        SandboxFault.SERVER_ERROR: (K.RETRYABLE, 500),
        SandboxFault.UNSUBSCRIBED: (K.UNSUBSCRIBED, 400),
        SandboxFault.INVALID_NUMBER: (K.INVALID_NUMBER, 400),
        SandboxFault.NOT_SMS_CAPABLE: (K.NOT_SMS_CAPABLE, 400),
        SandboxFault.LANDLINE: (K.LANDLINE, 400),
        SandboxFault.FILTERED: (K.FILTERED, 400),
        SandboxFault.REJECTED: (K.REJECTED, 400),
    }[fault]
    with pytest.raises(ProviderError) as raised:
        sandbox_provider.send(command(to=number))
    assert (raised.value.kind, raised.value.http_status) == expected
    assert raised.value.code == str(fault)
    assert raised.value.retryable == (expected[0] == K.RETRYABLE)
    assert sandbox.texts() == []


def test_a_failed_send_is_not_replayed_so_a_retry_with_its_key_can_succeed(
    sandbox: SandboxServer, sandbox_provider: SandboxProvider
) -> None:
    sandbox.configure(fault_rates={SandboxFault.SERVER_ERROR: 1.0})
    with pytest.raises(ProviderError) as raised:
        sandbox_provider.send(command())
    assert raised.value.retryable
    assert raised.value.may_have_sent  # a 5xx is ambiguous at a real provider
    sandbox.configure(fault_rates={})
    assert sandbox_provider.send(command()).external_id == sandbox.texts()[0].sid


@pytest.mark.parametrize(
    ("account_id", "token", "code"),
    [
        ("sandbox", "wrong-token", "unauthorized"),
        ("someone-else", "sandbox-token", "account_not_found"),
    ],
)
def test_wrong_credentials_are_auth_errors(
    sandbox: SandboxServer, account_id: str, token: str, code: str
) -> None:
    provider = SandboxProvider(sandbox.url, account_id, token)
    with pytest.raises(ProviderError) as raised:
        provider.send(command())
    assert raised.value.kind == K.AUTH
    assert raised.value.code == code
    with pytest.raises(ProviderError) as looked_up:
        provider.find_sent(command(), datetime.now(UTC))
    assert looked_up.value.kind == K.AUTH
    assert sandbox.texts() == []


def test_latency_past_the_read_timeout_is_retryable_and_maybe_sent(sandbox: SandboxServer) -> None:
    sandbox.configure(latency_seconds=0.5)
    provider = SandboxProvider(sandbox.url, "sandbox", "sandbox-token", read_timeout=0.1)
    started = time.monotonic()
    with pytest.raises(ProviderError) as raised:
        provider.send(command())
    assert time.monotonic() - started < 0.45
    assert raised.value.kind == K.RETRYABLE
    assert raised.value.may_have_sent


def test_a_stalled_answer_is_retryable_and_the_text_is_found_afterwards(
    sandbox: SandboxServer,
) -> None:
    # The TIMEOUT number accepts the text, then answers too late: the ambiguous case.
    provider = SandboxProvider(
        sandbox.url, "sandbox", "sandbox-token", supports_idempotency_key=False, read_timeout=0.2
    )
    before = datetime.now(UTC)
    stalled = command(to="+15005550007")
    with pytest.raises(ProviderError) as raised:
        provider.send(stalled)
    assert raised.value.retryable
    assert raised.value.may_have_sent
    found = provider.find_sent(stalled, before)
    assert found is not None
    assert [t.sid for t in sandbox.texts()] == [found.external_id]


def test_latency_below_the_timeout_only_slows_the_send(sandbox: SandboxServer) -> None:
    sandbox.configure(latency_seconds=0.05, latency_jitter_seconds=0.05)
    provider = SandboxProvider(sandbox.url, "sandbox", "sandbox-token", read_timeout=2.0)
    started = time.monotonic()
    provider.send(command())
    assert 0.05 <= time.monotonic() - started < 1.0


def test_faults_by_rate_are_reproducible_from_the_seed() -> None:
    def outcomes(seed: int) -> list[str]:
        config = SandboxConfig(
            fault_rates={SandboxFault.RATE_LIMITED: 0.3, SandboxFault.FILTERED: 0.2}, seed=seed
        )
        with SandboxServer(config) as server:
            provider = SandboxProvider(server.url, "sandbox", "sandbox-token")
            results = []
            for n in range(30):
                try:
                    provider.send(command(key=f"k{n}", to=f"+1415555{n:04d}"))
                    results.append("sent")
                except ProviderError as error:
                    results.append(str(error.kind))
        return results

    first = outcomes(seed=7)
    assert first == outcomes(seed=7)
    assert {"sent", "retryable", "filtered"} <= set(first)
    assert first != outcomes(seed=8)


def test_validation_errors_answer_like_a_provider(sandbox: SandboxServer) -> None:
    http = urllib3.PoolManager(retries=False)
    url = f"{sandbox.url}/v1/accounts/sandbox/messages"
    headers = {"Authorization": "Bearer sandbox-token", "Content-Type": "application/json"}

    def post(payload: object) -> tuple[int, str]:
        response = http.request("POST", url, body=json.dumps(payload).encode(), headers=headers)
        return response.status, json.loads(response.data)["error"]["code"]

    assert post({"from": FROM, "to": "4155550123", "body": "x"}) == (400, "invalid_number")
    assert post({"from": "me", "to": TO, "body": "x"}) == (400, "invalid_request")
    assert post({"from": FROM, "to": TO, "body": ""}) == (400, "invalid_request")
    assert post({"from": FROM, "to": TO, "body": "x" * 1601}) == (400, "invalid_request")
    assert post(["not", "an", "object"]) == (400, "invalid_request")
    response = http.request("POST", url, body=b"{oops", headers=headers)
    assert response.status == 400
    # Media alone is a valid message.
    response = http.request(
        "POST",
        url,
        body=json.dumps({"from": FROM, "to": TO, "media_urls": ["https://x.test/a.png"]}).encode(),
        headers=headers,
    )
    assert response.status == 201
    assert sandbox.texts()[0].media_urls == ("https://x.test/a.png",)


def test_the_messages_list_filters_by_number_pair_and_time(
    sandbox: SandboxServer, sandbox_provider: SandboxProvider
) -> None:
    sandbox_provider.send(command(key="a"))
    middle = datetime.now(UTC)
    sandbox_provider.send(command(key="b", body="second"))
    sandbox_provider.send(command(key="c", to="+14155550199"))
    http = urllib3.PoolManager(retries=False)

    def listed(**params: str) -> list[str]:
        response = http.request(
            "GET",
            f"{sandbox.url}/v1/accounts/sandbox/messages",
            fields=params,
            headers={"Authorization": "Bearer sandbox-token"},
        )
        assert response.status == 200
        return [m["idempotency_key"] for m in json.loads(response.data)["messages"]]

    assert listed() == ["c", "b", "a"]  # newest first
    assert listed(**{"from": FROM, "to": TO}) == ["b", "a"]
    assert listed(to=TO, date_sent_after=middle.isoformat()) == ["b"]


def test_an_account_lists_its_own_texts_only() -> None:
    """Found by the soak: with open accounts (one sandbox for every tenant locally) the
    list answered every account's texts, so one tenant read another's."""
    with SandboxServer(SandboxConfig(open_accounts=True)) as server:
        SandboxProvider(server.url, "acct-a", "sandbox-token").send(command(key="a"))
        SandboxProvider(server.url, "acct-b", "sandbox-token").send(command(key="b"))
        http = urllib3.PoolManager(retries=False)

        def listed(account: str) -> list[str]:
            response = http.request(
                "GET",
                f"{server.url}/v1/accounts/{account}/messages",
                headers={"Authorization": "Bearer sandbox-token"},
            )
            return [m["idempotency_key"] for m in json.loads(response.data)["messages"]]

        assert listed("acct-a") == ["a"]
        assert listed("acct-b") == ["b"]
        assert listed("acct-c") == []


def test_accepted_texts_reach_the_listener_seam() -> None:
    heard: list[SandboxText] = []
    with SandboxServer(on_text_accepted=heard.append) as server:
        SandboxProvider(server.url, "sandbox", "sandbox-token").send(command())
        assert [t.sid for t in heard] == [t.sid for t in server.texts()]


def test_stop_is_prompt_even_with_a_request_stalled() -> None:
    server = SandboxServer(SandboxConfig(stall_seconds=30)).start()
    provider = SandboxProvider(server.url, "sandbox", "sandbox-token", read_timeout=10)
    errors: list[ProviderError] = []

    def send() -> None:
        try:
            provider.send(command(to="+15005550007"))
        except ProviderError as error:
            errors.append(error)

    thread = threading.Thread(target=send)
    thread.start()
    while not server.texts():
        time.sleep(0.01)
    started = time.monotonic()
    server.stop()
    thread.join(timeout=5)
    assert time.monotonic() - started < 2
    assert not thread.is_alive()
    with pytest.raises(RuntimeError):
        _ = server.url
