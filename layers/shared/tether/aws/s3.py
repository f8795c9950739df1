"""The S3 adapter of tether.storage.MediaStore. Imported on first use, so botocore is
not loaded at a function's import."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from tether.domain.errors import DependencyUnavailable


class S3MediaStore:
    def __init__(self, bucket: str, client: Any = None) -> None:
        self.bucket = bucket
        self._client = client

    @property
    def client(self) -> Any:
        if self._client is None:
            from tether.aws.clients import aws_client

            self._client = aws_client("s3")
        return self._client

    def put(self, key: str, body: bytes, content_type: str) -> None:
        try:
            self.client.put_object(
                Bucket=self.bucket,
                Key=key,
                Body=body,
                ContentType=content_type,
            )
        except (BotoCoreError, ClientError) as error:
            raise DependencyUnavailable("S3", str(error)) from error

    def presigned_get(self, key: str, expires_seconds: int) -> str:
        return str(
            self.client.generate_presigned_url(
                "get_object",
                Params={"Bucket": self.bucket, "Key": key},
                ExpiresIn=expires_seconds,
            )
        )
