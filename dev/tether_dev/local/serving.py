"""The local stack's HTTP servers (gateway, Lambda's Invoke API): their common server
class, request framing, and start and stop on a daemon thread each."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from email.message import Message
from http.server import ThreadingHTTPServer
from io import BufferedIOBase
from typing import Self

# API Gateway's own payload limit
MAX_BODY_BYTES = 10 * 1024 * 1024
_DIGITS = re.compile(rb"[0-9]{1,10}")
_CHUNK_SIZE = re.compile(rb"[0-9A-Fa-f]{1,8}")


class LocalHttpServer(ThreadingHTTPServer):
    """A thread per connection, and a listen backlog like a real server's:
    socketserver's default of 5 resets connections in any burst of more."""

    daemon_threads = True
    block_on_close = False
    request_queue_size = 128


class FramingError(Exception):
    """A request whose body cannot be read as HTTP/1.1 frames it (answered 400, or 413
    when it is only too large), after which the connection is closed."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def read_body(headers: Message, rfile: BufferedIOBase, limit: int = MAX_BODY_BYTES) -> bytes:
    """The request body framed by Content-Length or chunked transfer coding (RFC 9112
    section 6). Raises FramingError for anything else: a length that is not one plain
    decimal number, lengths that disagree, both framings at once (request smuggling's
    way in), a chunk size that is not hex, a body shorter than announced."""
    codings = headers.get_all("Transfer-Encoding") or []
    lengths = headers.get_all("Content-Length") or []
    if codings:
        if lengths:
            raise FramingError(400, "both Content-Length and Transfer-Encoding are set")
        if [c.strip().lower() for c in ",".join(codings).split(",")] != ["chunked"]:
            raise FramingError(400, "the only transfer coding accepted is chunked")
        return _read_chunked(rfile, limit)
    if not lengths:
        return b""
    values = {v.strip().encode("latin-1", "replace") for v in ",".join(lengths).split(",")}
    if len(values) != 1:
        raise FramingError(400, "Content-Length values disagree")
    (value,) = values
    if not _DIGITS.fullmatch(value):
        raise FramingError(400, "Content-Length is not a decimal number")
    length = int(value)
    if length > limit:
        raise FramingError(413, f"the body is over {limit} bytes")
    body = rfile.read(length) if length else b""
    if len(body) != length:
        raise FramingError(400, "the body is shorter than its Content-Length")
    return body


def _read_chunked(rfile: BufferedIOBase, limit: int) -> bytes:
    chunks: list[bytes] = []
    total = 0
    while True:
        line = rfile.readline(1024)
        if not line.endswith(b"\n"):
            raise FramingError(400, "a chunk size line is missing or too long")
        size_text = line.split(b";", 1)[0].strip()
        if not _CHUNK_SIZE.fullmatch(size_text):
            raise FramingError(400, "a chunk size is not a hexadecimal number")
        size = int(size_text, 16)
        if size == 0:
            break
        total += size
        if total > limit:
            raise FramingError(413, f"the body is over {limit} bytes")
        chunk = rfile.read(size)
        if len(chunk) != size or rfile.readline(3) not in (b"\r\n", b"\n"):
            raise FramingError(400, "a chunk is shorter than its size")
        chunks.append(chunk)
    for _ in range(100):  # trailers, up to the blank line
        trailer = rfile.readline(8192)
        if not trailer.strip():
            return b"".join(chunks)
    raise FramingError(400, "too many trailer fields")


class BackgroundServer:
    thread_name = "local-server"
    _httpd: ThreadingHTTPServer
    _thread: threading.Thread | None

    def _listen(self, make: Callable[[], ThreadingHTTPServer], host: str, port: int) -> None:
        try:
            self._httpd = make()
        except OSError as error:
            raise OSError(f"{host}:{port} is in use ({error.strerror})") from error
        self._thread = None

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> Self:
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.1},
            name=self.thread_name,
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving (requests in flight finish on their own threads)."""
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join(timeout=5)
            self._thread = None

    def close(self) -> None:
        self.stop()
        self._httpd.server_close()
