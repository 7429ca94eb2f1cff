"""Presenters: the JSON a client sees for each live view, built from committed facts.

A chat message is presented the same way from its stored row (history, HTTP pages), from
the command's result (the committing node's fast path, the HTTP answer) and from its
relayed event (the other nodes' fallback), so a copy that arrives twice is the same text.
Stream status and viewer counts come from the `stream_status` read model, read once it has
reached the event (they carry what the event alone does not: peak, ingest, HLS URL). Bans
and their lifting are presented from their `Channel` events.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, NamedTuple

from commands.send_message import MessageSent
from infra.eventstore.envelope import EventEnvelope
from infra.messaging.bus import LiveUpdate
from projections.chat_history import message_json
from projections.stream_status import StreamStatusProjection

CHAT_MESSAGE = "chat:message"
CHAT_DELETED = "chat:deleted"
# Events presented straight from their data, and those presented from the read model.
CHAT_TYPES = ("ChatMessage.Sent", "ChatMessage.Deleted")
STREAM_TYPES = StreamStatusProjection.types


def sent_view(result: MessageSent) -> dict[str, Any]:
    """A message as clients see it, from the command that just stored it."""
    m = result.message
    return message_json(str(m.id), str(m.stream_id), str(m.channel_id), str(m.author_id),
                    m.username, m.display_name, list(m.badges), m.content,
                    m.created_on.isoformat(), result.position)


def event_view(e: EventEnvelope) -> dict[str, Any]:
    """A message as clients see it, from its relayed `ChatMessage.Sent` event."""
    d = e.data
    return message_json(e.aggregate_id, d["stream_id"], d["channel_id"], d["author_id"],
                    d["username"], d["display_name"], list(d.get("badges") or []),
                    d["content"], e.timestamp, e.position)





def committed_updates(results: Sequence[MessageSent]) -> list[LiveUpdate]:
    """The room updates for messages this node has just committed, in log order."""
    ordered = sorted(results, key=lambda r: r.position)
    return [LiveUpdate(str(r.message.stream_id), CHAT_MESSAGE, sent_view(r)) for r in ordered]


def chat_updates(events: Sequence[EventEnvelope]) -> list[LiveUpdate]:
    """The room updates for relayed chat events (others are skipped)."""
    out: list[LiveUpdate] = []
    for e in events:
        if e.type == "ChatMessage.Sent":
            out.append(LiveUpdate(e.data["stream_id"], CHAT_MESSAGE, event_view(e)))
        elif e.type == "ChatMessage.Deleted":
            sid = e.data["stream_id"]
            out.append(LiveUpdate(sid, CHAT_DELETED, {"messageId": e.aggregate_id,
                                                      "streamId": sid}))
    return out


# The status each lifecycle event moves a stream to: a push names the status of its own
# event, even when the read model it is read from has already moved on (ENDING, then
# ARCHIVED a moment later, are two pushes).
STATUS_AFTER = {"Stream.Started": "LIVE", "Stream.Ended": "ENDING",
                "Stream.Archived": "ARCHIVED", "Stream.Discarded": "ARCHIVED"}


class StreamChange(NamedTuple):
    """A relayed stream event worth a push: which stream, which socket event, where."""

    stream_id: str
    event: str  # "stream:status" or "stream:viewers"
    position: int
    status: str | None  # the status its event moved the stream to, if it moved it


def stream_changes(events: Sequence[EventEnvelope]) -> list[StreamChange]:
    out: list[StreamChange] = []
    for e in events:
        if e.type == "Stream.ViewerCountSampled":
            out.append(StreamChange(e.aggregate_id, "stream:viewers", e.position, None))
        # The projection also reads Channel events (a stream prepared): no room hears those.
        elif e.type != "Stream.Created" and e.type.startswith("Stream.") \
                and e.type in STREAM_TYPES:
            out.append(StreamChange(e.aggregate_id, "stream:status", e.position,
                                    STATUS_AFTER.get(e.type)))
    return out


def status_view(stream: dict[str, Any], status: str | None) -> dict[str, Any]:
    """`stream:status` from the stream's read model, at the status of its own event."""
    if status is None or stream["status"] == status:
        return stream
    return {**stream, "status": status, "isArchived": status == "ARCHIVED"}


def viewers_view(stream: dict[str, Any]) -> dict[str, Any]:
    """`stream:viewers` from the stream's read model."""
    return {"streamId": stream["id"], "count": stream["viewerCount"],
            "peak": stream["peakViewers"]}


BANNED = "chat:banned"
UNBANNED = "chat:unbanned"
BAN_TYPES = ("Channel.UserBanned", "Channel.UserUnbanned")


def ban_view(channel_id: str, user_id: str, until: datetime | None,
             banned: bool = True) -> dict[str, Any]:
    """What a room hears of a ban or its lifting: who and until when, not which moderator or
    why (the moderation log keeps those)."""
    if not banned:
        return {"channelId": channel_id, "userId": user_id, "banned": False}
    return {"channelId": channel_id, "userId": user_id, "banned": True,
            "until": until.isoformat() if until else None,
            "untilEpoch": until.timestamp() if until else None}


class BanChange(NamedTuple):
    """A relayed ban or unban: the channel it is in, the socket event and its view."""

    channel_id: str
    event: str  # BANNED or UNBANNED
    position: int
    view: dict[str, Any]


def ban_changes(events: Sequence[EventEnvelope]) -> list[BanChange]:
    out: list[BanChange] = []
    for e in events:
        if e.type == "Channel.UserBanned":
            until = e.data.get("until")
            out.append(BanChange(e.aggregate_id, BANNED, e.position, ban_view(
                e.aggregate_id, str(e.data["user_id"]),
                datetime.fromisoformat(until) if isinstance(until, str) else until)))
        elif e.type == "Channel.UserUnbanned":
            out.append(BanChange(e.aggregate_id, UNBANNED, e.position, ban_view(
                e.aggregate_id, str(e.data["user_id"]), None, banned=False)))
    return out
