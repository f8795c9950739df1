"""MMS media (issue 18): what an outbound message may carry, and what Tether keeps of an
inbound one.

Outbound media is checked where every send is stored (services.outbound.store_sends),
without a network call: the API path stays fast, and a provider that cannot fetch a URL
or finds it too large refuses the send with its own code, which its adapter maps
(tether.providers.*). What is checked here: https only, at most the channel's number of
attachments, and a type Tether knows carriers take, read from the URL's file extension
when it has one (a URL without one, a presigned object say, is left to the provider's
check of its Content-Type).

Inbound media is copied into the stack's media bucket as it streams in: at most
``max_media_bytes`` of the MMS channel per file, and only the types below.
"""

from __future__ import annotations

import hashlib
import posixpath
import re
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit
from uuid import UUID

from tether.domain.channels import Channel, capabilities, message_channel
from tether.domain.errors import InvalidInput, TetherError

MAX_URL_CHARS = 2000

# The types carriers take on MMS: Twilio's "Accepted content types for media" (fully
# supported images, and the other types it accepts), SignalWire's "Messaging MIME Types"
# and Telnyx's "MMS Media & Transcoding" agree on these.
MMS_CONTENT_TYPES: frozenset[str] = frozenset({
    "image/jpeg", "image/jpg", "image/png", "image/gif", "image/bmp", "image/webp",
    "image/tiff",
    "video/mp4", "video/mpeg", "video/quicktime", "video/3gpp", "video/3gp", "video/h264",
    "audio/mpeg", "audio/mp4", "audio/ogg", "audio/amr", "audio/wav", "audio/vnd.wav",
    "audio/3gpp", "audio/aac",
    "text/vcard", "text/x-vcard", "text/calendar", "text/plain",
    "application/pdf",
})  # fmt: skip

EXTENSION_TYPES: dict[str, str] = {
    ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png", ".gif": "image/gif",
    ".bmp": "image/bmp", ".webp": "image/webp", ".tif": "image/tiff", ".tiff": "image/tiff",
    ".mp4": "video/mp4", ".mpeg": "video/mpeg", ".mpg": "video/mpeg",
    ".mov": "video/quicktime", ".3gp": "video/3gpp",
    ".mp3": "audio/mpeg", ".m4a": "audio/mp4", ".ogg": "audio/ogg", ".amr": "audio/amr",
    ".wav": "audio/wav", ".aac": "audio/aac",
    ".vcf": "text/vcard", ".ics": "text/calendar", ".txt": "text/plain",
    ".pdf": "application/pdf",
}  # fmt: skip


class MediaRefused(TetherError):
    """Inbound media that will never be copied: gone at the provider, too large, or a
    type Tether does not keep. What was learnt of it is kept with the reason."""

    def __init__(
        self, reason: str, *, content_type: str | None = None, size_bytes: int | None = None
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.content_type = content_type
        self.size_bytes = size_bytes


def check_outbound_media(urls: Sequence[str], channel: str = Channel.MMS) -> tuple[str, ...]:
    """The media of one send as it will be stored, or InvalidInput naming the first URL
    that cannot go (and why)."""
    limits = capabilities(channel)
    if not urls:
        return ()
    if not limits.media:
        raise InvalidInput(f"a {limits.channel} message carries no media")
    if len(urls) > limits.max_media:
        raise InvalidInput(
            f"media_urls: {len(urls)} URLs; a {limits.channel} message carries at most"
            f" {limits.max_media}"
        )
    for url in urls:
        _check_url(url)
    return tuple(urls)


def _check_url(url: str) -> None:
    shown = url[:200]
    if len(url) > MAX_URL_CHARS:
        raise InvalidInput(f"media URL {shown!r}...: longer than {MAX_URL_CHARS} characters")
    if any(c.isspace() or ord(c) < 32 for c in url):
        raise InvalidInput(f"media URL {shown!r}: holds whitespace or control characters")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises on a port that is not a number
    except ValueError as error:
        raise InvalidInput(f"media URL {shown!r}: not a URL ({error})") from None
    if parts.scheme.lower() != "https":
        raise InvalidInput(f"media URL {shown!r}: only https URLs are sent (carriers fetch them)")
    if not parts.hostname:
        raise InvalidInput(f"media URL {shown!r}: has no host")
    if parts.username is not None or parts.password is not None:
        raise InvalidInput(f"media URL {shown!r}: credentials in a URL are not sent")
    extension = posixpath.splitext(parts.path)[1].lower()
    if extension and extension not in EXTENSION_TYPES and _looks_like_a_file(extension):
        raise InvalidInput(
            f"media URL {shown!r}: a {extension} file is not a type carriers take on MMS"
            f" (images, video, audio, vCard, calendar, PDF)"
        )


def _looks_like_a_file(extension: str) -> bool:
    # ".php", ".aspx" serve media too, and "/v1.2" is no file kind at all: only a
    # plain file kind that carriers do not take (".exe", ".html", ".zip") is refused
    return extension[1:].isalpha() and extension not in {
        ".php", ".asp", ".aspx", ".jsp", ".cgi", ".do", ".ashx",
    }  # fmt: skip


_DECLARED = re.compile(r"^[a-z0-9][a-z0-9.+-]{0,60}/[a-z0-9][a-z0-9.+-]{0,60}$")


def declared_type(value: object) -> str:
    """A provider's declared Content-Type as a media type, or "" when it is none (a
    webhook's odd value never refuses its message)."""
    found = media_type(value) if isinstance(value, str) else ""
    return found if _DECLARED.match(found) else ""


def media_type(content_type: str | None) -> str:
    """A Content-Type header's media type, lower case, without parameters."""
    return (content_type or "").split(";", 1)[0].strip().lower()


def kept_content_type(content_type: str | None) -> bool:
    """Whether Tether keeps a copy of inbound media of this Content-Type."""
    return media_type(content_type) in MMS_CONTENT_TYPES


def max_inbound_bytes() -> int:
    """The largest inbound file Tether copies: the MMS channel's whole-message limit."""
    return capabilities(Channel.MMS).max_media_bytes


def storage_key(tenant_id: UUID, attachment_id: UUID, url: str) -> str:
    """Where an attachment's copy lives in the media bucket: under its tenant, named by
    the attachment (a copy is written once; the URL's hash only keeps keys readable)."""
    digest = hashlib.sha256(url.encode()).hexdigest()[:16]
    return f"tenants/{tenant_id}/attachments/{attachment_id}/{digest}"


@dataclass(frozen=True, slots=True)
class Attachment:
    """One of a tenant's media, by URL, with Tether's copy once it is stored."""

    id: UUID
    url: str
    content_type: str | None
    size_bytes: int | None
    storage_key: str | None
    copy_state: str  # none (passed on only), pending, stored, refused
    copy_error: str | None = None
    position: int = 0  # its place in the message it is listed for


@dataclass(frozen=True, slots=True)
class MediaCopy:
    """An attachment to copy into the media bucket, with the account that can fetch it."""

    attachment_id: UUID
    tenant_id: UUID
    url: str
    copy_state: str
    attempts: int
    provider: str | None  # the account's provider: how its media URLs authenticate
    provider_account_id: UUID | None
    credentials_ref: str | None

    @property
    def done(self) -> bool:
        return self.copy_state in ("stored", "refused", "none")


def inbound_channel(event_channel: str, media_urls: Sequence[str]) -> Channel:
    """The channel an inbound message is stored as: its event's, an SMS with media
    being an MMS (and an "mms" event without media an SMS)."""
    return message_channel(capabilities(event_channel).thread_channel, bool(media_urls))


def copyable_media(urls: Sequence[str]) -> list[str]:
    """The inbound URLs Tether keeps as attachments: http(s) ones (anything else a
    provider sends stays in the message's media_urls as given)."""
    return [url for url in urls if url.startswith(("https://", "http://"))]
