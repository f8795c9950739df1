"""Channels (issue 18): what each one carries, and which conversation it belongs to.

A thread is a conversation on one thread channel (sms, whatsapp, email); a message goes
as one message channel (sms, mms, whatsapp, email). An MMS is an SMS-conversation
message with media, sent through the number's SMS assignment. The hard rule holds on
each: an outbound message is bound to its exact sending address (a number for SMS, MMS
and WhatsApp; a mailbox for email, which Tether only receives for now).

The limits are the ones the send path checks before a text leaves; each provider's own
limits may be narrower, and its adapter says so when it refuses.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from typing import Literal

from tether.domain.errors import InvalidInput


class Channel(StrEnum):
    SMS = "sms"
    MMS = "mms"
    WHATSAPP = "whatsapp"
    EMAIL = "email"


ChannelName = Literal["sms", "mms", "whatsapp", "email"]
ThreadChannel = Literal["sms", "whatsapp", "email"]
SenderChannel = Literal["sms", "whatsapp"]  # what a number is assigned to a campaign for


@dataclass(frozen=True, slots=True)
class ChannelCapabilities:
    channel: Channel
    thread_channel: ThreadChannel  # the conversation its messages belong to
    sender_channel: SenderChannel | None  # the assignment that sends it; None: Tether does not
    address: Literal["phone", "mailbox"]
    media: bool
    max_body_chars: int
    max_media: int  # attachments per message
    max_media_bytes: int  # all of one message's attachments together
    # free-form text may go only this long after the person's last message (WhatsApp's
    # customer-service window); outside it, only an approved template may
    session_window: timedelta | None = None

    @property
    def sends(self) -> bool:
        return self.sender_channel is not None


MB = 1024 * 1024

CAPABILITIES: Mapping[Channel, ChannelCapabilities] = {
    Channel.SMS: ChannelCapabilities(
        Channel.SMS, "sms", "sms", "phone", media=False, max_body_chars=1600,
        max_media=0, max_media_bytes=0,
    ),
    Channel.MMS: ChannelCapabilities(
        Channel.MMS, "sms", "sms", "phone", media=True, max_body_chars=1600,
        max_media=10, max_media_bytes=5 * MB,
    ),
    Channel.WHATSAPP: ChannelCapabilities(
        Channel.WHATSAPP, "whatsapp", "whatsapp", "phone", media=True, max_body_chars=4096,
        max_media=1, max_media_bytes=16 * MB, session_window=timedelta(hours=24),
    ),
    Channel.EMAIL: ChannelCapabilities(
        Channel.EMAIL, "email", None, "mailbox", media=True, max_body_chars=1_000_000,
        max_media=100, max_media_bytes=40 * MB,
    ),
}  # fmt: skip


def capabilities(channel: str) -> ChannelCapabilities:
    try:
        return CAPABILITIES[Channel(channel)]
    except ValueError:
        raise InvalidInput(f"unknown channel {channel!r}: one of {', '.join(Channel)}") from None


def message_channel(thread_channel: str, has_media: bool) -> Channel:
    """The channel a message goes as on a conversation: an SMS conversation's message
    with media is an MMS."""
    channel = Channel(thread_channel)
    if channel is Channel.SMS and has_media:
        return Channel.MMS
    return channel
