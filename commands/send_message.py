"""SendMessage: a signed-in user posts to a LIVE stream's chat.

`send_messages` decides a whole batch and saves it in one transaction (group commit);
each command still gets its own result or error. `send_message` is the one-at-a-time form.
"""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import UUID

import msgspec

from commands.ports import Begun, Store
from commands.slow_mode import SlowModeClock
from commands.subscribers import SubscriberCache
from domain.channel import Channel
from domain.chat import ChatMessage, clean_content
from domain.chat_filters import check_content, check_followers_only, check_slow_mode
from domain.errors import Banned, Conflict, DomainError, NotFound
from domain.follow import Follow
from domain.stream import Stream, StreamStatus


class Author(msgspec.Struct, frozen=True, kw_only=True):
    id: UUID
    username: str
    display_name: str
    bot: bool = False  # a channel's bot token (`id` is the token's): checked on the channel


class SendMessage(msgspec.Struct, frozen=True, kw_only=True):
    stream_id: UUID
    author: Author
    content: str


class MessageSent(msgspec.Struct, frozen=True, kw_only=True):
    message: ChatMessage
    position: int


def _badges(author_id: UUID, channel: Channel) -> list[str]:
    if author_id in channel.bots:
        return ["bot"]
    if author_id == channel.owner_id:
        return ["broadcaster"]
    if author_id in channel.moderator_ids:
        return ["moderator"]
    return []


def _followed_since(store: Store, user_id: UUID, channel_id: UUID) -> datetime | None:
    follow = store.find(Follow.create_id(user_id, "channel", channel_id), Follow)
    # Only follows and refollows change an active follow: its last change is when it began.
    return follow.modified_on if follow is not None and follow.active else None


class _Standing(msgspec.Struct, frozen=True):
    """What a batch decides once per author and channel: whether the author is staff
    (exempt from slow mode, followers-only and link blocking), their badges, and when
    they began to follow (read only for followers-only chats)."""

    staff: bool
    badges: tuple[str, ...]
    followed_since: datetime | None


def _standing(author: Author, channel: Channel, now: datetime, store: Store,
              subscribers: SubscriberCache | None) -> _Standing:
    """Refuses a banned author or a bot token that may not write; else their standing."""
    if author.bot:  # its own channel only, while the token stands
        channel.bot(author.id, "chat:write")
    banned, until = channel.banned_until(author.id, now)
    if banned:
        raise Banned("you are banned from this channel's chat" + (
            f" until {until.isoformat()} (a timeout)" if until else ""), field="content")
    staff = channel.may_moderate(author.id)
    badges = _badges(author.id, channel)
    if not author.bot and subscribers is not None \
            and subscribers.is_subscriber(store, author.id, channel.id, now):
        badges.append("subscriber")
    followed_since = None
    if not staff and channel.filters.followers_only:
        followed_since = _followed_since(store, author.id, channel.id)
    return _Standing(staff, tuple(badges), followed_since)


def _decide(
    cmd: SendMessage, streams: dict[UUID, Stream | None], channels: dict[UUID, Channel],
    now: datetime, store: Store, last_sent: SlowModeClock | None,
    subscribers: SubscriberCache | None, standings: dict[tuple[int, int, bool], _Standing],
) -> ChatMessage:
    """One command's message, or the DomainError that refuses it. `standings` keeps each
    author's standing for the rest of the batch (the channel's state does not change
    within it): in a busy chat most authors send more than once a batch."""
    content = clean_content(cmd.content)
    stream = streams.get(cmd.stream_id)
    if stream is None:
        raise NotFound(f"stream {cmd.stream_id} not found", field="streamId")
    if stream.status is not StreamStatus.LIVE:
        state = "has ended" if stream.status in (StreamStatus.ENDING, StreamStatus.ARCHIVED) \
            else "is not live"
        raise Conflict(f"the stream {state}; chat is closed", field="streamId",
                       code="stream_offline")
    channel = channels[stream.channel_id]
    author = cmd.author
    key = (stream.channel_id.int, author.id.int, author.bot)
    standing = standings.get(key)
    if standing is None:
        standing = standings[key] = _standing(author, channel, now, store, subscribers)
    filters = channel.filters
    check_content(content, filters, allow_links=standing.staff)
    if not standing.staff:
        if filters.followers_only:
            check_followers_only(filters, standing.followed_since, now)
        if filters.slow_mode_s and last_sent is not None:
            check_slow_mode(filters, last_sent.get(channel.id, author.id), now)
            last_sent.mark(channel.id, author.id, now)
    return ChatMessage.sent(
        stream_id=stream.id,
        channel_id=stream.channel_id,
        author_id=author.id,
        username=author.username,
        display_name=author.display_name,
        badges=list(standing.badges),
        content=content,
    )


def start_sending(cmds: list[SendMessage], store: Store, now: datetime | None = None,
                  last_sent: SlowModeClock | None = None,
                  subscribers: SubscriberCache | None = None,
                  ) -> Begun[list[MessageSent | DomainError]]:
    """Decides every command and starts saving the accepted messages in one transaction;
    what it returns waits for the save to end (from any thread) and gives each command
    its result or error. The group commit decides its next batch meanwhile (unless the
    save is already done: `ready`)."""
    now = now or datetime.now(UTC)
    streams: dict[UUID, Stream | None] = {}
    channels: dict[UUID, Channel] = {}
    for stream_id in {c.stream_id for c in cmds}:
        stream = store.find(stream_id, Stream)
        streams[stream_id] = stream
        if stream is not None and stream.is_live and stream.channel_id not in channels:
            channels[stream.channel_id] = store.get(stream.channel_id, Channel)

    results: list[MessageSent | DomainError | None] = [None] * len(cmds)
    accepted: list[tuple[int, ChatMessage]] = []
    standings: dict[tuple[int, int, bool], _Standing] = {}
    for i, cmd in enumerate(cmds):
        try:
            accepted.append((i, _decide(cmd, streams, channels, now, store, last_sent,
                                         subscribers, standings)))
        except DomainError as e:
            results[i] = e
    if len(streams) > 1:
        # Each stream's messages side by side in the log: the relay then sends them as
        # one run.
        accepted.sort(key=lambda item: item[1].stream_id.int)
    saving: Begun[list[int]] | None = None
    if accepted:
        try:
            saving = store.start_save_each(*(m for _, m in accepted))
        except DomainError:
            saving = None

    def finish() -> list[MessageSent | DomainError]:
        if accepted:
            positions: list[int] | None = None
            if saving is not None:
                try:
                    positions = saving()
                except DomainError:
                    positions = None
            if positions is None:  # the batch failed as a whole: each message alone
                positions = []
                for i, message in accepted:
                    try:
                        positions.append(store.save(message))
                    except DomainError as e:
                        results[i] = e
                        positions.append(0)
            for (i, message), position in zip(accepted, positions, strict=True):
                if position:
                    results[i] = MessageSent(message=message, position=position)
        return [r for r in results if r is not None]
    return Begun(finish, ready=saving is None or saving.ready)


def send_messages(cmds: list[SendMessage], store: Store, now: datetime | None = None,
                  last_sent: SlowModeClock | None = None,
                  subscribers: SubscriberCache | None = None,
                  ) -> list[MessageSent | DomainError]:
    """Decides every command, then saves all accepted messages in one transaction."""
    return start_sending(cmds, store, now, last_sent, subscribers)()


def send_message(cmd: SendMessage, store: Store) -> MessageSent:
    """One command, one transaction (the baseline the group commit is measured against)."""
    result = send_messages([cmd], store)[0]
    if isinstance(result, DomainError):
        raise result
    return result
