"""The app's request class: a JSON body is checked before anything decodes it.

Every route that takes `data` as JSON gets it through `Request.json()`, so one override
covers them all: a body sent as another media type is refused (415), and one nested past
the limit is refused (400) before the decoder's recursion can blow up. Multipart uploads
(`form()`) and the webhooks (raw bodies, verified against their providers' signatures, in
whatever form the provider sends) never come here."""

from __future__ import annotations

from typing import Any

from litestar import Request

from domain.errors import DomainError
from infra.web.json_depth import DEFAULT_MAX_DEPTH, too_deep


class UnsupportedMediaType(DomainError):
    """The body's media type is not one the route reads (HTTP 415)."""

    code = "unsupported_media_type"


class TooDeeplyNested(DomainError):
    """The body nests arrays or objects past the limit (HTTP 400)."""

    code = "too_deeply_nested"


def is_json_media_type(content_type: str) -> bool:
    """`application/json`, or a structured `+json` type (`application/merge-patch+json`)."""
    media = content_type.partition(";")[0].strip().lower()
    return media == "application/json" or (media.startswith("application/")
                                           and media.endswith("+json"))


class AppRequest(Request[Any, Any, Any]):
    """`json()` checks media type and nesting depth, then decodes as Litestar does."""

    async def json(self) -> Any:
        body = await self.body()
        if body:
            # No Content-Type at all is taken as JSON: clients that send none (and
            # tests that post raw bytes) were accepted before, and nothing is ambiguous.
            content_type = self.headers.get("content-type")
            if content_type is not None and not is_json_media_type(content_type):
                raise UnsupportedMediaType(
                    f"the body must be application/json, not {content_type[:100]!r}",
                    field="body")
            services = getattr(self.app.state, "services", None)
            limit = getattr(getattr(services, "settings", None), "json_max_depth",
                            DEFAULT_MAX_DEPTH)
            if too_deep(body, limit):
                raise TooDeeplyNested(
                    f"the body nests arrays or objects more than {limit} levels deep",
                    field="body")
        return await super().json()
