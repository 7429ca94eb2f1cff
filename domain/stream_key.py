"""Stream key claims: which channel a stream key digest belongs to.

A claim's id is derived from the sha256 digest of the key, so an ingest hook finds the
channel with one keyed read of the event store (no scan, no eventually consistent index),
then compares the presented key with the channel's current key in constant time: a rotated
key still finds its channel and is refused at once.
"""

from __future__ import annotations

import hashlib
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate


def key_digest(stream_key: str) -> str:
    """The hex sha256 of a stream key: what we index by (the key itself is never indexed)."""
    return hashlib.sha256(stream_key.encode("utf-8", "surrogatepass")).hexdigest()


class StreamKeyClaim(Aggregate):
    """The fact that a stream key (by its digest) was issued to `channel_id`."""

    class Claimed(Aggregate.Created):
        """A stream key (named only by its digest, in the id) was issued to a channel."""

        channel_id: UUID

    def __init__(self, channel_id: UUID) -> None:
        self.channel_id = channel_id

    @staticmethod
    def create_id(digest: str) -> UUID:  # type: ignore[override]
        return uuid5(NAMESPACE_URL, f"/aethex/stream-key/{digest}")

    @classmethod
    def claim(cls, stream_key: str, channel_id: UUID) -> StreamKeyClaim:
        return cls._create(cls.Claimed, id=cls.create_id(key_digest(stream_key)),
                           channel_id=channel_id)

    @classmethod
    def id_for_key(cls, stream_key: str) -> UUID:
        return cls.create_id(key_digest(stream_key))
