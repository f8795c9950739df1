"""A customer's webhook receiver over real HTTP (http.server in a thread): it answers
each POST as its script says (a status, or "hang" past the sender's timeout), records
what came, and verifies signatures with the official `standardwebhooks` library."""

from __future__ import annotations

import json
import ssl
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from standardwebhooks.webhooks import Webhook, WebhookVerificationError


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes

    @property
    def webhook_id(self) -> str:
        return self.headers["webhook-id"]

    def envelope(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receiver:
    """`script` is consumed one answer per request (then `then` for the rest): an
    HTTP status, ("redirect", url), or "hang" (sleeps `hang_seconds` before answering)."""

    script: list[Any] = field(default_factory=list)
    then: Any = 200
    fail_first: int = 0  # 500 to the first this many attempts of each webhook-id
    hang_seconds: float = 1.0
    received: list[Received] = field(default_factory=list)
    url: str = ""
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def next_answer(self, webhook_id: str | None = None) -> Any:
        with self._lock:
            if self.fail_first:
                seen = sum(1 for r in self.received if r.headers.get("webhook-id") == webhook_id)
                if seen <= self.fail_first:  # this request is already in `received`
                    return 500
            return self.script.pop(0) if self.script else self.then

    def once_each(self, secret: str) -> dict[str, Any]:
        """What a receiver that dedupes on webhook-id keeps: each id's first body, every
        one verified by `standardwebhooks` first (raises if one is not)."""
        hook = Webhook(secret)
        kept: dict[str, Any] = {}
        for r in list(self.received):
            kept.setdefault(r.webhook_id, hook.verify(r.body, r.headers))
        return kept

    def verified(self, secret: str) -> list[Any]:
        """Every received body verified by `standardwebhooks` (raises if one is not)."""
        hook = Webhook(secret)
        return [hook.verify(r.body, r.headers) for r in self.received]

    def verifies(self, secret: str) -> bool:
        try:
            self.verified(secret)
        except WebhookVerificationError:
            return False
        return True


@contextmanager
def receiver(tls: ssl.SSLContext | None = None, **options: Any) -> Iterator[Receiver]:
    """A receiver on 127.0.0.1 (over TLS with `tls`, a server context), stopped after."""
    state = Receiver(**options)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            with state._lock:
                state.received.append(
                    Received({k.lower(): v for k, v in self.headers.items()}, body)
                )
            answer = state.next_answer(self.headers.get("webhook-id"))
            if answer == "hang":
                time.sleep(state.hang_seconds)
                answer = 200
            if isinstance(answer, tuple):
                self.send_response(302)
                self.send_header("Location", answer[1])
            else:
                self.send_response(int(answer))
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    scheme = "https" if tls is not None else "http"
    state.url = f"{scheme}://127.0.0.1:{server.server_address[1]}/hooks"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@dataclass(frozen=True)
class Certificate:
    """A self-signed certificate for `host`: its PEM file (the CA bundle a client trusts)
    and a server context that presents it."""

    host: str
    pem_path: str
    server: ssl.SSLContext


def self_signed(host: str, directory: Path) -> Certificate:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(host)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    pem = directory / f"{host}.pem"
    key_pem = directory / f"{host}.key"
    pem.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_pem.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(pem, key_pem)
    return Certificate(host, str(pem), server)
