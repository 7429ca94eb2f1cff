"""SendMessage (one and batched) and DeleteMessage against a real store."""

from __future__ import annotations

from typing import Any
from uuid import UUID, uuid4

import pytest

from commands.delete_message import DeleteMessage, delete_message
from commands.end_stream import EndStream, end_stream
from commands.ports import Begun
from commands.revoke_moderator import RevokeModerator, revoke_moderator
from commands.send_message import MessageSent, SendMessage, send_message, send_messages
from domain.channel import Channel
from domain.chat import ChatMessage
from domain.errors import Conflict, DomainError, Forbidden, Invalid, NotFound
from domain.stream import Stream
from domain.user import User
from infra.eventstore.envelope import runs
from infra.eventstore.event_store import EventStore

from .support import World, author


def send(store: EventStore, user: User, stream_id: UUID, content: str) -> MessageSent:
    return send_message(SendMessage(stream_id=stream_id, author=author(user), content=content),
                        store)


# -- SendMessage --------------------------------------------------------------------------

def test_send_message_cleans_and_saves(
    store: EventStore, world: World, channel: Channel
) -> None:
    stream = world.live_stream(channel)
    viewer = world.user("viewer")
    result = send(store, viewer, stream.id, "  hi\tthere\x00 \n")
    assert result.position == store.head()
    message = store.get(result.message.id, ChatMessage)
    assert message.content == "hi there"
    assert (message.stream_id, message.channel_id, message.author_id) == (
        stream.id, channel.id, viewer.id
    )
    assert (message.username, message.display_name) == ("viewer", "viewer")
    [envelope] = world.log(store.head() - 1)
    assert envelope.type == "ChatMessage.Sent"
    assert envelope.channel_id == str(channel.id)


def test_badges(store: EventStore, world: World, owner: User, channel: Channel) -> None:
    stream = world.live_stream(channel)
    mod, viewer, elsewhere_mod, ex_mod = (world.user(n) for n in ("mod", "viewer", "emod", "xmod"))
    world.grant(channel, mod)
    world.grant(world.channel(viewer, "viewers-tv"), elsewhere_mod)
    world.grant(channel, ex_mod)
    revoke_moderator(RevokeModerator(actor_id=owner.id, channel_id=channel.id,
                                     user_id=ex_mod.id), store)
    expected = [(owner, ["broadcaster"]), (mod, ["moderator"]), (viewer, []),
                (elsewhere_mod, []), (ex_mod, [])]
    for user, badges in expected:
        message = send(store, user, stream.id, "hello").message
        assert store.get(message.id, ChatMessage).badges == badges, user.username


def test_send_to_an_unknown_stream_is_not_found(store: EventStore, owner: User) -> None:
    with pytest.raises(NotFound) as info:
        send(store, owner, uuid4(), "hello")
    assert info.value.field == "streamId"
    assert store.head() == 3


def test_send_to_a_channel_id_is_not_found(
    store: EventStore, owner: User, channel: Channel
) -> None:
    with pytest.raises(NotFound) as info:
        send(store, owner, channel.id, "hello")  # an id, but not a stream's
    assert info.value.field == "streamId"


def test_send_to_an_ended_stream_is_a_conflict(
    store: EventStore, world: World, owner: User, channel: Channel
) -> None:
    stream = world.live_stream(channel)
    end_stream(EndStream(actor_id=owner.id, stream_id=stream.id), store)
    head = store.head()
    with pytest.raises(Conflict) as info:
        send(store, owner, stream.id, "anyone there?")
    assert info.value.field == "streamId"
    assert "ended" in info.value.message
    assert store.head() == head


def test_send_to_an_offline_stream_is_a_conflict(
    store: EventStore, owner: User, channel: Channel
) -> None:
    stream = Stream(channel_id=channel.id, owner_id=owner.id, title="soon")
    store.save(stream)
    with pytest.raises(Conflict) as info:
        send(store, owner, stream.id, "early")
    assert "not live" in info.value.message


@pytest.mark.parametrize("content", ["", "   ", "\x00\x01", "x" * 501])
def test_send_invalid_content(
    store: EventStore, world: World, owner: User, channel: Channel, content: str
) -> None:
    stream = world.live_stream(channel)
    head = store.head()
    with pytest.raises(Invalid) as info:
        send(store, owner, stream.id, content)
    assert info.value.field == "content"
    assert store.head() == head


# -- send_messages: the group-commit batch ------------------------------------------------

def test_batch_gives_each_command_its_own_result_and_saves_once(
    store: EventStore, world: World, owner: User, channel: Channel
) -> None:
    other_owner = world.user("other")
    a = world.live_stream(channel)
    b = world.live_stream(world.channel(other_owner, "other-tv"))
    ended = world.live_stream(world.channel(other_owner, "third-tv"))
    end_stream(EndStream(actor_id=other_owner.id, stream_id=ended.id), store)
    viewer = world.user("viewer")

    submitted: list[tuple[UUID, str]] = [
        (a.id, "a1"),
        (b.id, "b1"),
        (a.id, "   "),
        (a.id, "a2"),
        (b.id, "b2"),
        (uuid4(), "nowhere"),
        (ended.id, "too late"),
        (a.id, "a3"),
        (b.id, "b3"),
    ]
    cmds = [SendMessage(stream_id=s, author=author(viewer), content=c) for s, c in submitted]
    saves: list[int] = []
    store.on_saved(saves.append)
    head = store.head()

    results = send_messages(cmds, store)

    assert len(results) == len(cmds)
    kinds = [type(r) for r in results]
    assert kinds == [MessageSent, MessageSent, Invalid, MessageSent, MessageSent, NotFound,
                     Conflict, MessageSent, MessageSent]
    assert results[5].field == "streamId"  # type: ignore[union-attr]
    assert results[6].field == "streamId"  # type: ignore[union-attr]
    sent = [(cmd, r) for cmd, r in zip(cmds, results, strict=True) if isinstance(r, MessageSent)]
    for cmd, r in sent:  # each result is the message of its own command
        assert (r.message.stream_id, r.message.content) == (cmd.stream_id, cmd.content)

    # ONE transaction: one save, consecutive positions, nothing else in between.
    assert len(saves) == 1
    positions = sorted(r.position for _, r in sent)
    assert positions == list(range(head + 1, head + 1 + len(sent)))
    assert saves == [store.head()] == [positions[-1]]

    # Each stream's messages side by side in the log, in submission order within a stream.
    log = world.log(head)
    assert [e.position for e in log] == positions
    assert len(runs(log)) == 2
    by_stream = [(e.data["stream_id"], e.data["content"]) for e in log]
    assert [c for s, c in by_stream if s == str(a.id)] == ["a1", "a2", "a3"]
    assert [c for s, c in by_stream if s == str(b.id)] == ["b1", "b2", "b3"]
    stream_order = [s for s, _ in by_stream]
    assert stream_order == sorted(stream_order, key=stream_order.index)  # grouped
    for _, r in sent:
        assert next(e for e in log if e.aggregate_id == str(r.message.id)).position == r.position


def test_batch_of_only_refusals_saves_nothing(store: EventStore, owner: User) -> None:
    saves: list[int] = []
    store.on_saved(saves.append)
    results = send_messages(
        [SendMessage(stream_id=uuid4(), author=author(owner), content="x") for _ in range(3)],
        store,
    )
    assert [type(r) for r in results] == [NotFound] * 3
    assert saves == []


def test_empty_batch(store: EventStore) -> None:
    assert send_messages([], store) == []


class OneByOneStore:
    """The real store, except that a batch save fails (as on a clash with a concurrent
    writer), and saving a message whose content is "boom" fails too."""

    def __init__(self, store: EventStore, fails: str = "at start") -> None:
        self.store = store
        self.fails = fails
        self.single_saves = 0

    def get(self, aggregate_id: UUID, kind: type[Any], *, what: str | None = None) -> Any:
        return self.store.get(aggregate_id, kind, what=what)

    def find(self, aggregate_id: UUID, kind: type[Any]) -> Any:
        return self.store.find(aggregate_id, kind)

    def save(self, *aggregates: Any) -> int:
        self.single_saves += 1
        if any(getattr(a, "content", None) == "boom" for a in aggregates):
            raise Conflict("simulated clash")
        return self.store.save(*aggregates)

    def save_each(self, *aggregates: Any) -> list[int]:
        return self.start_save_each(*aggregates)()

    def start_save_each(self, *aggregates: Any) -> Any:
        if self.fails == "at start":
            raise Conflict("simulated batch clash")
        # Sent, then refused when the database answers: the store gives the aggregates
        # their events back, as the real one does.
        taken = [(a, a.collect_events()) for a in aggregates]

        def refused() -> list[int]:
            for a, pending in taken:
                a.pending_events[:0] = pending
            raise Conflict("simulated batch clash")
        return Begun(refused)


@pytest.mark.parametrize("fails", ["at start", "when the database answers"])
def test_batch_falls_back_to_one_save_per_message_when_the_batch_save_fails(
    store: EventStore, world: World, owner: User, channel: Channel, fails: str
) -> None:
    stream = world.live_stream(channel)
    flaky = OneByOneStore(store, fails)
    contents = ["one", "boom", "three"]
    results = send_messages(
        [SendMessage(stream_id=stream.id, author=author(owner), content=c) for c in contents],
        flaky,
    )
    assert flaky.single_saves == 3
    assert isinstance(results[0], MessageSent) and isinstance(results[2], MessageSent)
    assert isinstance(results[1], Conflict)
    assert results[2].position == results[0].position + 1 == store.head()
    assert store.find(results[0].message.id, ChatMessage) is not None


# -- DeleteMessage ------------------------------------------------------------------------

@pytest.fixture
def chat(world: World, owner: User, channel: Channel) -> dict[str, Any]:
    stream = world.live_stream(channel)
    users = {name: world.user(name) for name in ("author", "mod", "stranger", "othermod")}
    world.grant(channel, users["mod"])
    world.grant(world.channel(users["stranger"], "stranger-tv"), users["othermod"])
    message = world.say(users["author"], stream.id, "delete me")
    return {"owner": owner, "message": message, **users}


@pytest.mark.parametrize("actor", ["author", "owner", "mod"])
def test_delete_message_allowed(store: EventStore, chat: dict[str, Any], actor: str) -> None:
    by: User = chat[actor]
    message: ChatMessage = chat["message"]
    result = delete_message(DeleteMessage(actor_id=by.id, message_id=message.id), store)
    assert result.position == store.head()
    loaded = store.get(message.id, ChatMessage)
    assert loaded.is_deleted and loaded.deleted_by == by.id


@pytest.mark.parametrize("actor", ["stranger", "othermod"])
def test_delete_message_forbidden(store: EventStore, chat: dict[str, Any], actor: str) -> None:
    message: ChatMessage = chat["message"]
    head = store.head()
    with pytest.raises(Forbidden):
        delete_message(DeleteMessage(actor_id=chat[actor].id, message_id=message.id), store)
    assert store.head() == head
    assert not store.get(message.id, ChatMessage).is_deleted


def test_delete_message_is_idempotent(store: EventStore, chat: dict[str, Any]) -> None:
    message: ChatMessage = chat["message"]
    first = delete_message(DeleteMessage(actor_id=chat["author"].id, message_id=message.id),
                           store)
    assert first.position == store.head()
    again = delete_message(DeleteMessage(actor_id=chat["mod"].id, message_id=message.id), store)
    assert again.position == 0
    assert store.head() == first.position
    assert store.get(message.id, ChatMessage).deleted_by == chat["author"].id


def test_delete_unknown_message_is_not_found(store: EventStore, owner: User) -> None:
    with pytest.raises(NotFound) as info:
        delete_message(DeleteMessage(actor_id=owner.id, message_id=uuid4()), store)
    assert info.value.message.startswith("message ")


def test_messages_can_be_deleted_after_the_stream_ended(
    store: EventStore, world: World, chat: dict[str, Any]
) -> None:
    message: ChatMessage = chat["message"]
    end_stream(EndStream(actor_id=chat["owner"].id, stream_id=message.stream_id), store)
    result = delete_message(DeleteMessage(actor_id=chat["mod"].id, message_id=message.id), store)
    assert result.position == store.head()


def test_domain_errors_are_exceptions_with_codes() -> None:
    assert issubclass(NotFound, DomainError) and NotFound.code == "not_found"
    assert (Forbidden.code, Conflict.code, Invalid.code) == ("forbidden", "conflict", "invalid")
