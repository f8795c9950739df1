"""/v1/escalations and /v1/leads/{id}/timers through proxy events: the escalation map
with its defaults, a callback set and moved, a timer cancelled, and the errors."""

from __future__ import annotations

import uuid
from datetime import timedelta

from tests.support.api_client import NOW, Api
from tests.support.api_scenes import build_campaign


def test_the_escalation_map_shows_defaults_and_takes_a_move_and_a_close(api: Api) -> None:
    client = api.tenant()
    scene = build_campaign(api, client, leads=0)
    assert client.get("/v1/escalations").body == {
        "steps": [
            {
                "timer_type": "TIMER_7D",
                "action": "follow_up",
                "campaign_id": None,
                "configured": False,
            },
            {
                "timer_type": "TIMER_14D",
                "action": "follow_up",
                "campaign_id": None,
                "configured": False,
            },
            {
                "timer_type": "TIMER_30D",
                "action": "close",
                "campaign_id": None,
                "configured": False,
            },
        ]
    }
    moved = client.request(
        "PUT", "/v1/escalations/TIMER_7D", {"action": "move", "campaign_id": scene.campaign_id}
    )
    assert moved.status == 200, moved
    assert moved.body["steps"][0] == {
        "timer_type": "TIMER_7D",
        "action": "move",
        "campaign_id": scene.campaign_id,
        "configured": True,
    }
    closed = client.request("PUT", "/v1/escalations/TIMER_14D", {"action": "close"})
    assert closed.body["steps"][1]["action"] == "close"
    reset = client.request("DELETE", "/v1/escalations/TIMER_7D")
    assert reset.body["steps"][0] == {
        "timer_type": "TIMER_7D",
        "action": "follow_up",
        "campaign_id": None,
        "configured": False,
    }


def test_escalation_errors_are_422_and_404(api: Api) -> None:
    client = api.tenant()
    missing = client.request("PUT", "/v1/escalations/TIMER_7D", {"action": "move"})
    assert missing.status == 422
    assert "campaign_id is required by move" in str(missing.body)
    assert (
        client.request(
            "PUT", "/v1/escalations/TIMER_7D", {"action": "close", "campaign_id": str(uuid.uuid4())}
        ).status
        == 422
    )
    assert client.request("PUT", "/v1/escalations/FOLLOW_UP", {"action": "close"}).status == 422
    unknown = client.request(
        "PUT", "/v1/escalations/TIMER_7D", {"action": "move", "campaign_id": str(uuid.uuid4())}
    )
    assert unknown.status == 404
    assert client.get("/v1/escalations").body["steps"][0]["configured"] is False  # nothing written


def test_a_callback_is_set_moved_listed_and_cancelled(api: Api) -> None:
    client = api.tenant()
    scene = build_campaign(api, client, leads=1)
    lead = scene.lead_ids[0]
    at = (NOW + timedelta(days=1)).isoformat()
    first = client.post(f"/v1/leads/{lead}/timers", {"timer_type": "CALLBACK", "trigger_at": at})
    assert first.status == 201, first
    assert (first.body["timer_type"], first.body["executed_at"]) == ("CALLBACK", None)
    later = (NOW + timedelta(days=2)).isoformat()
    moved = client.post(f"/v1/leads/{lead}/timers", {"timer_type": "CALLBACK", "trigger_at": later})
    assert moved.body["id"] == first.body["id"]  # one pending timer per type: it moved
    listed = client.get(f"/v1/leads/{lead}/timers").body["items"]
    assert [(t["timer_type"], t["trigger_at"][:10]) for t in listed] == [("CALLBACK", later[:10])]

    assert client.request("DELETE", f"/v1/leads/{lead}/timers/CALLBACK").body == {"cancelled": 1}
    assert client.request("DELETE", f"/v1/leads/{lead}/timers/CALLBACK").body == {"cancelled": 0}
    [cancelled] = client.get(f"/v1/leads/{lead}/timers").body["items"]
    assert cancelled["cancel_reason"] == "cancelled through the API"


def test_timer_errors_are_422_and_404(api: Api) -> None:
    client = api.tenant()
    scene = build_campaign(api, client, leads=1)
    lead = scene.lead_ids[0]
    naive = client.post(
        f"/v1/leads/{lead}/timers", {"timer_type": "CALLBACK", "trigger_at": "2026-12-01T10:00:00"}
    )
    assert naive.status == 422
    assert (
        client.post(
            f"/v1/leads/{lead}/timers", {"timer_type": "SOON", "trigger_at": NOW.isoformat()}
        ).status
        == 422
    )
    assert client.get(f"/v1/leads/{uuid.uuid4()}/timers").status == 404
    assert (
        client.post(
            f"/v1/leads/{uuid.uuid4()}/timers",
            {"timer_type": "CALLBACK", "trigger_at": NOW.isoformat()},
        ).status
        == 404
    )
