"""Avatar and banner uploads. The image is checked by its content and re-encoded
(infra/images.py) before anything is stored; the stored URL goes on the profile. A banner is
the user's profile banner (channel art belongs to the channel's own routes).

Two ways in: a multipart POST through the API, or a presigned POST straight to the bucket
followed by a confirm call that checks the object and only then adopts it."""

from __future__ import annotations

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

from commands.set_profile_image import SetProfileImage, set_profile_image
from domain.errors import Forbidden, Invalid, NotFound
from infra.auth import Principal
from infra.images import CheckedImage, check_image
from infra.storage import KEY_RE, PENDING_RE, DiskStorage
from read_api.deps import provide_principal
from read_api.services import Services

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


def _max_bytes(services: Services, kind: Kind) -> int:
    s = services.settings
    return s.upload_avatar_max_bytes if kind == "avatar" else s.upload_banner_max_bytes


async def _adopt(services: Services, principal: Principal, kind: Kind,
                 image: CheckedImage) -> dict[str, Any]:
    url = await services.run(services.storage.put, image.key, image.data, image.content_type)
    position = await services.run(set_profile_image, SetProfileImage(
        user_id=principal.user_id, kind=kind, url=url), services.store)
    return {"kind": kind, "url": url, "key": image.key, "contentType": image.content_type,
            "width": image.width, "height": image.height, "bytes": len(image.data),
            "sha256": image.sha256, "position": position}


async def _upload(services: Services, principal: Principal, kind: Kind,
                  form: ImageForm) -> dict[str, Any]:
    if not isinstance(form.file, UploadFile):
        raise Invalid("send the image as a multipart part named 'file'", field="file")
    limit = _max_bytes(services, kind)
    content = await form.file.read(limit + 1)
    image = await services.run(check_image, content, max_bytes=limit,
                               max_pixels=services.settings.upload_max_pixels)
    return await _adopt(services, principal, kind, image)


class UploadController(Controller):
    """Avatar and banner uploads, through the API or presigned."""

    path = "/api/upload"
    tags = ["uploads"]

    @post("/avatar", status_code=201, dependencies=auth)
    async def avatar(
        self, data: MultipartBody[ImageForm], principal: NamedDependency[Principal],
        services: NamedDependency[Services],
    ) -> dict[str, Any]:
        """Uploads the caller's avatar (PNG, JPEG, WebP or GIF; 2 MB by default)."""
        return await _upload(services, principal, "avatar", data)

    @post("/banner", status_code=201, dependencies=auth)
    async def banner(
        self, data: MultipartBody[ImageForm], principal: NamedDependency[Principal],
        services: NamedDependency[Services],
    ) -> dict[str, Any]:
        """Uploads the caller's profile banner (PNG, JPEG, WebP or GIF; 8 MB by default)."""
        return await _upload(services, principal, "banner", data)

    @post("/{kind:str}/presign", status_code=201, dependencies=auth)
    async def presign(
        self, kind: FromPath[str], principal: NamedDependency[Principal],
        services: NamedDependency[Services],
    ) -> dict[str, Any]:
        """A presigned POST for uploading straight to the bucket (S3 storage only); then
        call `confirm` with the returned key."""
        which = _kind(kind)
        key = f"pending/{principal.user_id}/{secrets.token_urlsafe(24)}"
        limit = _max_bytes(services, which)
        post_form = await services.run(services.storage.presign_post, key, limit,
                                       PRESIGN_TTL_S)
        return {**post_form, "key": key, "maxBytes": limit, "expiresIn": PRESIGN_TTL_S}

    @post("/{kind:str}/confirm", status_code=201, dependencies=auth)
    async def confirm(
        self, kind: FromPath[str], data: JSONBody[ConfirmBody],
        principal: NamedDependency[Principal], services: NamedDependency[Services],
    ) -> dict[str, Any]:
        """Checks a directly uploaded object and, if it is a good image, adopts it; the
        pending object is removed either way."""
        which = _kind(kind)
        if not PENDING_RE.fullmatch(data.key):
            raise Invalid("not a key from the presign call", field="key")
        if not data.key.startswith(f"pending/{principal.user_id}/"):
            raise Forbidden("this upload belongs to someone else", field="key")
        storage = services.storage
        try:
            content = await services.run(storage.read, data.key, _max_bytes(services, which))
            if content is None:
                raise NotFound("nothing was uploaded under this key", field="key")
            image = await services.run(
                check_image, content, max_bytes=_max_bytes(services, which),
                max_pixels=services.settings.upload_max_pixels)
            return await _adopt(services, principal, which, image)
        finally:
            await services.run(storage.delete, data.key)


class UploadFiles(Controller):
    """Serves the embedded disk store's images (S3 objects are served by the bucket)."""

    path = "/uploads"
    tags = ["uploads"]

    @get("/images/{name:str}", include_in_schema=False)
    async def image(self, name: FromPath[str], services: NamedDependency[Services]) -> File:
        key = f"images/{name}"
        storage = services.storage
        if not KEY_RE.fullmatch(key) or not isinstance(storage, DiskStorage):
            raise NotFound(f"no upload {name!r}")
        path = storage.path(key)
        if not path.exists():
            raise NotFound(f"no upload {name!r}")
        extension = name.rsplit(".", 1)[-1]
        media_type = {"png": "image/png", "jpg": "image/jpeg", "webp": "image/webp",
                      "gif": "image/gif"}[extension]
        return File(path, media_type=media_type, content_disposition_type="inline",
                    headers={"X-Content-Type-Options": "nosniff",
                             "Cache-Control": "public, max-age=31536000, immutable",
                             "Content-Security-Policy": "default-src 'none'"})
