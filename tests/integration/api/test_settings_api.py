"""/v1/settings through proxy events: read, change a few, the rules that tie settings
together, and nothing written on a refusal."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest

from tests.support.api_client import FIXTURE_ACTOR, Api
from tether.db.connection import Connection


def test_settings_read_and_change_only_what_is_sent(api: Api) -> None:
    client = api.tenant()
    before = client.get("/v1/settings")
    assert before.status == 200
    assert (before.body["quiet_hours_start"], before.body["timer_7d_days"]) == ("08:00:00", 7)

    changed = client.request(
        "PATCH",
        "/v1/settings",
        {
            "quiet_hours_start": "09:00",
            "quiet_hours_end": "20:00",
            "send_segments_per_second": None,
        },
    )
    assert changed.status == 200, changed
    assert changed.body == {
        **before.body,
        "quiet_hours_start": "09:00:00",
        "quiet_hours_end": "20:00:00",
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


def test_quiet_hours_may_only_be_narrowed_and_every_change_is_audited(
    api: Api, admin: Connection
) -> None:
    """Finding 3: any key could switch quiet hours off, leaving only a log line."""
    client = api.tenant()
    before = client.get("/v1/settings").body
    assert (before["quiet_hours_by_state"], before["quiet_hours_wider_attested"]) == ({}, False)
    for change, reason in [
        ({"quiet_hours_start": "00:00", "quiet_hours_end": "23:59"}, "wider than the federal"),
        ({"quiet_hours_start": "07:59"}, "wider than the federal"),
        ({"quiet_hours_end": "21:01"}, "wider than the federal"),
        ({"quiet_hours_by_state": {"NY": {"start": "07:00", "end": "21:00"}}}, "NY"),
        # a state's statutory hours are refused even with the attestation
        (
            {
                "quiet_hours_wider_attested": True,
                "quiet_hours_by_state": {"TX": {"start": "08:00", "end": "21:00"}},
            },
            "TX",
        ),
        (
            {
                "quiet_hours_wider_attested": True,
                "quiet_hours_by_state": {"FL": {"start": "08:00", "end": "20:30"}},
            },
            "FL",
        ),
        ({"quiet_hours_by_state": {"ZZ": {"start": "09:00", "end": "20:00"}}}, "not US states"),
        ({"quiet_hours_by_state": {"CA": {"start": "20:00", "end": "09:00"}}}, "open before"),
    ]:
        answer = client.request("PATCH", "/v1/settings", change)
        assert answer.status == 422, (change, answer)
        assert reason in answer.body["message"], answer.body
    assert client.get("/v1/settings").body == before
    assert _audit(admin, client.tenant_id) == []  # a refusal writes nothing

    narrowed = client.request(
        "PATCH",
        "/v1/settings",
        {
            "quiet_hours_start": "09:00",
            "quiet_hours_by_state": {"TX": {"start": "10:00", "end": "20:00"}},
        },
    )
    assert narrowed.status == 200, narrowed
    assert narrowed.body["quiet_hours_by_state"] == {"TX": {"start": "10:00", "end": "20:00"}}
    [entry] = _audit(admin, client.tenant_id)
    assert entry["actor"].startswith("api_key:")
    assert entry["detail"]["old"] == {"quiet_hours_start": "08:00:00", "quiet_hours_by_state": {}}
    assert entry["detail"]["new"] == {
        "quiet_hours_start": "09:00:00",
        "quiet_hours_by_state": {"TX": {"start": "10:00", "end": "20:00"}},
    }
    assert entry["detail"]["attested_wider_window"] is False

    # wider than the federal window only with the attestation, and that is audited too
    wider = client.request(
        "PATCH",
        "/v1/settings",
        {
            "quiet_hours_start": "07:00",
            "quiet_hours_end": "22:00",
            "quiet_hours_wider_attested": True,
        },
    )
    assert wider.status == 200, wider
    latest = _audit(admin, client.tenant_id)[-1]
    assert latest["detail"]["new"]["quiet_hours_wider_attested"] is True
    assert latest["detail"]["old"]["quiet_hours_wider_attested"] is False
    assert latest["detail"]["attested_wider_window"] is True
    # withdrawing the attestation while the window is wide is refused
    assert (
        client.request("PATCH", "/v1/settings", {"quiet_hours_wider_attested": False}).status == 422
    )

    # any other setting is audited as well
    assert client.request("PATCH", "/v1/settings", {"timer_7d_days": 5}).status == 200
    assert _audit(admin, client.tenant_id)[-1]["detail"]["old"] == {"timer_7d_days": 7}


def test_the_database_refuses_an_unattested_wide_window(api: Api, admin: Connection) -> None:
    client = api.tenant()
    with pytest.raises(psycopg.errors.CheckViolation, match="tenant_config_quiet_hours_floor"):
        admin.execute(
            "UPDATE tenant_config SET quiet_hours_start = '00:00' WHERE tenant_id = %s",
            (client.tenant_id,),
        )


def _audit(admin: Connection, tenant_id: object) -> list[dict[str, Any]]:
    return admin.execute(
        "SELECT actor, detail FROM audit_log WHERE tenant_id = %s AND kind = 'settings_changed'"
        " AND actor IS DISTINCT FROM %s ORDER BY created_at",
        (tenant_id, FIXTURE_ACTOR),
    ).fetchall()
