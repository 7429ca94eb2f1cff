"""Profiles, usernames, external identities, follows and subscriptions: domain
rules and command handlers against a real event store, given / when / then."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, Literal
from uuid import uuid4

import pytest

from commands.cancel_subscription import CancelSubscription, cancel_subscription
from commands.follow import FollowTarget, follow
from commands.onboard_user import OnboardUser, onboard_user
from commands.settle_subscription import SettleSubscription, settle_subscription
from commands.subscribe import Subscribe, subscribe
from commands.sync_external_user import ExternalUserSynced, SyncExternalUser, sync_external_user
from commands.unfollow import UnfollowTarget, unfollow
from commands.update_profile import UpdateProfile, update_profile
from domain.channel import Channel
from domain.errors import Conflict, Forbidden, Invalid, NotFound
from domain.follow import Follow
from domain.profile import clean_language, clean_social_links
from domain.subscription import PERIOD, Subscription, Tier
from domain.unique_name import UniqueName
from domain.user import User, external_user_id
from infra.eventstore.event_store import EventStore

from .support import World

ISS = "https://issuer.example"


def test_profile_updates_record_only_what_changed(world: World, owner: User) -> None:
    before = owner.version
    result = update_profile(UpdateProfile(
        actor_id=owner.id, user_id=owner.id, bio=" hi ", theme="LIGHT",
        social_links={"YouTube": "https://youtu.be/x", "website": ""}), world.store)
    user = result.user
    assert (user.bio, user.theme, user.social_links) == ("hi", "light", {"youtube":
                                                                         "https://youtu.be/x"})
    log = [e.type for e in world.log() if e.aggregate_id == str(owner.id)]
    assert log[-1] == "User.ProfileUpdated" and user.version == before + 1
    same = update_profile(UpdateProfile(actor_id=owner.id, user_id=owner.id, bio="hi",
                                        theme="light"), world.store)
    assert same.user.version == user.version  # nothing changed, nothing recorded
    cleared = update_profile(UpdateProfile(actor_id=owner.id, user_id=owner.id, bio=""),
                             world.store).user
    assert cleared.bio is None
    reloaded = world.store.get(owner.id, User)
    assert (reloaded.bio, reloaded.theme) == (None, "light")


def test_only_the_owner_edits(world: World, owner: User) -> None:
    other = world.user("other")
    with pytest.raises(Forbidden):
        update_profile(UpdateProfile(actor_id=other.id, user_id=owner.id, bio="x"), world.store)


@pytest.mark.parametrize(("links", "field"), [
    ({"twitch": "https://twitch.tv.evil.example/a"}, "socialLinks.twitch"),
    ({"twitter": "https://x.com@evil.example/a"}, "socialLinks.twitter"),
    ({"github": "javascript:alert(1)"}, "socialLinks.github"),
    ({"friendster": "https://friendster.com/a"}, "socialLinks.friendster"),
])
def test_social_links_are_checked_per_network(links: dict[str, str], field: str) -> None:
    with pytest.raises(Invalid) as refused:
        clean_social_links(links)
    assert refused.value.field == field


def test_social_links_accept_subdomains_and_languages_accept_tags() -> None:
    assert clean_social_links({"twitch": "https://m.twitch.tv/a"}) == {
        "twitch": "https://m.twitch.tv/a"}
    assert clean_language("pt-BR") == "pt-BR" and clean_language("zh-Hant") == "zh-Hant"
    with pytest.raises(Invalid):
        clean_language("EN_us")


def test_username_change_moves_the_claim_atomically(world: World, owner: User) -> None:
    update_profile(UpdateProfile(actor_id=owner.id, user_id=owner.id, username="Newname"),
                   world.store)
    old = world.store.get(UniqueName.create_id("username", "owner"), UniqueName)
    new = world.store.get(UniqueName.create_id("username", "newname"), UniqueName)
    assert old.released and new.held_by(owner.id)
    other = world.user("someone")
    with pytest.raises(Conflict) as refused:
        update_profile(UpdateProfile(actor_id=other.id, user_id=other.id, username="NEWNAME"),
                       world.store)
    assert refused.value.field == "username"
    update_profile(UpdateProfile(actor_id=other.id, user_id=other.id, username="owner"),
                   world.store)
    reclaimed = world.store.get(UniqueName.create_id("username", "owner"), UniqueName)
    assert reclaimed.held_by(other.id) and not reclaimed.released
    names = sorted([e.type for e in world.log() if e.type.startswith("UniqueName.")][-2:])
    assert names == ["UniqueName.Reclaimed", "UniqueName.Released"]


def test_reclaiming_a_freed_name_races_on_the_same_version(store: EventStore,
                                                           world: World) -> None:
    user = world.user("first")
    update_profile(UpdateProfile(actor_id=user.id, user_id=user.id, username="second"), store)
    a, b = (store.get(UniqueName.create_id("username", "first"), UniqueName) for _ in range(2))
    a.reclaim(uuid4())
    b.reclaim(uuid4())
    store.save(a)
    with pytest.raises(Conflict):
        store.save(b)


def test_onboarding_makes_the_account_once(world: World) -> None:
    uid = external_user_id(ISS, "sub-1")
    cmd = OnboardUser(user_id=uid, issuer=ISS, subject="sub-1", username="Newbie",
                      bio="hello", email="New@Example.com")
    user = onboard_user(cmd, world.store).user
    assert (user.id, user.username, user.email, user.bio) == (uid, "newbie",
                                                              "new@example.com", "hello")
    assert user.identities == ((ISS, "sub-1"),) and user.onboarded and user.password_hash is None
    with pytest.raises(Conflict):
        onboard_user(cmd, world.store)
    with pytest.raises(Conflict) as taken:
        onboard_user(OnboardUser(user_id=external_user_id(ISS, "sub-2"), issuer=ISS,
                                 subject="sub-2", username="NEWBIE"), world.store)
    assert taken.value.field == "username"


def _sync(world: World, change: Literal["created", "updated", "deleted"], delivery: str,
          **data: Any) -> ExternalUserSynced:
    cmd = SyncExternalUser(delivery_id=delivery, change=change, issuer=ISS, subject="clerk-1",
                           **data)
    return sync_external_user(cmd, world.store)


def test_webhook_sync_is_idempotent_and_onboarding_follows(world: World) -> None:
    first = _sync(world, "created", "d1", email="a@example.com", username="Admin")
    assert not first.duplicate
    assert _sync(world, "created", "d1", email="a@example.com").duplicate
    uid = external_user_id(ISS, "clerk-1")
    user = world.store.get(uid, User)
    # "admin" is reserved: the provisional name is derived from the subject instead.
    assert user.username.startswith("user_") and not user.onboarded
    onboard_user(OnboardUser(user_id=uid, issuer=ISS, subject="clerk-1", username="chosen"),
                 world.store)
    assert world.store.get(UniqueName.create_id("username", user.username), UniqueName).released
    _sync(world, "updated", "d2", email="b@example.com", display_name="Bee")
    user = world.store.get(uid, User)
    assert (user.email, user.display_name, user.username) == ("b@example.com", "Bee", "chosen")
    _sync(world, "deleted", "d3")
    user = world.store.get(uid, User)
    assert user.deleted
    assert world.store.get(UniqueName.create_id("username", "chosen"), UniqueName).released
    with pytest.raises(NotFound):
        update_profile(UpdateProfile(actor_id=uid, user_id=uid, bio="x"), world.store)
    receipts = [e.data for e in world.log() if e.type == "WebhookReceipt.Received"]
    assert [(r["provider"], r["event_id"], r["event_type"], r["subject"], r["outcome"])
            for r in receipts] == [
        ("clerk", "d1", "user.created", "clerk-1", "applied: created"),
        ("clerk", "d2", "user.updated", "clerk-1", "applied: updated"),
        ("clerk", "d3", "user.deleted", "clerk-1", "applied: deleted")]
    assert not _sync(world, "updated", "d4").duplicate
    assert world.log()[-1].data["outcome"] == "ignored: the user is deleted"


def test_follow_is_idempotent_and_reuses_one_aggregate(world: World, owner: User,
                                                       channel: Channel) -> None:
    fan = world.user("fan")
    cmd = FollowTarget(actor_id=fan.id, target_kind="user", target_id=owner.id)
    assert follow(cmd, world.store) > 0
    assert follow(cmd, world.store) == 0
    off = UnfollowTarget(actor_id=fan.id, target_kind="user", target_id=owner.id)
    assert unfollow(off, world.store) > 0 and unfollow(off, world.store) == 0
    assert follow(cmd, world.store) > 0
    agg = world.store.get(Follow.create_id(fan.id, "user", owner.id), Follow)
    assert agg.active and agg.version == 3
    types = [e.type for e in world.log() if e.type.startswith("Follow.")]
    assert types == ["Follow.Followed", "Follow.Unfollowed", "Follow.Refollowed"]
    with pytest.raises(Invalid):
        follow(FollowTarget(actor_id=fan.id, target_kind="user", target_id=fan.id), world.store)
    with pytest.raises(NotFound):
        follow(FollowTarget(actor_id=fan.id, target_kind="channel", target_id=uuid4()),
               world.store)
    follow(FollowTarget(actor_id=fan.id, target_kind="channel", target_id=channel.id),
           world.store)
    [last] = [e for e in world.log() if e.type == "Follow.Followed"][-1:]
    assert last.channel_id == str(channel.id)  # routed per channel on the bus


def test_subscription_lifecycle(world: World, owner: User, channel: Channel) -> None:
    fan = world.user("fan")
    now = datetime(2026, 1, 1, tzinfo=UTC)
    sub = subscribe(Subscribe(user_id=fan.id, channel_id=channel.id), world.store, now).subscription
    assert (sub.tier, sub.status, sub.renewal_date) == ("BASIC", "ACTIVE", now + PERIOD)
    sub = subscribe(Subscribe(user_id=fan.id, channel_id=channel.id, tier="premium"),
                    world.store, now).subscription
    assert sub.tier == "PREMIUM"
    sub = cancel_subscription(CancelSubscription(user_id=fan.id, channel_id=channel.id),
                              world.store).subscription
    assert sub.status == "CANCELLED"
    assert settle_subscription(SettleSubscription(subscription_id=sub.id), world.store,
                               now + timedelta(days=1)) == 0
    assert world.store.get(sub.id, Subscription).status == "CANCELLED"  # not due yet
    settle_subscription(SettleSubscription(subscription_id=sub.id), world.store, now + PERIOD)
    assert world.store.get(sub.id, Subscription).status == "EXPIRED"
    assert settle_subscription(SettleSubscription(subscription_id=sub.id), world.store,
                               now + PERIOD * 3) == 0  # expired stays expired
    with pytest.raises(Conflict):
        cancel_subscription(CancelSubscription(user_id=fan.id, channel_id=channel.id),
                            world.store)
    later = now + timedelta(days=90)
    back = subscribe(Subscribe(user_id=fan.id, channel_id=channel.id, tier="VIP"),
                     world.store, later).subscription
    assert (back.status, back.tier, back.renewal_date) == ("ACTIVE", Tier.VIP.value,
                                                           later + PERIOD)
    with pytest.raises(Invalid) as refused:
        subscribe(Subscribe(user_id=owner.id, channel_id=channel.id), world.store)
    assert refused.value.field == "channelId"
    with pytest.raises(Invalid) as refused:
        subscribe(Subscribe(user_id=fan.id, channel_id=channel.id, tier="GOLD"), world.store)
    assert refused.value.field == "tier"


def test_concurrent_follows_of_one_pair_record_one_event(world: World, owner: User) -> None:
    from concurrent.futures import ThreadPoolExecutor

    fans = [world.user(f"racer{i}") for i in range(2)]
    cmds = [FollowTarget(actor_id=fan.id, target_kind="user", target_id=owner.id)
            for fan in fans for _ in range(4)]
    with ThreadPoolExecutor(8) as pool:
        positions = list(pool.map(lambda c: follow(c, world.store), cmds))
    assert sum(1 for p in positions if p) == 2  # one real follow per fan, the rest no-ops
    assert [e.type for e in world.log()].count("Follow.Followed") == 2
