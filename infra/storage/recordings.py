"""Where finished recordings and joined VODs are kept: in the archive bucket (an S3-compatible
store, multipart upload, so recordings of any length go up in parts) when one is configured,
else on the ingest host's disk beside nginx's recordings, served by nginx at the VOD URL."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any, Protocol

# S3's smallest part but the last is 5 MiB; 16 MiB parts keep a 3-hour recording well
# under its 10,000-part limit.
PART_BYTES = 16 * 1024 * 1024


class Stored:
    """Where a file went: `path` (a local path, or s3://bucket/key) and its public `url`."""

    def __init__(self, path: str, url: str) -> None:
        self.path = path
        self.url = url


class RecordingStore(Protocol):
    """Keeps a finished file under `name` (`<stream id>/<file name>`)."""

    remote: bool

    def keep(self, local: Path, name: str, content_type: str) -> Stored: ...


class DiskRecordings:
    """Files stay on disk: a file already in the recordings directory keeps its place; a
    new one (a joined VOD made elsewhere) is moved there. URLs follow the VOD template."""

    remote = False

    def __init__(self, vod_template: str) -> None:
        self.vod_template = vod_template

    def keep(self, local: Path, name: str, content_type: str) -> Stored:
        return Stored(str(local), self.vod_template.replace("{recording}", local.name))

    def place(self, made: Path, beside: Path) -> Path:
        """Moves a file made in a work directory next to `beside` (a recording part)."""
        target = beside.parent / made.name
        shutil.move(str(made), target)
        return target


class S3Recordings:
    """The archive bucket (the plan's s3://aethex-archive/), through boto3."""

    remote = True

    def __init__(self, bucket: str, *, endpoint_url: str | None, region: str,
                 access_key_id: str | None, secret_access_key: str | None,
                 public_url: str | None, part_bytes: int = PART_BYTES) -> None:
        import boto3
        from botocore.config import Config

        self.bucket = bucket
        self.part_bytes = part_bytes
        self.client: Any = boto3.client(
            "s3", endpoint_url=endpoint_url, region_name=region,
            aws_access_key_id=access_key_id, aws_secret_access_key=secret_access_key,
            config=Config(signature_version="s3v4", retries={"max_attempts": 3},
                          s3={"addressing_style": "path"}))
        base = public_url or f"{(endpoint_url or 'https://s3.amazonaws.com').rstrip('/')}/{bucket}"
        self.base_url = base.rstrip("/")

    def keep(self, local: Path, name: str, content_type: str) -> Stored:
        """A multipart upload of `local` to `recordings/<name>`; aborted on failure, so no
        half object is left behind."""
        key = f"recordings/{name}"
        upload = self.client.create_multipart_upload(
            Bucket=self.bucket, Key=key, ContentType=content_type,
            CacheControl="public, max-age=31536000, immutable")
        upload_id = upload["UploadId"]
        try:
            parts = []
            with local.open("rb") as f:
                number = 1
                while chunk := f.read(self.part_bytes):
                    done = self.client.upload_part(Bucket=self.bucket, Key=key,
                                                   UploadId=upload_id, PartNumber=number,
                                                   Body=chunk)
                    parts.append({"PartNumber": number, "ETag": done["ETag"]})
                    number += 1
            if not parts:
                raise ValueError(f"{local} is empty")
            self.client.complete_multipart_upload(
                Bucket=self.bucket, Key=key, UploadId=upload_id,
                MultipartUpload={"Parts": parts})
        except BaseException:
            self.client.abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload_id)
            raise
        return Stored(f"s3://{self.bucket}/{key}", f"{self.base_url}/{key}")
