"""What the OpenAPI document says beyond the routes' own signatures: the one problem+json
shape every error has, the bearer scheme, and the errors each route can give.

A route declares them beside its decorator:

    @get("/{slug:str}", operation_id="getChannelBySlug",
         responses=problems(404, 503))
    @post("/", operation_id="createChannel", security=BEARER,
          responses=problems(403, 409, 415, 422, auth=True))
"""

from __future__ import annotations

from typing import Any

import msgspec
from litestar.openapi import ResponseSpec
from litestar.openapi.spec import Components, SecurityScheme

from read_api.errors import PROBLEM, TITLES


class FieldError(msgspec.Struct, rename="camel"):
    field: str | None
    message: str
    source: str | None = None


class Problem(msgspec.Struct, rename="camel"):
    """RFC 9457 problem details, as every error of this API is answered."""

    type: str
    title: str
    status: int
    detail: str
    instance: str
    field: str | None = None
    errors: list[FieldError] | None = None
    request_id: str | None = None


BEARER_SCHEME = "bearerAuth"
BEARER: list[dict[str, list[str]]] = [{BEARER_SCHEME: []}]
COMPONENTS = Components(security_schemes={BEARER_SCHEME: SecurityScheme(
    type="http", scheme="bearer", bearer_format="JWT",
    description="A token from POST /api/auth/login or /api/auth/register, or one an "
                "external identity provider issued (Clerk, OIDC)")})

# Any route can answer these (a malformed body or position; our own failure; a backing
# service away for a moment, with Retry-After).
ALWAYS = (400, 500, 503)


def problems(*statuses: int, auth: bool = False) -> dict[int, ResponseSpec]:
    """The problem+json answers a route can give: `statuses`, plus 401 when it needs a
    token, plus the ones any route can give; a route that takes a body (it lists 415) can
    also get one past the server's size limit (413)."""
    codes = set(statuses) | set(ALWAYS) | ({401} if auth else set())
    if 415 in codes:
        codes.add(413)
    return {status: ResponseSpec(data_container=Problem, media_type=PROBLEM,
                                 description=TITLES.get(status, "Error"),
                                 generate_examples=False)
            for status in sorted(codes)}


def openapi_extras() -> dict[str, Any]:
    """Keyword arguments for `OpenAPIConfig` that this module owns."""
    return {"components": COMPONENTS}
