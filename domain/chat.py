"""The ChatMessage aggregate: one per message, so senders never contend."""

from __future__ import annotations

import unicodedata
from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.domain import TZINFO, Aggregate
from eventsourcing.utils import get_topic

from domain.errors import Forbidden, Invalid, TooLong
from domain.ids import new_id

MAX_MESSAGE_LENGTH = 500


def clean_content(content: str) -> str:
    """Strips control characters and surrounding space; 1-500 characters remain or Invalid."""
    if not isinstance(content, str):
        raise Invalid("content must be text", field="content", code="invalid_content")
    if content.isprintable():  # the common case, checked in C
        kept = content.strip()
    else:
        kept = _strip_controls(content)
        if not any(unicodedata.category(ch) not in _INVISIBLE for ch in kept):
            kept = ""
    if not kept:
        raise Invalid("a message needs at least one visible character", field="content",
                      code="invalid_content")
    if len(kept) > MAX_MESSAGE_LENGTH:
        raise TooLong(f"a message is at most {MAX_MESSAGE_LENGTH} characters", field="content")
    return kept


# Bidirectional overrides and isolates can disguise what a message says; they go too.
_BIDI = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
# Format characters and spaces alone make no visible message (zero-width joiners stay in
# emoji sequences, which have visible characters around them).
_INVISIBLE = frozenset({"Cf", "Zs", "Zl", "Zp", "Mn", "Me"})


def _strip_controls(content: str) -> str:
    return "".join(
        " " if ch in "\t\n\r" else ch
        for ch in content
        if ch in "\t\n\r"
        or (ch not in _BIDI and unicodedata.category(ch) not in {"Cc", "Cs"})
    ).strip()


class ChatMessage(Aggregate):
    """A message in a stream's chat. Once deleted it stays deleted."""

    class Sent(Aggregate.Created):
        """Version 2 added `badges`; version 1 events are upcast with no badges."""

        class_version = 2

        stream_id: UUID
        channel_id: UUID
        author_id: UUID
        username: str
        display_name: str
        badges: list[str]
        content: str

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["badges"] = []

    class Deleted(Aggregate.Event):
        stream_id: UUID
        channel_id: UUID
        deleted_by: UUID

        def apply(self, message: ChatMessage) -> None:
            message.deleted_at = self.timestamp
            message.deleted_by = self.deleted_by

    def __init__(
        self,
        stream_id: UUID,
        channel_id: UUID,
        author_id: UUID,
        username: str,
        display_name: str,
        badges: list[str],
        content: str,
    ) -> None:
        self.stream_id = stream_id
        self.channel_id = channel_id
        self.author_id = author_id
        self.username = username
        self.display_name = display_name
        self.badges = list(badges)
        self.content = content
        self.deleted_at = None
        self.deleted_by: UUID | None = None

    @classmethod
    def sent(
        cls,
        stream_id: UUID,
        channel_id: UUID,
        author_id: UUID,
        username: str,
        display_name: str,
        badges: list[str],
        content: str,
    ) -> ChatMessage:
        """The message `ChatMessage(...)` makes, with its pending `Sent` event, built
        directly: the library's constructor finds out which argument goes where by
        reflection on every call, which was a tenth of a chat batch's time.
        `test_domain_chat` pins the two to the same objects."""
        originator_id = new_id()
        now = datetime.now(tz=TZINFO)
        event = cls.Sent.__new__(cls.Sent)
        # A frozen dataclass: its fields go in as its own __init__ puts them, in order.
        event.__dict__.update(
            originator_id=originator_id, originator_version=1, timestamp=now,
            originator_topic=_TOPIC, stream_id=stream_id, channel_id=channel_id,
            author_id=author_id, username=username, display_name=display_name,
            badges=badges, content=content)
        message = cls.__new__(cls)
        message.__dict__.update(
            _id=originator_id, _version=1, _created_on=now, _modified_on=now,
            _pending_events=[event], stream_id=stream_id, channel_id=channel_id,
            author_id=author_id, username=username, display_name=display_name,
            badges=list(badges), content=content, deleted_at=None, deleted_by=None)
        return message

    @property
    def is_deleted(self) -> bool:
        return self.deleted_at is not None

    def delete(self, by: UUID, *, may_moderate: bool) -> bool:
        """Deletes once; returns False when it was already deleted (idempotent)."""
        if by != self.author_id and not may_moderate:
            raise Forbidden("only the author, the channel owner or a moderator may delete")
        if self.is_deleted:
            return False
        self.trigger_event(self.Deleted, stream_id=self.stream_id, channel_id=self.channel_id,
                           deleted_by=by)
        return True


# The topic a message's events name their aggregate by, as the library writes it.
_TOPIC = get_topic(ChatMessage)
