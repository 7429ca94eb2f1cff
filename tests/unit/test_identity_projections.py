"""The users, follows, channel page and subscriptions read models, fed the real
log of real commands in one batch, as a projector catching up would."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from commands.cancel_subscription import CancelSubscription, cancel_subscription
from commands.follow import FollowTarget, follow
from commands.register_user import RegisterUser, register_user
from commands.subscribe import Subscribe, subscribe
from commands.unfollow import UnfollowTarget, unfollow
from commands.update_profile import UpdateProfile, update_profile
from domain.channel import Channel
from domain.subscription import PERIOD, Subscription
from domain.user import User
from infra.readstore.database import SqliteDatabase
from projections.base import migrate
from projections.follows import list_followers
from projections.profiles import get_profile
from projections.registry import all_projections
from projections.subscriptions import list_subscriptions
from workers.subscription_sweeper import SubscriptionSweeper

from .support import PASSWORD, World


def project_all(world: World, tmp_path: Path) -> SqliteDatabase:
    db = SqliteDatabase(tmp_path / "read.sqlite")
    projections = all_projections()
    migrate(db, projections)
    log = world.log()
    with db.transaction() as tx:
        for projection in projections:
            projection.apply(tx, [e for e in log if e.type in projection.types])
    return db


def test_a_freed_username_is_taken_in_the_same_batch(world: World, owner: User,
                                                     tmp_path: Path) -> None:
    update_profile(UpdateProfile(actor_id=owner.id, user_id=owner.id, username="renamed",
                                 bio="b", social_links={"github": "https://github.com/x"}),
                   world.store)
    # The name the owner just gave up, taken by a new account.
    newcomer = register_user(RegisterUser(email="new@example.com", username=owner.username,
                                          password=PASSWORD), world.store, world.hasher).user
    db = project_all(world, tmp_path)
    try:
        mine = get_profile(db, str(owner.id), private=True)
        assert mine is not None
        assert (mine["username"], mine["bio"], mine["socialLinks"]) == (
            "renamed", "b", {"github": "https://github.com/x"})
        assert mine["theme"] == "dark" and mine["onboarded"] is True
        theirs = get_profile(db, str(newcomer.id))
        assert theirs is not None and theirs["username"] == owner.username
        assert "email" not in theirs
    finally:
        db.close()


def test_follow_counts_and_lists(world: World, owner: User, channel: Channel,
                                 tmp_path: Path) -> None:
    fans = [world.user(f"fan{i}") for i in range(3)]
    for fan in fans:
        follow(FollowTarget(actor_id=fan.id, target_kind="user", target_id=owner.id),
               world.store)
        follow(FollowTarget(actor_id=fan.id, target_kind="channel", target_id=channel.id),
               world.store)
    unfollow(UnfollowTarget(actor_id=fans[0].id, target_kind="user", target_id=owner.id),
             world.store)
    follow(FollowTarget(actor_id=fans[0].id, target_kind="user", target_id=owner.id),
           world.store)
    unfollow(UnfollowTarget(actor_id=fans[1].id, target_kind="channel",
                            target_id=channel.id), world.store)
    subscribe(Subscribe(user_id=fans[2].id, channel_id=channel.id, tier="VIP"), world.store)
    db = project_all(world, tmp_path)
    try:
        star = get_profile(db, str(owner.id))
        assert star is not None and star["followerCount"] == 3
        fan = get_profile(db, str(fans[0].id))
        assert fan is not None and fan["followingCount"] == 2
        row = db.fetch_one("SELECT follower_count FROM channels WHERE id = ?", (str(channel.id),))
        assert row is not None and row["follower_count"] == 2
        items, cursor = list_followers(db, "user", str(owner.id), cursor=None, limit=10)
        # fans[0] followed again last, so it comes first.
        assert [i["id"] for i in items] == [str(fans[0].id), str(fans[2].id), str(fans[1].id)]
        assert cursor is None
        [sub] = list_subscriptions(db, str(fans[2].id))
        assert (sub["tier"], sub["status"]) == ("VIP", "ACTIVE")
    finally:
        db.close()


def test_the_sweeper_renews_active_and_expires_cancelled_subscriptions(
        world: World, owner: User, channel: Channel, tmp_path: Path) -> None:
    """At the renewal date an active subscription renews and a cancelled one expires;
    before it, and on a second pass, nothing happens."""
    start = datetime.now(UTC) - PERIOD - timedelta(days=1)  # both fell due a day ago
    stays, leaves, fresh = (world.user(n) for n in ("stays", "leaves", "fresh"))
    kept = subscribe(Subscribe(user_id=stays.id, channel_id=channel.id), world.store,
                     start).subscription
    gone = subscribe(Subscribe(user_id=leaves.id, channel_id=channel.id), world.store,
                     start).subscription
    cancel_subscription(CancelSubscription(user_id=leaves.id, channel_id=channel.id),
                        world.store)
    new = subscribe(Subscribe(user_id=fresh.id, channel_id=channel.id), world.store).subscription
    db = project_all(world, tmp_path)
    try:
        sweeper = SubscriptionSweeper(world.store, db)
        assert sweeper.step() == 2
        renewed = world.store.get(kept.id, Subscription)
        assert renewed.status == "ACTIVE" and renewed.renewal_date == start + 2 * PERIOD
        assert world.store.get(gone.id, Subscription).status == "EXPIRED"
        assert world.store.get(new.id, Subscription).version == new.version  # not due
        assert sweeper.step() == 0  # the read model still says due: the aggregates decide
    finally:
        db.close()
    (tmp_path / "again").mkdir()
    db = project_all(world, tmp_path / "again")
    try:
        assert SubscriptionSweeper(world.store, db).step() == 0  # caught up: nothing due
        [mine] = list_subscriptions(db, str(stays.id))
        assert mine["status"] == "ACTIVE"
        assert datetime.fromisoformat(mine["renewalDate"]) == start + 2 * PERIOD
        assert [s["status"] for s in list_subscriptions(db, str(leaves.id))] == ["EXPIRED"]
    finally:
        db.close()
