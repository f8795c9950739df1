"""Attachments as the API shows them: Tether's copy through a presigned URL that reads it
for a few minutes (made with no network call), outbound media as the URL it went with."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import timedelta
from typing import Any

from tether.api import context
from tether.api.schemas import MessageAttachment
from tether.domain.media import Attachment
from tether.services.media import presigned_attachments


def attachment_views(attachments: Sequence[Attachment]) -> list[MessageAttachment]:
    store, expires = context.media()
    expires_at = context.now() + timedelta(seconds=expires)
    return [
        MessageAttachment(
            id=attachment.id,
            content_type=attachment.content_type,
            size_bytes=attachment.size_bytes,
            copy_state=attachment.copy_state,
            url=url if url else (attachment.url if attachment.copy_state == "none" else None),
            expires_at=expires_at if url else None,
        )
        for attachment, url in presigned_attachments(attachments, store, expires)
    ]


def with_attachment_views(messages: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Message rows with their attachments as the API shows them."""
    return [{**m, "attachments": attachment_views(m.get("attachments", []))} for m in messages]
