"""The local email drop: SES's receipt rule and S3's event notification, for a folder.

A file ending in .eml put in the folder (write it elsewhere and move it in, or let it
sit: a file is taken once it has not changed for a moment) is stored in the inbound
mail bucket in moto under the prefix the function's S3 event filters on, with a key
like SES's message ids, and the function is invoked with the event S3 would send. The
file then moves to done/ (or failed/ when the invocation failed), so a drop is taken
once; the mail itself stays in the bucket as SES would leave it.
"""

from __future__ import annotations

import hashlib
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tether_dev.local.events import s3_object_created_event
from tether_dev.local.logs import stack_logger
from tether_dev.local.runtime import Invocation
from tether_dev.local.template import Function, Stack

SETTLED_SECONDS = 0.2  # a file unchanged this long is complete


class MailDrop:
    def __init__(
        self,
        folder: Path,
        stack: Stack,
        s3: Any,
        invoke: Callable[[Function, Any, str], Invocation],
        poll_seconds: float = 0.2,
    ) -> None:
        targets = [(f, source) for f in stack.functions for source in f.bucket_sources]
        if not targets:
            raise ValueError("template.yaml has no function with an S3 event")
        self.function, source = targets[0]
        self.bucket = stack.bucket(source.bucket).name
        self.prefix = source.prefix
        self.folder = folder
        self._s3 = s3
        self._invoke = invoke
        self._poll_seconds = poll_seconds
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="maildrop", daemon=True)

    def start(self) -> MailDrop:
        for sub in ("", "done", "failed"):
            (self.folder / sub).mkdir(parents=True, exist_ok=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()

    def join(self, timeout: float) -> None:
        self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                self.take_drops()
            except Exception:
                stack_logger().exception("mail drop failed", extra={"folder": str(self.folder)})
            self._stopping.wait(self._poll_seconds)

    def take_drops(self) -> int:
        """Deliver every settled .eml in the folder; how many."""
        taken = 0
        for path in sorted(self.folder.glob("*.eml")):
            try:
                if time.time() - path.stat().st_mtime < SETTLED_SECONDS:
                    continue
            except FileNotFoundError:
                continue
            self.deliver(path)
            taken += 1
        return taken

    def deliver(self, path: Path) -> Invocation:
        """Store one mail as SES would and invoke the function as S3 would."""
        raw = path.read_bytes()
        key = f"{self.prefix}{uuid.uuid4().hex}{uuid.uuid4().hex[:8]}"
        answer = self._s3.put_object(Bucket=self.bucket, Key=key, Body=raw)
        etag = str(answer.get("ETag") or hashlib.md5(raw).hexdigest()).strip('"')  # noqa: S324
        event = s3_object_created_event(self.bucket, key, len(raw), etag, datetime.now(UTC))
        invocation = self._invoke(self.function, event, str(uuid.uuid4()))
        outcome = "failed" if invocation.failed else "done"
        path.replace(self.folder / outcome / path.name)
        stack_logger().info(
            "mail dropped",
            extra={"file": path.name, "key": key, "outcome": outcome, "result": invocation.result},
        )
        return invocation
