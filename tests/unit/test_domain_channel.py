"""The Channel aggregate: one current stream, moderators, owner-only decisions, and the
slug and tag rules."""

from __future__ import annotations

from uuid import UUID, uuid4

import pytest

from domain.channel import MAX_TAGS, Channel, clean_tags, new_stream_key, normalise_slug
from domain.errors import Conflict, Forbidden, Invalid

from .support import event_names


def make_channel(owner_id: UUID | None = None) -> Channel:
    channel = Channel(
        owner_id=owner_id or uuid4(),
        slug="some-channel",
        name="Some channel",
        description="about",
        category="games",
        tags=["speedrun"],
        is_public=True,
        stream_key=new_stream_key(),
    )
    channel.collect_events()
    return channel


def test_created_event_carries_the_fields_and_state_starts_empty() -> None:
    owner = uuid4()
    channel = Channel(owner_id=owner, slug="s-s", name="n", description="d", category="c",
                      tags=["a"], is_public=False, stream_key="live_k")
    [created] = channel.collect_events()
    assert type(created).__qualname__ == "Channel.Created"
    assert created.stream_key == "live_k"  # type: ignore[attr-defined]
    assert channel.owner_id == owner and channel.is_public is False
    assert channel.current_stream_id is None
    assert channel.moderator_ids == set()


# -- going live -----------------------------------------------------------------------------

def test_go_live_records_the_stream() -> None:
    channel = make_channel()
    stream_id = uuid4()
    channel.go_live(stream_id)
    [event] = channel.collect_events()
    assert type(event).__qualname__ == "Channel.WentLive"
    assert event.stream_id == stream_id  # type: ignore[attr-defined]
    assert channel.current_stream_id == stream_id


def test_go_live_twice_is_a_conflict_and_keeps_the_first_stream() -> None:
    channel = make_channel()
    first = uuid4()
    channel.go_live(first)
    channel.collect_events()
    with pytest.raises(Conflict) as info:
        channel.go_live(uuid4())
    assert info.value.field == "channelId"
    assert channel.current_stream_id == first
    assert channel.collect_events() == []


def test_go_offline_clears_the_matching_stream() -> None:
    channel = make_channel()
    stream_id = uuid4()
    channel.go_live(stream_id)
    channel.collect_events()
    channel.go_offline(stream_id)
    assert event_names(channel.collect_events()) == ["Channel.WentOffline"]
    assert channel.current_stream_id is None


def test_go_offline_for_another_stream_changes_nothing() -> None:
    channel = make_channel()
    current = uuid4()
    channel.go_live(current)
    channel.collect_events()
    channel.go_offline(uuid4())
    assert channel.collect_events() == []
    assert channel.current_stream_id == current


def test_go_offline_when_not_live_records_nothing() -> None:
    channel = make_channel()
    channel.go_offline(uuid4())
    assert channel.collect_events() == []


def test_go_live_again_after_going_offline() -> None:
    channel = make_channel()
    first, second = uuid4(), uuid4()
    channel.go_live(first)
    channel.go_offline(first)
    channel.go_live(second)
    assert channel.current_stream_id == second
    assert event_names(channel.collect_events()) == [
        "Channel.WentLive", "Channel.WentOffline", "Channel.WentLive"
    ]


# -- moderators ---------------------------------------------------------------------------

def test_grant_moderator_is_idempotent() -> None:
    channel = make_channel()
    mod = uuid4()
    channel.grant_moderator(mod)
    channel.grant_moderator(mod)
    assert event_names(channel.collect_events()) == ["Channel.ModeratorGranted"]
    assert channel.moderator_ids == {mod}


def test_revoke_moderator_is_idempotent() -> None:
    channel = make_channel()
    mod = uuid4()
    channel.grant_moderator(mod)
    channel.collect_events()
    channel.revoke_moderator(mod)
    channel.revoke_moderator(mod)
    assert event_names(channel.collect_events()) == ["Channel.ModeratorRevoked"]
    assert channel.moderator_ids == set()


def test_revoking_someone_who_never_was_a_moderator_records_nothing() -> None:
    channel = make_channel()
    channel.revoke_moderator(uuid4())
    assert channel.collect_events() == []


def test_the_owner_cannot_be_granted() -> None:
    owner = uuid4()
    channel = make_channel(owner)
    with pytest.raises(Invalid) as info:
        channel.grant_moderator(owner)
    assert info.value.field == "userId"
    assert channel.collect_events() == []
    assert owner not in channel.moderator_ids


def test_may_moderate() -> None:
    owner, mod, ex_mod, stranger = uuid4(), uuid4(), uuid4(), uuid4()
    channel = make_channel(owner)
    channel.grant_moderator(mod)
    channel.grant_moderator(ex_mod)
    channel.revoke_moderator(ex_mod)
    assert channel.may_moderate(owner) is True
    assert channel.may_moderate(mod) is True
    assert channel.may_moderate(ex_mod) is False
    assert channel.may_moderate(stranger) is False


def test_require_owner() -> None:
    owner, mod = uuid4(), uuid4()
    channel = make_channel(owner)
    channel.grant_moderator(mod)
    channel.require_owner(owner)  # does not raise
    for other in (mod, uuid4()):
        with pytest.raises(Forbidden):
            channel.require_owner(other)


# -- update ----------------------------------------------------------------------------

def test_update_with_nothing_records_no_event() -> None:
    channel = make_channel()
    channel.update()
    channel.update(name=None, description=None, category=None, tags=None, is_public=None)
    assert channel.collect_events() == []


def test_update_changes_only_the_given_fields() -> None:
    channel = make_channel()
    channel.update(name="New name")
    [updated] = channel.collect_events()
    assert type(updated).__qualname__ == "Channel.Updated"
    assert updated.name == "New name"  # type: ignore[attr-defined]
    assert updated.description is None  # type: ignore[attr-defined]
    assert channel.name == "New name"
    assert (channel.description, channel.category, channel.tags, channel.is_public) == (
        "about", "games", ["speedrun"], True
    )


def test_update_applies_falsy_values() -> None:
    channel = make_channel()
    channel.update(is_public=False, tags=[], description="")
    assert len(channel.collect_events()) == 1
    assert channel.is_public is False
    assert channel.tags == []
    assert channel.description == ""


def test_rotate_stream_key() -> None:
    channel = make_channel()
    old = channel.stream_key
    channel.rotate_stream_key()
    [event] = channel.collect_events()
    assert event.stream_key == channel.stream_key != old  # type: ignore[attr-defined]
    assert channel.stream_key.startswith("live_")


def test_new_stream_keys_are_long_and_distinct() -> None:
    keys = {new_stream_key() for _ in range(50)}
    assert len(keys) == 50
    assert all(k.startswith("live_") and len(k) >= 5 + 43 for k in keys)


# -- slug and tags ------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("abc", "abc"),
        ("My-Channel", "my-channel"),
        ("  spaced  ", "spaced"),
        ("a1-b2-c3", "a1-b2-c3"),
        ("a--b", "a--b"),
        ("123", "123"),
        ("a" * 40, "a" * 40),
    ],
)
def test_normalise_slug_accepts(raw: str, expected: str) -> None:
    assert normalise_slug(raw) == expected


@pytest.mark.parametrize(
    "raw",
    ["", "ab", "a" * 41, "-abc", "abc-", "a_b_c", "a b c", "a.bc", "café", "ab\n-", "---"],
)
def test_normalise_slug_refuses(raw: str) -> None:
    with pytest.raises(Invalid) as info:
        normalise_slug(raw)
    assert info.value.field == "slug"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ([], []),
        (["Speedrun", " RPG "], ["speedrun", "rpg"]),
        (["a", "A", " a "], ["a"]),  # duplicates after cleaning collapse, first kept
        (["b", "a", "b"], ["b", "a"]),  # order preserved
        (["x" * 25], ["x" * 25]),
        ([f"t{i}" for i in range(MAX_TAGS)], [f"t{i}" for i in range(MAX_TAGS)]),
        ([f"t{i}" for i in range(MAX_TAGS)] + ["T0"], [f"t{i}" for i in range(MAX_TAGS)]),
    ],
)
def test_clean_tags_accepts(raw: list[str], expected: list[str]) -> None:
    assert clean_tags(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [[""], ["  "], ["ok", ""], ["x" * 26], [f"t{i}" for i in range(MAX_TAGS + 1)]],
)
def test_clean_tags_refuses(raw: list[str]) -> None:
    with pytest.raises(Invalid) as info:
        clean_tags(raw)
    assert info.value.field == "tags"
