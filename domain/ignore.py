"""Ignores: a user hides another user's chat messages from their own view, live and
in history. One aggregate per pair, its id derived from the pair, like follows."""

from __future__ import annotations

from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate

from domain.errors import Invalid


class Ignore(Aggregate):
    """Whether `user_id` ignores `ignored_id` now; both ways are idempotent."""

    class Started(Aggregate.Created):
        user_id: UUID
        ignored_id: UUID

    class Stopped(Aggregate.Event):
        user_id: UUID
        ignored_id: UUID

        def apply(self, ignore: Ignore) -> None:
            ignore.active = False

    class Restarted(Aggregate.Event):
        user_id: UUID
        ignored_id: UUID

        def apply(self, ignore: Ignore) -> None:
            ignore.active = True

    def __init__(self, user_id: UUID, ignored_id: UUID) -> None:
        self.user_id = user_id
        self.ignored_id = ignored_id
        self.active = True

    @staticmethod
    def create_id(user_id: UUID, ignored_id: UUID) -> UUID:  # type: ignore[override]
        return uuid5(NAMESPACE_URL, f"/aethex/ignore/{user_id}/{ignored_id}")

    @classmethod
    def begin(cls, user_id: UUID, ignored_id: UUID) -> Ignore:
        if user_id == ignored_id:
            raise Invalid("you cannot ignore yourself", field="userId")
        return cls._create(cls.Started, user_id=user_id, ignored_id=ignored_id)

    def restart(self) -> None:
        if not self.active:
            self.trigger_event(self.Restarted, user_id=self.user_id, ignored_id=self.ignored_id)

    def stop(self) -> None:
        if self.active:
            self.trigger_event(self.Stopped, user_id=self.user_id, ignored_id=self.ignored_id)
