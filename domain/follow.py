"""Follows: a user following another user or a channel. One aggregate per pair, whose id is
derived from the pair, so following twice (or racing) lands on the same aggregate."""

from __future__ import annotations

from typing import Literal
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate

from domain.errors import Invalid

TargetKind = Literal["user", "channel"]


class Follow(Aggregate):
    """Whether `follower_id` follows the target now; follow and unfollow are idempotent."""

    class Followed(Aggregate.Created):
        follower_id: UUID
        target_kind: str
        target_id: UUID
        channel_id: UUID | None  # set for channel follows, so the bus routes them per channel

    class Unfollowed(Aggregate.Event):
        follower_id: UUID
        target_kind: str
        target_id: UUID
        channel_id: UUID | None

        def apply(self, follow: Follow) -> None:
            follow.active = False

    class Refollowed(Aggregate.Event):
        follower_id: UUID
        target_kind: str
        target_id: UUID
        channel_id: UUID | None

        def apply(self, follow: Follow) -> None:
            follow.active = True

    def __init__(self, follower_id: UUID, target_kind: str, target_id: UUID,
                 channel_id: UUID | None) -> None:
        self.follower_id = follower_id
        self.target_kind = target_kind
        self.target_id = target_id
        self.channel_id = channel_id
        self.active = True

    @staticmethod
    def create_id(follower_id: UUID, target_kind: str, target_id: UUID) -> UUID:  # type: ignore[override]
        return uuid5(NAMESPACE_URL, f"/aethex/follow/{follower_id}/{target_kind}/{target_id}")

    @classmethod
    def start(cls, follower_id: UUID, target_kind: TargetKind, target_id: UUID) -> Follow:
        if target_kind == "user" and follower_id == target_id:
            raise Invalid("you cannot follow yourself", field="userId")
        return cls._create(cls.Followed, follower_id=follower_id, target_kind=target_kind,
                           target_id=target_id,
                           channel_id=target_id if target_kind == "channel" else None)

    def _facts(self) -> dict[str, object]:
        return {"follower_id": self.follower_id, "target_kind": self.target_kind,
                "target_id": self.target_id, "channel_id": self.channel_id}

    def follow(self) -> None:
        if not self.active:
            self.trigger_event(self.Refollowed, **self._facts())

    def unfollow(self) -> None:
        if self.active:
            self.trigger_event(self.Unfollowed, **self._facts())
