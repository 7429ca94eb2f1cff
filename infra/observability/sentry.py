"""Errors to Sentry with `sentry-sdk`, when `AETHEX_SENTRY_DSN` is set.

What is reported, each once: a route's unexpected failure (reported by the handler that
turns it into the 500 answer, inside the SDK's ASGI middleware, which adds the request to
the event), a socket event's, and a supervised task's (the relay, a projector, any worker:
reported by the supervisor).

Not the SDK's Litestar integration, nor any other it would enable by itself: that one
parses every request's body before the route runs (a body that is not JSON then fails as a
500 instead of the route's 400) and wraps every middleware in a span.

What is not reported: a client's error (a DomainError, a 4xx), a database or broker away
for a moment (503, retried), and anything secret. `scrub` runs on every event before it
leaves: secret-named keys (passwords, tokens, stream keys, Authorization and cookie headers,
webhook secrets, signatures) lose their values and every string loses what looks like a
token, a JWT or a stream key, wherever it is in the event; request bodies and local
variables are never collected at all.
"""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING, Any

from domain.errors import DomainError
from infra.observability.logging import REDACTED, scrub_text, secret_name
from infra.runtime.outages import is_outage

if TYPE_CHECKING:
    from infra.settings import Settings

# Header and field names Sentry might carry beyond what the logs' rule names.
_MORE_SECRET_NAMES = re.compile(
    r"api[-_]?key|set-cookie|signature|x-[a-z-]*token|secret|session|private[-_]?key",
    re.IGNORECASE)

_active = False


def _secret(key: Any) -> bool:
    return isinstance(key, str) and (secret_name(key) or bool(_MORE_SECRET_NAMES.search(key)))


def clean(value: Any, depth: int = 0) -> Any:
    """`value` with every secret masked: by name for mapping keys and header pairs, by
    shape inside any string."""
    if isinstance(value, str):
        return scrub_text(value)
    if depth > 40:  # deeper than any event Sentry builds: nothing there is kept
        return REDACTED
    if isinstance(value, dict):
        return {k: REDACTED if _secret(k) and v not in (None, "") else clean(v, depth + 1)
                for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        # Headers may come as [name, value] pairs.
        if len(value) == 2 and _secret(value[0]) and isinstance(value[1], str):
            return [value[0], REDACTED]
        return [clean(v, depth + 1) for v in value]
    if isinstance(value, (bytes, bytearray)):
        return REDACTED
    return value


def expected(error: BaseException | None) -> bool:
    """Errors that are not ours to fix: a refused command, a service restarting."""
    if error is None:
        return False
    if isinstance(error, DomainError) or is_outage(error):
        return True
    status = getattr(error, "status_code", None)
    return isinstance(status, int) and status < 500


def scrub(event: dict[str, Any], hint: dict[str, Any]) -> dict[str, Any] | None:
    """`before_send`: drops expected errors, masks secrets everywhere in the rest."""
    exc_info = hint.get("exc_info") if hint else None
    if exc_info and expected(exc_info[1]):
        return None
    return clean(event)


def scrub_breadcrumb(crumb: dict[str, Any], hint: dict[str, Any]) -> dict[str, Any] | None:
    return clean(crumb)


def start_sentry(settings: Settings, role: str) -> bool:
    """Starts the SDK in this process when a DSN is set (validated with the settings)."""
    global _active
    if not settings.sentry_dsn:
        return False
    import sentry_sdk
    from sentry_sdk.integrations.asyncio import AsyncioIntegration
    from sentry_sdk.integrations.logging import LoggingIntegration

    sentry_sdk.init(
        dsn=settings.sentry_dsn,
        environment=settings.deployment,
        release=settings.version,
        include_local_variables=False,  # locals hold bodies, passwords, keys
        max_request_body_size="never",
        before_send=scrub,  # type: ignore[arg-type]
        before_breadcrumb=scrub_breadcrumb,  # type: ignore[arg-type]
        traces_sample_rate=None,  # traces go to OpenTelemetry (tracing.py)
        auto_enabling_integrations=False,  # see the module's docstring
        integrations=[
            AsyncioIntegration(),
            # Log lines are breadcrumbs, not events: failures are reported where they
            # are handled, once (a logged failure would be a second copy).
            LoggingIntegration(level=logging.INFO, event_level=None),
        ],
    )
    sentry_sdk.set_tag("process", role)
    _active = True
    return True


def active() -> bool:
    """Whether this process reports to Sentry."""
    return _active


def around_asgi(app: Any) -> Any:
    """`app` inside the SDK's ASGI middleware (the request on every event reported while
    it runs), when reporting; else `app` itself."""
    if not _active:
        return app
    from sentry_sdk.integrations.asgi import SentryAsgiMiddleware

    return SentryAsgiMiddleware(app, transaction_style="url", mechanism_type="asgi")


def stop_sentry(timeout_s: float = 5.0) -> None:
    """Sends what is queued and stops reporting."""
    global _active
    if not _active:
        return
    import sentry_sdk

    client = sentry_sdk.get_client()
    client.flush(timeout=timeout_s)
    client.close(timeout=timeout_s)
    _active = False


def report(error: BaseException, **tags: str) -> None:
    """Reports a failure handled outside a request (a supervised task's), once."""
    if not _active or expected(error):
        return
    import sentry_sdk

    with sentry_sdk.new_scope() as scope:
        for key, value in tags.items():
            scope.set_tag(key, value)
        sentry_sdk.capture_exception(error)
