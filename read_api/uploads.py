"""Avatar and banner uploads. The image is checked by its content and re-encoded
(infra/storage/images.py) before anything is stored; the stored URL goes on the profile. A banner is
the user's profile banner (channel art belongs to the channel's own routes).

Two ways in: a multipart POST through the API, or a presigned POST straight to the bucket
followed by a confirm call that checks the object and only then adopts it."""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import dataclass
from typing import Annotated, Any, Literal

import msgspec
from litestar import Controller, get, post
from litestar.datastructures import UploadFile
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, JSONBody, MultipartBody
from litestar.response import File
from msgspec import Meta

from commands.bus import CommandBus
from commands.set_profile_image import SetProfileImage
from domain.errors import Forbidden, Invalid, NotFound
from infra.identity.auth import Principal
from infra.settings import Settings
from infra.storage.images import CheckedImage, check_image
from infra.storage.objects import KEY_RE, PENDING_RE
from read_api.async_ports import UploadStorage
from read_api.deps import provide_principal
from read_api.openapi import BEARER, problems
from read_api.views.upload import PresignedUpload, UploadedImage

auth = {"principal": Provide(provide_principal)}
Kind = Literal["avatar", "banner"]
PRESIGN_TTL_S = 600


@dataclass
class ImageForm:
    """The multipart form: one part named `file`."""

    file: UploadFile


class ConfirmBody(msgspec.Struct, rename="camel"):
    """The key the presign call returned."""

    key: Annotated[str, Meta(min_length=1, max_length=200)]


def _kind(value: str) -> Kind:
    if value == "avatar":
        return "avatar"
    if value == "banner":
        return "banner"
    raise NotFound(f"no upload kind {value!r}: avatar or banner")


def _max_bytes(settings: Settings, kind: Kind) -> int:
    if kind == "avatar":
        return settings.upload_avatar_max_bytes
    return settings.upload_banner_max_bytes


async def _check(settings: Settings, content: bytes, max_bytes: int) -> CheckedImage:
    """The image, checked by its content and re-encoded (CPU-bound: off the event loop)."""
    return await asyncio.to_thread(check_image, content, max_bytes=max_bytes,
                                   max_pixels=settings.upload_max_pixels)


async def _adopt(storage: UploadStorage, commands: CommandBus, principal: Principal,
                 kind: Kind, image: CheckedImage) -> dict[str, Any]:
    url = await storage.put(image.key, image.data, image.content_type)
    position = await commands.execute(SetProfileImage(
        user_id=principal.user_id, kind=kind, url=url))
    return {"kind": kind, "url": url, "key": image.key, "contentType": image.content_type,
            "width": image.width, "height": image.height, "bytes": len(image.data),
            "sha256": image.sha256, "position": position}


async def _upload(storage: UploadStorage, commands: CommandBus, settings: Settings,
                  principal: Principal, kind: Kind, form: ImageForm) -> dict[str, Any]:
    if not isinstance(form.file, UploadFile):
        raise Invalid("send the image as a multipart part named 'file'", field="file")
    limit = _max_bytes(settings, kind)
    content = await form.file.read(limit + 1)
    image = await _check(settings, content, limit)
    return await _adopt(storage, commands, principal, kind, image)


class UploadController(Controller):
    """Avatar and banner uploads, through the API or presigned."""

    path = "/api/upload"
    tags = ["uploads"]

    @post("/avatar", status_code=201, dependencies=auth, operation_id="uploadAvatar",
          security=BEARER, responses=problems(403, 413, 422, auth=True))
    async def avatar(
        self, data: MultipartBody[ImageForm], principal: NamedDependency[Principal],
        storage: NamedDependency[UploadStorage], commands: NamedDependency[CommandBus],
        settings: NamedDependency[Settings],
    ) -> UploadedImage:
        """Uploads the caller's avatar (PNG, JPEG, WebP or GIF; 2 MB by default)."""
        return await _upload(storage, commands, settings, principal, "avatar", data)

    @post("/banner", status_code=201, dependencies=auth, operation_id="uploadBanner",
          security=BEARER, responses=problems(403, 413, 422, auth=True))
    async def banner(
        self, data: MultipartBody[ImageForm], principal: NamedDependency[Principal],
        storage: NamedDependency[UploadStorage], commands: NamedDependency[CommandBus],
        settings: NamedDependency[Settings],
    ) -> UploadedImage:
        """Uploads the caller's profile banner (PNG, JPEG, WebP or GIF; 8 MB by default)."""
        return await _upload(storage, commands, settings, principal, "banner", data)

    @post("/{kind:str}/presign", status_code=201, dependencies=auth,
          operation_id="presignUpload", security=BEARER,
          responses=problems(403, 404, 409, auth=True))
    async def presign(
        self, kind: FromPath[str], principal: NamedDependency[Principal],
        storage: NamedDependency[UploadStorage], settings: NamedDependency[Settings],
    ) -> PresignedUpload:
        """A presigned POST for uploading straight to the bucket (S3 storage only); then
        call `confirm` with the returned key."""
        which = _kind(kind)
        key = f"pending/{principal.user_id}/{secrets.token_urlsafe(24)}"
        limit = _max_bytes(settings, which)
        post_form = await storage.presign_post(key, limit, PRESIGN_TTL_S)
        return {**post_form, "key": key, "maxBytes": limit, "expiresIn": PRESIGN_TTL_S}

    @post("/{kind:str}/confirm", status_code=201, dependencies=auth,
          operation_id="confirmUpload", security=BEARER,
          responses=problems(403, 404, 409, 413, 415, 422, auth=True))
    async def confirm(
        self, kind: FromPath[str], data: JSONBody[ConfirmBody],
        principal: NamedDependency[Principal], storage: NamedDependency[UploadStorage],
        commands: NamedDependency[CommandBus], settings: NamedDependency[Settings],
    ) -> UploadedImage:
        """Checks a directly uploaded object and, if it is a good image, adopts it; the
        pending object is removed either way."""
        which = _kind(kind)
        if not PENDING_RE.fullmatch(data.key):
            raise Invalid("not a key from the presign call", field="key")
        if not data.key.startswith(f"pending/{principal.user_id}/"):
            raise Forbidden("this upload belongs to someone else", field="key")
        try:
            content = await storage.read(data.key, _max_bytes(settings, which))
            if content is None:
                raise NotFound("nothing was uploaded under this key", field="key")
            image = await _check(settings, content, _max_bytes(settings, which))
            return await _adopt(storage, commands, principal, which, image)
        finally:
            await storage.delete(data.key)


class UploadFiles(Controller):
    """Serves the embedded disk store's images (S3 objects are served by the bucket)."""

    path = "/uploads"
    tags = ["uploads"]

    @get("/images/{name:str}", include_in_schema=False)
    async def image(self, name: FromPath[str], storage: NamedDependency[UploadStorage]) -> File:
        key = f"images/{name}"
        path = storage.local_path(key) if KEY_RE.fullmatch(key) else None
        if path is None or not path.exists():
            raise NotFound(f"no upload {name!r}")
        extension = name.rsplit(".", 1)[-1]
        media_type = {"png": "image/png", "jpg": "image/jpeg", "webp": "image/webp",
                      "gif": "image/gif"}[extension]
        return File(path, media_type=media_type, content_disposition_type="inline",
                    headers={"X-Content-Type-Options": "nosniff",
                             "Cache-Control": "public, max-age=31536000, immutable",
                             "Content-Security-Policy": "default-src 'none'"})
