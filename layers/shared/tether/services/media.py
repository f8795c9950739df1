"""Inbound media copied into the stack's media bucket (issue 18), and read back through
presigned URLs.

A reply stores its media URLs as attachments in its own transaction (services.replies);
once that has committed, each attachment waiting for its copy is named on MediaQueue
(`enqueue_copies`). The media function copies it (`copy_attachment`): outside any
transaction it fetches the bytes with the account's credentials (tether.providers.media)
and puts them in the bucket under a key of the attachment's own, then records the copy
in a short transaction. A copy is idempotent (the same key, the same bytes; recording it
is a no-op once recorded) and retried: a failure that may pass (the provider or S3 not
answering) raises, so SQS brings the message back and, after its tries, to the DLQ; a
refusal for good (gone, too large, a type not kept) is recorded and not retried. An
attachment whose queue message was never sent (the queue failed after the commit) is
re-driven by the sweeper (`redrive_uncopied`).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict

from tether.db.unit_of_work import UnitOfWork
from tether.domain.errors import ConfigurationError, DependencyUnavailable, NotFound
from tether.domain.media import Attachment, MediaRefused, max_inbound_bytes, storage_key
from tether.observability import logger, metrics
from tether.queues import MessageQueue
from tether.storage import MediaStore


class MediaCopyMessage(BaseModel):
    """What MediaQueue carries: an attachment to copy."""

    model_config = ConfigDict(frozen=True)

    tenant_id: UUID
    attachment_id: UUID


def enqueue_copies(
    uow: UnitOfWork, queue: MessageQueue, copies: Sequence[tuple[UUID, UUID]], now: datetime
) -> int:
    """Name committed attachments (tenant, attachment) on MediaQueue and mark those it
    took, in the open transaction (the caller commits). A queue failure is logged, not
    raised: the sweeper re-drives what was not taken."""
    if not copies:
        return 0
    bodies = [
        MediaCopyMessage(tenant_id=tenant, attachment_id=attachment).model_dump_json()
        for tenant, attachment in copies
    ]
    try:
        failed = set(queue.send_batch(bodies))
    except Exception:
        logger.exception("media copies not enqueued; the sweeper will re-drive them")
        return 0
    taken = [attachment for index, (_, attachment) in enumerate(copies) if index not in failed]
    if taken:
        uow.attachments.mark_enqueued(taken, now)
    return len(taken)


def copy_attachment(
    uow: UnitOfWork,
    message: MediaCopyMessage,
    store: MediaStore,
    now: datetime,
    *,
    local_stage: bool = False,
) -> str:
    """Copy one attachment into the media bucket, once. Returns what happened (for the
    log); raises DependencyUnavailable when a later try may succeed."""
    with uow:
        job = uow.attachments.copy_job(message.attachment_id)
        uow.rollback()
    if job is None:  # erased since it was named (its message's erasure deletes it)
        return "gone"
    if job.done:
        return f"already {job.copy_state}"
    logger.append_keys(tenant_id=str(job.tenant_id), attachment_id=str(job.attachment_id))
    try:
        credentials = _credentials(job.credentials_ref, job.tenant_id)
        from tether.providers.media import fetch_media

        fetched = fetch_media(
            job.url,
            max_bytes=max_inbound_bytes(),
            provider=job.provider,
            credentials=credentials,
            https_only=not local_stage,
        )
    except MediaRefused as refused:
        with uow:
            uow.attachments.mark_refused(
                job.attachment_id, refused.reason, refused.content_type, refused.size_bytes
            )
            uow.commit()
        metrics.add_metric(name="MediaCopiesRefused", unit="Count", value=1)
        logger.warning("media not copied", extra={"reason": refused.reason})
        return "refused"
    except DependencyUnavailable:
        with uow:
            attempts = uow.attachments.note_failed_attempt(job.attachment_id)
            uow.commit()
        logger.warning("media copy failed; it will be tried again", extra={"attempts": attempts})
        raise
    key = storage_key(job.tenant_id, job.attachment_id, job.url)
    store.put(
        key, fetched.body, fetched.content_type
    )  # before the record: never a key without bytes
    with uow:
        recorded = uow.attachments.mark_stored(
            job.attachment_id, key, fetched.content_type, fetched.size_bytes, now
        )
        uow.commit()
    metrics.add_metric(name="MediaCopied", unit="Count", value=1)
    logger.info(
        "media copied",
        extra={
            "content_type": fetched.content_type,
            "size_bytes": fetched.size_bytes,
            "recorded": recorded,
        },
    )
    return "stored" if recorded else "stored before"


def _credentials(ref: str | None, tenant_id: UUID) -> dict[str, str]:
    """The account's send credentials (a JSON object, as the outbound path reads them);
    none when the account has no reference (a public media URL needs none)."""
    if not ref:
        return {}
    from tether.secrets import resolve_secret

    try:
        value = json.loads(resolve_secret(ref, tenant_id))
    except ConfigurationError as error:
        raise MediaRefused(f"the account's credentials cannot be read: {error}") from error
    except ValueError as error:
        raise MediaRefused("the account's credentials are not JSON") from error
    if not isinstance(value, dict):
        raise MediaRefused("the account's credentials are not a JSON object")
    return {str(k): str(v) for k, v in value.items()}


def redrive_uncopied(
    uow: UnitOfWork,
    queue: MessageQueue,
    now: datetime,
    *,
    grace: timedelta,
    batch_size: int = 100,
) -> int:
    """Name on MediaQueue the attachments waiting for a copy that no queue holds (made
    more than `grace` ago: the inbound function enqueues its own right after its
    commit). Locked with SKIP LOCKED and marked in one transaction."""
    with uow:
        waiting = uow.attachments.waiting_to_enqueue(now - grace, batch_size)
        taken = enqueue_copies(uow, queue, waiting, now)
        uow.commit()
    if waiting:
        logger.warning("media copies re-driven", extra={"found": len(waiting), "enqueued": taken})
    return taken


def presigned_attachments(
    attachments: Sequence[Attachment], store: MediaStore | None, expires_seconds: int
) -> list[tuple[Attachment, str | None]]:
    """Each attachment with a URL that reads Tether's copy for a short while (None when
    there is no copy, or no bucket)."""
    return [
        (
            attachment,
            store.presigned_get(attachment.storage_key, expires_seconds)
            if store is not None and attachment.storage_key
            else None,
        )
        for attachment in attachments
    ]


def with_attachments(uow: UnitOfWork, messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The messages (rows read in the open transaction), each with its attachments
    under "attachments", read in one statement."""
    found = uow.attachments.for_messages(m["id"] for m in messages)
    return [{**m, "attachments": found.get(m["id"], [])} for m in messages]


def message_attachments(uow: UnitOfWork, message_id: UUID) -> list[Attachment]:
    """A message's attachments, in its order; NotFound when the tenant has no such
    message."""
    with uow:
        found = uow.attachments.of_message(message_id)
    if found is None:
        raise NotFound("message", message_id)
    return found
