"""Inbound email, read without I/O: a raw RFC 5322 message (as SES stores it in S3) to
the parts Tether keeps, and a lead's reply address.

Parsing uses only the standard library (`email` with `policy.default`): encoded words
of every kind in headers, any charset a part declares (an unknown one read as UTF-8
with replacements), multipart/alternative with text/plain preferred and HTML reduced
to its text when a mail has nothing else. Nothing here raises on a malformed mail: what
cannot be read is left empty and named in `defects`.

The text kept is the whole text of the mail; the text classified is the reply alone:
the quoted history ("> " lines, "On ... wrote:", Outlook's "-----Original Message-----"
and "From:" blocks) and the signature after "-- " are cut off, so an old "STOP" or a
phone number quoted from an earlier mail is not read as said now.
"""

from __future__ import annotations

import contextlib
import email
import email.policy
import hashlib
import re
from dataclasses import dataclass
from email.message import EmailMessage, Message
from email.utils import getaddresses
from html.parser import HTMLParser

MAX_TEXT_CHARS = 100_000  # of the stored text; a longer mail is cut (the raw mail stays in S3)
MAX_IDENTITY_CHARS = 200  # a receipt's identity and a message's external id
MAX_REFERENCES = 50  # ids of References read (a long thread lists them all)
MAX_RECIPIENTS = 50
MAX_HEADER_CHARS = 998  # RFC 5322's line limit, and the columns'

_ADDRESS = re.compile(r"^[^@\s<>\"(),;:]{1,64}@[a-z0-9.-]{1,253}\.[a-z0-9-]{2,63}$")
_MESSAGE_ID = re.compile(r"<([^<>\s]{1,900})>")
_RECEIVED_FOR = re.compile(r"\bfor\s+<?([^\s<>;]+@[^\s<>;]+?)>?\s*;", re.IGNORECASE)
_TOKEN = re.compile(r"^[a-z0-9]{8,32}$")

# Where quoted history starts, one line each (the wrapped "On ... wrote:" is joined first)
_HISTORY_STARTS = (
    re.compile(r"^\s*On\b.{0,300}\bwrote:\s*$", re.IGNORECASE),
    re.compile(r"^\s*-{2,}\s*Original Message\s*-{2,}\s*$", re.IGNORECASE),
    re.compile(r"^\s*_{10,}\s*$"),  # Outlook's rule above the quoted mail
    re.compile(r"^\s*From:\s.*$"),  # an Outlook header block (the next line says)
    re.compile(r"^\s*Le\b.{0,300}\ba écrit\s*:\s*$", re.IGNORECASE),
    re.compile(r"^\s*Am\b.{0,300}\bschrieb\b.{0,300}:\s*$", re.IGNORECASE),
    re.compile(r"^\s*El\b.{0,300}\bescribió:\s*$", re.IGNORECASE),
)
_HEADER_BLOCK_NEXT = re.compile(r"^\s*(Sent|Date|To|Cc|Subject):\s", re.IGNORECASE)
_SIGNATURE = re.compile(r"^-- ?$")  # RFC 3676's delimiter ("-- "), often trimmed to "--"


@dataclass(frozen=True, slots=True)
class ParsedMail:
    """What one inbound mail says. Addresses are lower-cased addr-specs; ids are
    without their angle brackets."""

    sender: str | None
    recipients: tuple[str, ...]  # every address the mail was for, the envelope's first
    subject: str | None
    message_id: str | None
    in_reply_to: tuple[str, ...]
    references: tuple[str, ...]
    text: str  # the whole text, as stored
    reply_text: str  # the reply alone, as classified
    defects: tuple[str, ...]

    def identity(self, fallback: str) -> str:
        """The mail's identity for deduplication: its Message-ID (the same mail
        delivered twice is one), else `fallback` (SES's message id, the S3 key);
        hashed when too long to be a receipt's key."""
        value = self.message_id or fallback
        if len(value) > MAX_IDENTITY_CHARS - 10:
            return "sha256:" + hashlib.sha256(value.encode("utf-8", "replace")).hexdigest()
        return value


def parse_mail(raw: bytes) -> ParsedMail:
    """Read one raw mail. Never raises: what cannot be read is empty, and said in
    `defects`."""
    defects: list[str] = []
    message = email.message_from_bytes(raw, policy=email.policy.default)
    defects.extend(type(d).__name__ for d in message.defects)
    _unfold_transfer_encodings(message)
    sender = _first_address(message, defects)
    recipients = _recipients(message, defects)
    subject = _header(message, "subject", defects)
    text = _text(message, defects)
    return ParsedMail(
        sender=sender,
        recipients=recipients,
        subject=subject[:MAX_HEADER_CHARS] if subject else None,
        message_id=_one_id(_header(message, "message-id", defects)),
        in_reply_to=_ids(_header(message, "in-reply-to", defects))[:MAX_REFERENCES],
        references=_ids(_header(message, "references", defects))[-MAX_REFERENCES:],
        text=text[:MAX_TEXT_CHARS],
        reply_text=reply_part(text)[:MAX_TEXT_CHARS],
        defects=tuple(dict.fromkeys(defects)),
    )


def _unfold_transfer_encodings(message: Message) -> None:
    """A Content-Transfer-Encoding folded onto its next line (" quoted-printable", as
    the standard library's own generator writes it under a short line limit) is read
    stripped: the payload decoder compares the raw value and would skip decoding."""
    for part in message.walk():
        value = part.get("content-transfer-encoding")
        if value is not None and str(value) != str(value).strip():
            part.replace_header("content-transfer-encoding", str(value).strip())


def reply_part(text: str) -> str:
    """The text above the quoted history and the signature; inline "> " quotes left out."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    kept: list[str] = []
    for index, line in enumerate(lines):
        if line.lstrip().startswith(">"):
            continue  # an inline quote: the answer may follow it
        if _SIGNATURE.match(line.rstrip()):
            break
        following = lines[index + 1] if index + 1 < len(lines) else ""
        if _starts_history(line, following) or _HISTORY_STARTS[0].match(f"{line} {following}"):
            break
        kept.append(line)
    return "\n".join(kept).strip()


def _starts_history(line: str, following: str) -> bool:
    for index, pattern in enumerate(_HISTORY_STARTS):
        if not pattern.match(line):
            continue
        # "From:" opens history only as a header block (Outlook's From:, Sent:, To:)
        if index == 3 and not _HEADER_BLOCK_NEXT.match(following):
            continue
        return True
    return False


def mailbox_parts(address: str) -> tuple[str, str | None] | None:
    """A recipient address as (its mailbox without the tag, the tag): for
    replies+ab12cd34ef@reply.acme.example, ("replies@reply.acme.example", "ab12cd34ef").
    None when it is no address."""
    address = address.strip().lower()
    if not _ADDRESS.match(address):
        return None
    local, _, domain = address.rpartition("@")
    base, plus, tag = local.partition("+")
    if not base:
        return None
    return f"{base}@{domain}", (tag if plus and _TOKEN.match(tag) else None)


def reply_address(mailbox: str, token: str) -> str:
    """A lead's own reply address: the tenant's mailbox tagged with the lead's token."""
    local, _, domain = mailbox.partition("@")
    return f"{local}+{token}@{domain}"


def _header(message: Message, name: str, defects: list[str]) -> str | None:
    """A header's decoded value (encoded words of any charset, folding undone), or
    None. A header the policy cannot parse is read as its raw decoded text."""
    try:
        value = message.get(name)
    except Exception as error:  # a header the registry's parser chokes on
        defects.append(f"{name}: {type(error).__name__}")
        raw = _raw_header(message, name)
        return _decoded_words(raw) if raw is not None else None
    if value is None:
        return None
    text = " ".join(str(value).split())
    for defect in getattr(value, "defects", ()):
        defects.append(f"{name}: {type(defect).__name__}")
    return _storable(text) or None


def _raw_header(message: Message, name: str) -> str | None:
    for key, value in message.raw_items() if isinstance(message, EmailMessage) else ():
        if key.lower() == name:
            return str(value)
    return None


def _decoded_words(raw: str) -> str:
    from email.header import decode_header, make_header

    try:
        return _storable(" ".join(str(make_header(decode_header(raw))).split()))
    except Exception:
        return _storable(" ".join(raw.split()))


def _addresses(message: Message, name: str, defects: list[str]) -> list[str]:
    """Every addr-spec of every `name` header, as written (the policy's parsed
    addresses; a header it cannot parse read by the older getaddresses)."""
    try:
        values = message.get_all(name) or []
    except Exception:
        defects.append(f"{name}: unreadable")
        return []
    found: list[str] = []
    for value in values:
        try:
            found.extend(address.addr_spec for address in value.addresses)  # type: ignore[attr-defined]
        except Exception:
            found.extend(address for _, address in getaddresses([str(value)]))
    return found


def _first_address(message: Message, defects: list[str]) -> str | None:
    for address in _addresses(message, "from", defects):
        if mailbox_parts(address) is not None:
            return address.strip().lower()
    defects.append("from: no address")
    return None


def _recipients(message: Message, defects: list[str]) -> tuple[str, ...]:
    """The addresses the mail was for: the envelope's (Received "for", Delivered-To,
    X-Original-To: a Bcc is seen only there) before To and Cc."""
    found: dict[str, None] = {}
    candidates: list[str] = []
    try:
        for value in message.get_all("received") or []:
            candidates.extend(_RECEIVED_FOR.findall(str(value)))
    except Exception:
        defects.append("received: unreadable")
    for name in ("delivered-to", "x-original-to", "to", "cc"):
        candidates.extend(_addresses(message, name, defects))
    for address in candidates:
        if mailbox_parts(address) is not None:
            found.setdefault(address.strip().lower(), None)
    return tuple(found)[:MAX_RECIPIENTS]


def _one_id(value: str | None) -> str | None:
    ids = _ids(value)
    if ids:
        return ids[0]
    text = (value or "").strip().strip("<>").strip()
    return _storable(text)[:MAX_HEADER_CHARS] if text and " " not in text else None


def _ids(value: str | None) -> tuple[str, ...]:
    return tuple(_storable(found) for found in _MESSAGE_ID.findall(value or ""))


def _text(message: Message, defects: list[str]) -> str:
    """The mail's text: its text/plain body, else its HTML body as text, else the first
    text part of any kind."""
    body: Message | None = None
    if isinstance(message, EmailMessage):
        try:
            body = message.get_body(preferencelist=("plain", "html"))
        except Exception as error:
            defects.append(f"body: {type(error).__name__}")
    if body is None:
        body = next(
            (part for part in message.walk() if part.get_content_maintype() == "text"), None
        )
    if body is None:
        return ""
    content = _decoded(body, defects)
    if body.get_content_subtype() == "html":
        content = html_text(content)
    return _storable(content.replace("\r\n", "\n")).strip()


def _decoded(part: Message, defects: list[str]) -> str:
    """A text part's content in its declared charset; an unknown or lying charset is
    read as UTF-8 (then Latin-1) with replacements rather than lost."""
    if isinstance(part, EmailMessage):
        try:
            content = part.get_content()
            if isinstance(content, str):
                return content
        except Exception as error:
            defects.append(f"charset: {type(error).__name__}")
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        raw = part.get_payload()
        return raw if isinstance(raw, str) else ""
    return payload.decode("utf-8", errors="replace")


class _HtmlText(HTMLParser):
    _BLOCKS = frozenset(
        {"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "table"}
    )
    _SKIPPED = frozenset({"script", "style", "head", "title"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skipping = 0
        self._quoting = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._SKIPPED:
            self._skipping += 1
        elif tag == "blockquote":
            self._quoting += 1  # quoted history: "> " lines, as a plain mail has them
        if tag in self._BLOCKS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._SKIPPED and self._skipping:
            self._skipping -= 1
        elif tag == "blockquote" and self._quoting:
            self._quoting -= 1
        if tag in self._BLOCKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if self._skipping:
            return
        if self._quoting:
            data = "\n".join(f"> {line}" if line.strip() else line for line in data.split("\n"))
        self.parts.append(data)


def html_text(html: str) -> str:
    """An HTML body's visible text, one line per block, entities decoded; quoted
    blocks as "> " lines."""
    parser = _HtmlText()
    with contextlib.suppress(Exception):  # lenient; a pathological input keeps what it read
        parser.feed(html)
        parser.close()
    lines = [" ".join(line.split()) for line in "".join(parser.parts).split("\n")]
    text = "\n".join(lines)
    return re.sub(r"\n{2,}", "\n", text).strip()  # adjacent blocks make one break


def _storable(text: str) -> str:
    from tether.domain.storable import storable_text

    return storable_text(text)
