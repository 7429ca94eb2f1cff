"""Where uploaded images live: local disk under DATA_DIR/uploads (embedded, served by the
API at /uploads/...) or an S3-compatible bucket (R2, MinIO, AWS) through boto3."""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path
from typing import Any, Protocol

from domain.errors import Conflict, Invalid, TooLarge

KEY_RE = re.compile(r"^images/[0-9a-f]{64}\.(?:png|jpg|webp|gif)$")
PENDING_RE = re.compile(r"^pending/[0-9a-f-]{36}/[A-Za-z0-9_-]{16,64}$")


class Storage(Protocol):
    """Content-addressed objects plus, where the backend allows, direct uploads."""

    def put(self, key: str, data: bytes, content_type: str) -> str: ...
    def url(self, key: str) -> str: ...
    def exists(self, key: str) -> bool: ...
    def presign_post(self, key: str, max_bytes: int, expires_s: int) -> dict[str, Any]: ...
    def read(self, key: str, max_bytes: int) -> bytes | None: ...
    def delete(self, key: str) -> None: ...


class DiskStorage:
    """Files under `root`, written atomically (temp file, then rename)."""

    def __init__(self, root: Path, *, base_url: str = "/uploads") -> None:
        self.root = root
        self.base_url = base_url.rstrip("/")

    def path(self, key: str) -> Path:
        if not KEY_RE.fullmatch(key):
            raise Invalid("not an upload key", field="key")
        return self.root / key

    def put(self, key: str, data: bytes, content_type: str) -> str:
        path = self.path(key)
        if not path.exists():  # same key, same bytes: content-addressed
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".upload-")
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.replace(tmp, path)
        return self.url(key)

    def url(self, key: str) -> str:
        return f"{self.base_url}/{key}"

    def exists(self, key: str) -> bool:
        return self.path(key).exists()

    def presign_post(self, key: str, max_bytes: int, expires_s: int) -> dict[str, Any]:
        raise Conflict("direct uploads need S3-compatible storage (set AETHEX_S3_BUCKET); "
                       "use the multipart upload route", field="storage")

    def read(self, key: str, max_bytes: int) -> bytes | None:
        raise Conflict("direct uploads need S3-compatible storage", field="storage")

    def delete(self, key: str) -> None:
        self.path(key).unlink(missing_ok=True)


class S3Storage:
    """An S3-compatible bucket. Objects are public-read by URL under `public_url`."""

    def __init__(self, bucket: str, *, endpoint_url: str | None, region: str,
                 access_key_id: str | None, secret_access_key: str | None,
                 public_url: str | None) -> None:
        import boto3
        from botocore.config import Config

        self.bucket = bucket
        self.client: Any = boto3.client(
            "s3", endpoint_url=endpoint_url, region_name=region,
            aws_access_key_id=access_key_id, aws_secret_access_key=secret_access_key,
            config=Config(signature_version="s3v4", retries={"max_attempts": 3},
                          s3={"addressing_style": "path"}))
        base = public_url or f"{(endpoint_url or 'https://s3.amazonaws.com').rstrip('/')}/{bucket}"
        self.base_url = base.rstrip("/")

    def put(self, key: str, data: bytes, content_type: str) -> str:
        if not KEY_RE.fullmatch(key):
            raise Invalid("not an upload key", field="key")
        self.client.put_object(Bucket=self.bucket, Key=key, Body=data, ContentType=content_type,
                               CacheControl="public, max-age=31536000, immutable")
        return self.url(key)

    def url(self, key: str) -> str:
        return f"{self.base_url}/{key}"

    def exists(self, key: str) -> bool:
        from botocore.exceptions import ClientError

        try:
            self.client.head_object(Bucket=self.bucket, Key=key)
            return True
        except ClientError:
            return False

    def presign_post(self, key: str, max_bytes: int, expires_s: int) -> dict[str, Any]:
        # The bucket itself refuses a body over the limit (content-length-range).
        post = self.client.generate_presigned_post(
            Bucket=self.bucket, Key=key,
            Conditions=[["content-length-range", 1, max_bytes]], ExpiresIn=expires_s)
        return {"url": post["url"], "fields": post["fields"]}

    def read(self, key: str, max_bytes: int) -> bytes | None:
        from botocore.exceptions import ClientError

        try:
            head = self.client.head_object(Bucket=self.bucket, Key=key)
        except ClientError:
            return None
        if int(head.get("ContentLength", 0)) > max_bytes:
            raise TooLarge(f"the file is larger than {max_bytes} bytes", field="file")
        body = self.client.get_object(Bucket=self.bucket, Key=key,
                                      Range=f"bytes=0-{max_bytes}")["Body"]
        data: bytes = body.read(max_bytes + 1)
        if len(data) > max_bytes:
            raise TooLarge(f"the file is larger than {max_bytes} bytes", field="file")
        return data

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=key)
