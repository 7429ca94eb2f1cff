"""Channel art: the owner uploads the channel's avatar and banner, checked as profile images
are (by content, within byte and pixel limits, re-encoded: infra/storage/images.py) and only
then stored; the stored URL goes on the Channel (`Channel.ImageChanged`)."""

from __future__ import annotations

import asyncio
from typing import Any, Literal

from litestar import Controller, post
from litestar.datastructures import UploadFile
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, MultipartBody

from commands.bus import CommandBus
from commands.set_channel_image import SetChannelImage
from domain.channel import Channel
from domain.errors import Invalid
from infra.identity.auth import Principal
from infra.settings import Settings
from infra.storage.images import check_image
from read_api.async_ports import UploadStorage
from read_api.deps import parse_id, provide_principal
from read_api.openapi import BEARER, problems
from read_api.reads import Aggregates
from read_api.uploads import ImageForm
from read_api.views.channel import ChannelImage

auth = {"principal": Provide(provide_principal)}
IMAGE_ERRORS = problems(403, 404, 413, 415, 422, auth=True)


async def _upload(channel_id: str, kind: Literal["avatar", "banner"], form: ImageForm,
                  principal: Principal, aggregates: Aggregates, storage: UploadStorage,
                  commands: CommandBus, settings: Settings) -> dict[str, Any]:
    cid = parse_id(channel_id, "channel")
    # The owner check comes before the file is read or stored: nobody else's bytes land in
    # our storage; the command checks again against the channel as it saves.
    (await aggregates.get(cid, Channel)).require_owner(principal.user_id)
    if not isinstance(form.file, UploadFile):
        raise Invalid("send the image as a multipart part named 'file'", field="file")
    limit = (settings.upload_avatar_max_bytes if kind == "avatar"
             else settings.upload_banner_max_bytes)
    content = await form.file.read(limit + 1)
    image = await asyncio.to_thread(check_image, content, max_bytes=limit,
                                    max_pixels=settings.upload_max_pixels)
    url = await storage.put(image.key, image.data, image.content_type)
    result = await commands.execute(SetChannelImage(
        actor_id=principal.user_id, channel_id=cid, kind=kind, url=url))
    return {"channelId": str(cid), "kind": kind, "url": url, "key": image.key,
            "contentType": image.content_type, "width": image.width,
            "height": image.height, "bytes": len(image.data), "sha256": image.sha256,
            "position": result.position}


class ChannelImageController(Controller):
    """The channel's avatar and banner (owner only)."""

    path = "/api/channels/{channel_id:str}"
    tags = ["channels"]

    @post("/avatar", status_code=201, dependencies=auth, operation_id="uploadChannelAvatar",
          security=BEARER, responses=IMAGE_ERRORS)
    async def avatar(
        self, channel_id: FromPath[str], data: MultipartBody[ImageForm],
        principal: NamedDependency[Principal], aggregates: NamedDependency[Aggregates],
        storage: NamedDependency[UploadStorage], commands: NamedDependency[CommandBus],
        settings: NamedDependency[Settings],
    ) -> ChannelImage:
        """Uploads the channel's avatar (PNG, JPEG, WebP or GIF; 2 MB by default)."""
        return await _upload(channel_id, "avatar", data, principal, aggregates, storage,
                             commands, settings)

    @post("/banner", status_code=201, dependencies=auth, operation_id="uploadChannelBanner",
          security=BEARER, responses=IMAGE_ERRORS)
    async def banner(
        self, channel_id: FromPath[str], data: MultipartBody[ImageForm],
        principal: NamedDependency[Principal], aggregates: NamedDependency[Aggregates],
        storage: NamedDependency[UploadStorage], commands: NamedDependency[CommandBus],
        settings: NamedDependency[Settings],
    ) -> ChannelImage:
        """Uploads the channel's banner (PNG, JPEG, WebP or GIF; 8 MB by default)."""
        return await _upload(channel_id, "banner", data, principal, aggregates, storage,
                             commands, settings)
