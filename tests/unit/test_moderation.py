"""Moderation decisions against a real store, given / when / then: bans and
timeouts on the Channel, their effect on SendMessage batches, and the filters there."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

import pytest

from commands.ban_user import BanUser, RemoveMessages, ban_user, remove_messages
from commands.follow import FollowTarget, follow
from commands.ignore_user import IgnoreUser, ignore_user
from commands.report import FileReport, file_report
from commands.resolve_report import ResolveReport, resolve_report
from commands.send_message import MessageSent, SendMessage, send_messages
from commands.set_channel_filters import SetChannelFilters, set_channel_filters
from commands.slow_mode import LastSent
from commands.subscribe import Subscribe, subscribe
from commands.subscribers import SubscriberCache
from commands.unban_user import UnbanUser, unban_user
from domain.channel import Channel
from domain.chat import ChatMessage
from domain.chat_filters import ChatFilters, Filtered
from domain.errors import Conflict, DomainError, Forbidden, Invalid, NotFound
from domain.ignore import Ignore
from domain.user import User
from infra.eventstore.event_store import EventStore
from read_api.chat_gateway import ChatSession
from read_api.live import Batch, Outgoing

from .support import World, author


@pytest.fixture
def live(world: World, channel: Channel) -> tuple[Channel, User, User]:
    """A live channel with a moderator and a viewer."""
    mod, viewer = world.user("mod"), world.user("viewer")
    world.grant(channel, mod)
    world.live_stream(channel)
    return channel, mod, viewer


def stream_of(store: EventStore, channel: Channel) -> object:
    return store.get(channel.id, Channel).current_stream_id


def send(store: EventStore, user: User, channel: Channel, content: str = "hi",
         now: datetime | None = None, last_sent: LastSent | None = None
         ) -> MessageSent | DomainError:
    stream_id = store.get(channel.id, Channel).current_stream_id
    assert stream_id is not None
    return send_messages([SendMessage(stream_id=stream_id, author=author(user), content=content)],
                         store, now=now, last_sent=last_sent)[0]


def test_a_ban_refuses_sends_and_deletes_the_given_messages(
        store: EventStore, world: World, live: tuple[Channel, User, User]) -> None:
    channel, mod, viewer = live
    sid = stream_of(store, channel)
    mine = world.say(viewer, sid, "spam")  # type: ignore[arg-type]
    theirs = world.say(mod, sid, "not yours to take")  # type: ignore[arg-type]
    head = store.head()
    result = ban_user(BanUser(actor_id=mod.id, channel_id=channel.id, user_id=viewer.id,
                              reason="spam", message_ids=(mine.id, theirs.id)), store)
    assert [m.id for m in result.removed] == [mine.id]  # others' messages are ignored
    assert event_names_after(world, head) == ["Channel.UserBanned", "ChatMessage.Deleted"]
    assert store.get(mine.id, ChatMessage).is_deleted
    assert not store.get(theirs.id, ChatMessage).is_deleted
    refused = send(store, viewer, channel)
    assert isinstance(refused, Forbidden) and "banned" in refused.message
    assert isinstance(send(store, mod, channel), MessageSent)
    assert unban_user(UnbanUser(actor_id=mod.id, channel_id=channel.id, user_id=viewer.id),
                      store).lifted
    assert isinstance(send(store, viewer, channel), MessageSent)


def event_names_after(world: World, after: int) -> list[str]:
    return [e.type for e in world.log(after)]


def test_a_timeout_lapses_with_time(store: EventStore, live: tuple[Channel, User, User]) -> None:
    channel, mod, viewer = live
    now = datetime.now(UTC)
    ban_user(BanUser(actor_id=mod.id, channel_id=channel.id, user_id=viewer.id, duration_s=60),
             store, now=now)
    refused = send(store, viewer, channel, now=now + timedelta(seconds=59))
    assert isinstance(refused, Forbidden) and "until" in refused.message
    assert isinstance(send(store, viewer, channel, now=now + timedelta(seconds=60)), MessageSent)
    # An unban after the timeout ran out has nothing to lift.
    assert not store.get(channel.id, Channel).unban(viewer.id, by=mod.id,
                                                    now=now + timedelta(seconds=61))


def test_who_may_ban(store: EventStore, world: World, live: tuple[Channel, User, User]) -> None:
    channel, mod, viewer = live
    other_mod = world.user("othermod")
    world.grant(channel, other_mod)
    elsewhere = world.channel(world.user("elsewhere"), "elsewhere-tv")

    def ban(actor: User, target: User, in_channel: Channel = channel, **kw: object) -> None:
        ban_user(BanUser(actor_id=actor.id, channel_id=in_channel.id, user_id=target.id,
                         **kw), store)  # type: ignore[arg-type]

    owner = store.get(channel.owner_id, User)
    with pytest.raises(Forbidden):
        ban(viewer, mod)  # a viewer
    with pytest.raises(Forbidden):
        ban(mod, owner)  # the owner
    with pytest.raises(Forbidden):
        ban(mod, other_mod)  # another moderator
    with pytest.raises(Forbidden):
        ban(mod, viewer, elsewhere)  # a moderator of another channel
    with pytest.raises(Invalid):
        ban(mod, mod)
    with pytest.raises(Invalid):
        ban(mod, viewer, duration_s=0)
    with pytest.raises(Invalid):
        ban(mod, viewer, reason="x" * 501)
    with pytest.raises(Forbidden):
        unban_user(UnbanUser(actor_id=viewer.id, channel_id=channel.id, user_id=viewer.id),
                   store)
    head = store.head()
    ban(owner, other_mod)  # the owner may: the moderator stops being one
    assert event_names_after(world, head) == ["Channel.ModeratorRevoked", "Channel.UserBanned"]
    assert not store.get(channel.id, Channel).may_moderate(other_mod.id)


def test_filters_refuse_with_their_code(store: EventStore, world: World,
                                        live: tuple[Channel, User, User]) -> None:
    channel, mod, viewer = live
    with pytest.raises(Forbidden):
        set_channel_filters(SetChannelFilters(actor_id=viewer.id, channel_id=channel.id,
                                              filters=ChatFilters()), store)
    assert set_channel_filters(SetChannelFilters(
        actor_id=mod.id, channel_id=channel.id, filters=ChatFilters()), store).position == 0
    set_channel_filters(SetChannelFilters(actor_id=mod.id, channel_id=channel.id, filters=(
        ChatFilters(blocked_terms=("free",), block_links=True))), store)
    for content, code in [("fr33 stuff", "filtered"), ("see example.com", "links_blocked"),
                          ("sh1t", "filtered")]:
        refused = send(store, viewer, channel, content)
        assert isinstance(refused, Filtered) and refused.code == code, content
    assert isinstance(send(store, mod, channel, "see example.com"), MessageSent)
    refused = send(store, mod, channel, "FREE")  # blocked terms bind everyone
    assert isinstance(refused, Filtered)


def test_slow_mode_and_followers_only(store: EventStore, world: World,
                                      live: tuple[Channel, User, User]) -> None:
    channel, mod, viewer = live
    set_channel_filters(SetChannelFilters(actor_id=channel.owner_id, channel_id=channel.id,
                                          filters=ChatFilters(slow_mode_s=30)), store)
    clock, now = LastSent(), datetime.now(UTC)
    assert isinstance(send(store, viewer, channel, now=now, last_sent=clock), MessageSent)
    refused = send(store, viewer, channel, now=now + timedelta(seconds=5), last_sent=clock)
    assert isinstance(refused, Filtered) and refused.code == "slow_mode"
    assert isinstance(send(store, viewer, channel, now=now + timedelta(seconds=31),
                           last_sent=clock), MessageSent)
    for _ in range(2):  # moderators are exempt
        assert isinstance(send(store, mod, channel, now=now, last_sent=clock), MessageSent)

    set_channel_filters(SetChannelFilters(actor_id=channel.owner_id, channel_id=channel.id,
                                          filters=ChatFilters(followers_only=True,
                                                              follow_min_age_s=60)), store)
    refused = send(store, viewer, channel)
    assert isinstance(refused, Filtered) and refused.code == "followers_only"
    follow(FollowTarget(actor_id=viewer.id, target_kind="channel", target_id=channel.id), store)
    assert isinstance(send(store, viewer, channel), Filtered)  # too new a follower
    later = datetime.now(UTC) + timedelta(seconds=61)
    assert isinstance(send(store, viewer, channel, now=later), MessageSent)
    assert isinstance(send(store, mod, channel), MessageSent)


def test_unknown_channel_or_user(store: EventStore, live: tuple[Channel, User, User]) -> None:
    channel, mod, viewer = live
    with pytest.raises(NotFound):
        ban_user(BanUser(actor_id=mod.id, channel_id=uuid4(), user_id=viewer.id), store)
    with pytest.raises(NotFound):
        ban_user(BanUser(actor_id=mod.id, channel_id=channel.id, user_id=uuid4()), store)


def test_reports_resolve_once_with_an_action(store: EventStore, world: World,
                                             live: tuple[Channel, User, User]) -> None:
    channel, mod, viewer = live
    troll = world.user("troll")
    message = world.say(troll, stream_of(store, channel), "nasty")  # type: ignore[arg-type]
    with pytest.raises(Invalid):
        file_report(FileReport(reporter_id=troll.id, message_id=message.id, reason="me"), store)
    with pytest.raises(Invalid):
        file_report(FileReport(reporter_id=viewer.id, reason="nothing named"), store)
    filed = file_report(FileReport(reporter_id=viewer.id, message_id=message.id,
                                   reason="  abuse  "), store).report
    assert (filed.user_id, filed.channel_id, filed.content, filed.reason) == (
        troll.id, channel.id, "nasty", "abuse")
    with pytest.raises(NotFound):  # a viewer does not resolve; the report is not theirs to see
        resolve_report(ResolveReport(actor_id=viewer.id, report_id=filed.id, action="ban"),
                       store)
    head = store.head()
    done = resolve_report(ResolveReport(actor_id=mod.id, report_id=filed.id, action="timeout",
                                        duration_s=60), store)
    assert done.until is not None
    assert event_types_after(world, head) == ["Report.Resolved", "Channel.UserBanned"]
    with pytest.raises(Conflict):
        resolve_report(ResolveReport(actor_id=mod.id, report_id=filed.id, action="dismiss"),
                       store)


def test_ignores_are_idempotent(store: EventStore, world: World) -> None:
    me, them = world.user("ignorer"), world.user("ignored")
    with pytest.raises(Invalid):
        ignore_user(IgnoreUser(actor_id=me.id, user_id=me.id), store)
    assert ignore_user(IgnoreUser(actor_id=me.id, user_id=them.id, ignore=False), store) == 0
    head = store.head()
    for ignore in (True, True, False, False, True):
        ignore_user(IgnoreUser(actor_id=me.id, user_id=them.id, ignore=ignore), store)
    assert event_types_after(world, head) == ["Ignore.Started", "Ignore.Stopped",
                                              "Ignore.Restarted"]
    assert store.get(Ignore.create_id(me.id, them.id), Ignore).active


def event_types_after(world: World, after: int) -> list[str]:
    return [e.type for e in world.log(after)]


def test_subscribers_get_a_badge(store: EventStore, world: World,
                                 live: tuple[Channel, User, User]) -> None:
    channel, mod, viewer = live
    cache, now = SubscriberCache(), datetime.now(UTC)

    def badges(user: User, at: datetime) -> list[str]:
        sid = store.get(channel.id, Channel).current_stream_id
        result = send_messages([SendMessage(stream_id=sid, author=author(user),  # type: ignore[arg-type]
                                            content="hi")], store, now=at, subscribers=cache)[0]
        assert isinstance(result, MessageSent)
        return result.message.badges

    assert badges(viewer, now) == []
    subscribe(Subscribe(user_id=viewer.id, channel_id=channel.id, tier="BASIC"), store, now=now)
    subscribe(Subscribe(user_id=mod.id, channel_id=channel.id, tier="VIP"), store, now=now)
    assert badges(viewer, now) == []  # the answer is kept for a minute
    later = now + timedelta(seconds=61)
    assert badges(viewer, later) == ["subscriber"]
    assert badges(mod, later) == ["moderator", "subscriber"]
    assert SubscriberCache().is_subscriber(store, viewer.id, channel.id, now + timedelta(days=31)
                                           ) is False  # past its renewal date


def test_remove_messages_takes_only_the_banned_users(
        store: EventStore, world: World, live: tuple[Channel, User, User]) -> None:
    channel, mod, viewer = live
    sid = stream_of(store, channel)
    theirs = world.say(viewer, sid, "late spam")  # type: ignore[arg-type]
    other = world.say(mod, sid, "stays")  # type: ignore[arg-type]
    cmd = RemoveMessages(actor_id=viewer.id, channel_id=channel.id, user_id=viewer.id,
                         message_ids=(theirs.id,))
    with pytest.raises(Forbidden):
        remove_messages(cmd, store)
    removed = remove_messages(RemoveMessages(actor_id=mod.id, channel_id=channel.id,
                                             user_id=viewer.id,
                                             message_ids=(theirs.id, other.id, theirs.id)),
                              store)
    assert [m.id for m in removed] == [theirs.id]
    assert store.get(theirs.id, ChatMessage).is_deleted
    assert not store.get(other.id, ChatMessage).is_deleted


def test_a_session_hides_ignored_users_also_inside_a_rooms_batch() -> None:
    session = ChatSession(None, max_queue=100)
    session.ignored = {"troll"}

    def message(user: str, position: int) -> Outgoing:
        return Outgoing("chat:message", {"user": {"id": user}, "position": position})

    shared = Batch([message("friend", 1), message("friend", 2)])
    mixed = Batch([message("troll", 3), message("friend", 4), Outgoing("chat:typing",
                                                                       {"userId": "troll"})])
    session.deliver([shared, mixed, message("troll", 5), Outgoing("chat:deleted", {})])
    frames = list(session.frames)
    assert frames[0] is shared  # nothing hidden: the room's frame is sent as it is
    assert [o.data["position"] for o in frames[1].items] == [4]  # type: ignore[attr-defined]
    assert [f.event for f in frames[2:]] == ["chat:deleted"]


def test_a_ban_removes_the_recent_messages_and_those_sent_while_it_was_decided(
        store: EventStore, world: World, live: tuple[Channel, User, User]) -> None:
    """What the chat history holds goes in the ban's transaction; a message the history
    only shows after the ban was saved goes right after, in the same command."""
    channel, mod, viewer = live
    sid = stream_of(store, channel)
    early = world.say(viewer, sid, "early")  # type: ignore[arg-type]
    late = world.say(viewer, sid, "late")  # type: ignore[arg-type]
    asked: list[tuple[UUID, UUID]] = []

    def recent(stream_id: UUID, user_id: UUID, since: datetime) -> list[UUID]:
        asked.append((stream_id, user_id))
        assert datetime.now(UTC) - since >= timedelta(minutes=9)
        return [early.id] if len(asked) == 1 else [early.id, late.id]

    head = store.head()
    result = ban_user(BanUser(actor_id=mod.id, channel_id=channel.id, user_id=viewer.id),
                      store, recent)
    assert asked == [(sid, viewer.id)] * 2
    assert [m.id for m in result.removed] == [early.id, late.id]
    assert event_names_after(world, head) == [
        "Channel.UserBanned", "ChatMessage.Deleted", "ChatMessage.Deleted"]
    assert store.get(late.id, ChatMessage).is_deleted
