"""Clerk's user webhooks: Svix-signed `user.created`, `user.updated` and
`user.deleted` deliveries become commands on the User aggregate, once per `svix-id`."""

from __future__ import annotations

import json
from typing import Any

from litestar import Controller, Request, post
from litestar.di import NamedDependency
from litestar.params import RawBody

from commands.bus import CommandBus
from commands.sync_external_user import SyncExternalUser
from domain.errors import Invalid, NotFound
from infra.identity import svix
from infra.settings import Settings
from infra.web.json_depth import too_deep
from read_api.async_ports import SignedInAccounts
from read_api.openapi import problems
from read_api.views.webhook import ClerkOutcome

HANDLED = {"user.created": "created", "user.updated": "updated", "user.deleted": "deleted"}


def _primary_email(data: dict[str, Any]) -> str | None:
    primary = data.get("primary_email_address_id")
    addresses = [a for a in data.get("email_addresses") or [] if isinstance(a, dict)]
    for address in addresses:
        if address.get("id") == primary and isinstance(address.get("email_address"), str):
            return address["email_address"]
    first = addresses[0].get("email_address") if addresses else None
    return first if isinstance(first, str) else None


def _display_name(data: dict[str, Any]) -> str | None:
    parts = [data.get("first_name"), data.get("last_name")]
    name = " ".join(p.strip() for p in parts if isinstance(p, str) and p.strip())
    return name or None


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


class ClerkWebhookController(Controller):
    """The receiver of Clerk's user webhooks."""

    path = "/webhooks"
    tags = ["webhooks"]

    @post("/clerk", status_code=200, operation_id="receiveClerkWebhook",
          responses=problems(401, 404, 409, 422))
    async def clerk(
        self, request: Request[Any, Any, Any], body: RawBody,
        settings: NamedDependency[Settings], commands: NamedDependency[CommandBus],
        accounts: NamedDependency[SignedInAccounts],
    ) -> ClerkOutcome:
        """Verifies the Svix signature, then creates, updates or deletes the user."""
        secret = settings.clerk_webhook_secret
        if not secret:
            raise NotFound("Clerk webhooks are not configured (AETHEX_CLERK_WEBHOOK_SECRET)")
        delivery_id = svix.verify(secret, request.headers, bytes(body))
        if too_deep(bytes(body)):
            raise Invalid("the body nests too deeply", field="body")
        try:
            payload = json.loads(body)
        except ValueError:
            raise Invalid("the body is not JSON", field="body") from None
        if not isinstance(payload, dict) or not isinstance(payload.get("data"), dict):
            raise Invalid("the body has no data object", field="data")
        event_type = payload.get("type")
        if event_type not in HANDLED:
            return {"handled": False, "type": _text(event_type)}
        data: dict[str, Any] = payload["data"]
        subject = _text(data.get("id"))
        if not subject:
            raise Invalid("the user has no id", field="data.id")
        result = await commands.execute(SyncExternalUser(
            delivery_id=delivery_id, change=HANDLED[event_type],
            issuer=settings.oidc_issuer or "clerk", subject=subject,
            email=_primary_email(data), username=_text(data.get("username")),
            display_name=_display_name(data), avatar=_text(data.get("image_url"))))
        if result.user_id:
            accounts.forget(result.user_id)  # refused on this node at once, not after the relay
        return {"handled": True, "type": event_type, "duplicate": result.duplicate,
                "userId": result.user_id, "position": result.position}
