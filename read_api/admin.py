"""Operator endpoints, guarded by the operator token (`AETHEX_OPERATOR_TOKEN`), not by user
accounts: `GET /api/admin/projections` is `aethex projections list --json` over HTTP."""

from __future__ import annotations

import hmac
from typing import Any

from litestar import Controller, Request, get
from litestar.di import NamedDependency

from domain.errors import Forbidden, Unauthenticated
from infra.settings import Settings
from read_api.deps import bearer_token
from read_api.openapi import BEARER, problems
from read_api.operations import ProcessState
from read_api.views.operations import ProjectionsStatus


def require_operator(request: Request[Any, Any, Any], settings: Settings) -> None:
    """401 without a bearer token; 403 with a wrong one, or when no operator token is
    configured (the endpoint is then closed to everyone)."""
    token = bearer_token(request)
    if token is None:
        raise Unauthenticated("operator endpoints need 'Authorization: Bearer <operator token>'")
    expected = settings.operator_token
    # Constant time, so the token cannot be guessed a byte at a time from response times.
    if not expected or not hmac.compare_digest(token.encode(), expected.encode()):
        raise Forbidden("not an operator token")


class AdminController(Controller):
    """What operators watch: projection positions and lag."""

    path = "/api/admin"
    tags = ["admin"]

    @get("/projections", operation_id="getProjectionStatus", security=BEARER,
         responses=problems(403, auth=True))
    async def projections(self, request: Request[Any, Any, Any],
                          settings: NamedDependency[Settings],
                          process: NamedDependency[ProcessState]) -> ProjectionsStatus:
        """Each projection's position, the head, lag in events and seconds, last error."""
        require_operator(request, settings)
        return await process.projections()
