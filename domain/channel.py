"""The Channel aggregate: a creator's place, its stream key and its moderators."""

from __future__ import annotations

import re
import secrets
from datetime import datetime
from uuid import UUID

from eventsourcing.domain import Aggregate

from domain.chat_filters import ChatFilters, clean_filters
from domain.errors import Conflict, Forbidden, Invalid, NotFound
from domain.integrations import MAX_TOKENS, BotToken, Webhook

SLUG_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{1,38})[a-z0-9]$")
MAX_TAGS = 10


def new_stream_key() -> str:
    """A high-entropy secret (256 bits) that an encoder presents to ingest."""
    return "live_" + secrets.token_urlsafe(32)


def normalise_slug(slug: str) -> str:
    value = slug.strip().lower()
    if not SLUG_RE.fullmatch(value):
        raise Invalid("slug must be 3-40 of a-z, 0-9 and '-', not starting or ending with '-'",
                      field="slug")
    return value


def clean_tags(tags: list[str]) -> list[str]:
    cleaned: list[str] = []
    for tag in tags:
        value = tag.strip().lower()
        if not value or len(value) > 25:
            raise Invalid("each tag must be 1-25 characters", field="tags")
        if value not in cleaned:
            cleaned.append(value)
    if len(cleaned) > MAX_TAGS:
        raise Invalid(f"at most {MAX_TAGS} tags", field="tags")
    return cleaned


class Channel(Aggregate):
    """A creator's channel. At most one stream is current (LIVE or not yet ended) at a time."""

    class Created(Aggregate.Created):
        owner_id: UUID
        slug: str
        name: str
        description: str
        category: str
        tags: list[str]
        is_public: bool
        stream_key: str

    class Updated(Aggregate.Event):
        name: str | None
        description: str | None
        category: str | None
        tags: list[str] | None
        is_public: bool | None

        def apply(self, channel: Channel) -> None:
            for field in ("name", "description", "category", "tags", "is_public"):
                value = getattr(self, field)
                if value is not None:
                    setattr(channel, field, value)

    class StreamKeyRotated(Aggregate.Event):
        stream_key: str

        def apply(self, channel: Channel) -> None:
            channel.stream_key = self.stream_key

    class WentLive(Aggregate.Event):
        stream_id: UUID

        def apply(self, channel: Channel) -> None:
            channel.current_stream_id = self.stream_id
            if channel.prepared_stream_id == self.stream_id:  # the prepared one went live
                channel.prepared_stream_id = None

    class StreamPrepared(Aggregate.Event):
        """A stream was created OFFLINE, ready for the owner's start or an encoder."""

        stream_id: UUID

        def apply(self, channel: Channel) -> None:
            channel.prepared_stream_id = self.stream_id

    class PreparedStreamDiscarded(Aggregate.Event):
        """The prepared stream was ended before it went live; another may be prepared."""

        stream_id: UUID

        def apply(self, channel: Channel) -> None:
            channel.prepared_stream_id = None

    class ImageChanged(Aggregate.Event):
        """The channel's avatar or banner is now the image at `url` (stored and checked)."""

        kind: str  # "avatar" or "banner"
        url: str

        def apply(self, channel: Channel) -> None:
            setattr(channel, self.kind, self.url)

    class WentOffline(Aggregate.Event):
        stream_id: UUID

        def apply(self, channel: Channel) -> None:
            channel.current_stream_id = None

    class ModeratorGranted(Aggregate.Event):
        user_id: UUID

        def apply(self, channel: Channel) -> None:
            channel.moderator_ids.add(self.user_id)

    class ModeratorRevoked(Aggregate.Event):
        user_id: UUID

        def apply(self, channel: Channel) -> None:
            channel.moderator_ids.discard(self.user_id)

    class UserBanned(Aggregate.Event):
        """A ban (`until` is None) or a timeout (until then) from the channel's chat."""

        user_id: UUID
        by: UUID
        until: datetime | None
        reason: str

        def apply(self, channel: Channel) -> None:
            channel.bans[self.user_id] = self.until

    class UserUnbanned(Aggregate.Event):
        user_id: UUID
        by: UUID

        def apply(self, channel: Channel) -> None:
            channel.bans.pop(self.user_id, None)

    class FiltersChanged(Aggregate.Event):
        """The chat filters as now set (domain/chat_filters.py says what each means)."""

        by: UUID
        blocked_terms: list[str]
        default_profanity: bool
        block_links: bool
        slow_mode_s: int
        followers_only: bool
        follow_min_age_s: int

        def apply(self, channel: Channel) -> None:
            channel.filters = ChatFilters(
                blocked_terms=tuple(self.blocked_terms), default_profanity=self.default_profanity,
                block_links=self.block_links, slow_mode_s=self.slow_mode_s,
                followers_only=self.followers_only, follow_min_age_s=self.follow_min_age_s)


    # -- integrations: outbound webhooks and bot tokens (rules in domain/integrations.py)

    class WebhookCreated(Aggregate.Event):
        """A webhook subscription; its signing secret is stored sealed (encrypted with a
        key the database does not hold), and kept out of the bus and exports."""

        webhook_id: UUID
        url: str
        event_types: list[str]
        description: str
        sealed_secret: str

        def apply(self, channel: Channel) -> None:
            channel.webhooks[self.webhook_id] = Webhook(
                id=self.webhook_id, url=self.url, event_types=list(self.event_types),
                description=self.description, sealed_secret=self.sealed_secret)

    class WebhookChanged(Aggregate.Event):
        """What the owner changed (None: unchanged); enabling clears a disabled reason."""

        webhook_id: UUID
        url: str | None
        event_types: list[str] | None
        description: str | None
        enabled: bool | None

        def apply(self, channel: Channel) -> None:
            hook = channel.webhooks[self.webhook_id]
            if self.url is not None:
                hook.url = self.url
            if self.event_types is not None:
                hook.event_types = list(self.event_types)
            if self.description is not None:
                hook.description = self.description
            if self.enabled is not None:
                hook.enabled = self.enabled
                hook.disabled_reason = None

    class WebhookSecretRotated(Aggregate.Event):
        webhook_id: UUID
        sealed_secret: str

        def apply(self, channel: Channel) -> None:
            channel.webhooks[self.webhook_id].sealed_secret = self.sealed_secret

    class WebhookDisabled(Aggregate.Event):
        """Delivery stopped by the platform: the receiver answered 410, or failed for a
        whole retry schedule. `reason` is shown to the owner."""

        webhook_id: UUID
        reason: str

        def apply(self, channel: Channel) -> None:
            hook = channel.webhooks[self.webhook_id]
            hook.enabled, hook.disabled_reason = False, self.reason

    class WebhookDeleted(Aggregate.Event):
        webhook_id: UUID

        def apply(self, channel: Channel) -> None:
            channel.webhooks.pop(self.webhook_id, None)

    class WebhookPingRequested(Aggregate.Event):
        """The owner asked for a test delivery (`webhook.ping`), sent as `delivery_id`."""

        webhook_id: UUID
        delivery_id: str

    class WebhookRedeliveryRequested(Aggregate.Event):
        """The owner asked to send the delivery of the event at `position` once more
        (the same `webhook-id`)."""

        webhook_id: UUID
        delivery_id: str
        position: int

    class BotTokenIssued(Aggregate.Event):
        """A bot token: only its hash is stored (and kept out of the bus and exports)."""

        token_id: UUID
        name: str
        scopes: list[str]
        token_hash: str

        def apply(self, channel: Channel) -> None:
            channel.bots[self.token_id] = BotToken(id=self.token_id, name=self.name,
                                                   scopes=list(self.scopes),
                                                   token_hash=self.token_hash)

    class BotTokenRevoked(Aggregate.Event):
        token_id: UUID

        def apply(self, channel: Channel) -> None:
            channel.bots[self.token_id].revoked = True

    def __init__(
        self,
        owner_id: UUID,
        slug: str,
        name: str,
        description: str,
        category: str,
        tags: list[str],
        is_public: bool,
        stream_key: str,
    ) -> None:
        self.owner_id = owner_id
        self.slug = slug
        self.name = name
        self.description = description
        self.category = category
        self.tags = list(tags)
        self.is_public = is_public
        self.stream_key = stream_key
        self.current_stream_id: UUID | None = None
        # A stream created OFFLINE that the next go-live starts instead of a new one.
        self.prepared_stream_id: UUID | None = None
        self.avatar: str | None = None
        self.banner: str | None = None
        self.moderator_ids: set[UUID] = set()
        # Bans and timeouts: user -> until (None: until unbanned). Timeouts lapse
        # by comparing with the time of the send, so no event is needed when they end.
        self.bans: dict[UUID, datetime | None] = {}
        self.filters = ChatFilters()
        self.webhooks: dict[UUID, Webhook] = {}
        self.bots: dict[UUID, BotToken] = {}  # revoked ones stay, refused

    # -- decisions -------------------------------------------------------------

    def require_owner(self, user_id: UUID) -> None:
        if user_id != self.owner_id:
            raise Forbidden("only the channel owner may do this")

    def may_moderate(self, user_id: UUID) -> bool:
        if user_id == self.owner_id or user_id in self.moderator_ids:
            return True
        bot = self.bots.get(user_id)
        return bot is not None and bot.allows("chat:moderate")

    def bot(self, token_id: UUID, scope: str) -> BotToken:
        """The channel's token `token_id`, if it is live and holds `scope`."""
        bot = self.bots.get(token_id)
        if bot is None or bot.revoked:
            raise Forbidden("this bot token is not valid for this channel")
        if scope not in bot.scopes:
            raise Forbidden(f"this bot token lacks the {scope!r} scope")
        return bot

    def update(
        self,
        *,
        name: str | None = None,
        description: str | None = None,
        category: str | None = None,
        tags: list[str] | None = None,
        is_public: bool | None = None,
    ) -> None:
        if all(v is None for v in (name, description, category, tags, is_public)):
            return
        self.trigger_event(
            self.Updated,
            name=name,
            description=description,
            category=category,
            tags=tags,
            is_public=is_public,
        )

    def rotate_stream_key(self) -> None:
        self.trigger_event(self.StreamKeyRotated, stream_key=new_stream_key())

    def go_live(self, stream_id: UUID) -> None:
        if self.current_stream_id is not None:
            raise Conflict("the channel already has a live stream", field="channelId")
        self.trigger_event(self.WentLive, stream_id=stream_id)

    def prepare_stream(self, stream_id: UUID) -> None:
        """At most one prepared stream, and none while a stream is live: a second prepare
        is refused rather than silently replacing details a creator may have shared."""
        if self.current_stream_id is not None:
            raise Conflict("the channel already has a live stream; end it first",
                           field="channelId")
        if self.prepared_stream_id is not None:
            raise Conflict(f"the channel already has a prepared stream "
                           f"({self.prepared_stream_id}); start it, or end it to prepare "
                           f"another", field="channelId")
        self.trigger_event(self.StreamPrepared, stream_id=stream_id)

    def discard_prepared(self, stream_id: UUID) -> None:
        if self.prepared_stream_id == stream_id:
            self.trigger_event(self.PreparedStreamDiscarded, stream_id=stream_id)

    def set_image(self, kind: str, url: str) -> bool:
        """Adopts a stored image as avatar or banner; False when it already is that one."""
        if kind not in ("avatar", "banner"):
            raise Invalid("an image is an avatar or a banner", field="kind")
        if getattr(self, kind) == url:
            return False
        self.trigger_event(self.ImageChanged, kind=kind, url=url)
        return True

    def go_offline(self, stream_id: UUID) -> None:
        if self.current_stream_id == stream_id:
            self.trigger_event(self.WentOffline, stream_id=stream_id)

    def grant_moderator(self, user_id: UUID) -> None:
        if user_id == self.owner_id:
            raise Invalid("the owner is already a moderator", field="userId")
        if user_id not in self.moderator_ids:
            self.trigger_event(self.ModeratorGranted, user_id=user_id)

    def revoke_moderator(self, user_id: UUID) -> None:
        if user_id in self.moderator_ids:
            self.trigger_event(self.ModeratorRevoked, user_id=user_id)

    # -- moderation --------------------------------------------------------

    def require_moderator(self, user_id: UUID) -> None:
        if not self.may_moderate(user_id):
            raise Forbidden("only the channel owner or a moderator may do this")

    def banned_until(self, user_id: UUID, now: datetime) -> tuple[bool, datetime | None]:
        """Whether the user may not chat at `now`, and until when (None: until unbanned)."""
        if user_id not in self.bans:
            return False, None
        until = self.bans[user_id]
        return (until is None or now < until), until

    def ban(self, user_id: UUID, *, by: UUID, until: datetime | None, reason: str,
            now: datetime) -> None:
        """Bans (or times out, with `until`) a user; the owner may ban a moderator, who
        then stops being one; moderators may not ban each other or the owner."""
        self.require_moderator(by)
        if user_id == by:
            raise Invalid("you cannot ban yourself", field="userId")
        if user_id == self.owner_id:
            raise Forbidden("the channel owner cannot be banned", field="userId")
        if until is not None and until <= now:
            raise Invalid("a timeout must end in the future", field="durationSeconds")
        if user_id in self.moderator_ids:
            if by != self.owner_id:
                raise Forbidden("a moderator cannot ban another moderator", field="userId")
            self.trigger_event(self.ModeratorRevoked, user_id=user_id)
        self.trigger_event(self.UserBanned, user_id=user_id, by=by, until=until, reason=reason)

    def set_filters(self, filters: ChatFilters, *, by: UUID) -> bool:
        """Replaces the chat filters; False when nothing changed."""
        self.require_moderator(by)
        filters = clean_filters(filters)
        if filters == self.filters:
            return False
        self.trigger_event(
            self.FiltersChanged, by=by, blocked_terms=list(filters.blocked_terms),
            default_profanity=filters.default_profanity, block_links=filters.block_links,
            slow_mode_s=filters.slow_mode_s, followers_only=filters.followers_only,
            follow_min_age_s=filters.follow_min_age_s)
        return True

    def unban(self, user_id: UUID, *, by: UUID, now: datetime) -> bool:
        """Lifts a ban or a running timeout; False when there was none (idempotent)."""
        self.require_moderator(by)
        if not self.banned_until(user_id, now)[0]:
            return False
        self.trigger_event(self.UserUnbanned, user_id=user_id, by=by)
        return True

    # -- integrations ------------------------------------------------------

    def webhook(self, webhook_id: UUID) -> Webhook:
        hook = self.webhooks.get(webhook_id)
        if hook is None:
            raise NotFound(f"webhook {webhook_id} not found")
        return hook

    def add_webhook(self, webhook_id: UUID, *, url: str, event_types: list[str],
                    description: str, sealed_secret: str, limit: int) -> None:
        """`url`, `event_types` and `description` cleaned by domain/integrations.py."""
        if len(self.webhooks) >= limit:
            raise Invalid(f"a channel has at most {limit} webhook subscriptions",
                          field="channelId", code="too_many_webhooks")
        self.trigger_event(self.WebhookCreated, webhook_id=webhook_id, url=url,
                           event_types=list(event_types), description=description,
                           sealed_secret=sealed_secret)

    def change_webhook(self, webhook_id: UUID, *, url: str | None = None,
                       event_types: list[str] | None = None, description: str | None = None,
                       enabled: bool | None = None) -> bool:
        hook = self.webhook(webhook_id)
        changes = {"url": url, "event_types": event_types, "description": description,
                   "enabled": enabled}
        if enabled is True and not hook.enabled:
            pass  # re-enabling clears the reason: a change even if nothing else differs
        elif all(v is None or v == getattr(hook, k) for k, v in changes.items()):
            return False
        self.trigger_event(self.WebhookChanged, webhook_id=webhook_id, **changes)
        return True

    def rotate_webhook_secret(self, webhook_id: UUID, sealed_secret: str) -> None:
        self.webhook(webhook_id)
        self.trigger_event(self.WebhookSecretRotated, webhook_id=webhook_id,
                           sealed_secret=sealed_secret)

    def disable_webhook(self, webhook_id: UUID, reason: str) -> bool:
        """False when it is gone or already disabled (the sender may say it twice)."""
        hook = self.webhooks.get(webhook_id)
        if hook is None or not hook.enabled:
            return False
        self.trigger_event(self.WebhookDisabled, webhook_id=webhook_id, reason=reason[:500])
        return True

    def delete_webhook(self, webhook_id: UUID) -> None:
        self.webhook(webhook_id)
        self.trigger_event(self.WebhookDeleted, webhook_id=webhook_id)

    def request_ping(self, webhook_id: UUID, delivery_id: str) -> None:
        self.webhook(webhook_id)
        self.trigger_event(self.WebhookPingRequested, webhook_id=webhook_id,
                           delivery_id=delivery_id)

    def request_redelivery(self, webhook_id: UUID, delivery_id: str, position: int) -> None:
        if not self.webhook(webhook_id).enabled:
            raise Conflict("the webhook is disabled: enable it first", field="webhookId")
        self.trigger_event(self.WebhookRedeliveryRequested, webhook_id=webhook_id,
                           delivery_id=delivery_id, position=position)

    def issue_bot_token(self, token_id: UUID, *, name: str, scopes: list[str],
                        token_hash: str) -> None:
        if sum(1 for b in self.bots.values() if not b.revoked) >= MAX_TOKENS:
            raise Invalid(f"a channel has at most {MAX_TOKENS} bot tokens", field="name")
        self.trigger_event(self.BotTokenIssued, token_id=token_id, name=name,
                           scopes=list(scopes), token_hash=token_hash)

    def revoke_bot_token(self, token_id: UUID) -> bool:
        bot = self.bots.get(token_id)
        if bot is None:
            raise NotFound(f"token {token_id} not found")
        if bot.revoked:
            return False
        self.trigger_event(self.BotTokenRevoked, token_id=token_id)
        return True
