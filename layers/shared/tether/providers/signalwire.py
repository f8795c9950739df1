"""SignalWire through its Compatibility (LaML/cXML) REST API: the Twilio Messages API on
the project's space, ``https://{space}.signalwire.com/api/laml/2010-04-01``, with HTTP
Basic auth of project ID and API token. The client is the Twilio one
(`TwilioCompatibleApi`) with SignalWire's URL, name and error table; the compatibility
API has no idempotency key either, so `find_sent` reconciles the same way.
"""

from __future__ import annotations

from datetime import datetime

from tether.providers.base import (
    ProviderErrorKind,
    SendAccepted,
    SendCommand,
    kind_for,
    whatsapp_unsupported,
)
from tether.providers.transport import READ_TIMEOUT_SECONDS
from tether.providers.twilio import TwilioCompatibleApi

K = ProviderErrorKind

# SignalWire's compatibility API error codes (developer.signalwire.com, Compatibility
# API > Error codes): Twilio's numbers where they overlap, with SignalWire's meanings.
SIGNALWIRE_ERROR_KINDS: dict[str, ProviderErrorKind] = {
    "10002": K.AUTH,  # trial account does not support this feature
    "21210": K.AUTH,  # 'From' phone number not verified
    "21212": K.REJECTED,  # a number is not in E.164 form (we always send E.164)
    "21217": K.INVALID_NUMBER,  # destination is not a valid phone number
    "21219": K.AUTH,  # 'To' not verified (trial)
    "21601": K.AUTH,  # 'From' is not SMS-capable
    "21602": K.REJECTED,  # message body is required
    "21610": K.UNSUBSCRIBED,  # attempt to send to an unsubscribed recipient
    "21611": K.RETRYABLE,  # 'From' has too many queued messages
    "21617": K.REJECTED,  # body over 1600 characters
    "21620": K.REJECTED,  # invalid media URL(s)
    "21717": K.AUTH,  # number not assigned to a 10DLC campaign
    "30002": K.AUTH,  # account suspended
    "30003": K.RETRYABLE,  # unreachable destination handset
    "30004": K.UNSUBSCRIBED,  # message blocked or opted out
    "30005": K.INVALID_NUMBER,  # unknown destination handset
    "30006": K.LANDLINE,  # landline or unreachable carrier
    "30007": K.FILTERED,  # message marked as spam
    "30008": K.REJECTED,  # unknown error
    "30022": K.RETRYABLE,  # Campaign Registry throughput limit exceeded
    "30027": K.RETRYABLE,  # T-Mobile daily message limit reached
}


def classify_signalwire_error(http_status: int | None, code: str | None) -> ProviderErrorKind:
    return kind_for(http_status, code, SIGNALWIRE_ERROR_KINDS)


def space_api_url(space_url: str) -> str:
    """The compatibility API root of a space given as ``example.signalwire.com`` or a URL
    (a full URL is kept as it is, which lets tests point it at a local server)."""
    root = space_url.rstrip("/")
    if "://" not in root:
        root = f"https://{root}"
    return f"{root}/api/laml/2010-04-01"


class SignalWireProvider:
    name = "signalwire"
    supports_idempotency_key = False

    def __init__(
        self,
        project_id: str,
        api_token: str,
        space_url: str,
        *,
        read_timeout: float = READ_TIMEOUT_SECONDS,
    ) -> None:
        self._api = TwilioCompatibleApi(
            provider=self.name,
            api_url=space_api_url(space_url),
            account_sid=project_id,
            username=project_id,
            password=api_token,
            classify=classify_signalwire_error,
            read_timeout=read_timeout,
        )

    def send(self, command: SendCommand) -> SendAccepted:
        if command.channel == "whatsapp":
            raise whatsapp_unsupported(self.name, "SignalWire")
        return self._api.send(command)

    def find_sent(self, command: SendCommand, sent_after: datetime) -> SendAccepted | None:
        return self._api.find_sent(command, sent_after)
