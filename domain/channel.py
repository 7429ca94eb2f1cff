"""The Channel aggregate: a creator's place, its stream key and its moderators."""

from __future__ import annotations

import re
import secrets
from datetime import datetime
from uuid import UUID

from eventsourcing.domain import Aggregate

from domain.chat_filters import ChatFilters, clean_filters
from domain.errors import Conflict, Forbidden, Invalid

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

    # -- decisions -------------------------------------------------------------

    def require_owner(self, user_id: UUID) -> None:
        if user_id != self.owner_id:
            raise Forbidden("only the channel owner may do this")

    def may_moderate(self, user_id: UUID) -> bool:
        return user_id == self.owner_id or user_id in self.moderator_ids

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
