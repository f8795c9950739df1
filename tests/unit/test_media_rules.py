"""MMS media rules (tether.domain.media, tether.providers.media.media_credentials): what
an outbound message may carry, which channel a message is stored as, and which host a
provider account's credentials may go to."""

from __future__ import annotations

import uuid

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tether.domain.channels import Channel
from tether.domain.errors import InvalidInput
from tether.domain.media import (
    EXTENSION_TYPES,
    check_outbound_media,
    copyable_media,
    inbound_channel,
    kept_content_type,
    storage_key,
)
from tether.providers.media import media_credentials

_LABEL = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789", min_size=1, max_size=10)
_HOSTS = st.lists(_LABEL, min_size=2, max_size=4).map(".".join)
_SEGMENT = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-_", min_size=1, max_size=12)
_EXTENSIONS = st.sampled_from(["", *EXTENSION_TYPES, ".php"])


@settings(max_examples=60)
@given(host=_HOSTS, path=st.lists(_SEGMENT, max_size=4), ext=_EXTENSIONS, query=_SEGMENT)
def test_https_media_of_a_carried_kind_passes(
    host: str, path: list[str], ext: str, query: str
) -> None:
    url = f"https://{host}/{'/'.join(path)}{ext}?v={query}"
    assert check_outbound_media([url]) == (url,)


@settings(max_examples=60)
@given(
    scheme=st.sampled_from(["http", "ftp", "data", "file", "javascript", "s3"]),
    host=_HOSTS,
    path=_SEGMENT,
)
def test_any_other_scheme_is_refused_naming_the_url(scheme: str, host: str, path: str) -> None:
    url = f"{scheme}://{host}/{path}.jpg"
    with pytest.raises(InvalidInput, match="only https") as refused:
        check_outbound_media(["https://ok.example/a.png", url])
    assert url in str(refused.value)


@given(count=st.integers(min_value=0, max_value=25))
def test_at_most_the_channels_count(count: int) -> None:
    urls = [f"https://cdn.example/{i}.png" for i in range(count)]
    if count <= 10:
        assert len(check_outbound_media(urls)) == count
    else:
        with pytest.raises(InvalidInput, match="at most 10"):
            check_outbound_media(urls)
    if count > 1:  # a WhatsApp message carries one
        with pytest.raises(InvalidInput, match="at most 1"):
            check_outbound_media(urls, "whatsapp")
    if count:
        with pytest.raises(InvalidInput, match="carries no media"):
            check_outbound_media(urls, "sms")


@pytest.mark.parametrize(
    "url",
    [
        "https://cdn.example/setup.exe",
        "https://cdn.example/page.html",
        "https://cdn.example/a b.png",
        "https://cdn.example/a.png\n",
        "https://user:pw@cdn.example/a.png",
        "https://cdn.example:port/a.png",
        "https:///a.png",
        "https://cdn.example/" + "a" * 2000 + ".png",
    ],
    ids=["exe", "html", "space", "newline", "credentials", "bad-port", "no-host", "too-long"],
)
def test_odd_urls_are_refused(url: str) -> None:
    with pytest.raises(InvalidInput, match="media URL"):
        check_outbound_media([url])


@pytest.mark.parametrize(
    ("event", "media", "stored"),
    [
        ("sms", [], Channel.SMS),
        ("sms", ["https://m.example/1"], Channel.MMS),
        ("mms", [], Channel.SMS),
        ("mms", ["https://m.example/1"], Channel.MMS),
        ("whatsapp", ["https://m.example/1"], Channel.WHATSAPP),
        ("email", ["https://m.example/1"], Channel.EMAIL),
    ],
)
def test_an_inbound_message_is_stored_as_its_channel_an_sms_with_media_as_mms(
    event: str, media: list[str], stored: Channel
) -> None:
    assert inbound_channel(event, media) is stored


def test_only_http_urls_become_attachments_and_only_carried_types_are_kept() -> None:
    assert copyable_media(["cid:x", "https://a/1", "HTTPS://a/2", "http://a/3"]) == [
        "https://a/1",
        "http://a/3",
    ]
    assert kept_content_type("image/JPEG; charset=binary")
    assert not kept_content_type("text/html")
    assert not kept_content_type(None)


TWILIO = {"account_sid": "AC1", "auth_token": "tok"}


@pytest.mark.parametrize(
    ("provider", "credentials", "url", "sent"),
    [
        ("twilio", TWILIO, "https://api.twilio.com/2010-04-01/Accounts/AC1/Media/ME1", ("AC1", "tok")),
        ("twilio", {**TWILIO, "api_key_sid": "SK1", "api_key_secret": "s"}, "https://media.twilio.com/x", ("SK1", "s")),
        ("twilio", TWILIO, "https://api.twilio.com.evil.example/x", None),
        ("twilio", TWILIO, "https://eviltwilio.com/x", None),
        ("twilio", TWILIO, "https://s3.amazonaws.com/twilio-media/x", None),
        ("signalwire", {"project_id": "p", "api_token": "t", "space_url": "acme.signalwire.com"}, "https://acme.signalwire.com/api/laml/x", ("p", "t")),
        ("signalwire", {"project_id": "p", "api_token": "t", "space_url": "acme.signalwire.com"}, "https://files.signalwire.com/x", ("p", "t")),
        ("signalwire", {"project_id": "p", "api_token": "t", "space_url": "acme.signalwire.com"}, "https://signalwire.com.evil.example/x", None),
        ("sandbox", {"account_id": "a", "api_token": "t", "base_url": "http://127.0.0.1:9"}, "http://127.0.0.1:8/m", ("a", "t")),
        ("sandbox", {"account_id": "a", "api_token": "t", "base_url": "http://127.0.0.1:9"}, "http://localhost:9/m", None),
        ("telnyx", {"api_key": "k"}, "https://api.telnyx.com/media/x", None),
        ("signalhouse", {"api_key": "k"}, "https://v2.signalhouse.io/media/x", None),
        (None, {}, "https://api.twilio.com/x", None),
    ],
    ids=[
        "twilio-api", "twilio-api-key", "twilio-lookalike", "twilio-suffix", "twilio-storage",
        "signalwire-space", "signalwire-own", "signalwire-lookalike", "sandbox", "sandbox-other",
        "telnyx", "signalhouse", "no-account",
    ],
)  # fmt: skip
def test_credentials_go_only_to_the_providers_own_media_host(
    provider: str | None, credentials: dict[str, str], url: str, sent: tuple[str, str] | None
) -> None:
    assert media_credentials(provider, credentials, url) == sent


def test_a_copy_lives_under_its_tenant_and_attachment() -> None:
    tenant, attachment = uuid.uuid4(), uuid.uuid4()
    key = storage_key(tenant, attachment, "https://m.example/1")
    assert key.startswith(f"tenants/{tenant}/attachments/{attachment}/")
    assert key == storage_key(tenant, attachment, "https://m.example/1")  # the same every try
