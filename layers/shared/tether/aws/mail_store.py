"""The S3 adapter of inbound mail: the raw message SES stored. Imported on first use."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from tether.domain.errors import DependencyUnavailable, PayloadTooLarge

_GONE = frozenset({"NoSuchKey", "404", "NotFound"})


class S3MailStore:
    def __init__(self, max_bytes: int, client: Any | None = None) -> None:
        self.max_bytes = max_bytes
        self._client = client

    @property
    def client(self) -> Any:
        if self._client is None:
            from tether.aws.clients import aws_client

            self._client = aws_client("s3")
        return self._client

    def read(self, bucket: str, key: str) -> bytes | None:
        """The object's bytes; None when it is gone (expired, or deleted by hand).
        Raises PayloadTooLarge past `max_bytes`, DependencyUnavailable when S3 fails."""
        try:
            answer = self.client.get_object(Bucket=bucket, Key=key)
            if int(answer.get("ContentLength") or 0) > self.max_bytes:
                answer["Body"].close()
                raise PayloadTooLarge(f"the mail is over {self.max_bytes} bytes")
            body: bytes = answer["Body"].read(self.max_bytes + 1)
        except ClientError as error:
            if str(error.response.get("Error", {}).get("Code")) in _GONE:
                return None
            raise DependencyUnavailable("s3", str(error)) from error
        except BotoCoreError as error:
            raise DependencyUnavailable("s3", str(error)) from error
        if len(body) > self.max_bytes:
            raise PayloadTooLarge(f"the mail is over {self.max_bytes} bytes")
        return body
