"""Fetching a provider's media over real HTTP (tether.providers.media): credentials go
to the provider's own host only (never to a redirect's other host), the size limit
holds while the body streams, and a type Tether does not keep is refused before any
body is read."""

from __future__ import annotations

import base64
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tether.domain.errors import DependencyUnavailable
from tether.domain.media import MediaRefused
from tether.providers.media import fetch_media

LIMIT = 64 * 1024
CREDENTIALS = {"account_id": "acct", "api_token": "tok", "base_url": "http://127.0.0.1:1"}
SEEN: list[tuple[str, str | None]] = []


class _Media(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        SEEN.append((f"{self.headers['Host']}{self.path}", self.headers.get("Authorization")))
        other = self.server.other  # type: ignore[attr-defined]
        if self.path == "/redirect":
            self.send_response(302)
            self.send_header("Location", f"http://localhost:{other}/photo.png")
            self.end_headers()
            return
        if self.path.endswith("/busy"):
            self.send_response(503)
            self.end_headers()
            return
        kind = "text/html" if self.path.endswith("/page") else "image/png"
        size = LIMIT + 1 if "big" in self.path else 1000
        self.send_response(200)
        self.send_header("Content-Type", kind)
        if "unsized" not in self.path:
            self.send_header("Content-Length", str(size))
        else:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(b"x" * size)

    def log_message(self, *_: object) -> None:
        pass


@pytest.fixture(scope="module")
def hosts() -> Iterator[tuple[int, int]]:
    servers = [ThreadingHTTPServer(("127.0.0.1", 0), _Media) for _ in range(2)]
    servers[0].other = servers[1].server_address[1]  # type: ignore[attr-defined]
    servers[1].other = servers[0].server_address[1]  # type: ignore[attr-defined]
    for server in servers:
        threading.Thread(target=server.serve_forever, daemon=True).start()
    yield servers[0].server_address[1], servers[1].server_address[1]
    for server in servers:
        server.shutdown()


def test_credentials_go_to_the_provider_host_only_never_after_a_redirect_elsewhere(
    hosts: tuple[int, int],
) -> None:
    port, _ = hosts
    SEEN.clear()
    credentials = {**CREDENTIALS, "base_url": f"http://127.0.0.1:{port}"}
    fetched = fetch_media(
        f"http://127.0.0.1:{port}/redirect",
        max_bytes=LIMIT,
        provider="sandbox",
        credentials=credentials,
        https_only=False,
    )
    assert (fetched.content_type, fetched.size_bytes) == ("image/png", 1000)
    basic = "Basic " + base64.b64encode(b"acct:tok").decode()
    assert [auth for _, auth in SEEN] == [basic, None]  # the other host got none
    assert SEEN[1][0].startswith("localhost:")


@pytest.mark.parametrize(
    ("path", "says"),
    [
        ("/big.png", "more than the"),
        ("/big-unsized.png", "more than the"),
        ("/page", "not kept"),
    ],
    ids=["declared-too-big", "streamed-too-big", "wrong-type"],
)
def test_too_big_or_a_type_not_kept_is_refused_for_good(
    hosts: tuple[int, int], path: str, says: str
) -> None:
    port, _ = hosts
    with pytest.raises(MediaRefused, match=says):
        fetch_media(f"http://127.0.0.1:{port}{path}", max_bytes=LIMIT, https_only=False)


def test_http_is_refused_outside_the_local_stage_and_a_busy_host_is_retried(
    hosts: tuple[int, int],
) -> None:
    port, _ = hosts
    with pytest.raises(MediaRefused, match="only https"):
        fetch_media(f"http://127.0.0.1:{port}/photo.png", max_bytes=LIMIT)
    with pytest.raises(DependencyUnavailable):
        fetch_media(f"http://127.0.0.1:{port}/busy", max_bytes=LIMIT, https_only=False)
