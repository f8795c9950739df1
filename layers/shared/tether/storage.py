"""The one door to the media bucket (inbound media copies). The S3 adapter is
tether.aws.s3.S3MediaStore; tests and the local stack use it against moto."""

from __future__ import annotations

from functools import cache
from typing import Protocol


class MediaStore(Protocol):
    def put(self, key: str, body: bytes, content_type: str) -> None:
        """Store an object (overwriting one of the same key: a copy is the same bytes).
        Raises DependencyUnavailable."""
        ...

    def presigned_get(self, key: str, expires_seconds: int) -> str:
        """A URL that reads the object for `expires_seconds`, with no network call."""
        ...


@cache
def media_store(bucket: str) -> MediaStore:
    """The media bucket, made on first use and kept for the container."""
    from tether.aws.s3 import S3MediaStore

    return S3MediaStore(bucket)
