"""/v1/settings through proxy events: read, change a few, the rules that tie settings
together, and nothing written on a refusal."""

from __future__ import annotations

from tests.integration.api.conftest import Api


def test_settings_read_and_change_only_what_is_sent(api: Api) -> None:
    client = api.tenant()
    before = client.get("/v1/settings")
    assert before.status == 200
    assert (before.body["quiet_hours_start"], before.body["timer_7d_days"]) == ("08:00:00", 7)

    changed = client.request(
        "PATCH",
        "/v1/settings",
        {
            "quiet_hours_start": "00:00",
            "quiet_hours_end": "23:59:59",
            "send_segments_per_second": None,
        },
    )
    assert changed.status == 200, changed
    assert changed.body == {
        **before.body,
        "quiet_hours_start": "00:00:00",
        "quiet_hours_end": "23:59:59",
        "send_segments_per_second": None,
    }
    other = api.tenant("Other")
    assert other.get("/v1/settings").body == before.body  # another tenant's own


def test_settings_that_contradict_are_422_and_change_nothing(api: Api) -> None:
    client = api.tenant()
    before = client.get("/v1/settings").body
    for change, reason in [
        ({"timer_14d_days": 40}, "timers must come in order"),
        ({"quiet_hours_start": "22:00"}, "quiet_hours_start must be before"),
        ({"timezone": "Mars/Olympus"}, "unknown time zone"),
        ({"call_priority": None}, "cannot be null"),
    ]:
        answer = client.request("PATCH", "/v1/settings", change)
        assert answer.status == 422, (change, answer)
        assert reason in answer.body["message"]
    assert client.request("PATCH", "/v1/settings", {"nonsense": 1}).status == 422
    assert client.request("PATCH", "/v1/settings", {"timer_7d_days": 0}).status == 422
    assert client.get("/v1/settings").body == before
