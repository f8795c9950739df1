"""GET /v1/leads through proxy events: filters by campaign, phone (as written by a
person, normalised) and state, and cursor pages."""

from __future__ import annotations

from tests.support.api_client import Api
from tests.support.api_scenes import build_campaign


def test_leads_are_listed_by_campaign_phone_and_state_in_pages(api: Api) -> None:
    client = api.tenant()
    first = build_campaign(api, client, leads=3)
    other = build_campaign(api, client, leads=1)

    mine = client.get("/v1/leads", query={"campaign_id": first.campaign_id}).body
    assert sorted(lead["id"] for lead in mine["items"]) == sorted(first.lead_ids)
    assert mine["next_cursor"] is None

    phone = other.lead_phones[0]
    written = f"({phone[2:5]}) {phone[5:8]}-{phone[8:]}"  # as a person types it
    found = client.get("/v1/leads", query={"phone": written}).body["items"]
    assert [lead["id"] for lead in found] == other.lead_ids

    assert client.get("/v1/leads", query={"state": "touched"}).body["items"] == []
    assert len(client.get("/v1/leads", query={"state": "new"}).body["items"]) == 4

    page = client.get("/v1/leads", query={"limit": 3}).body
    rest = client.get("/v1/leads", query={"limit": 3, "cursor": page["next_cursor"]}).body
    assert len(page["items"]) == 3
    assert len(rest["items"]) == 1
    assert rest["next_cursor"] is None
    assert client.get("/v1/leads", query={"state": "nonsense"}).status == 422
