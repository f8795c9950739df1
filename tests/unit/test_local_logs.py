"""The local stack's log line: who, for whom, which message, which request, then what."""

from __future__ import annotations

from tether_dev.local.logs import function_label, terminal_line


def test_one_line_with_the_ids_first_and_the_event_keys_after() -> None:
    line = terminal_line(
        {
            "level": "INFO",
            "location": "handler:12",
            "message": "message sent",
            "timestamp": "21:40:01.123",
            "service": "tether",
            "function_name": "tether-local-PoolReleaseFunction",
            "function_request_id": "c6af9ac6-7b61-11e6-9a41-93e8deadbeef",
            "cold_start": False,
            "tenant_id": "8b646aaa-3dab-4c60-b458-8a83089c23ef",
            "lead_id": "306b0d19-0000-0000-0000-000000000000",
            "send_key": "k1",
            "from": "+14155550123",
        }
    )
    assert line == (
        "21:40:01.123 INFO  pool_release tenant=8b646aaa lead=306b0d19 msg=- corr=c6af9ac6"
        "  message sent  send_key=k1  from=+14155550123"
    )
    assert "\n" not in line


def test_an_explicit_correlation_id_wins_and_errors_keep_their_traceback() -> None:
    line = terminal_line(
        {
            "level": "ERROR",
            "message": "boom",
            "correlation_id": "abc",
            "function_request_id": "zzz",
            "exception": "Traceback ...\nValueError: x",
        }
    )
    assert "corr=abc" in line
    assert line.endswith("Traceback ...\nValueError: x")


def test_function_labels() -> None:
    assert function_label("tether-local-WebhookFunction") == "webhook"
    assert function_label("gateway") == "gateway"
    assert function_label(None) == "-"
