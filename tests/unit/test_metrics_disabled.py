"""POWERTOOLS_METRICS_DISABLED means no EMF output, however long the process runs.

Powertools alone prints nothing at a disabled flush but keeps the values, and prints the
set once a metric holds 100 of them (`make bench-outbound` printed pages of EMF)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tether.observability import metrics


@pytest.fixture(autouse=True)
def fresh_metrics() -> Iterator[None]:
    metrics.clear_metrics()
    yield
    metrics.clear_metrics()


@metrics.log_metrics
def handler(event: dict[str, Any], context: object) -> None:
    for _ in range(event["sends"]):
        metrics.add_metric(name="MessagesSent", unit="Count", value=1)


def test_many_invocations_print_no_emf_when_disabled(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
    for _ in range(250):  # one container's share of a bench: 250 invocations
        handler({"sends": 1}, None)
    handler({"sends": 250}, None)  # and 250 values in one invocation
    metrics.add_metric(name="MessagesSent", unit="Count", value=1)  # outside any handler
    assert capsys.readouterr().out == ""
    assert len(metrics.metric_set.get("MessagesSent", {}).get("Value", [])) == 1


def test_metrics_are_printed_when_enabled(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("POWERTOOLS_METRICS_DISABLED", raising=False)
    monkeypatch.delenv("POWERTOOLS_DEV", raising=False)
    handler({"sends": 2}, None)
    out = capsys.readouterr().out
    assert '"MessagesSent":[1.0,1.0]' in out.replace(" ", "")
    assert metrics.metric_set == {}
