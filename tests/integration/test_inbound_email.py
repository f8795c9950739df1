"""Email replies through the real handlers (issue 18, seed 001): a raw mail in moto's S3
→ the inbound_email function (an S3 ObjectCreated event) → a `webhook_receipts` row and
an InboundQueue message → the inbound function → the lead's email thread, its state,
the bell, reply.received and, for a phone number in the mail, a leased number.

Mails are built independently of the parser: with the standard library's
EmailMessage (as a mail client would) and as hand-written RFC 5322 bytes."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import make_msgid
from typing import Any

import pytest

from functions.inbound import app as inbound_app
from functions.inbound_email import app as email_app
from tests.support.aws import aws_session
from tests.support.factories import Chain, Deploy, Queue, make_chain
from tests.support.lambda_context import LambdaContextStub
from tests.support.log_capture import captured_logs
from tests.support.sqs_records import sqs_record
from tether.db.connection import Connection
from tether_dev.local.events import s3_object_created_event

BUCKET = "tether-test-inbound-mail"


@dataclass
class Mailroom:
    """One tenant with a reply mailbox, its lead (with an email address), and the
    functions wired to moto's S3 and SQS."""

    admin: Connection
    chain: Chain
    mailbox: str
    lead_email: str
    s3: Any
    inbound: Queue

    @property
    def token(self) -> str:
        row = self.admin.execute(
            "SELECT reply_token FROM leads WHERE id = %s", (self.chain.lead_id,)
        ).fetchone()
        assert row is not None
        return str(row["reply_token"])

    @property
    def reply_address(self) -> str:
        local, domain = self.mailbox.split("@")
        return f"{local}+{self.token}@{domain}"

    def store(self, raw: bytes, key: str | None = None) -> dict[str, Any]:
        """Put the mail where SES would, and the event S3 would send."""
        key = key or f"mail/{uuid.uuid4().hex}"
        self.s3.put_object(Bucket=BUCKET, Key=key, Body=raw)
        return s3_object_created_event(BUCKET, key, len(raw), "etag", datetime.now(UTC))

    def receive(self, raw: bytes) -> list[str]:
        """The inbound_email function, then the inbound function on what it enqueued."""
        outcomes = self.deliver(self.store(raw))
        self.apply()
        return outcomes

    def deliver(self, event: dict[str, Any]) -> list[str]:
        result = email_app.handler(event, LambdaContextStub())
        return list(result["outcomes"])

    def apply(self) -> None:
        records = [sqs_record(json.dumps(body), "inbound") for body in self.inbound.take()]
        if records:
            answer = inbound_app.handler({"Records": records}, LambdaContextStub())
            assert answer == {"batchItemFailures": []}

    def one(self, sql: str, *args: object) -> dict[str, Any]:
        row = self.admin.execute(sql, args).fetchone()
        assert row is not None
        return dict(row)


@pytest.fixture
def mailroom(
    deploy: Deploy, queue: Queue, admin: Connection, monkeypatch: pytest.MonkeyPatch
) -> Mailroom:
    from tether.config import inbound_email_settings, inbound_settings
    from tether.queues import queue_at

    inbound_url = queue.client.create_queue(QueueName="inbound")["QueueUrl"]
    monkeypatch.setenv("INBOUND_QUEUE_URL", inbound_url)
    deploy(inbound_email_settings, inbound_settings, queue_at, email_app.mail_ports)
    s3 = aws_session().client("s3")
    s3.create_bucket(Bucket=BUCKET)
    monkeypatch.setattr(
        "tether.aws.clients.aws_client", lambda service: s3 if service == "s3" else queue.client
    )
    chain = make_chain(admin)
    mailbox = f"replies@r{uuid.uuid4().hex[:10]}.acme.test"
    admin.execute(
        "UPDATE tenant_config SET reply_mailbox = %s WHERE tenant_id = %s",
        (mailbox, chain.tenant_id),
    )
    lead_email = f"lead.{uuid.uuid4().hex[:8]}@example.com"
    admin.execute("UPDATE leads SET email = %s WHERE id = %s", (lead_email, chain.lead_id))
    return Mailroom(admin, chain, mailbox, lead_email, s3, Queue(queue.client, inbound_url))


def client_mail(
    sender: str, to: str, text: str, html: str | None = None, **headers: str
) -> EmailMessage:
    """A reply as a mail client writes it: multipart/alternative when it has HTML."""
    mail = EmailMessage()
    mail["From"] = f"Lead Person <{sender}>"
    mail["To"] = to
    mail["Subject"] = headers.pop("subject", "Re: your home")
    mail["Message-ID"] = headers.pop("message_id", make_msgid(domain="example.com"))
    for name, value in headers.items():
        mail[name.replace("_", "-")] = value
    mail.set_content(text)
    if html is not None:
        mail.add_alternative(html, subtype="html")
    return mail


def test_an_email_with_a_phone_number_leases_a_number_on_the_leads_email_thread(
    mailroom: Mailroom,
) -> None:
    """Seed 001's pool flow: "call me at 6505300051" by email, to the lead's own reply
    address, leases a number of the tenant's pool; a STOP quoted from an earlier
    mail is history, not an opt-out."""
    room, chain = mailroom, mailroom.chain
    mail = client_mail(
        room.lead_email.upper(),  # addresses are matched lower-cased
        room.reply_address,
        "Sure, call me at 6505300051 after 5pm.\n\nOn Mon, Jan 5, 2026 at 9:00 AM Acme"
        f" <{room.mailbox}> wrote:\n> Reply STOP to opt out\n",
        "<div>Sure, call me at 650-530-0051 after 5pm.</div><blockquote>STOP</blockquote>",
        subject="Re: your home",
    )
    with captured_logs() as logs:
        assert room.receive(mail.as_bytes()) == ["accepted"]
    message = room.one(
        "SELECT m.channel, m.provider, m.from_address, m.to_address, m.subject, m.body,"
        " m.email_message_id, m.lead_id, t.channel AS thread_channel, t.our_address,"
        " t.their_address, t.lead_id AS thread_lead FROM messages m JOIN threads t ON t.id = m.thread_id"
        " WHERE m.tenant_id = %s AND m.direction = 'inbound'",
        chain.tenant_id,
    )
    assert message["channel"] == message["thread_channel"] == "email"
    assert message["provider"] == "ses"
    assert message["lead_id"] == message["thread_lead"] == chain.lead_id
    assert (message["our_address"], message["their_address"]) == (room.mailbox, room.lead_email)
    assert (message["from_address"], message["to_address"]) == (room.lead_email, room.mailbox)
    assert message["subject"] == "Re: your home"
    assert message["email_message_id"] == mail["Message-ID"].strip("<>")
    assert "> Reply STOP to opt out" in message["body"]  # the whole text is kept
    lead = room.one("SELECT state::text AS state FROM leads WHERE id = %s", chain.lead_id)
    assert lead["state"] == "high_intent"
    lease = room.one(
        "SELECT count(*) AS n FROM phone_numbers WHERE currently_assigned_to = %s", chain.lead_id
    )
    assert lease["n"] == 1
    assert room.one(
        "SELECT count(*) AS n FROM suppressions WHERE tenant_id = %s", chain.tenant_id
    ) == {"n": 0}
    bell = room.one("SELECT kind, campaign_id FROM notifications WHERE lead_id = %s", chain.lead_id)
    assert bell == {"kind": "high_intent", "campaign_id": chain.campaign_id}
    event = room.one(
        "SELECT data FROM outbox_events WHERE lead_id = %s AND type = 'reply.received'",
        chain.lead_id,
    )
    assert event["data"]["channel"] == "email"
    assert event["data"]["from"] == room.lead_email
    matched = [line for line in logs.parsed() if line.get("message") == "email reply handled"]
    assert matched
    assert matched[0]["matched_by"] == "reply_address"
    assert matched[0]["phone_captured"] is True


HAND_WRITTEN = (
    b"Return-Path: <{sender}>\r\n"
    b"Received: from mx.example.com (mx.example.com [192.0.2.1])\r\n"
    b" by inbound-smtp.us-east-1.amazonaws.com with SMTP id q1w2e3\r\n"
    b" for {to};\r\n"
    b" Tue, 06 Jan 2026 10:00:00 +0000 (UTC)\r\n"
    b"From: =?ISO-8859-1?Q?Jos=E9_P=E9rez?= <{sender}>\r\n"
    b"To: {to}\r\n"
    b"Subject: =?UTF-8?B?UmU6IHR1IGNhc2Eg8J+PoA==?=\r\n"
    b"  =?ISO-8859-1?Q?_ma=F1ana?=\r\n"
    b"Message-ID: <{message_id}>\r\n"
    b"{threading}"
    b"MIME-Version: 1.0\r\n"
    b'Content-Type: text/plain; charset="iso-8859-1"\r\n'
    b"Content-Transfer-Encoding: quoted-printable\r\n"
    b"\r\n"
    b"Ma=F1ana est=E1 bien, gracias.\r\n"
    b"\r\n"
    b"-- \r\n"
    b"Jos=E9 P=E9rez | Tel 415 555 0199\r\n"
)


def hand_written(sender: str, to: str, message_id: str, threading: bytes = b"") -> bytes:
    return (
        HAND_WRITTEN.replace(b"{sender}", sender.encode())
        .replace(b"{to}", to.encode())
        .replace(b"{message_id}", message_id.encode())
        .replace(b"{threading}", threading)
    )


def test_hand_written_mails_match_by_in_reply_to_then_by_sender_and_a_tie_is_parked(
    mailroom: Mailroom,
) -> None:
    room, chain = mailroom, mailroom.chain
    first_id = f"{uuid.uuid4().hex}@example.com"
    # from a colleague's address to the bare mailbox: no lead has that address
    colleague = f"colleague.{uuid.uuid4().hex[:6]}@example.com"
    assert room.receive(hand_written(colleague, room.mailbox, first_id)) == ["accepted"]
    parked = room.one(
        "SELECT m.lead_id, u.reason FROM messages m JOIN unmatched_inbound u ON u.message_id = m.id"
        " WHERE m.email_message_id = %s",
        first_id,
    )
    assert parked["lead_id"] is None
    # the lead's own mail, then the colleague answering it: In-Reply-To finds the lead
    lead_mail_id = f"{uuid.uuid4().hex}@example.com"
    assert room.receive(hand_written(room.lead_email, room.mailbox, lead_mail_id)) == ["accepted"]
    reply_id = f"{uuid.uuid4().hex}@example.com"
    threading = f"In-Reply-To: <{lead_mail_id}>\r\nReferences: <{lead_mail_id}>\r\n".encode()
    assert room.receive(hand_written(colleague, room.mailbox, reply_id, threading)) == ["accepted"]
    rows = room.admin.execute(
        "SELECT email_message_id, lead_id, subject, body FROM messages WHERE tenant_id = %s"
        " AND channel = 'email' ORDER BY created_at",
        (chain.tenant_id,),
    ).fetchall()
    by_id = {row["email_message_id"]: row for row in rows}
    assert by_id[lead_mail_id]["lead_id"] == chain.lead_id  # by the sender's address
    assert by_id[reply_id]["lead_id"] == chain.lead_id  # by In-Reply-To
    # encoded words of two charsets, folded; a quoted-printable Latin-1 body
    assert by_id[lead_mail_id]["subject"] == "Re: tu casa 🏠 mañana"
    assert by_id[lead_mail_id]["body"].startswith("Mañana está bien, gracias.")
    # the signature's phone number is not the reply's: nothing was leased
    assert room.one(
        "SELECT count(*) AS n FROM phone_numbers WHERE currently_assigned_to = %s", chain.lead_id
    ) == {"n": 0}
    # two leads with the sender's address, neither messaged more recently: parked
    twin = room.one(
        "INSERT INTO leads (tenant_id, campaign_id, phone, email) VALUES (%s, %s, %s, %s) RETURNING id",
        chain.tenant_id,
        chain.campaign_id,
        "+14155550177",
        room.lead_email,
    )["id"]
    room.admin.execute(
        "UPDATE leads SET last_message_at = NULL WHERE id = ANY(%s)", ([chain.lead_id, twin],)
    )
    tied_id = f"{uuid.uuid4().hex}@example.com"
    assert room.receive(hand_written(room.lead_email, room.mailbox, tied_id)) == ["accepted"]
    tied = room.one(
        "SELECT m.lead_id, u.reason FROM messages m JOIN unmatched_inbound u ON u.message_id = m.id"
        " WHERE m.email_message_id = %s",
        tied_id,
    )
    assert tied["lead_id"] is None
    assert "several leads" in tied["reason"]


def test_a_mail_delivered_twice_is_stored_and_applied_once(mailroom: Mailroom) -> None:
    room, chain = mailroom, mailroom.chain
    raw = client_mail(room.lead_email, room.reply_address, "Interested, tell me more").as_bytes()
    event = room.store(raw)
    # S3 notifies twice; SES stores the same mail again under another key
    assert room.deliver(event) == ["accepted"]
    assert room.deliver(event) == ["duplicate"]
    assert room.deliver(room.store(raw)) == ["duplicate"]
    room.apply()
    receipts = room.one(
        "SELECT count(*) AS n FROM webhook_receipts WHERE tenant_id = %s AND provider = 'ses'",
        chain.tenant_id,
    )
    assert receipts == {"n": 1}
    messages = room.one(
        "SELECT count(*) AS n FROM messages WHERE lead_id = %s AND channel = 'email'",
        chain.lead_id,
    )
    assert messages == {"n": 1}


def test_an_unsubscribe_by_email_suppresses_the_leads_phone_and_texts_nothing(
    mailroom: Mailroom,
) -> None:
    room, chain = mailroom, mailroom.chain
    raw = client_mail(room.lead_email, room.reply_address, "Please unsubscribe me.").as_bytes()
    assert room.receive(raw) == ["accepted"]
    lead = room.one("SELECT state::text AS state FROM leads WHERE id = %s", chain.lead_id)
    assert lead["state"] == "suppressed"
    suppression = room.one(
        "SELECT count(*) AS n FROM suppressions WHERE tenant_id = %s AND phone = %s",
        chain.tenant_id,
        chain.lead_phone,
    )
    assert suppression == {"n": 1}
    outbound = room.one(
        "SELECT count(*) AS n FROM messages WHERE tenant_id = %s AND direction = 'outbound'",
        chain.tenant_id,
    )
    assert outbound == {"n": 0}


def test_malformed_and_unroutable_mail_is_kept_and_logged_never_a_crash(
    mailroom: Mailroom,
) -> None:
    room, chain = mailroom, mailroom.chain
    broken = (
        f"From: nobody\r\nTo: {room.mailbox}\r\nSubject: =?x-unknown?Q?=FF?=\r\n"
        'Content-Type: multipart/mixed; boundary="never-closed"\r\n\r\n'
        "--never-closed\r\nContent-Type: text/plain; charset=x-no-such-charset\r\n"
        "Content-Transfer-Encoding: base64\r\n\r\n!!!not base64!!!\r\n"
    ).encode()
    with captured_logs() as logs:
        assert room.receive(broken) == ["accepted"]
        garbage = bytes(range(256)) * 4
        assert room.receive(garbage) == ["unrouted"]
        stranger = client_mail(room.lead_email, "someone@elsewhere.test", "hello").as_bytes()
        stranger_event = room.store(stranger)
        assert room.deliver(stranger_event) == ["unrouted"]
    kept = room.one(
        "SELECT event_type, event, processed_at IS NOT NULL AS processed, raw_bytes"
        " FROM webhook_receipts WHERE tenant_id = %s AND provider = 'ses'",
        chain.tenant_id,
    )
    assert kept["event_type"] == "unknown"
    assert kept["event"] is None
    assert kept["processed"]
    assert bytes(kept["raw_bytes"]) == broken
    key = stranger_event["Records"][0]["s3"]["object"]["key"]
    assert room.s3.get_object(Bucket=BUCKET, Key=key)["Body"].read() == stranger
    unrouted = [line for line in logs.parsed() if "no tenant's reply mailbox" in line["message"]]
    assert len(unrouted) == 2
    assert unrouted[1]["recipients"] == ["someone@elsewhere.test"]
