"""The tenant's reply mailbox through /v1/settings, and each lead's reply address on
the lead API (issue 18: email replies find their lead by it)."""

from __future__ import annotations

import uuid

from tests.support.api_client import Api
from tether.db.connection import Connection


def test_a_reply_mailbox_gives_every_lead_its_own_reply_address(
    api: Api, admin: Connection
) -> None:
    client = api.tenant()
    assert client.get("/v1/settings").body["reply_mailbox"] is None
    lead_id = admin.execute(
        "INSERT INTO leads (tenant_id, phone) VALUES (%s, '+14155550142') RETURNING id, reply_token",
        (client.tenant_id,),
    ).fetchone()
    assert lead_id is not None
    assert client.get(f"/v1/leads/{lead_id['id']}").body["reply_address"] is None
    mailbox = f"replies@r{uuid.uuid4().hex[:8]}.acme.test"
    changed = client.request("PATCH", "/v1/settings", {"reply_mailbox": mailbox})
    assert changed.status == 200, changed
    assert changed.body["reply_mailbox"] == mailbox
    local, domain = mailbox.split("@")
    lead = client.get(f"/v1/leads/{lead_id['id']}").body
    assert lead["reply_address"] == f"{local}+{lead_id['reply_token']}@{domain}"
    listed = client.get("/v1/leads").body["items"]
    assert [item["reply_address"] for item in listed] == [lead["reply_address"]]
    # another tenant cannot take it: 409 in words, no constraint name
    taken = api.tenant("Other").request("PATCH", "/v1/settings", {"reply_mailbox": mailbox})
    assert taken.status == 409, taken
    assert "another tenant has this reply mailbox" in taken.body["message"]
    # what is no mailbox, or has the tag separator, is 422; null removes it
    for bad in ("Replies@acme.test", "replies+x@acme.test", "replies", "a@b"):
        assert client.request("PATCH", "/v1/settings", {"reply_mailbox": bad}).status == 422, bad
    cleared = client.request("PATCH", "/v1/settings", {"reply_mailbox": None})
    assert cleared.status == 200
    assert cleared.body["reply_mailbox"] is None
