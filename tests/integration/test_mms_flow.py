"""An inbound MMS through the real handlers (issue 18): the webhook function stores the
signed event, the inbound function applies it (an MMS on the lead's SMS thread, its
attachments in the same transaction) and names each attachment on MediaQueue; the
media function fetches the bytes from the sandbox over HTTP with the account's
credentials and puts them in the media bucket (moto's server); the API hands out a
presigned URL, and fetching it over HTTP from moto gives back the same bytes. A
Twilio MMS signed with the `twilio` SDK's RequestValidator lands as an MMS with its
media; the sweeper names a copy no queue holds."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import pytest
import urllib3
from twilio.request_validator import RequestValidator

import functions.inbound.app as inbound_app
import functions.media.app as media_app
import functions.webhook.app as webhook_app
from tests.support.api_client import Client
from tests.support.lambda_context import LambdaContextStub
from tests.support.outbound import SENDER, Outbound
from tests.support.replies import LEAD_PHONE
from tests.support.sqs_records import sqs_record
from tests.support.webhook_samples import SECRETS, load_sample, retarget, signed_event
from tests.support.webhooks import Aws, FakeLambdaContext, make_ports
from tether.aws.s3 import S3MediaStore
from tether.db.connection import Connection, FreshConnections
from tether.db.unit_of_work import UnitOfWork
from tether.services.api_keys import issue_operator_key
from tether.services.media import redrive_uncopied
from tether_dev.local.aws import MotoServer, client
from tether_dev.sandbox import SandboxServer

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 40  # 10 KB that are no text
TWILIO_TOKEN = "12345678901234567890123456789012"


@dataclass
class Moto:
    url: str
    sqs: Any
    s3: Any
    inbound_url: str
    media_url: str
    bucket: str

    def take(self, queue_url: str) -> list[str]:
        bodies: list[str] = []
        while True:
            batch = self.sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get(
                "Messages", []
            )
            if not batch:
                return bodies
            for message in batch:
                self.sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
                bodies.append(message["Body"])


@pytest.fixture(scope="module")
def moto_server() -> Iterator[str]:
    server = MotoServer("127.0.0.1", 0).start()
    yield server.url
    server.stop()


@pytest.fixture
def moto(
    moto_server: str,
    monkeypatch: pytest.MonkeyPatch,
    test_database: Any,
    app_connections: FreshConnections,
) -> Iterator[Moto]:
    from tether.aws.clients import aws_client
    from tether.config import database_settings, inbound_settings, media_settings
    from tether.db.connection import lambda_connection
    from tether.queues import queue_at
    from tether.storage import media_store

    for name, value in {
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "local",
        "AWS_SECRET_ACCESS_KEY": "local",
        "AWS_ENDPOINT_URL": moto_server,  # every boto3 client of the functions goes here
        "POWERTOOLS_METRICS_DISABLED": "true",
        "DATABASE_URL": test_database.admin_url,
    }.items():
        monkeypatch.setenv(name, value)
    suffix = uuid.uuid4().hex[:8]
    sqs, s3 = client("sqs", moto_server), client("s3", moto_server)
    dynamodb = client("dynamodb", moto_server)
    table = f"idempotency-{suffix}"
    dynamodb.create_table(
        TableName=table,
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    urls = {
        q: sqs.create_queue(QueueName=f"{q}-{suffix}")["QueueUrl"]
        for q in ("inbound", "outbound", "media")
    }
    bucket = f"media-{suffix}"
    s3.create_bucket(Bucket=bucket)
    monkeypatch.setenv("OUTBOUND_QUEUE_URL", urls["outbound"])
    monkeypatch.setenv("MEDIA_QUEUE_URL", urls["media"])
    monkeypatch.setenv("MEDIA_BUCKET_NAME", bucket)
    cached = [
        aws_client,
        database_settings,
        inbound_settings,
        media_settings,
        lambda_connection,
        queue_at,
        media_store,
    ]
    for getter in cached:
        getter.cache_clear()  # type: ignore[attr-defined]
    monkeypatch.setattr(
        webhook_app,
        "webhook_ports",
        lambda: make_ports(Aws(sqs, dynamodb, urls["inbound"], table), app_connections),
    )
    yield Moto(moto_server, sqs, s3, urls["inbound"], urls["media"], bucket)
    for role in ("app", "jobs"):
        lambda_connection(role).acquire().close()
    for getter in cached:
        getter.cache_clear()  # type: ignore[attr-defined]


def api_client(
    app_connections: FreshConnections,
    outbound: Outbound,
    moto: Moto,
    monkeypatch: pytest.MonkeyPatch,
) -> Client:
    from tether.api import context

    ports = context.ApiPorts(
        connections=app_connections,
        queue=None,
        media=S3MediaStore(moto.bucket, moto.s3),
        media_url_expires_seconds=120,
    )
    monkeypatch.setattr(context, "api_ports", lambda: ports)
    key = issue_operator_key(outbound.uow(), outbound.tenant_id, "mms test").key
    return Client(key, outbound.tenant_id)


def run_inbound_and_media(moto: Moto) -> None:
    records = [sqs_record(body, "inbound") for body in moto.take(moto.inbound_url)]
    assert inbound_app.handler({"Records": records}, LambdaContextStub())["batchItemFailures"] == []
    copies = [sqs_record(body, "media") for body in moto.take(moto.media_url)]
    assert copies
    assert media_app.handler({"Records": copies}, LambdaContextStub())["batchItemFailures"] == []


def test_an_inbound_mms_is_copied_and_read_back_through_a_presigned_url(
    texted: tuple[Outbound, uuid.UUID],
    admin: Connection,
    app_connections: FreshConnections,
    moto: Moto,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    outbound, lead_id = texted
    sandbox: SandboxServer = outbound.sandbox
    config = sandbox.config
    admin.execute(
        "UPDATE provider_accounts SET signing_secret_ref = %s, credentials_ref = %s WHERE id = %s",
        (
            f"local:{SECRETS['sandbox']}",
            "local:"
            + json.dumps(
                {
                    "account_id": config.account_id,
                    "api_token": config.api_token,
                    "base_url": sandbox.url,
                }
            ),
            outbound.account_id,
        ),
    )
    photo = sandbox.add_media(config.account_id, "image/png", PNG)
    # the file needs the account's credentials: without them the sandbox answers 401
    assert urllib3.request("GET", photo, retries=False).status == 401
    sid = f"MM{uuid.uuid4().hex}"
    event = load_sample("sandbox_inbound")
    event["body"] = json.dumps({
        "type": "message.received",
        "timestamp": datetime.now(UTC).isoformat(),
        "data": {"id": sid, "from": LEAD_PHONE, "to": SENDER, "body": "the photo", "media_urls": [photo]},
    })  # fmt: skip
    event["headers"]["webhook-id"] = f"msg_{uuid.uuid4().hex}"
    answer = webhook_app.handler(
        signed_event(event, account_id=str(outbound.account_id)), FakeLambdaContext()
    )
    assert answer["statusCode"] == 200, answer
    run_inbound_and_media(moto)

    row = admin.execute(
        "SELECT m.id, m.channel, m.our_address, t.channel AS thread_channel, a.copy_state,"
        " a.content_type, a.size_bytes, a.storage_key FROM messages m"
        " JOIN threads t ON t.id = m.thread_id"
        " JOIN message_attachments ma ON ma.message_id = m.id"
        " JOIN attachments a ON a.id = ma.attachment_id WHERE m.external_id = %s",
        (sid,),
    ).fetchone()
    assert row is not None
    assert (row["channel"], row["our_address"], row["thread_channel"]) == ("mms", SENDER, "sms")
    assert (row["copy_state"], row["content_type"], row["size_bytes"]) == (
        "stored",
        "image/png",
        len(PNG),
    )
    assert row["storage_key"].startswith(f"tenants/{outbound.tenant_id}/")

    api = api_client(app_connections, outbound, moto, monkeypatch)
    reply = api.get(f"/v1/messages/{row['id']}/attachments")
    assert reply.status == 200, reply.body
    [attachment] = reply.body["attachments"]
    assert (attachment["content_type"], attachment["size_bytes"]) == ("image/png", len(PNG))
    fetched = urllib3.request("GET", attachment["url"], retries=False)
    assert (fetched.status, fetched.data) == (200, PNG)
    # the trace lists the MMS with its bound number and the same attachment
    trace = api.get(f"/v1/leads/{lead_id}/trace").body
    [traced] = [m for m in trace["messages"] if m["id"] == str(row["id"])]
    assert (traced["channel"], traced["our_address"]) == ("mms", SENDER)
    assert [a["id"] for a in traced["attachments"]] == [attachment["id"]]
    assert {m["channel"] for m in trace["messages"]} == {"sms", "mms"}
    # a second delivery of the copy changes nothing
    copy = {"tenant_id": str(outbound.tenant_id), "attachment_id": attachment["id"]}
    media_app.handler({"Records": [sqs_record(json.dumps(copy), "media")]}, LambdaContextStub())
    again = admin.execute(
        "SELECT copy_attempts, storage_key FROM attachments WHERE id = %s", (attachment["id"],)
    ).fetchone()
    assert again == {"copy_attempts": 1, "storage_key": row["storage_key"]}


def test_a_twilio_mms_signed_by_the_sdk_lands_as_mms_and_unreachable_media_is_refused(
    texted: tuple[Outbound, uuid.UUID],
    admin: Connection,
    moto: Moto,
) -> None:
    outbound, _ = texted
    row = admin.execute(
        "INSERT INTO provider_accounts (tenant_id, provider, name, signing_secret_ref)"
        " VALUES (%s, 'twilio', 'twilio', %s) RETURNING id",
        (outbound.tenant_id, f"local:{TWILIO_TOKEN}"),
    ).fetchone()
    assert row is not None
    account_id = str(row["id"])
    sid = f"MM{uuid.uuid4().hex}"
    # media on a host that answers 404: the copy is refused for good, with why
    gone = f"{outbound.sandbox.url}/no-such-media.jpg"
    pairs = [
        ("MessageSid", sid), ("SmsMessageSid", sid), ("AccountSid", "AC" + "0" * 32),
        ("From", LEAD_PHONE), ("To", SENDER), ("Body", "two pictures"), ("NumMedia", "2"),
        ("MediaUrl0", gone), ("MediaContentType0", "image/jpeg"),
        ("MediaUrl1", gone + "?again"), ("MediaContentType1", "image/jpeg"),
    ]  # fmt: skip
    event = retarget(load_sample("twilio_inbound"), account_id)
    event["body"] = urlencode(pairs)
    url = f"https://{event['headers']['Host']}{event['requestContext']['path']}"
    validator = RequestValidator(TWILIO_TOKEN)
    event["headers"]["X-Twilio-Signature"] = validator.compute_signature(url, dict(pairs))
    event["headers"]["I-Twilio-Idempotency-Token"] = str(uuid.uuid4())
    answer = webhook_app.handler(event, FakeLambdaContext())
    assert answer["statusCode"] == 200, answer
    run_inbound_and_media(moto)
    rows = admin.execute(
        "SELECT m.channel, a.url, a.copy_state, a.copy_error, a.content_type FROM messages m"
        " JOIN message_attachments ma ON ma.message_id = m.id"
        " JOIN attachments a ON a.id = ma.attachment_id WHERE m.external_id = %s"
        " ORDER BY ma.position",
        (sid,),
    ).fetchall()
    assert [(r["channel"], r["url"], r["copy_state"]) for r in rows] == [
        ("mms", gone, "refused"),
        ("mms", gone + "?again", "refused"),
    ]
    assert "404" in rows[0]["copy_error"]
    # the type Twilio declared (MediaContentTypeN) is kept when no copy says otherwise
    assert {r["content_type"] for r in rows} == {"image/jpeg"}


def test_the_sweeper_names_copies_no_queue_holds(
    texted: tuple[Outbound, uuid.UUID],
    jobs_connections: FreshConnections,
    admin: Connection,
    moto: Moto,
) -> None:
    outbound, _ = texted
    photo = outbound.sandbox.add_media("sandbox", "image/gif", b"GIF89a")
    from tether.domain.events import InboundMessage
    from tether.services.replies import handle_reply

    handled = handle_reply(
        outbound.uow(),
        outbound.tenant_id,
        InboundMessage(
            provider="sandbox", external_id=f"MM{uuid.uuid4().hex}", from_address=LEAD_PHONE,
            to_address=SENDER, body="", media_urls=(photo,), occurred_at=datetime.now(UTC),
        ),
        uuid.uuid4(),
        datetime.now(UTC),
    )  # fmt: skip
    [attachment_id] = handled.media_ids  # stored, and in no queue (as if the queue had failed)
    from tether.aws.sqs import SqsQueue

    queue = SqsQueue(moto.media_url, moto.sqs)
    later = datetime.now(UTC) + timedelta(minutes=5)
    taken = redrive_uncopied(
        UnitOfWork(jobs_connections), queue, later, grace=timedelta(seconds=30), batch_size=1000
    )
    assert taken >= 1
    named = [json.loads(body)["attachment_id"] for body in moto.take(moto.media_url)]
    assert str(attachment_id) in named
    # marked: the next sweep does not name it again
    redrive_uncopied(
        UnitOfWork(jobs_connections), queue, later, grace=timedelta(seconds=30), batch_size=1000
    )
    assert str(attachment_id) not in [
        json.loads(b)["attachment_id"] for b in moto.take(moto.media_url)
    ]
    assert os.environ["MEDIA_BUCKET_NAME"] == moto.bucket
