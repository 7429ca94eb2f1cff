"""Errors as RFC 9457 problem+json, mapped once: unknown ids 404, wrong owner 403,
illegal transitions 409, invalid bodies and query values 422; never a 500 for bad
input.

A domain error's status comes from its type and its problem type from its code, never
from its message."""

from __future__ import annotations

import re
from typing import Any

import structlog
from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException

from domain.errors import (
    Conflict,
    DomainError,
    Forbidden,
    Invalid,
    NotFound,
    RateLimited,
    TooLarge,
    Unauthenticated,
)
from infra.observability import sentry
from infra.runtime.outages import is_outage
from read_api.consistency import NotCaughtUp, PositionAhead
from read_api.requests import UnsupportedMediaType

log = structlog.get_logger(__name__)

PROBLEM = "application/problem+json"
STATUS = {
    NotFound: 404,
    Forbidden: 403,
    Unauthenticated: 401,
    Conflict: 409,
    Invalid: 422,
    TooLarge: 413,
    RateLimited: 429,
    NotCaughtUp: 503,
    PositionAhead: 400,
    UnsupportedMediaType: 415,
}
TITLES = {
    400: "Bad request",
    401: "Unauthenticated",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    413: "Payload too large",
    415: "Unsupported media type",
    422: "Invalid request",
    429: "Too many requests",
    500: "Internal server error",
    503: "Service unavailable",
}
# Codes narrower than their kind that HTTP has never named: their problem type stays the
# kind's (a ban is `/problems/forbidden`), so HTTP clients keep seeing what they always
# saw. Any other code is its own problem
# type (a chat filter's refusal is `/problems/filtered`).
PROBLEM_TYPES = {
    "banned": "forbidden",
    "too_long": "invalid",
    "invalid_content": "invalid",
    "stream_offline": "conflict",
}
_PATH_RE = re.compile(r"at `\$((?:\.[A-Za-z_]\w*|\[\d+\])*)`")
_MISSING_RE = re.compile(r"missing required field `([^`]+)`")
# Litestar's own words for a parameter left out, with no key or source beside them.
_MISSING_PARAM_RE = re.compile(r"^Missing required (\w+) parameter '([^']+)'")


def problem(
    request: Request[Any, Any, Any],
    status: int,
    detail: str,
    *,
    code: str,
    field: str | None = None,
    errors: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
) -> Response[dict[str, Any]]:
    body: dict[str, Any] = {
        "type": f"/problems/{code}",
        "title": TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
        "instance": request.url.path,
    }
    if field:
        body["field"] = field
    if errors:
        body["errors"] = errors
    request_id = request.scope.get("state", {}).get("request_id")
    if request_id:
        body["requestId"] = request_id
    return Response(body, status_code=status, media_type=PROBLEM, headers=headers)


def domain_error(request: Request[Any, Any, Any], exc: DomainError) -> Response[dict[str, Any]]:
    status = next((s for cls, s in STATUS.items() if isinstance(exc, cls)), 400)
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    if status == 503:
        headers = {"Retry-After": "1"}
    if isinstance(exc, RateLimited):
        headers = {"Retry-After": str(max(1, round(exc.retry_after_s)))}
    return problem(request, status, exc.message, code=PROBLEM_TYPES.get(exc.code, exc.code),
                   field=exc.field, headers=headers)


def _field_of(message: str, key: str | None) -> str | None:
    """The offending field: from the message's path when it names one, else Litestar's key
    (which is `data` for the body as a whole)."""
    path = _PATH_RE.search(message)
    prefix = path.group(1).lstrip(".") if path and path.group(1) else ""
    missing = _MISSING_RE.search(message)
    if missing:
        return f"{prefix}.{missing.group(1)}" if prefix else missing.group(1)
    if prefix:
        return f"{key}.{prefix}" if key and key != "data" else prefix
    return key


def _wire_name(request: Request[Any, Any, Any], key: str | None) -> str | None:
    """The name the client sent a parameter under (`includeDeleted`), where Litestar
    reports the handler's own (`include_deleted`)."""
    if key is None:
        return None
    try:
        field = request.route_handler.parsed_fn_signature.parameters.get(key)
    except Exception:  # no handler (the router's own answers): nothing to translate
        return key
    definition = getattr(field, "kwarg_definition", None)
    for attr in ("query", "header", "cookie", "name"):
        name = getattr(definition, attr, None)
        if isinstance(name, str) and name:
            return name
    return key


def validation_error(
    request: Request[Any, Any, Any], exc: ValidationException
) -> Response[dict[str, Any]]:
    errors: list[dict[str, Any]] = []
    extra = exc.extra if isinstance(exc.extra, list) else []
    for item in extra:
        if isinstance(item, dict):
            message = str(item.get("message", ""))
            field = _field_of(message, _wire_name(request, item.get("key")))
            errors.append({"field": field, "message": message, "source": item.get("source")})
    if not errors:
        missing = _MISSING_PARAM_RE.match(exc.detail)
        errors.append({"field": missing.group(2), "message": exc.detail,
                       "source": missing.group(1)} if missing else
                      {"field": None, "message": exc.detail})
    first = errors[0]
    # A body or a query parameter that does not hold (a limit past 100, a cursor that is
    # not a number, `live=maybe`) is a value the client chose: 422 naming it. What is left
    # (headers, cookies) is a malformed request: 400.
    value_problem = any(e.get("source") in (None, "body", "query") for e in errors)
    status = 422 if value_problem else 400
    detail = f"{first['field']}: {first['message']}" if first.get("field") else first["message"]
    return problem(request, status, detail, code="invalid", field=first.get("field"), errors=errors)


def http_error(request: Request[Any, Any, Any], exc: HTTPException) -> Response[dict[str, Any]]:
    status = exc.status_code
    if status >= 500:  # the framework's own failure (dependency injection, a handler's
        # signature): ours to fix, so it is logged as loudly as any other
        log.error("request.failed", path=request.url.path, error=repr(exc),
                  detail=str(exc.detail), exc_info=exc)
        sentry.report(exc, route=_route(request))
    code = "not_found" if status == 404 else "http_error"
    # Litestar reports an undecodable body as a bare ClientException carrying msgspec's or
    # the multipart parser's text, with no type or code of its own: for the framework's
    # errors alone, that text is all there is to tell them by.
    if status == 400 and "JSON" in str(exc.detail):
        return problem(
            request,
            400,
            f"the body is not valid JSON: {exc.detail}",
            code="malformed",
            field="body",
        )
    if status == 400 and "multipart" in str(exc.detail):  # uploads
        return problem(request, 400, "the body must be multipart/form-data with a part "
                       "named 'file'", code="malformed", field="body")
    if status == 413:  # the whole body over the route's limit, before a handler saw it
        return too_large_body(request)
    return problem(request, status, str(exc.detail), code=code, headers=exc.headers)


def too_large_body(request: Request[Any, Any, Any]) -> Response[dict[str, Any]]:
    """A body past the server's limit: for an upload the field is its file (a form shows
    the problem beside the file input), else the body."""
    try:
        limit = request.route_handler.resolve_request_max_body_size()
    except Exception:  # no handler: the app's default
        limit = None
    upload = request.headers.get("content-type", "").startswith("multipart/")
    what = "the file is" if upload else "the request body is"
    detail = f"{what} too large: this server takes at most {limit} bytes" if limit else \
        f"{what} too large for this server"
    return problem(request, 413, detail, code="too_large", field="file" if upload else "body")


def internal_error(request: Request[Any, Any, Any], exc: Exception) -> Response[dict[str, Any]]:
    if is_outage(exc):  # a database or broker restarting: the client should try again
        log.warning("request.unavailable", path=request.url.path, error=repr(exc))
        return problem(request, 503, "a service we depend on is unavailable for a moment; "
                       "try again", code="unavailable", headers={"Retry-After": "1"})
    log.exception("request.failed", path=request.url.path, error=repr(exc))
    sentry.report(exc, route=_route(request))
    return problem(request, 500, "something went wrong on our side", code="internal")


def _route(request: Request[Any, Any, Any]) -> str:
    return request.scope.get("path_template") or "unmatched"  # type: ignore[return-value]


EXCEPTION_HANDLERS: dict[Any, Any] = {
    DomainError: domain_error,
    ValidationException: validation_error,
    HTTPException: http_error,
    Exception: internal_error,
}
