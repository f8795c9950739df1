"""Outbound media through POST /v1/messages (issue 18): a good MMS is stored as one, a
bad media URL is a 422 that names it, with nothing written."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.api_client import Api
from tests.support.api_scenes import build_campaign

PHOTO = "https://cdn.example.com/listing/photo.jpg"


def send(api: Api, media: list[str]) -> tuple[Any, Any, Any]:
    client = api.tenant()
    scene = build_campaign(api, client, leads=1)
    reply = client.post(
        "/v1/messages",
        {
            "campaign_id": scene.campaign_id,
            "lead_id": scene.lead_ids[0],
            "body": "Look",
            "media_urls": media,
        },
    )
    return reply, client, scene


def test_an_mms_is_accepted_and_shows_its_media(api: Api) -> None:
    reply, client, _ = send(api, [PHOTO])
    assert reply.status == 202, reply.body
    message_id = reply.body["message_id"]
    row = api.admin.execute(
        "SELECT channel, segments FROM messages WHERE id = %s", (message_id,)
    ).fetchone()
    assert row == {"channel": "mms", "segments": 1}
    shown = client.get(f"/v1/messages/{message_id}/attachments")
    assert shown.status == 200
    [attachment] = shown.body["attachments"]
    # outbound media is passed on, not copied: the URL it went with
    assert (attachment["url"], attachment["copy_state"]) == (PHOTO, "none")


@pytest.mark.parametrize(
    ("media", "named"),
    [
        (["http://cdn.example.com/a.jpg"], "http://cdn.example.com/a.jpg"),
        ([PHOTO, "https://cdn.example.com/deck.pptx"], "https://cdn.example.com/deck.pptx"),
        ([f"https://cdn.example.com/{i}.png" for i in range(11)], "media_urls"),
    ],
    ids=["http", "wrong-type", "too-many"],
)
def test_bad_media_is_a_422_naming_it_and_nothing_is_written(
    api: Api, media: list[str], named: str
) -> None:
    reply, client, scene = send(api, media)
    assert reply.status == 422, reply.body
    assert named in str(reply.body)
    row = api.admin.execute(
        "SELECT (SELECT count(*) FROM messages WHERE tenant_id = %(t)s) AS messages,"
        " (SELECT count(*) FROM attachments WHERE tenant_id = %(t)s) AS attachments,"
        " (SELECT count(*) FROM lead_sender_bindings WHERE lead_id = %(l)s) AS bindings",
        {"t": client.tenant_id, "l": scene.lead_ids[0]},
    ).fetchone()
    assert row == {"messages": 0, "attachments": 0, "bindings": 0}
