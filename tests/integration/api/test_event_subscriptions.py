"""/v1/event-subscriptions over the api function: the secret Tether makes (shown once,
kept in Secrets Manager), the 422s for URLs and types (examples and hypothesis), the
delivery log's pages, and a replay that re-delivers under the same webhook-ids to a
real receiver, verified with `standardwebhooks`."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any
from uuid import UUID

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.api_client import NOW, Api, Client
from tests.support.receivers import receiver
from tether.config import stage_settings
from tether.db.unit_of_work import UnitOfWork
from tether.domain.outbox import EventType
from tether.secrets import clear_secret_cache
from tether.services.subscriptions import WebhookSink, retry_due_deliveries
from tether.webhook_sender import WebhookSender

ALL_TYPES = [t.value for t in EventType]


@pytest.fixture
def hooks_api(api: Api, monkeypatch: pytest.MonkeyPatch) -> Iterator[Api]:
    """The API, with deliveries reading their secrets from the same moto, and earlier
    tests' subscriptions in this database out of the way of this test's deliveries."""
    api.admin.execute(
        "UPDATE event_subscriptions SET status = 'disabled', failing_since = NULL"
        " WHERE status <> 'disabled'"
    )
    monkeypatch.setattr("tether.aws.clients.aws_client", lambda service: api.secretsmanager)
    clear_secret_cache()
    yield api
    clear_secret_cache()


def _subscribe(client: Client, url: str, types: list[str] | None = None) -> Any:
    reply = client.post("/v1/event-subscriptions", {"url": url, "event_types": types or ALL_TYPES})
    assert reply.status == 201, reply
    return reply.body


def test_the_secret_is_shown_once_and_kept_in_secrets_manager(hooks_api: Api) -> None:
    client = hooks_api.tenant()
    created = _subscribe(client, "https://hooks.example.com/tether", ["reply.received"])
    assert created["secret"].startswith("whsec_")
    assert created["status"] == "active"
    shown = client.get(f"/v1/event-subscriptions/{created['id']}")
    assert shown.status == 200
    assert "secret" not in shown.body
    assert shown.body["event_types"] == ["reply.received"]
    listed = client.get("/v1/event-subscriptions").body["items"]
    assert [s["id"] for s in listed] == [created["id"]]
    stored = hooks_api.admin.execute(
        "SELECT secret_ref FROM event_subscriptions WHERE id = %s", (created["id"],)
    ).fetchone()
    assert stored is not None
    assert created["secret"] not in str(stored)
    name = stored["secret_ref"]
    assert name.startswith(f"tether/local/tenants/{client.tenant_id}/event-subscriptions/")
    value = hooks_api.secretsmanager.get_secret_value(SecretId=name)["SecretString"]
    assert value == created["secret"]

    # a repeat with the same Idempotency-Key: the same subscription, the secret not again
    # (so no copy of it waits in the idempotency records)
    key = {"Idempotency-Key": "subscribe-1"}
    body = {"url": "https://hooks.example.com/two", "event_types": ["call.queued"]}
    first = client.post("/v1/event-subscriptions", body, headers=key)
    again = client.post("/v1/event-subscriptions", body, headers=key)
    assert first.body["secret"].startswith("whsec_")
    assert (again.status, again.body["id"], again.body["secret"]) == (201, first.body["id"], None)
    kept = hooks_api.admin.execute("SELECT string_agg(t::text, ' ') AS all FROM api_idempotency t")
    assert first.body["secret"] not in str(kept.fetchone())

    # disabled and enabled again; deleted with its secret
    patched = client.request(
        "PATCH", f"/v1/event-subscriptions/{created['id']}", {"status": "disabled"}
    )
    assert patched.body["status"] == "disabled"
    assert client.request("DELETE", f"/v1/event-subscriptions/{created['id']}").status == 200
    assert client.get(f"/v1/event-subscriptions/{created['id']}").status == 404
    with pytest.raises(hooks_api.secretsmanager.exceptions.ResourceNotFoundException):
        hooks_api.secretsmanager.get_secret_value(SecretId=name)


BAD_BODIES: list[tuple[dict[str, Any], str]] = [
    ({"url": "http://hooks.example.com/in", "event_types": ["reply.received"]}, "body.url"),
    ({"url": "ftp://hooks.example.com/in", "event_types": ["reply.received"]}, "body.url"),
    ({"url": "https://user:pw@hooks.example.com/", "event_types": ALL_TYPES}, "body.url"),
    ({"url": "hooks.example.com", "event_types": ALL_TYPES}, "body.url"),
    (
        {"url": "https://hooks.example.com/", "event_types": ["lead.exploded"]},
        "body.event_types.0",
    ),
    ({"url": "https://hooks.example.com/", "event_types": []}, "body.event_types"),
    ({"url": "https://hooks.example.com/"}, "body.event_types"),
]


def test_a_bad_url_or_type_is_a_422_naming_the_field(hooks_api: Api) -> None:
    client = hooks_api.tenant()
    for body, field in BAD_BODIES:
        reply = client.post("/v1/event-subscriptions", body)
        assert reply.status == 422, reply
        assert field in [f["field"] for f in reply.body["fields"]], (body, reply)
    assert client.get("/v1/event-subscriptions").body["items"] == []


SCHEMES = st.sampled_from(["https", "http", "ftp", "javascript", "HTTPS", ""])
HOSTS = st.sampled_from(
    ["hooks.example.com", "localhost", "127.0.0.1", "[::1]", "10.1.2.3", "169.254.169.254",
     "192.168.0.10", "api.acme.io", "203.0.113.9", "8.8.8.8", "intranet"]
)  # fmt: skip
PUBLIC = {"hooks.example.com", "api.acme.io", "8.8.8.8"}
LOCAL = {"localhost", "127.0.0.1", "[::1]"}
PATHS = st.text(alphabet="abc/-_.~%?=&", max_size=20)
TYPES = st.lists(st.sampled_from([*ALL_TYPES, "lead.exploded", "Reply.Received", ""]), max_size=4)


@settings(max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(scheme=SCHEMES, host=HOSTS, path=PATHS, types=TYPES, deployed=st.booleans())
def test_urls_and_types_are_taken_exactly_when_tether_may_deliver_there(
    hooks_api: Api,
    monkeypatch: pytest.MonkeyPatch,
    scheme: str,
    host: str,
    path: str,
    types: list[str],
    deployed: bool,
) -> None:
    """https to a public host everywhere; http to this machine on the local stack only;
    a private, link-local or bare host never once deployed; known types only."""
    monkeypatch.setenv("TETHER_STAGE", "prod" if deployed else "local")
    stage_settings.cache_clear()
    try:
        url = f"{scheme}://{host}/{path}" if scheme else f"{host}/{path}"
        client = Client(hooks_api_key(hooks_api), None)
        reply = client.post("/v1/event-subscriptions", {"url": url, "event_types": types})
    finally:
        monkeypatch.setenv("TETHER_STAGE", "local")
        stage_settings.cache_clear()
    secure = scheme.lower() == "https"  # schemes are case-insensitive
    if deployed:
        url_ok = secure and host in PUBLIC
    else:
        url_ok = secure or (scheme.lower() == "http" and host in LOCAL)
    types_ok = bool(types) and set(types) <= set(ALL_TYPES)
    if url_ok and types_ok:
        assert reply.status == 201, (url, types, reply)
        return
    assert reply.status == 422, (url, types, reply)
    fields = {f["field"].split(".")[1] for f in reply.body["fields"]}
    assert fields == {name for name, ok in (("url", url_ok), ("event_types", types_ok)) if not ok}


_KEYS: dict[int, str] = {}


def hooks_api_key(api: Api) -> str:
    """One tenant for all of hypothesis' examples of a test run (tenants are slow to make)."""
    if id(api) not in _KEYS:
        client = api.tenant("Hypothesis")
        assert client.key is not None
        _KEYS[id(api)] = client.key
    return _KEYS[id(api)]


def _record(api: Api, tenant_id: UUID, count: int) -> list[Any]:
    assert api.app is not None
    with UnitOfWork(api.app, tenant_id) as uow:
        events = [
            uow.outbox.record(
                tenant_id,
                EventType.CALL_QUEUED,
                {"lead_id": None, "call_queue_id": str(n), "priority": n},
                NOW - timedelta(hours=1) + timedelta(minutes=n),
            )
            for n in range(count)
        ]
        uow.commit()
    return events


def test_the_log_pages_and_a_replay_redelivers_under_the_same_webhook_ids(
    hooks_api: Api,
) -> None:
    client = hooks_api.tenant()
    with receiver() as hook:
        created = _subscribe(client, hook.url, ["call.queued"])
        events = _record(hooks_api, client.tenant_id, 3)
        sink = WebhookSink(
            lambda tenant: UnitOfWork(hooks_api.jobs, tenant),
            sender=WebhookSender(local_stage=True),
        )
        sink.deliver(events, NOW)
        first = [r.webhook_id for r in hook.received]
        assert len(set(first)) == 3

        page = client.get(f"/v1/event-subscriptions/{created['id']}/deliveries", query={"limit": 2})
        assert page.status == 200
        rest = client.get(
            f"/v1/event-subscriptions/{created['id']}/deliveries",
            query={"limit": 2, "cursor": page.body["next_cursor"]},
        )
        log = page.body["items"] + rest.body["items"]
        assert rest.body["next_cursor"] is None
        assert sorted(d["webhook_id"] for d in log) == sorted(first)
        assert {d["status"] for d in log} == {"delivered"}

        replay = client.post(
            f"/v1/event-subscriptions/{created['id']}/replay",
            {"from": (NOW - timedelta(hours=2)).isoformat(), "to": NOW.isoformat()},
        )
        assert replay.status == 200, replay
        assert replay.body == {"replayed": 3, "next_from": None}
        report = retry_due_deliveries(
            lambda tenant: UnitOfWork(hooks_api.jobs, tenant),
            NOW + timedelta(minutes=1),
            sender=WebhookSender(local_stage=True),
        )
        assert report.delivered == 3
        assert sorted(r.webhook_id for r in hook.received[3:]) == sorted(first)
        verified = hook.verified(created["secret"])
        # the POSTs go side by side: in any order
        assert sorted(verified[3:], key=str) == sorted((e.envelope() for e in events), key=str)


def test_a_replay_needs_a_bounded_range(hooks_api: Api) -> None:
    client = hooks_api.tenant()
    created = _subscribe(client, "https://hooks.example.com/in")
    path = f"/v1/event-subscriptions/{created['id']}/replay"
    backwards = client.post(path, {"from": NOW.isoformat(), "to": (NOW - timedelta(1)).isoformat()})
    too_long = client.post(
        path, {"from": (NOW - timedelta(days=40)).isoformat(), "to": NOW.isoformat()}
    )
    naive = client.post(path, {"from": "2026-11-01T00:00:00", "to": NOW.isoformat()})
    assert [backwards.status, too_long.status, naive.status] == [422, 422, 422]
    assert "to" in backwards.body["message"]
