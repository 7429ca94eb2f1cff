"""Request bodies as msgspec Structs: validation is declared once and shows in OpenAPI."""

from __future__ import annotations

from typing import Annotated

import msgspec
from msgspec import Meta

from domain.stream import StreamStatus

Text = Annotated[str, Meta(max_length=10_000)]


class RegisterBody(msgspec.Struct, rename="camel", forbid_unknown_fields=False):
    email: Annotated[str, Meta(min_length=3, max_length=254)]
    username: Annotated[str, Meta(min_length=1, max_length=64)]
    password: Annotated[str, Meta(min_length=1, max_length=1024)]
    display_name: Annotated[str, Meta(max_length=200)] | None = None


class LoginBody(msgspec.Struct, rename="camel"):
    email: Annotated[str, Meta(min_length=1, max_length=254)]
    password: Annotated[str, Meta(min_length=1, max_length=1024)]


class CreateChannelBody(msgspec.Struct, rename="camel"):
    slug: Annotated[str, Meta(min_length=1, max_length=64)]
    name: Annotated[str, Meta(min_length=1, max_length=200)]
    description: Text = ""
    category: Annotated[str, Meta(max_length=64)] = "just-chatting"
    tags: Annotated[list[Annotated[str, Meta(max_length=64)]], Meta(max_length=50)] = []
    is_public: bool = True


class UpdateChannelBody(msgspec.Struct, rename="camel"):
    name: Annotated[str, Meta(max_length=200)] | None = None
    description: Text | None = None
    category: Annotated[str, Meta(max_length=64)] | None = None
    tags: Annotated[list[Annotated[str, Meta(max_length=64)]], Meta(max_length=50)] | None = None
    is_public: bool | None = None


class GoLiveBody(msgspec.Struct, rename="camel"):
    title: Annotated[str, Meta(max_length=1000)] | None = None


class StatusBody(msgspec.Struct, rename="camel"):
    status: StreamStatus


class SendMessageBody(msgspec.Struct, rename="camel"):
    content: Text
