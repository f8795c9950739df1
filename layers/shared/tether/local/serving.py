"""The local stack's HTTP servers (gateway, Lambda's Invoke API) serve on a daemon
thread each; this is their common start and stop."""

from __future__ import annotations

import threading
from collections.abc import Callable
from http.server import ThreadingHTTPServer
from typing import Self


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
