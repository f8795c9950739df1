"""deliver_events' sinks as the function makes them from its environment, in the order
they run: the bell before the webhook POSTs, so a slow receiver (8 s a round of POSTs
at worst) never holds a browser's bell back (bench/events.py measures the bell)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from functions.deliver_events import app as deliver_app
from tether.aws.eventbridge import EventBridgeSink
from tether.config import deliver_events_settings, push_settings
from tether.services.push import WebSocketSink
from tether.services.subscriptions import WebhookSink


@pytest.fixture
def environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name, value in {
        "EVENT_BUS_NAME": "tether-test",
        "CONNECTIONS_TABLE_NAME": "connections",
        "WEBSOCKET_MANAGEMENT_URL": "https://api.example.com/prod",
        "TETHER_STAGE": "test",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    cached = (deliver_app.sinks, deliver_events_settings, push_settings)
    for getter in cached:
        getter.cache_clear()
    yield
    for getter in cached:
        getter.cache_clear()


@pytest.mark.usefixtures("environment")
def test_the_bus_then_the_bell_then_the_webhooks() -> None:
    assert [type(sink) for sink in deliver_app.sinks()] == [
        EventBridgeSink,
        WebSocketSink,
        WebhookSink,
    ]
