"""MMS media on real PostgreSQL (issue 18): inbound media becomes the tenant's
attachments in the reply's transaction, deduplicated by URL; outbound media is checked
in the one send path and goes as an MMS; migration 0035 moves earlier media into
attachments; the database keeps an attachment's copy honest."""

from __future__ import annotations

import shutil
import uuid
from datetime import timedelta
from pathlib import Path

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.outbound import NOW, SENDER, Outbound
from tests.support.replies import LEAD_PHONE
from tether.db.connection import Connection, FreshConnections, connect
from tether.db.migrations import MIGRATIONS_DIR, apply_pending
from tether.db.unit_of_work import UnitOfWork
from tether.domain.errors import InvalidInput
from tether.domain.events import InboundMessage
from tether.services.outbound import Outcome
from tether.services.replies import ReplyOutcome, handle_reply
from tether.services.stats import campaign_results, compact_results

PHOTO = "https://media.example.com/Accounts/AC1/Messages/MM1/Media/ME1"
CARD = "https://media.example.com/contact.vcf"


def mms(outbound: Outbound, media: list[str], body: str = "here it is") -> InboundMessage:
    return InboundMessage(
        provider="sandbox",
        external_id=f"MM{uuid.uuid4().hex}",
        from_address=LEAD_PHONE,
        to_address=SENDER,
        body=body,
        media_urls=tuple(media),
        occurred_at=NOW + timedelta(minutes=5),
    )


def handle(
    outbound: Outbound, event: InboundMessage
) -> tuple[ReplyOutcome, uuid.UUID, tuple[uuid.UUID, ...]]:
    handled = handle_reply(
        outbound.uow(), outbound.tenant_id, event, uuid.uuid4(), NOW + timedelta(minutes=5)
    )
    assert handled.message_id is not None
    return handled.outcome, handled.message_id, handled.media_ids


def attachments_of(admin: Connection, message_id: uuid.UUID) -> list[tuple[str, int, str]]:
    rows = admin.execute(
        "SELECT a.url, ma.position, a.copy_state FROM message_attachments ma"
        " JOIN attachments a ON a.id = ma.attachment_id WHERE ma.message_id = %s"
        " ORDER BY ma.position",
        (message_id,),
    ).fetchall()
    return [(r["url"], r["position"], r["copy_state"]) for r in rows]


def channel_of(admin: Connection, message_id: uuid.UUID) -> str:
    row = admin.execute("SELECT channel FROM messages WHERE id = %s", (message_id,)).fetchone()
    assert row is not None
    return str(row["channel"])


def test_an_inbound_mms_is_stored_as_mms_with_its_attachments_in_order(
    texted: tuple[Outbound, uuid.UUID], admin: Connection
) -> None:
    outbound, _ = texted
    outcome, message_id, media_ids = handle(
        outbound, mms(outbound, [PHOTO, CARD, PHOTO, "cid:not-a-url"])
    )
    assert outcome is ReplyOutcome.MATCHED
    assert channel_of(admin, message_id) == "mms"
    # the URL twice keeps its first place; what is no http(s) URL stays in media_urls only
    assert attachments_of(admin, message_id) == [(PHOTO, 0, "pending"), (CARD, 1, "pending")]
    assert len(media_ids) == 2
    row = admin.execute("SELECT media_urls FROM messages WHERE id = %s", (message_id,)).fetchone()
    assert row == {"media_urls": [PHOTO, CARD, PHOTO, "cid:not-a-url"]}
    # the MMS is on the lead's SMS thread, with the text that went out
    row = admin.execute(
        "SELECT t.channel, count(m.*) AS messages FROM messages x JOIN threads t ON t.id = x.thread_id"
        " JOIN messages m ON m.thread_id = t.id WHERE x.id = %s GROUP BY t.channel",
        (message_id,),
    ).fetchone()
    assert row is not None
    assert row["channel"] == "sms"
    assert row["messages"] >= 2


def test_a_text_without_media_stays_sms_and_an_unmatched_mms_keeps_its_media(
    texted: tuple[Outbound, uuid.UUID], admin: Connection
) -> None:
    outbound, _ = texted
    _, text_id, media_ids = handle(outbound, mms(outbound, []))
    assert (channel_of(admin, text_id), attachments_of(admin, text_id), media_ids) == (
        "sms",
        [],
        (),
    )
    stranger = mms(outbound, [PHOTO]).model_copy(update={"from_address": "+14155550999"})
    outcome, message_id, media_ids = handle(outbound, stranger)
    assert outcome is ReplyOutcome.UNMATCHED
    assert attachments_of(admin, message_id) == [(PHOTO, 0, "pending")]
    assert len(media_ids) == 1


def test_a_url_is_one_attachment_per_tenant_and_never_shared_across_tenants(
    admin: Connection, app_connections: FreshConnections, sandbox: object
) -> None:
    first = Outbound(admin, app_connections, sandbox)  # type: ignore[arg-type]
    second = Outbound(admin, app_connections, sandbox)  # type: ignore[arg-type]
    ids = []
    for outbound in (first, first, second):  # no leads: unmatched replies keep media too
        _, message_id, _ = handle(outbound, mms(outbound, [PHOTO]))
        ids.append(message_id)
    rows = admin.execute(
        "SELECT a.tenant_id, count(DISTINCT a.id) AS attachments, count(*) AS links"
        " FROM message_attachments ma JOIN attachments a ON a.id = ma.attachment_id"
        " WHERE ma.message_id = ANY(%s) GROUP BY a.tenant_id",
        (ids,),
    ).fetchall()
    assert {r["tenant_id"]: (r["attachments"], r["links"]) for r in rows} == {
        first.tenant_id: (1, 2),
        second.tenant_id: (1, 1),
    }
    with UnitOfWork(app_connections, first.tenant_id) as uow:
        # the other tenant's message and its attachment are invisible to this one
        assert uow.attachments.of_message(ids[2]) is None
        assert [a.url for a in uow.attachments.of_message(ids[0]) or []] == [PHOTO]


_URL_PART = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc", "Zs")), max_size=30
)
_URLS = st.builds(
    lambda scheme, host, path, query: f"{scheme}://{host}/{path}" + (f"?{query}" if query else ""),
    st.sampled_from(["https", "http", "HTTPS"]),
    st.sampled_from(["a.example", "A.EXAMPLE", "b.example:8443"]),
    _URL_PART,
    _URL_PART,
)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(messages=st.lists(st.lists(_URLS, max_size=6), min_size=1, max_size=4))
def test_attachments_deduplicate_exactly_by_url_whatever_its_shape(
    messages: list[list[str]],
    admin: Connection,
    app_connections: FreshConnections,
    chain_factory: object,
) -> None:
    tenant_id, thread_id = chain_factory()  # type: ignore[operator]
    message_ids = [bare_inbound(admin, tenant_id, thread_id, urls) for urls in messages]
    with UnitOfWork(app_connections, tenant_id) as uow:
        kept = [[u for u in urls if u.startswith(("https://", "http://"))] for urls in messages]
        uow.attachments.link(tenant_id, list(zip(message_ids, kept, strict=True)), copy=True)
        # linking again changes nothing
        again = uow.attachments.link(
            tenant_id, list(zip(message_ids, kept, strict=True)), copy=True
        )
        assert again == []
        found = uow.attachments.for_messages(message_ids)
        uow.commit()
    distinct = {u for urls in kept for u in urls}
    rows = admin.execute(
        "SELECT url FROM attachments WHERE tenant_id = %s", (tenant_id,)
    ).fetchall()
    assert sorted(r["url"] for r in rows) == sorted(distinct)  # one row per exact URL
    for message_id, urls in zip(message_ids, kept, strict=True):
        first_places = list(dict.fromkeys(urls))
        assert [a.url for a in found.get(message_id, [])] == first_places


def bare_inbound(
    conn: Connection,
    tenant_id: uuid.UUID,
    thread_id: uuid.UUID,
    media: list[str],
    sid: str | None = None,
) -> uuid.UUID:
    """An inbound row carrying media, with nothing else around it."""
    row = conn.execute(
        "INSERT INTO messages (tenant_id, direction, thread_id, from_address, to_address,"
        " body, status, provider, external_id, received_at, media_urls)"
        " VALUES (%s, 'inbound', %s, '+14155550100', '+14155550101', '', 'received',"
        " 'sandbox', %s, now(), %s) RETURNING id",
        (tenant_id, thread_id, sid or uuid.uuid4().hex, media),
    ).fetchone()
    assert row is not None
    message_id: uuid.UUID = row["id"]
    return message_id


@pytest.fixture
def chain_factory(admin: Connection) -> object:
    def make() -> tuple[uuid.UUID, uuid.UUID]:
        tenant = admin.execute(
            "INSERT INTO tenants (name) VALUES (%s) RETURNING id", (f"t-{uuid.uuid4().hex[:6]}",)
        ).fetchone()
        assert tenant is not None
        thread = admin.execute(
            "INSERT INTO threads (tenant_id, channel, our_address, their_address)"
            " VALUES (%s, 'sms', '+14155550101', '+14155550100') RETURNING id",
            (tenant["id"],),
        ).fetchone()
        assert thread is not None
        return tenant["id"], thread["id"]

    return make


def test_outbound_media_goes_as_one_mms_and_its_attachments_are_passed_on(
    admin: Connection,
    app_connections: FreshConnections,
    jobs_connections: FreshConnections,
    sandbox: object,
) -> None:
    outbound = Outbound(admin, app_connections, sandbox)  # type: ignore[arg-type]
    lead_id = outbound.lead()
    long_text = "A long caption. " * 30  # four SMS segments as text
    message_id = outbound.request(lead_id, long_text, media_urls=[PHOTO, CARD])
    row = admin.execute(
        "SELECT channel, segments, media_urls FROM messages WHERE id = %s", (message_id,)
    ).fetchone()
    assert row == {"channel": "mms", "segments": 1, "media_urls": [PHOTO, CARD]}
    assert attachments_of(admin, message_id) == [(PHOTO, 0, "none"), (CARD, 1, "none")]
    assert outbound.process(message_id).outcome is Outcome.SENT
    [text] = [t for t in outbound.sandbox.texts() if t.to_number == LEAD_PHONE]
    assert list(text.media_urls) == [PHOTO, CARD]
    # results count it as an MMS, through its status changes and the fold into counts
    assert campaign_results(outbound.uow(), outbound.campaign_id).overall.mms == 1
    compact_results(UnitOfWork(jobs_connections), 1_000_000)
    overall = campaign_results(outbound.uow(), outbound.campaign_id).overall
    assert (overall.requested, overall.sent, overall.mms) == (1, 1, 1)


@pytest.mark.parametrize(
    ("media", "says"),
    [
        (["http://media.example.com/a.jpg"], "only https"),
        ([f"https://media.example.com/{i}.jpg" for i in range(11)], "at most 10"),
        (["https://media.example.com/setup.exe"], "not a type carriers take"),
        (["https://user:pw@media.example.com/a.jpg"], "credentials"),
        (["https:///a.jpg"], "no host"),
    ],
    ids=["http", "eleven", "exe", "credentials", "no-host"],
)
def test_bad_outbound_media_is_refused_naming_it_and_nothing_is_stored(
    admin: Connection,
    app_connections: FreshConnections,
    sandbox: object,
    media: list[str],
    says: str,
) -> None:
    outbound = Outbound(admin, app_connections, sandbox)  # type: ignore[arg-type]
    lead_id = outbound.lead()
    with pytest.raises(InvalidInput, match=says):
        outbound.request(lead_id, "look", media_urls=media)
    row = admin.execute(
        "SELECT (SELECT count(*) FROM messages WHERE tenant_id = %(t)s) AS messages,"
        " (SELECT count(*) FROM attachments WHERE tenant_id = %(t)s) AS attachments,"
        " (SELECT count(*) FROM lead_sender_bindings WHERE lead_id = %(l)s) AS bindings",
        {"t": outbound.tenant_id, "l": lead_id},
    ).fetchone()
    assert row == {"messages": 0, "attachments": 0, "bindings": 0}


def test_a_stored_copy_cannot_change_and_states_say_what_they_mean(
    admin: Connection, chain_factory: object
) -> None:
    tenant_id, _ = chain_factory()  # type: ignore[operator]
    row = admin.execute(
        "INSERT INTO attachments (tenant_id, url, copy_state, storage_key, stored_at)"
        " VALUES (%s, %s, 'stored', 'tenants/x/1', now()) RETURNING id",
        (tenant_id, PHOTO),
    ).fetchone()
    assert row is not None
    with pytest.raises(psycopg.errors.CheckViolation, match="its stored copy cannot change"):
        admin.execute(
            "UPDATE attachments SET storage_key = 'elsewhere' WHERE id = %s", (row["id"],)
        )
    with pytest.raises(psycopg.errors.CheckViolation, match="attachments_stored_has_key"):
        admin.execute(
            "INSERT INTO attachments (tenant_id, url, copy_state) VALUES (%s, %s, 'stored')",
            (tenant_id, CARD),
        )
    with pytest.raises(psycopg.errors.CheckViolation, match="attachments_refused_says_why"):
        admin.execute(
            "INSERT INTO attachments (tenant_id, url, copy_state) VALUES (%s, %s, 'refused')",
            (tenant_id, CARD),
        )


def test_migration_0035_moves_earlier_media_into_attachments(
    fresh_database: str, tmp_path: Path
) -> None:
    folder = tmp_path / "migrations"
    folder.mkdir()
    for path in sorted(MIGRATIONS_DIR.glob("*.sql")):
        if path.name < "0035":
            shutil.copy(path, folder / path.name)
    apply_pending(folder, conninfo=fresh_database)
    with connect(fresh_database, autocommit=True) as conn:
        tenant = conn.execute("INSERT INTO tenants (name) VALUES ('t') RETURNING id").fetchone()
        assert tenant is not None
        thread = conn.execute(
            "INSERT INTO threads (tenant_id, channel, our_address, their_address)"
            " VALUES (%s, 'sms', '+14155550101', '+14155550100') RETURNING id",
            (tenant["id"],),
        ).fetchone()
        assert thread is not None
        media = {
            "photo": [PHOTO, CARD, PHOTO],
            "again": [CARD],
            "text": [],
            "odd": ["cid:part1"],
        }
        ids = {
            name: bare_inbound(conn, tenant["id"], thread["id"], urls, name)
            for name, urls in media.items()
        }
    apply_pending(conninfo=fresh_database)
    with connect(fresh_database, autocommit=True) as conn:
        channels = {
            r["id"]: r["channel"]
            for r in conn.execute("SELECT id, channel FROM messages").fetchall()
        }
        assert [channels[ids[n]] for n in ("photo", "again", "text", "odd")] == [
            "mms", "mms", "sms", "mms",
        ]  # fmt: skip
        links = conn.execute(
            "SELECT ma.message_id, a.url, ma.position, a.copy_state FROM message_attachments ma"
            " JOIN attachments a ON a.id = ma.attachment_id ORDER BY ma.message_id, ma.position"
        ).fetchall()
        by_message: dict[uuid.UUID, list[tuple[str, int, str]]] = {}
        for r in links:
            by_message.setdefault(r["message_id"], []).append(
                (r["url"], r["position"], r["copy_state"])
            )
        assert by_message[ids["photo"]] == [(PHOTO, 0, "pending"), (CARD, 1, "pending")]
        assert by_message[ids["again"]] == [(CARD, 0, "pending")]
        assert ids["text"] not in by_message
        assert ids["odd"] not in by_message
        count = conn.execute("SELECT count(*) AS n FROM attachments").fetchone()
        assert count == {"n": 2}


def test_erasing_a_lead_takes_its_media_with_it(
    texted: tuple[Outbound, uuid.UUID], admin: Connection
) -> None:
    from tether.services.erasure import erase_lead

    outbound, lead_id = texted
    _, message_id, _ = handle(outbound, mms(outbound, [PHOTO, CARD]))
    # the same photo in another tenant's message stays: attachments are per tenant
    other = Outbound(admin, outbound.app, outbound.sandbox)
    _, kept_id, _ = handle(other, mms(other, [PHOTO]))
    erase_lead(outbound.uow(), lead_id, "test", NOW + timedelta(hours=1))
    assert attachments_of(admin, message_id) == []
    row = admin.execute(
        "SELECT count(*) AS n FROM attachments WHERE tenant_id = %s", (outbound.tenant_id,)
    ).fetchone()
    assert row == {"n": 0}
    assert attachments_of(admin, kept_id) == [(PHOTO, 0, "pending")]
