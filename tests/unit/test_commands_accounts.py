"""RegisterUser, CreateChannel, UpdateChannel, Grant/RevokeModerator against a real store."""

from __future__ import annotations

from typing import Any
from uuid import UUID, uuid4

import pytest

from commands.create_channel import CreateChannel, create_channel
from commands.grant_moderator import GrantModerator, grant_moderator
from commands.register_user import RegisterUser, register_user
from commands.revoke_moderator import RevokeModerator, revoke_moderator
from commands.update_channel import UpdateChannel, update_channel
from domain.channel import Channel
from domain.errors import Conflict, Forbidden, Invalid, NotFound
from domain.unique_name import UniqueName
from domain.user import User
from infra.eventstore.event_store import EventStore

from .support import PASSWORD, FakeHasher, World, event_names


class BlindFinds:
    """A store whose `find` sees nothing: the command's pre-check passes, as it would for
    the loser of a race, and only the save can catch the clash."""

    def __init__(self, store: EventStore) -> None:
        self.store = store

    def get(self, aggregate_id: UUID, kind: type[Any], *, what: str | None = None) -> Any:
        return self.store.get(aggregate_id, kind, what=what)

    def find(self, aggregate_id: UUID, kind: type[Any]) -> None:
        return None

    def save(self, *aggregates: Any) -> int:
        return self.store.save(*aggregates)

    def save_each(self, *aggregates: Any) -> list[int]:
        return self.store.save_each(*aggregates)

    def start_save_each(self, *aggregates: Any) -> Any:
        return self.store.start_save_each(*aggregates)


# -- RegisterUser -------------------------------------------------------------------------

def test_register_user_saves_the_user_and_both_claims(
    store: EventStore, hasher: FakeHasher
) -> None:
    cmd = RegisterUser(email=" Alice@Example.COM ", username="Alice", password=PASSWORD)
    result = register_user(cmd, store, hasher)
    assert result.position == store.head() == 3
    user = store.get(result.user.id, User)
    assert (user.email, user.username, user.display_name) == (
        "alice@example.com", "alice", "Alice"  # display name falls back to the raw username
    )
    assert hasher.hashed == [PASSWORD]
    assert user.password_hash is not None and hasher.verify(user.password_hash, PASSWORD)
    assert PASSWORD not in user.password_hash
    for kind, name in (("email", "alice@example.com"), ("username", "alice")):
        claim = store.get(UniqueName.create_id(kind, name), UniqueName)
        assert claim.owner_id == user.id


def test_register_user_keeps_a_given_display_name(store: EventStore, hasher: FakeHasher) -> None:
    cmd = RegisterUser(email="b@x.io", username="bob", password=PASSWORD, display_name=" Bobby ")
    assert register_user(cmd, store, hasher).user.display_name == "Bobby"


@pytest.mark.parametrize(
    ("email", "username", "field"),
    [
        ("ALICE@example.com", "someone_else", "email"),
        ("alice@example.com", "someone_else", "email"),
        ("other@example.com", "ALICE", "username"),
        ("other@example.com", " alice ", "username"),
    ],
)
def test_register_user_duplicates_are_conflicts(
    store: EventStore, hasher: FakeHasher, email: str, username: str, field: str
) -> None:
    register_user(RegisterUser(email="Alice@Example.com", username="Alice", password=PASSWORD),
                  store, hasher)
    head = store.head()
    with pytest.raises(Conflict) as info:
        register_user(RegisterUser(email=email, username=username, password=PASSWORD),
                      store, hasher)
    assert info.value.field == field
    assert store.head() == head


def test_register_user_that_loses_a_race_is_a_conflict(
    store: EventStore, hasher: FakeHasher
) -> None:
    register_user(RegisterUser(email="a@x.io", username="alice", password=PASSWORD), store, hasher)
    head = store.head()
    with pytest.raises(Conflict) as info:
        register_user(RegisterUser(email="b@x.io", username="ALICE", password=PASSWORD),
                      BlindFinds(store), hasher)
    assert info.value.field == "username"
    assert store.head() == head  # the user and the email claim were not saved either
    assert store.find(UniqueName.create_id("email", "b@x.io"), UniqueName) is None


@pytest.mark.parametrize(
    ("password", "ok"),
    [("x" * 7, False), ("x" * 8, True), ("x" * 128, True), ("x" * 129, False), ("", False)],
)
def test_register_user_password_length(
    store: EventStore, hasher: FakeHasher, password: str, ok: bool
) -> None:
    cmd = RegisterUser(email="a@x.io", username="alice", password=password)
    if ok:
        assert register_user(cmd, store, hasher).position > 0
    else:
        with pytest.raises(Invalid) as info:
            register_user(cmd, store, hasher)
        assert info.value.field == "password"
        assert store.head() == 0
        assert hasher.hashed == []


@pytest.mark.parametrize(
    ("email", "username", "display_name", "field"),
    [
        ("not-an-email", "alice", None, "email"),
        ("a@x.io", "a!", None, "username"),
        ("a@x.io", "alice", "x" * 51, "displayName"),
    ],
)
def test_register_user_invalid_fields(
    store: EventStore, hasher: FakeHasher, email: str, username: str,
    display_name: str | None, field: str,
) -> None:
    cmd = RegisterUser(email=email, username=username, password=PASSWORD,
                       display_name=display_name)
    with pytest.raises(Invalid) as info:
        register_user(cmd, store, hasher)
    assert info.value.field == field
    assert store.head() == 0


# -- CreateChannel ------------------------------------------------------------------------

def test_create_channel(store: EventStore, owner: User) -> None:
    cmd = CreateChannel(owner_id=owner.id, slug=" My-Channel ", name="  My channel ",
                        description=" about ", category=" Games ", tags=["RPG", "rpg", " Indie"],
                        is_public=False)
    result = create_channel(cmd, store)
    assert result.position == store.head()
    channel = store.get(result.channel.id, Channel)
    assert (channel.slug, channel.name, channel.description, channel.category) == (
        "my-channel", "My channel", "about", "games"
    )
    assert channel.tags == ["rpg", "indie"]
    assert channel.is_public is False
    assert channel.owner_id == owner.id
    assert channel.stream_key.startswith("live_")
    assert channel.current_stream_id is None
    claim = store.get(UniqueName.create_id("slug", "my-channel"), UniqueName)
    assert claim.owner_id == channel.id


def test_create_channel_defaults(store: EventStore, owner: User) -> None:
    channel = create_channel(CreateChannel(owner_id=owner.id, slug="abc", name="A"), store).channel
    assert (channel.category, channel.tags, channel.is_public, channel.description) == (
        "just-chatting", [], True, ""
    )


def test_each_channel_gets_its_own_stream_key(world: World, owner: User) -> None:
    assert world.channel(owner, "one").stream_key != world.channel(owner, "two").stream_key


@pytest.mark.parametrize("slug", ["owner-tv", "OWNER-TV", "  Owner-Tv "])
def test_create_channel_with_a_taken_slug_is_a_conflict(
    store: EventStore, world: World, channel: Channel, slug: str
) -> None:
    other = world.user("other")
    head = store.head()
    with pytest.raises(Conflict) as info:
        create_channel(CreateChannel(owner_id=other.id, slug=slug, name="Mine"), store)
    assert info.value.field == "slug"
    assert store.head() == head


def test_create_channel_that_loses_the_slug_race_is_a_conflict(
    store: EventStore, channel: Channel, owner: User
) -> None:
    head = store.head()
    with pytest.raises(Conflict) as info:
        create_channel(CreateChannel(owner_id=owner.id, slug="owner-tv", name="Again"),
                       BlindFinds(store))
    assert info.value.field == "slug"
    assert store.head() == head


def test_create_channel_for_an_unknown_owner_is_not_found(store: EventStore) -> None:
    with pytest.raises(NotFound) as info:
        create_channel(CreateChannel(owner_id=uuid4(), slug="abc", name="A"), store)
    assert info.value.message.startswith("user ")
    assert store.head() == 0


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"slug": "-bad"}, "slug"),
        ({"name": "   "}, "name"),
        ({"name": "x" * 81}, "name"),
        ({"description": "x" * 2001}, "description"),
        ({"category": ""}, "category"),
        ({"category": "x" * 41}, "category"),
        ({"tags": ["x" * 26]}, "tags"),
    ],
)
def test_create_channel_invalid_fields(
    store: EventStore, owner: User, changes: dict[str, Any], field: str
) -> None:
    fields: dict[str, Any] = {"slug": "good", "name": "Good"} | changes
    head = store.head()
    with pytest.raises(Invalid) as info:
        create_channel(CreateChannel(owner_id=owner.id, **fields), store)
    assert info.value.field == field
    assert store.head() == head


# -- UpdateChannel ------------------------------------------------------------------------

def test_update_channel_by_the_owner(store: EventStore, owner: User, channel: Channel) -> None:
    cmd = UpdateChannel(actor_id=owner.id, channel_id=channel.id, name=" Renamed ",
                        tags=["A", "a", "B"], is_public=False)
    result = update_channel(cmd, store)
    assert result.position == store.head()
    loaded = store.get(channel.id, Channel)
    assert (loaded.name, loaded.tags, loaded.is_public) == ("Renamed", ["a", "b"], False)
    assert loaded.description == channel.description  # untouched
    assert loaded.slug == "owner-tv"


def test_update_channel_with_nothing_saves_nothing(
    store: EventStore, owner: User, channel: Channel
) -> None:
    head = store.head()
    result = update_channel(UpdateChannel(actor_id=owner.id, channel_id=channel.id), store)
    assert result.position == 0
    assert store.head() == head


def test_update_channel_by_a_non_owner_is_forbidden(
    store: EventStore, world: World, channel: Channel
) -> None:
    mod = world.user("mod")
    world.grant(channel, mod)  # even a moderator may not
    head = store.head()
    for actor in (mod.id, uuid4()):
        with pytest.raises(Forbidden):
            update_channel(UpdateChannel(actor_id=actor, channel_id=channel.id, name="Mine"),
                           store)
    assert store.head() == head
    assert store.get(channel.id, Channel).name == channel.name


def test_update_channel_invalid_name(store: EventStore, owner: User, channel: Channel) -> None:
    with pytest.raises(Invalid) as info:
        update_channel(UpdateChannel(actor_id=owner.id, channel_id=channel.id, name=""), store)
    assert info.value.field == "name"


def test_update_unknown_channel_is_not_found(store: EventStore, owner: User) -> None:
    with pytest.raises(NotFound):
        update_channel(UpdateChannel(actor_id=owner.id, channel_id=uuid4(), name="x"), store)


# -- moderators ---------------------------------------------------------------------------

def test_grant_and_revoke_moderator(store: EventStore, world: World, owner: User,
                                    channel: Channel) -> None:
    mod = world.user("mod")
    grant = GrantModerator(actor_id=owner.id, channel_id=channel.id, user_id=mod.id)
    first = grant_moderator(grant, store)
    assert first == store.head()
    assert grant_moderator(grant, store) == 0  # idempotent: nothing saved
    assert store.get(channel.id, Channel).moderator_ids == {mod.id}

    revoke = RevokeModerator(actor_id=owner.id, channel_id=channel.id, user_id=mod.id)
    assert revoke_moderator(revoke, store) == store.head() > first
    assert revoke_moderator(revoke, store) == 0
    assert store.get(channel.id, Channel).moderator_ids == set()
    assert event_names(
        [store.app.mapper.to_domain_event(n)
         for n in store.app.recorder.select_events(channel.id)]
    ) == ["Channel.Created", "Channel.ModeratorGranted", "Channel.ModeratorRevoked"]


def test_only_the_owner_grants_or_revokes(store: EventStore, world: World,
                                          channel: Channel) -> None:
    mod, other = world.user("mod"), world.user("other")
    world.grant(channel, mod)
    with pytest.raises(Forbidden):
        grant_moderator(GrantModerator(actor_id=mod.id, channel_id=channel.id,
                                       user_id=other.id), store)
    with pytest.raises(Forbidden):
        revoke_moderator(RevokeModerator(actor_id=mod.id, channel_id=channel.id,
                                         user_id=mod.id), store)
    assert store.get(channel.id, Channel).moderator_ids == {mod.id}


def test_grant_to_an_unknown_user_or_the_owner(store: EventStore, owner: User,
                                               channel: Channel) -> None:
    with pytest.raises(NotFound):
        grant_moderator(GrantModerator(actor_id=owner.id, channel_id=channel.id,
                                       user_id=uuid4()), store)
    with pytest.raises(Invalid) as info:
        grant_moderator(GrantModerator(actor_id=owner.id, channel_id=channel.id,
                                       user_id=owner.id), store)
    assert info.value.field == "userId"
