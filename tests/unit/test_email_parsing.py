"""Inbound mail read with the standard library (tether.domain.email): charsets and
transfer encodings of every kind, encoded words and folded headers, HTML-only mail,
quoted history, and bytes that are no mail at all. Mails are written by the standard
library's own generator (as a client would) or by hand, never by the code under test."""

from __future__ import annotations

import email.policy
from email.message import EmailMessage

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from tether.domain.email import html_text, mailbox_parts, parse_mail, reply_address, reply_part

CHARSETS = ["utf-8", "iso-8859-1", "windows-1252", "koi8-r", "shift_jis", "big5", "iso-8859-7"]
ENCODINGS = ["base64", "quoted-printable", "8bit"]
# characters a line of text may hold (no line breaks of any kind, no controls)
LINE_CHARACTERS = st.characters(
    exclude_categories=("Cs", "Cc", "Zl", "Zp", "Co", "Cn"), exclude_characters="\x85"
)
LETTERS = "abcdefghijklmnopqrstuvwxyz"
ALNUM = LETTERS + "0123456789"
LINES = st.lists(st.text(LINE_CHARACTERS, max_size=60), min_size=1, max_size=6)


@settings(max_examples=100, deadline=None)
@given(
    lines=LINES,
    subject=st.text(LINE_CHARACTERS, min_size=1, max_size=150),
    charset=st.sampled_from(CHARSETS),
    cte=st.sampled_from(ENCODINGS),
    line_length=st.sampled_from([40, 78, 998]),
)
def test_any_text_in_any_charset_and_encoding_reads_back_as_written(
    lines: list[str], subject: str, charset: str, cte: str, line_length: int
) -> None:
    text = "\n".join(lines)
    try:
        text.encode(charset)
    except UnicodeEncodeError:
        assume(False)
    mail = EmailMessage()
    mail["From"] = "Lead <lead@example.com>"
    mail["To"] = "replies+abcd1234@reply.acme.test"
    mail["Subject"] = subject  # encoded words as needed, folded at `line_length`
    mail.set_content(text, charset=charset, cte=cte)
    raw = mail.as_bytes(policy=email.policy.SMTP.clone(max_line_length=line_length))
    parsed = parse_mail(raw)
    assert parsed.text == text.strip()
    assert parsed.subject == (" ".join(subject.split()) or None)
    assert parsed.sender == "lead@example.com"
    assert parsed.recipients == ("replies+abcd1234@reply.acme.test",)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=2000))
def test_bytes_that_are_no_mail_never_raise(raw: bytes) -> None:
    parsed = parse_mail(raw)
    assert isinstance(parsed.text, str)
    assert "\x00" not in parsed.text


@settings(max_examples=100, deadline=None)
@given(
    headers=st.lists(
        st.tuples(
            st.sampled_from(
                ["From", "To", "Cc", "Subject", "Message-ID", "References", "Received"]
            ),
            st.text(st.characters(codec="utf-8"), max_size=80),
        ),
        max_size=8,
    ),
    body=st.binary(max_size=300),
)
def test_broken_headers_and_bodies_never_raise(headers: list[tuple[str, str]], body: bytes) -> None:
    head = "".join(f"{name}: {value}\r\n" for name, value in headers)
    parse_mail(head.encode("utf-8", "surrogateescape") + b"\r\n" + body)


def test_html_only_mail_is_read_as_its_text() -> None:
    mail = EmailMessage()
    mail["From"] = "lead@example.com"
    mail.set_content(
        "<html><head><style>p{color:red}</style></head><body><p>Call me at"
        " <b>650&#8209;530&#8209;0051</b> &amp; soon</p><script>x()</script>"
        "<blockquote>STOP</blockquote></body></html>",
        subtype="html",
    )
    parsed = parse_mail(mail.as_bytes())
    assert "Call me at 650\u2011530\u20110051 & soon" in parsed.text
    assert "x()" not in parsed.text
    assert "color" not in parsed.text
    assert "STOP" not in parsed.reply_text  # the quoted block is history


def test_plain_text_is_preferred_over_html_in_multipart_alternative() -> None:
    mail = EmailMessage()
    mail["From"] = "lead@example.com"
    mail.set_content("the plain one")
    mail.add_alternative("<p>the html one</p>", subtype="html")
    assert parse_mail(mail.as_bytes()).text == "the plain one"


@pytest.mark.parametrize(
    ("text", "reply"),
    [
        (
            "Yes please\n\nOn Mon, Jan 5, 2026 at 9:00 AM Acme <a@b.test> wrote:\n> STOP",
            "Yes please",
        ),
        (
            "Yes please\n\nOn Mon, Jan 5, 2026 at 9:00 AM Acme\n<a@b.test> wrote:\n> STOP",
            "Yes please",
        ),
        ("Ok\n\n-----Original Message-----\nFrom: Acme\nSTOP", "Ok"),
        ("Ok\nFrom: Acme <a@b.test>\nDate: Monday\nSTOP", "Ok"),
        ("Ok\n\n________________________________\nFrom: Acme\nSent: Monday", "Ok"),
        ("Ok\n\nFrom: Acme <a@b.test>\nSent: Monday\nSTOP", "Ok"),
        ("Call me\n-- \nJane | 415 555 0199", "Call me"),
        ("> are you free?\nyes, at 5", "yes, at 5"),
        ("Le lun. 5 janv. 2026, Acme a écrit :\n> STOP", ""),
        (
            "From: is how my note starts\nand it goes on",
            "From: is how my note starts\nand it goes on",
        ),
    ],
)
def test_the_reply_is_cut_from_its_quoted_history_and_signature(text: str, reply: str) -> None:
    assert reply_part(text) == reply


def test_html_blocks_become_lines() -> None:
    assert html_text("<div>one</div><div>two<br>three</div>") == "one\ntwo\nthree"


@settings(max_examples=100, deadline=None)
@given(
    local=st.tuples(st.text(ALNUM, min_size=1, max_size=1), st.text(ALNUM + "._-", max_size=20)),
    domain=st.tuples(
        st.text(ALNUM, min_size=1, max_size=10), st.text(LETTERS, min_size=2, max_size=6)
    ),
    token=st.text(ALNUM, min_size=8, max_size=32),
)
def test_a_leads_reply_address_reads_back_as_its_mailbox_and_token(
    local: tuple[str, str], domain: tuple[str, str], token: str
) -> None:
    mailbox = f"{''.join(local)}@{'.'.join(domain)}"
    assert mailbox_parts(reply_address(mailbox, token)) == (mailbox, token)
    assert mailbox_parts(reply_address(mailbox, token).upper()) == (mailbox, token)
    assert mailbox_parts(mailbox) == (mailbox, None)


@pytest.mark.parametrize("address", ["", "no-at-sign", "a@b", "<x>@y.test", "+tag@y.test"])
def test_what_is_no_address_has_no_mailbox(address: str) -> None:
    assert mailbox_parts(address) is None


def test_ids_and_threading_headers_are_read_without_brackets() -> None:
    raw = (
        b"From: lead@example.com\r\nMessage-ID: <m1@example.com>\r\n"
        b"In-Reply-To: <m0@acme.test>\r\nReferences: <a@acme.test>\r\n <m0@acme.test>\r\n\r\nhi\r\n"
    )
    parsed = parse_mail(raw)
    assert parsed.message_id == "m1@example.com"
    assert parsed.in_reply_to == ("m0@acme.test",)
    assert parsed.references == ("a@acme.test", "m0@acme.test")
    assert parsed.identity("ses-key") == "m1@example.com"
    assert parse_mail(b"From: a@b.test\r\n\r\nx").identity("ses-key") == "ses-key"
