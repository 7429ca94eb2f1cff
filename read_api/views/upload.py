"""Avatar and banner uploads."""

from __future__ import annotations

import msgspec


class UploadedImage(msgspec.Struct, rename="camel", kw_only=True):
    """The stored image (re-encoded) now on the profile."""

    kind: str
    url: str
    key: str
    content_type: str
    width: int
    height: int
    bytes: int
    sha256: str
    position: int


class PresignedUpload(msgspec.Struct, rename="camel", kw_only=True):
    """A presigned POST: send `fields` and then the file as multipart to `url`, then
    confirm with `key`."""

    url: str
    fields: dict[str, str]
    key: str
    max_bytes: int
    expires_in: int
